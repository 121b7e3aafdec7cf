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
use tally_domain::inputs::ProgramPatch;
use tally_domain::operators::Role;
use tally_store::Database;

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    ui: Ui,
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

const FIELDS: [(&str, &str); 8] = [
    ("/name", "name"),
    ("/points_name", "points_name"),
    ("/time_zone", "time_zone"),
    ("/earning/points_per_unit", "points_per_unit"),
    ("/earning/rounding", "rounding"),
    ("/earning/min_order_minor", "min_order"),
    ("/earning/excluded_categories", "excluded_categories"),
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
    render(&SettingsPage {
        ui,
        form: Fields::default(),
        errors: FormErrors::default(),
        saved: q.contains_key("saved"),
    })
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
        },
    });
    let command = ProgramPatch::parse(&body).map(|patch| Command::UpdateProgram {
        program: ui.program.id.clone(),
        patch,
    });
    match write_or_errors(&state, &form.console, command, &FIELDS).await? {
        Ok(_) => Ok(Redirect::to(&format!("{}?saved=1", ui.url("settings"))).into_response()),
        Err(errors) => Ok(unprocessable(render(&SettingsPage {
            ui,
            form: form.fields,
            errors,
            saved: false,
        })?)),
    }
}
