//! A new journey from the console: a name, a trigger (with its one setting), a holdout, and a
//! list of steps, each a kind and a value. The form becomes the journey document the API takes,
//! so the same checks apply, and a refusal is shown next to the step it names.

use super::messages::write_then_back;
use super::{PageResult, Ui, form_value};
use crate::WebState;
use crate::session::{ConsoleForm, Fields};
use axum::extract::{Path, State};
use serde_json::{Value, json};
use tally_core::Command;
use tally_domain::operators::Role;
use tally_store::Database;

/// Steps the form offers (the document can hold up to 50; the API takes longer journeys).
pub const STEP_ROWS: usize = 6;

/// The triggers the form offers, and the setting each one takes, if any.
pub const TRIGGERS: &[(&str, Option<&str>)] = &[
    ("enrolled", None),
    ("purchase", None),
    ("first_purchase", None),
    ("tier_up", None),
    ("tier_down", None),
    ("points_reached", Some("points")),
    ("event", Some("event_type")),
    ("birthday", None),
    ("anniversary", None),
    ("points_expiring", Some("within_days")),
    ("lifecycle", Some("stage")),
    ("inactive", Some("days")),
    ("segment_entered", Some("segment")),
    ("segment_left", Some("segment")),
];

/// The kinds of step the form offers.
pub const STEP_KINDS: &[&str] = &[
    "wait_days",
    "wait_until",
    "send",
    "grant_points",
    "add_tag",
    "remove_tag",
    "grant_reward",
    "activate_offer",
    "webhook",
    "exit",
];

/// One step row as the document's step, if the row names a kind.
fn step(kind: &str, value: &str, journey_name: &str) -> Option<Value> {
    let value = value.trim();
    Some(match kind {
        "wait_days" => json!({ "wait": { "days": form_value(value) } }),
        "wait_until" => json!({ "wait_until": value }),
        "send" => json!({ "send": { "template": value } }),
        "grant_points" => {
            json!({ "grant_points": { "points": form_value(value), "reason": journey_name } })
        }
        "add_tag" => json!({ "add_tag": value }),
        "remove_tag" => json!({ "remove_tag": value }),
        "grant_reward" => json!({ "grant_reward": value }),
        "activate_offer" => json!({ "activate_offer": value }),
        "webhook" => json!({ "webhook": { "endpoint": value } }),
        "exit" => json!({ "exit": true }),
        _ => return None,
    })
}

/// The journey document a submitted form asks for.
pub fn document(f: &Fields) -> Value {
    let name = f.raw("journey_name").trim();
    let kind = f.raw("trigger");
    let mut trigger = json!({ "type": kind });
    if let Some((_, Some(setting))) = TRIGGERS.iter().find(|(t, _)| *t == kind) {
        trigger[*setting] = form_value(f.raw("trigger_value"));
    }
    let steps: Vec<Value> = (0..STEP_ROWS)
        .filter_map(|i| {
            let kind = f.raw(&format!("step_kind_{i}"));
            step(kind, f.raw(&format!("step_value_{i}")), name)
        })
        .collect();
    let mut doc = json!({ "name": name, "trigger": trigger, "steps": steps });
    if let Some(holdout) = f.get("journey_holdout") {
        doc["holdout_percent"] = form_value(holdout);
    }
    doc
}

/// Where the document's refusals go on the form (the first pointer prefix that matches).
/// Steps are numbered among the rows that name a kind, so a refusal of `/steps/1/…` goes to
/// the second such row.
fn fields(f: &Fields) -> Vec<(String, String)> {
    let mut out = vec![
        ("/name".to_owned(), "journey_name".to_owned()),
        ("/trigger/type".to_owned(), "trigger".to_owned()),
        ("/trigger/".to_owned(), "trigger_value".to_owned()),
        ("/holdout_percent".to_owned(), "journey_holdout".to_owned()),
    ];
    let rows = (0..STEP_ROWS).filter(|i| !f.raw(&format!("step_kind_{i}")).is_empty());
    for (n, row) in rows.enumerate() {
        out.push((format!("/steps/{n}"), format!("step_value_{row}")));
    }
    out.push(("/steps".to_owned(), "steps".to_owned()));
    out
}

pub async fn create<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_manage)?;
    let ui = Ui::load(&state, &form.console, &program, "messages").await?;
    let command = Ok(Command::CreateJourney {
        program: ui.program.id.clone(),
        document: document(&form.fields),
    });
    let owned = fields(&form.fields);
    let fields: Vec<(&str, &str)> = owned
        .iter()
        .map(|(p, f)| (p.as_str(), f.as_str()))
        .collect();
    write_then_back(&state, &form, &program, command, &fields).await
}
