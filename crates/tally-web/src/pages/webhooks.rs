//! Webhooks in the console (owners): the program's endpoints with their deliveries by status,
//! a new endpoint (its secret shown once), a test event, disabling and enabling, a new secret,
//! and the latest deliveries of each with the dead letters replayed one by one or all at once.

use super::{FormErrors, PageResult, Ui, render, unprocessable, write_or_errors};
use crate::WebState;
use crate::error::WebError;
use crate::session::{Console, ConsoleForm, Fields};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use serde_json::{Value, json};
use tally_core::Command;
use tally_core::webhooks::WebhookCommand;
use tally_domain::ids::{WebhookDeliveryId, WebhookId};
use tally_domain::operators::Role;
use tally_domain::webhooks::{EVENT_TYPES, WebhookInput, WebhookPatch};
use tally_store::Database;

/// The latest deliveries shown under each endpoint.
const LATEST: i64 = 10;

#[derive(Template)]
#[template(path = "webhooks.html")]
struct WebhooksPage {
    ui: Ui,
    /// Each endpoint (with its counts) and its latest deliveries.
    endpoints: Vec<(Value, Vec<Value>)>,
    event_types: &'static [(&'static str, &'static str)],
    /// A secret just made: shown on this page once.
    secret: String,
    form: Fields,
    errors: FormErrors,
}

impl WebhooksPage {
    fn text<'a>(&self, v: &'a Value, field: &str) -> &'a str {
        v[field].as_str().unwrap_or_default()
    }

    fn number(&self, v: &Value) -> String {
        self.ui.number(v.as_i64().unwrap_or(0))
    }

    fn has_dead(&self, e: &Value) -> bool {
        e["deliveries"]["dead"].as_i64().unwrap_or(0) > 0
    }

    /// The endpoint's events, or "all events".
    fn events(&self, e: &Value) -> String {
        let names: Vec<&str> = e["event_types"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if names.is_empty() {
            self.ui.t("webhooks.all_events").to_owned()
        } else {
            names.join(", ")
        }
    }
}

async fn page<D: Database>(
    state: &WebState<D>,
    console: &Console,
    program: &str,
    secret: String,
    form: Fields,
    errors: FormErrors,
) -> PageResult {
    let ui = Ui::load(state, console, program, "webhooks").await?;
    let tenant = &console.operator.tenant_id;
    let listed = state
        .tally
        .webhooks(tenant, &ui.program.id, None, Some(200));
    let mut endpoints = Vec::new();
    for e in listed.await?.items {
        let id = WebhookId::parse(e["id"].as_str().unwrap_or_default())
            .map_err(|_| WebError::Internal("a webhook id".into()))?;
        let detail = state.tally.webhook(tenant, &id).await?;
        let latest = state
            .tally
            .webhook_deliveries(tenant, &id, None, None, Some(LATEST))
            .await?
            .items;
        endpoints.push((detail, latest));
    }
    render(&WebhooksPage {
        ui,
        endpoints,
        event_types: EVENT_TYPES,
        secret,
        form,
        errors,
    })
}

pub async fn show<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    console: Console,
) -> PageResult {
    console.require(Role::can_administer)?;
    let (form, errors) = (Fields::default(), FormErrors::default());
    page(&state, &console, &program, String::new(), form, errors).await
}

const FIELDS: &[(&str, &str)] = &[
    ("/url", "url"),
    ("/description", "description"),
    ("/event_types", "event_types"),
];

pub async fn create<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_administer)?;
    let ui = Ui::load(&state, &form.console, &program, "webhooks").await?;
    let f = &form.fields;
    let chosen: Vec<&str> = EVENT_TYPES
        .iter()
        .map(|(t, _)| *t)
        .filter(|t| f.get(&format!("event-{t}")).is_some())
        .collect();
    let body = json!({
        "url": f.raw("url").trim(), "description": f.raw("description").trim(), "event_types": chosen,
    });
    let command = WebhookInput::parse(&body).map(|input| {
        Command::Webhooks(WebhookCommand::Create {
            program: ui.program.id.clone(),
            input,
        })
    });
    let console = &form.console;
    match write_or_errors(&state, console, command, FIELDS).await? {
        Ok(created) => {
            let secret = created["secret"].as_str().unwrap_or_default().to_owned();
            let (form, errors) = (Fields::default(), FormErrors::default());
            page(&state, console, &program, secret, form, errors).await
        }
        Err(errors) => {
            let shown = page(&state, console, &program, String::new(), f.clone(), errors);
            Ok(unprocessable(shown.await?))
        }
    }
}

/// `test`, `disable`, `enable`, `rotate` (a new secret, shown once) or `replay` (every dead
/// letter of the endpoint).
pub async fn action<D: Database>(
    State(state): State<WebState<D>>,
    Path((program, webhook, action)): Path<(String, String, String)>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_administer)?;
    let webhook = WebhookId::parse(&webhook).map_err(|_| WebError::NotFound)?;
    let status = |s: &str| WebhookPatch {
        status: Some(s.to_owned()),
        ..WebhookPatch::default()
    };
    let command = match action.as_str() {
        "test" => WebhookCommand::SendTest { webhook },
        "disable" => WebhookCommand::Update {
            webhook,
            patch: status("disabled"),
        },
        "enable" => WebhookCommand::Update {
            webhook,
            patch: status("active"),
        },
        "rotate" => WebhookCommand::RotateSecret { webhook },
        "replay" => WebhookCommand::ReplayDead { webhook },
        _ => return Err(WebError::NotFound),
    };
    let rotate = action == "rotate";
    let done = write_or_errors(&state, &form.console, Ok(Command::Webhooks(command)), &[]).await?;
    let answer = done.map_err(|_| WebError::NotFound)?;
    if rotate {
        let secret = answer["secret"].as_str().unwrap_or_default().to_owned();
        let (form_fields, errors) = (Fields::default(), FormErrors::default());
        return page(&state, &form.console, &program, secret, form_fields, errors).await;
    }
    Ok(Redirect::to(&format!("/console/{program}/webhooks")).into_response())
}

/// One dead letter sent again.
pub async fn replay<D: Database>(
    State(state): State<WebState<D>>,
    Path((program, delivery)): Path<(String, String)>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_administer)?;
    let delivery = WebhookDeliveryId::parse(&delivery).map_err(|_| WebError::NotFound)?;
    let command = Command::Webhooks(WebhookCommand::Replay { delivery });
    let ui = Ui::load(&state, &form.console, &program, "webhooks").await?;
    match write_or_errors(&state, &form.console, Ok(command), &[]).await? {
        Ok(_) => Ok(Redirect::to(&ui.url("webhooks")).into_response()),
        Err(errors) => {
            let shown = page(
                &state,
                &form.console,
                &program,
                String::new(),
                Fields::default(),
                errors,
            );
            Ok(unprocessable(shown.await?))
        }
    }
}
