//! Tiers and expiry in the console: the tier plan (up to five levels here; the API takes ten)
//! and the expiry policy, each a form with its refusals next to the fields.

use super::{
    FormErrors, PageResult, Ui, form_text, form_value, render, unprocessable, write_or_errors,
};
use crate::WebState;
use crate::session::{Console, ConsoleForm, Fields};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use serde_json::{Map, Value, json};
use tally_core::Command;
use tally_domain::expiry::ExpiryPolicy;
use tally_domain::operators::Role;
use tally_domain::tiers::TierPlan;
use tally_store::Database;

/// Level rows the form shows.
pub const LEVEL_ROWS: usize = 5;

#[derive(Template)]
#[template(path = "tiers.html")]
struct TiersPage {
    ui: Ui,
    form: Fields,
    errors: FormErrors,
}

impl TiersPage {
    fn selected(&self, name: &str, value: &str) -> bool {
        self.form.raw(name) == value
    }

    fn rows(&self) -> std::ops::Range<usize> {
        0..LEVEL_ROWS
    }

    fn raw(&self, name: &str, i: &usize) -> &str {
        self.form.raw(&format!("{name}_{i}"))
    }

    fn error(&self, name: &str, i: &usize) -> &str {
        self.errors.get(&format!("{name}_{i}"))
    }
}

/// The plan's form fields as a tier plan document; empty level rows are left out.
fn plan_document(f: &Fields) -> Value {
    let levels: Vec<Value> = (0..LEVEL_ROWS)
        .filter(|i| f.get(&format!("level_name_{i}")).is_some())
        .map(|i| {
            let mut level = json!({
                "name": f.raw(&format!("level_name_{i}")).trim(),
                "threshold": form_value(f.raw(&format!("level_threshold_{i}"))),
            });
            if let Some(m) = f.get(&format!("level_multiplier_{i}")) {
                level["multiplier"] = form_value(m);
            }
            level
        })
        .collect();
    let mut doc = json!({ "metric": f.raw("metric"), "window": f.raw("window"), "levels": levels });
    if let Some(g) = f.get("grace_days") {
        doc["grace_days"] = form_value(g);
    }
    doc
}

/// The expiry form as a policy document: only the fields of the chosen kind.
fn policy_document(f: &Fields) -> Value {
    let mut doc = Map::new();
    let kind = f.raw("kind");
    doc.insert("kind".into(), kind.into());
    let fields: &[&str] = match kind {
        "days_after_earning" => &["days"],
        "end_of_period" => &["period", "months_after"],
        "inactivity" => &["months"],
        _ => &[],
    };
    for field in fields {
        doc.insert((*field).into(), form_value(f.raw(field)));
    }
    Value::Object(doc)
}

/// Field pointers → form fields. Level errors name their row: `/levels/2/threshold` → row 2.
fn plan_fields() -> Vec<(String, String)> {
    let mut out = vec![
        ("/metric".to_owned(), "metric".to_owned()),
        ("/window".to_owned(), "window".to_owned()),
        ("/grace_days".to_owned(), "grace_days".to_owned()),
    ];
    for i in 0..LEVEL_ROWS {
        for (key, field) in [
            ("name", "level_name"),
            ("threshold", "level_threshold"),
            ("multiplier", "level_multiplier"),
        ] {
            out.push((format!("/levels/{i}/{key}"), format!("{field}_{i}")));
        }
    }
    out.push(("/levels".to_owned(), "level_name_0".to_owned()));
    out
}

const POLICY_FIELDS: [(&str, &str); 5] = [
    ("/kind", "kind"),
    ("/days", "days"),
    ("/period", "period"),
    ("/months_after", "months_after"),
    ("/months", "months"),
];

/// What the forms show: the saved plan and policy.
async fn saved<D: Database>(
    state: &WebState<D>,
    console: &Console,
    ui: &Ui,
) -> Result<Fields, crate::error::WebError> {
    let tenant = &console.operator.tenant_id;
    let mut f = std::collections::HashMap::new();
    if let Ok(plan) = state.tally.tier_plan(tenant, &ui.program.id).await {
        f.insert("metric".into(), form_text(&plan["metric"]));
        f.insert("window".into(), form_text(&plan["window"]));
        f.insert("grace_days".into(), form_text(&plan["grace_days"]));
        for (i, level) in plan["levels"].as_array().into_iter().flatten().enumerate() {
            f.insert(format!("level_name_{i}"), form_text(&level["name"]));
            f.insert(
                format!("level_threshold_{i}"),
                form_text(&level["threshold"]),
            );
            f.insert(
                format!("level_multiplier_{i}"),
                form_text(&level["multiplier"]),
            );
        }
    } else {
        f.insert("metric".into(), "points_earned".into());
        f.insert("window".into(), "calendar_year".into());
    }
    let policy = state.tally.expiry_policy(tenant, &ui.program.id).await?;
    for key in ["kind", "days", "period", "months_after", "months"] {
        f.insert(key.into(), form_text(&policy[key]));
    }
    Ok(Fields(f))
}

pub async fn show<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    console: Console,
) -> PageResult {
    console.require(Role::can_manage)?;
    let ui = Ui::load(&state, &console, &program, "tiers").await?;
    let form = saved(&state, &console, &ui).await?;
    render(&TiersPage {
        ui,
        form,
        errors: FormErrors::default(),
    })
}

/// Saves the tier plan, or (with `kind` in the form) the expiry policy.
pub async fn update<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_manage)?;
    let ui = Ui::load(&state, &form.console, &program, "tiers").await?;
    let outcome = if form.fields.0.contains_key("kind") {
        let command = ExpiryPolicy::parse(&policy_document(&form.fields)).map(|policy| {
            Command::SetExpiryPolicy {
                program: ui.program.id.clone(),
                policy,
            }
        });
        write_or_errors(&state, &form.console, command, &POLICY_FIELDS).await?
    } else {
        let command =
            TierPlan::parse(&plan_document(&form.fields)).map(|plan| Command::SetTierPlan {
                program: ui.program.id.clone(),
                plan,
            });
        let owned = plan_fields();
        let fields: Vec<(&str, &str)> = owned
            .iter()
            .map(|(p, f)| (p.as_str(), f.as_str()))
            .collect();
        write_or_errors(&state, &form.console, command, &fields).await?
    };
    match outcome {
        Ok(_) => Ok(Redirect::to(&ui.url("tiers")).into_response()),
        Err(errors) => {
            // Keep what was typed in the refused form, and the saved values in the other one.
            let mut shown = saved(&state, &form.console, &ui).await?;
            shown.0.extend(form.fields.0);
            Ok(unprocessable(render(&TiersPage {
                ui,
                form: shown,
                errors,
            })?))
        }
    }
}
