//! Charities in the console: the program's causes with what members gave and what is owed, a
//! new cause, archive / resume, and recording a payout.

use super::{FormErrors, PageResult, Ui, money_field, render, unprocessable, write_or_errors};
use crate::WebState;
use crate::session::{Console, ConsoleForm, Fields};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use serde_json::{Value, json};
use tally_core::Command;
use tally_domain::charities::{CharityInput, SettlementInput};
use tally_domain::ids::CharityId;
use tally_domain::operators::Role;
use tally_store::Database;

#[derive(Template)]
#[template(path = "charities.html")]
struct CharitiesPage {
    ui: Ui,
    charities: Vec<Value>,
    form: Fields,
    errors: FormErrors,
}

impl CharitiesPage {
    fn money(&self, c: &Value, field: &str) -> String {
        self.ui.money(c[field].as_i64().unwrap_or(0))
    }

    fn owes(&self, c: &Value) -> bool {
        c["owed_minor"].as_i64().unwrap_or(0) > 0
    }

    fn number(&self, c: &Value, field: &str) -> String {
        self.ui.number(c[field].as_i64().unwrap_or(0))
    }
}

async fn page<D: Database>(
    state: &WebState<D>,
    console: &Console,
    program: &str,
    form: Fields,
    errors: FormErrors,
) -> PageResult {
    let ui = Ui::load(state, console, program, "charities").await?;
    let charities = state
        .tally
        .charities(&console.operator.tenant_id, &ui.program.id, None, Some(200))
        .await?
        .items;
    render(&CharitiesPage {
        ui,
        charities,
        form,
        errors,
    })
}

pub async fn list<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    console: Console,
) -> PageResult {
    console.require(Role::can_manage)?;
    page(
        &state,
        &console,
        &program,
        Fields::default(),
        FormErrors::default(),
    )
    .await
}

/// Runs a charity command from a form; answers the page again, with messages when refused.
async fn submit<D: Database>(
    state: &WebState<D>,
    form: &ConsoleForm,
    program: &str,
    command: Result<Command, tally_domain::DomainError>,
    fields: &[(&str, &str)],
) -> PageResult {
    let ui = Ui::load(state, &form.console, program, "charities").await?;
    match write_or_errors(state, &form.console, command, fields).await? {
        Ok(_) => Ok(Redirect::to(&ui.url("charities")).into_response()),
        Err(errors) => Ok(unprocessable(
            page(state, &form.console, program, form.fields.clone(), errors).await?,
        )),
    }
}

pub async fn create<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_manage)?;
    let ui = Ui::load(&state, &form.console, &program, "charities").await?;
    let mut body = json!({"name": form.fields.raw("name").trim()});
    if let Some(d) = form.fields.get("description") {
        body["description"] = json!(d);
    }
    let command = CharityInput::parse(&body).map(|input| Command::CreateCharity {
        program: ui.program.id.clone(),
        input,
    });
    let fields = [("/name", "name"), ("/description", "description")];
    submit(&state, &form, &program, command, &fields).await
}

/// Archive or resume one charity.
pub async fn set_status<D: Database>(
    State(state): State<WebState<D>>,
    Path((program, charity)): Path<(String, String)>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_manage)?;
    let charity = CharityId::parse(&charity).map_err(|_| crate::error::WebError::NotFound)?;
    let status = form.fields.raw("status").to_owned();
    if !matches!(status.as_str(), "active" | "archived") {
        return Err(crate::error::WebError::BadRequest);
    }
    let command = Ok(Command::SetCharityStatus { charity, status });
    submit(&state, &form, &program, command, &[]).await
}

/// A payout to one charity: the amount in major units, a reference and the day it was paid.
pub async fn settle<D: Database>(
    State(state): State<WebState<D>>,
    Path((program, charity)): Path<(String, String)>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_administer)?;
    let ui = Ui::load(&state, &form.console, &program, "charities").await?;
    let charity = CharityId::parse(&charity).map_err(|_| crate::error::WebError::NotFound)?;
    let f = &form.fields;
    let amount = money_field(&ui, f.raw("amount"));
    let command = SettlementInput::parse(&json!({
        "amount_minor": amount,
        "reference": f.raw("reference").trim(),
        "settled_on": f.raw("settled_on").trim(),
    }))
    .map(|settlement| Command::SettleCharity {
        charity,
        settlement,
    });
    let fields = [
        ("/amount_minor", "amount"),
        ("/reference", "reference"),
        ("/settled_on", "settled_on"),
    ];
    submit(&state, &form, &program, command, &fields).await
}
