//! Program settings in the console: name, the word for points, time zone, earning rate and
//! rounding, minimum order, excluded categories, negative-balance policy. The currency is fixed
//! once a program exists (amounts already recorded are in it).

use super::{FormErrors, PageResult, Ui, form_value, render, unprocessable, write_or_errors};
use crate::WebState;
use crate::session::{Console, ConsoleForm, Fields};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use serde_json::{Value, json};
use std::collections::HashMap;
use tally_core::Command;
use tally_domain::display::ProgramDisplay;
use tally_domain::inputs::ProgramPatch;
use tally_domain::operators::Role;
use tally_store::Database;

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    ui: Ui,
    display: ProgramDisplay,
    form: Fields,
    errors: FormErrors,
    saved: bool,
}

impl SettingsPage {
    fn value(&self, field: &str) -> String {
        if !self.form.0.is_empty() {
            return self.form.raw(field).to_owned();
        }
        let p = &self.ui.program;
        match field {
            "name" => p.name.clone(),
            "points_name" => p.points_name.clone(),
            "time_zone" => p.time_zone.to_string(),
            "points_per_unit" => p.earning.rate_string(),
            "min_order" => self
                .ui
                .lang
                .money_plain(p.earning.min_order_minor, p.currency),
            "excluded_categories" => p.earning.excluded_categories.join(", "),
            "pending_days" => p.earning.pending_days.to_string(),
            "card_color" => self.display.card_color.clone(),
            "point_value" => point_value_text(self.display.point_value_milli),
            _ => String::new(),
        }
    }

    fn rounding(&self) -> String {
        if self.form.0.is_empty() {
            self.ui.program.earning.rounding.as_str().to_owned()
        } else {
            self.form.raw("rounding").to_owned()
        }
    }

    fn negative_balance(&self) -> String {
        if self.form.0.is_empty() {
            self.ui.program.negative_balance.as_str().to_owned()
        } else {
            self.form.raw("negative_balance").to_owned()
        }
    }
}

/// Thousandths of a minor unit as typed: 1000 → `1`, 1500 → `1.5`.
fn point_value_text(milli: i64) -> String {
    let text = format!("{}.{:03}", milli / 1000, milli % 1000);
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

async fn page<D: Database>(
    state: &WebState<D>,
    ui: Ui,
    form: Fields,
    errors: FormErrors,
    saved: bool,
) -> PageResult {
    let display = state.tally.program_display(&ui.program.id).await?;
    render(&SettingsPage {
        ui,
        display,
        form,
        errors,
        saved,
    })
}

/// The card's colour and logo and the value of a point.
pub async fn update_display<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_administer)?;
    let ui = Ui::load(&state, &form.console, &program, "settings").await?;
    let f = &form.fields;
    let current = state.tally.program_display(&ui.program.id).await?;
    let typed = form.console.lang.normalise_decimal(f.raw("point_value"));
    let value = tally_domain::program::EarningRule::parse_rate(&typed);
    // A new logo replaces the old one; no new logo keeps it, unless asked to remove it.
    let logo = match f.get("logo_data_url") {
        Some(new) => Some(new.to_owned()),
        None if f.get("remove_logo").is_some() => None,
        None => current.logo_data_url.clone(),
    };
    let command = match (
        ProgramDisplay::parse(
            f.raw("card_color"),
            logo.as_deref(),
            value.as_ref().ok().copied(),
        ),
        value,
    ) {
        (_, Err(message)) => Err(tally_domain::DomainError::invalid("/point_value", message)),
        (display, Ok(_)) => display.map(|display| Command::SetProgramDisplay {
            program: ui.program.id.clone(),
            display,
        }),
    };
    let fields = [
        ("/card_color", "card_color"),
        ("/logo", "logo"),
        ("/point_value", "point_value"),
    ];
    match write_or_errors(&state, &form.console, command, &fields).await? {
        Ok(_) => Ok(Redirect::to(&format!("{}?saved=1", ui.url("settings"))).into_response()),
        Err(errors) => Ok(unprocessable(
            page(&state, ui, form.fields, errors, false).await?,
        )),
    }
}

const FIELDS: [(&str, &str); 9] = [
    ("/name", "name"),
    ("/points_name", "points_name"),
    ("/time_zone", "time_zone"),
    ("/earning/points_per_unit", "points_per_unit"),
    ("/earning/rounding", "rounding"),
    ("/earning/min_order_minor", "min_order"),
    ("/earning/excluded_categories", "excluded_categories"),
    ("/earning/pending_days", "pending_days"),
    ("/negative_balance", "negative_balance"),
];

pub async fn show<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    console: Console,
) -> PageResult {
    console.require(Role::can_administer)?;
    let ui = Ui::load(&state, &console, &program, "settings").await?;
    page(
        &state,
        ui,
        Fields::default(),
        FormErrors::default(),
        q.contains_key("saved"),
    )
    .await
}

pub async fn update<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_administer)?;
    let ui = Ui::load(&state, &form.console, &program, "settings").await?;
    let f = &form.fields;
    let lang = form.console.lang;
    let min_order = lang.normalise_decimal(f.raw("min_order"));
    let min_order_minor: Value = match tally_domain::money::parse_decimal_minor(
        if min_order.is_empty() {
            "0"
        } else {
            &min_order
        },
        ui.program.currency,
    ) {
        Ok(minor) => minor.into(),
        Err(_) => form_value(f.raw("min_order")),
    };
    let categories: Vec<String> = f
        .raw("excluded_categories")
        .split(',')
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty())
        .collect();
    let body = json!({
        "name": f.raw("name").trim(),
        "points_name": f.raw("points_name").trim(),
        "time_zone": f.raw("time_zone").trim(),
        "negative_balance": f.raw("negative_balance"),
        "earning": {
            "points_per_unit": lang.normalise_decimal(f.raw("points_per_unit")),
            "rounding": f.raw("rounding"),
            "min_order_minor": min_order_minor,
            "excluded_categories": categories,
            // Empty: points are available at once.
            "pending_days": match f.raw("pending_days").trim() {
                "" => Value::from(0),
                days => form_value(days),
            },
        },
    });
    let command = ProgramPatch::parse(&body).map(|patch| Command::UpdateProgram {
        program: ui.program.id.clone(),
        patch,
    });
    match write_or_errors(&state, &form.console, command, &FIELDS).await? {
        Ok(_) => Ok(Redirect::to(&format!("{}?saved=1", ui.url("settings"))).into_response()),
        Err(errors) => Ok(unprocessable(
            page(&state, ui, form.fields, errors, false).await?,
        )),
    }
}
