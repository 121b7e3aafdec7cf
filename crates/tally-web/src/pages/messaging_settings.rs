//! The program's messaging settings in the console (managers): quiet hours, weekly caps per
//! channel, the fallback order after each member's preferred channel, and open and click
//! tracking; a refusal is shown next to its field.

use super::{FormErrors, PageResult, Ui, render, unprocessable, write_or_errors};
use crate::WebState;
use crate::session::{Console, ConsoleForm, Fields};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use tally_core::Command;
use tally_domain::messaging::MessagingSettings;
use tally_domain::model::Channel;
use tally_domain::operators::Role;
use tally_store::Database;

/// The channels a cap can be set for (the inbox has none).
const CAPPED: [&str; 3] = ["email", "sms", "push"];

#[derive(Template)]
#[template(path = "messaging_settings.html")]
struct SettingsPage {
    ui: Ui,
    channels: &'static [&'static str],
    capped: [&'static str; 3],
    form: Fields,
    errors: FormErrors,
}

/// The form's fields for saved settings.
fn fields_of(settings: &Value) -> Fields {
    let mut f = HashMap::new();
    match settings["quiet_hours"].as_object() {
        Some(q) => {
            for key in ["start", "end"] {
                let value = q[key].as_str().unwrap_or_default().to_owned();
                f.insert(format!("quiet_{key}"), value);
            }
        }
        None => {
            f.insert("no_quiet_hours".into(), "1".into());
        }
    }
    for channel in CAPPED {
        if let Some(n) = settings["weekly_caps"][channel].as_i64() {
            f.insert(format!("cap_{channel}"), n.to_string());
        }
    }
    let order: Vec<&str> = settings["fallback"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for (i, channel) in order.iter().enumerate() {
        f.insert(format!("fallback_{i}"), (*channel).to_owned());
    }
    if settings["tracking"] == true {
        f.insert("tracking".into(), "1".into());
    }
    Fields(f)
}

/// The settings a submitted form asks for, as the API takes them.
fn body_of(f: &Fields) -> Value {
    let quiet = match f.get("no_quiet_hours") {
        Some(_) => Value::Null,
        None => json!({ "start": f.raw("quiet_start").trim(), "end": f.raw("quiet_end").trim() }),
    };
    let mut caps = Map::new();
    for channel in CAPPED {
        if let Some(n) = f.get(&format!("cap_{channel}")) {
            caps.insert(channel.into(), super::form_value(n));
        }
    }
    let fallback: Vec<&str> = (0..Channel::ALL.len())
        .filter_map(|i| f.get(&format!("fallback_{i}")))
        .collect();
    json!({
        "quiet_hours": quiet,
        "weekly_caps": caps,
        "fallback": fallback,
        "tracking": f.get("tracking").is_some(),
    })
}

const FIELDS: &[(&str, &str)] = &[
    ("/quiet_hours/start", "quiet_start"),
    ("/quiet_hours/end", "quiet_end"),
    ("/weekly_caps/email", "cap_email"),
    ("/weekly_caps/sms", "cap_sms"),
    ("/weekly_caps/push", "cap_push"),
    ("/fallback", "fallback"),
];

async fn page<D: Database>(
    state: &WebState<D>,
    console: &Console,
    program: &str,
    form: Option<Fields>,
    errors: FormErrors,
) -> PageResult {
    let ui = Ui::load(state, console, program, "messages").await?;
    let form = match form {
        Some(form) => form,
        None => {
            let tenant = &console.operator.tenant_id;
            fields_of(
                &state
                    .tally
                    .messaging_settings(tenant, &ui.program.id)
                    .await?,
            )
        }
    };
    render(&SettingsPage {
        ui,
        channels: Channel::NAMES,
        capped: CAPPED,
        form,
        errors,
    })
}

pub async fn show<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    console: Console,
) -> PageResult {
    console.require(Role::can_manage)?;
    page(&state, &console, &program, None, FormErrors::default()).await
}

pub async fn save<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_manage)?;
    let ui = Ui::load(&state, &form.console, &program, "messages").await?;
    let command = MessagingSettings::parse(&body_of(&form.fields)).map(|settings| {
        Command::PutMessagingSettings {
            program: ui.program.id.clone(),
            settings,
        }
    });
    match write_or_errors(&state, &form.console, command, FIELDS).await? {
        Ok(_) => Ok(Redirect::to(&ui.url("messages/settings?saved=1")).into_response()),
        Err(errors) => {
            let shown = page(
                &state,
                &form.console,
                &program,
                Some(form.fields.clone()),
                errors,
            );
            Ok(unprocessable(shown.await?))
        }
    }
}
