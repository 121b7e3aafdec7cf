//! Referrals in the console: the program's referral policy as a form, and how the program's
//! referrals stand.

use super::{
    FormErrors, PageResult, Ui, form_text, form_value, render, unprocessable, write_or_errors,
};
use crate::WebState;
use crate::session::{Console, ConsoleForm, Fields};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use serde_json::{Map, Value};
use std::collections::HashMap;
use tally_core::Command;
use tally_domain::operators::Role;
use tally_domain::referrals::ReferralPolicy;
use tally_store::Database;

const FIELDS: [(&str, &str); 5] = [
    ("/referrer_points", "referrer_points"),
    ("/referred_points", "referred_points"),
    ("/min_purchase_minor", "min_purchase"),
    ("/qualify_within_days", "qualify_within_days"),
    ("/max_per_referrer", "max_per_referrer"),
];

#[derive(Template)]
#[template(path = "referrals.html")]
struct ReferralsPage {
    ui: Ui,
    form: Fields,
    errors: FormErrors,
    /// (status, how many), for the statuses that occur.
    counts: Vec<(String, i64)>,
}

/// The form as a policy document; empty optional fields are left out.
fn document(f: &Fields, ui: &Ui) -> Value {
    let mut doc = Map::new();
    for key in ["referrer_points", "referred_points"] {
        doc.insert(key.into(), form_value(f.raw(key)));
    }
    for key in ["qualify_within_days", "max_per_referrer"] {
        if let Some(v) = f.get(key) {
            doc.insert(key.into(), form_value(v));
        }
    }
    if let Some(min) = f.get("min_purchase") {
        let min = ui.lang.normalise_decimal(min);
        let minor = tally_domain::money::parse_decimal_minor(&min, ui.program.currency)
            .map_or_else(|_| form_value(&min), Value::from);
        doc.insert("min_purchase_minor".into(), minor);
    }
    Value::Object(doc)
}

async fn page<D: Database>(
    state: &WebState<D>,
    ui: Ui,
    form: Option<Fields>,
    errors: FormErrors,
) -> PageResult {
    let tenant = ui.operator.tenant_id.clone();
    let form = match form {
        Some(f) => f,
        None => {
            let mut f = HashMap::new();
            if let Ok(p) = state.tally.referral_policy(&tenant, &ui.program.id).await {
                for key in [
                    "referrer_points",
                    "referred_points",
                    "qualify_within_days",
                    "max_per_referrer",
                ] {
                    f.insert(key.to_owned(), form_text(&p[key]));
                }
                let min = p["min_purchase_minor"].as_i64().unwrap_or(0);
                f.insert(
                    "min_purchase".to_owned(),
                    ui.lang.money_plain(min, ui.program.currency),
                );
            }
            Fields(f)
        }
    };
    let counts = state.tally.referral_counts(&tenant, &ui.program.id).await?;
    render(&ReferralsPage {
        ui,
        form,
        errors,
        counts,
    })
}

pub async fn show<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    console: Console,
) -> PageResult {
    console.require(Role::can_manage)?;
    let ui = Ui::load(&state, &console, &program, "referrals").await?;
    page(&state, ui, None, FormErrors::default()).await
}

pub async fn update<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_manage)?;
    let ui = Ui::load(&state, &form.console, &program, "referrals").await?;
    let command = ReferralPolicy::parse(&document(&form.fields, &ui)).map(|policy| {
        Command::SetReferralPolicy {
            program: ui.program.id.clone(),
            policy,
        }
    });
    match write_or_errors(&state, &form.console, command, &FIELDS).await? {
        Ok(_) => Ok(Redirect::to(&ui.url("referrals")).into_response()),
        Err(errors) => Ok(unprocessable(
            page(&state, ui, Some(form.fields), errors).await?,
        )),
    }
}
