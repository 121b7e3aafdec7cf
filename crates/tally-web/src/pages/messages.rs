//! Messages in the console: playbooks switched on in one click, journeys with where their
//! members stand (pause, resume, archive), campaigns (a new one, launch, cancel, its report
//! with a chart), and templates (a new one, and a preview filled in for a chosen member).

use super::{
    FormErrors, PageResult, Ui, form_text, form_value, render, unprocessable, write_or_errors,
};
use crate::WebState;
use crate::chart::{self, Bar};
use crate::error::WebError;
use crate::session::{Console, ConsoleForm, Fields};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use tally_core::Command;
use tally_domain::campaigns::CampaignInput;
use tally_domain::ids::{CampaignId, JourneyId, MemberId, TemplateId};
use tally_domain::operators::Role;
use tally_domain::templates::TemplateInput;
use tally_store::Database;

#[derive(Template)]
#[template(path = "messages.html")]
struct MessagesPage {
    ui: Ui,
    playbooks: Vec<Value>,
    journeys: Vec<Value>,
    campaigns: Vec<Value>,
    templates: Vec<Value>,
    /// Segment keys and names, for a campaign's audience.
    segments: Vec<(String, String)>,
    /// The journey builder's choices.
    triggers: &'static [(&'static str, Option<&'static str>)],
    step_kinds: &'static [&'static str],
    step_rows: usize,
    form: Fields,
    errors: FormErrors,
}

impl MessagesPage {
    fn text<'a>(&self, v: &'a Value, field: &str) -> &'a str {
        v[field].as_str().unwrap_or_default()
    }

    fn number(&self, v: &Value) -> String {
        self.ui.number(v.as_i64().unwrap_or(0))
    }

    fn trigger(&self, j: &Value) -> String {
        let kind = j["trigger"]["type"].as_str().unwrap_or_default();
        let name = self.ui.tk("trigger", kind).to_owned();
        match j["trigger"]["event_type"].as_str() {
            Some(t) => format!("{name}: {t}"),
            None => name,
        }
    }
}

async fn page<D: Database>(
    state: &WebState<D>,
    console: &Console,
    program: &str,
    form: Fields,
    errors: FormErrors,
) -> PageResult {
    let ui = Ui::load(state, console, program, "messages").await?;
    let tenant = &console.operator.tenant_id;
    let p = &ui.program.id;
    let playbooks = state.tally.playbooks(tenant, p).await?;
    let mut journeys = Vec::new();
    for j in state
        .tally
        .journeys(tenant, p, None, Some(200))
        .await?
        .items
    {
        let id = JourneyId::parse(j["id"].as_str().unwrap_or_default())
            .map_err(|_| WebError::Internal("a journey id".into()))?;
        journeys.push(state.tally.journey(tenant, &id).await?);
    }
    let campaigns = state
        .tally
        .campaigns(tenant, p, None, Some(200))
        .await?
        .items;
    let templates = state
        .tally
        .templates(tenant, p, None, Some(200))
        .await?
        .items;
    let segments = state
        .tally
        .segments(tenant, p, None, Some(200))
        .await?
        .items
        .iter()
        .map(|s| (form_text(&s["key"]), form_text(&s["name"])))
        .collect();
    render(&MessagesPage {
        ui,
        playbooks,
        journeys,
        campaigns,
        templates,
        segments,
        triggers: super::journey_builder::TRIGGERS,
        step_kinds: super::journey_builder::STEP_KINDS,
        step_rows: super::journey_builder::STEP_ROWS,
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
    page(
        &state,
        &console,
        &program,
        Fields::default(),
        FormErrors::default(),
    )
    .await
}

/// Writes `command` and goes back to the page, or shows it again with the errors.
pub(crate) async fn write_then_back<D: Database>(
    state: &WebState<D>,
    form: &ConsoleForm,
    program: &str,
    command: Result<Command, tally_domain::DomainError>,
    fields: &[(&str, &str)],
) -> PageResult {
    let ui = Ui::load(state, &form.console, program, "messages").await?;
    match write_or_errors(state, &form.console, command, fields).await? {
        Ok(_) => Ok(Redirect::to(&ui.url("messages")).into_response()),
        Err(errors) => Ok(unprocessable(
            page(state, &form.console, program, form.fields.clone(), errors).await?,
        )),
    }
}

pub async fn switch_on<D: Database>(
    State(state): State<WebState<D>>,
    Path((program, key)): Path<(String, String)>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_manage)?;
    let ui = Ui::load(&state, &form.console, &program, "messages").await?;
    let command = Ok(Command::SwitchOnPlaybook {
        program: ui.program.id.clone(),
        playbook: key,
    });
    write_then_back(&state, &form, &program, command, &[]).await
}

pub async fn journey_status<D: Database>(
    State(state): State<WebState<D>>,
    Path((program, journey)): Path<(String, String)>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_manage)?;
    let journey = JourneyId::parse(&journey).map_err(|_| WebError::NotFound)?;
    let status = form.fields.raw("status").to_owned();
    if !tally_core::JOURNEY_STATUSES.contains(&status.as_str()) {
        return Err(WebError::BadRequest);
    }
    let command = Ok(Command::SetJourneyStatus { journey, status });
    write_then_back(&state, &form, &program, command, &[]).await
}

/// Campaign form fields by the pointers the campaign parser names.
const CAMPAIGN_FIELDS: &[(&str, &str)] = &[
    ("/name", "campaign_name"),
    ("/template", "template"),
    ("/segment", "segment"),
    ("/send_at", "send_at"),
    ("/best_hour_within_hours", "within_hours"),
    ("/holdout_percent", "holdout"),
];

fn campaign_body(ui: &Ui, f: &Fields) -> Value {
    let mut body = Map::new();
    body.insert("name".into(), json!(f.raw("campaign_name").trim()));
    body.insert("template".into(), json!(f.raw("template")));
    if let Some(segment) = f.get("segment") {
        body.insert("segment".into(), json!(segment));
    }
    if let Some(at) = f.get("send_at") {
        // `datetime-local` gives the program's local time.
        let instant = at
            .parse::<jiff::civil::DateTime>()
            .ok()
            .and_then(|dt| dt.to_zoned(ui.zone.clone()).ok())
            .map_or_else(|| form_value(at), |z| json!(z.timestamp().to_string()));
        body.insert("send_at".into(), instant);
    }
    if let Some(h) = f.get("within_hours") {
        body.insert("best_hour_within_hours".into(), form_value(h));
    }
    if let Some(h) = f.get("holdout") {
        body.insert("holdout_percent".into(), form_value(h));
    }
    body.into()
}

pub async fn create_campaign<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_manage)?;
    let ui = Ui::load(&state, &form.console, &program, "messages").await?;
    let command = CampaignInput::parse(&campaign_body(&ui, &form.fields)).map(|input| {
        Command::CreateCampaign {
            program: ui.program.id.clone(),
            input,
        }
    });
    write_then_back(&state, &form, &program, command, CAMPAIGN_FIELDS).await
}

/// Launch or cancel a campaign.
pub async fn campaign_action<D: Database>(
    State(state): State<WebState<D>>,
    Path((program, campaign, action)): Path<(String, String, String)>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_manage)?;
    let campaign = CampaignId::parse(&campaign).map_err(|_| WebError::NotFound)?;
    let command = match action.as_str() {
        "launch" => Command::LaunchCampaign { campaign },
        "cancel" => Command::CancelCampaign { campaign },
        _ => return Err(WebError::NotFound),
    };
    write_then_back(&state, &form, &program, Ok(command), &[]).await
}

const TEMPLATE_FIELDS: &[(&str, &str)] = &[
    ("/name", "template_name"),
    ("/subject", "subject"),
    ("/html", "html"),
    ("/text", "text"),
];

pub async fn create_template<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_manage)?;
    let ui = Ui::load(&state, &form.console, &program, "messages").await?;
    let command =
        TemplateInput::parse(&template_body(&form.fields)).map(|input| Command::CreateTemplate {
            program: ui.program.id.clone(),
            input,
        });
    write_then_back(&state, &form, &program, command, TEMPLATE_FIELDS).await
}

/// A template form as the API takes it.
fn template_body(f: &Fields) -> Value {
    let mut body = json!({
        "name": f.raw("template_name").trim(), "subject": f.raw("subject"), "text": f.raw("text"),
    });
    if let Some(html) = f.get("html") {
        body["html"] = json!(html);
    }
    body
}

/// The template form filled with a saved template.
fn template_fields(t: &Value) -> Fields {
    let mut f = HashMap::new();
    for (field, key) in [
        ("template_name", "name"),
        ("subject", "subject"),
        ("text", "text"),
        ("html", "html"),
    ] {
        f.insert(field.to_owned(), form_text(&t[key]));
    }
    Fields(f)
}

/// Saves a changed template: messages not yet filled in use it from now on.
pub async fn save_template<D: Database>(
    State(state): State<WebState<D>>,
    Path((program, template)): Path<(String, String)>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_manage)?;
    let ui = Ui::load(&state, &form.console, &program, "messages").await?;
    let id = TemplateId::parse(&template).map_err(|_| WebError::NotFound)?;
    let tenant = &form.console.operator.tenant_id;
    let saved = state.tally.template(tenant, &id).await?;
    if saved["program_id"] != ui.program.id.as_str() {
        return Err(WebError::NotFound);
    }
    let command =
        TemplateInput::parse(&template_body(&form.fields)).map(|input| Command::ReplaceTemplate {
            template: id,
            input,
        });
    match write_or_errors(&state, &form.console, command, TEMPLATE_FIELDS).await? {
        Ok(_) => Ok(Redirect::to(&format!(
            "{}/templates/{template}?saved=1",
            ui.url("messages")
        ))
        .into_response()),
        Err(errors) => {
            let page = TemplatePage {
                ui,
                template: saved,
                form: form.fields.clone(),
                errors,
                saved: false,
                member: String::new(),
                preview: None,
                error: String::new(),
            };
            Ok(unprocessable(render(&page)?))
        }
    }
}

#[derive(Template)]
#[template(path = "message_template.html")]
struct TemplatePage {
    ui: Ui,
    template: Value,
    /// The edit form: the saved template, or what was typed when it was refused.
    form: Fields,
    errors: FormErrors,
    saved: bool,
    /// The member typed in, and what the template says for them.
    member: String,
    preview: Option<Value>,
    error: String,
}

/// A template, and `?member=` (an id or a card number) filled in.
pub async fn template<D: Database>(
    State(state): State<WebState<D>>,
    Path((program, template)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    console: Console,
) -> PageResult {
    console.require(Role::can_manage)?;
    let ui = Ui::load(&state, &console, &program, "messages").await?;
    let tenant = &console.operator.tenant_id;
    let id = TemplateId::parse(&template).map_err(|_| WebError::NotFound)?;
    let template = state.tally.template(tenant, &id).await?;
    if template["program_id"] != ui.program.id.as_str() {
        return Err(WebError::NotFound);
    }
    let member = query
        .get("member")
        .map(|m| m.trim().to_owned())
        .unwrap_or_default();
    let (mut preview, mut error) = (None, String::new());
    if !member.is_empty() {
        let found = match MemberId::parse(&member) {
            Ok(id) => Some(id),
            Err(_) => {
                let card = tally_store::queries::members::MemberKey::CardNumber(&member);
                state
                    .tally
                    .find_member(tenant, &ui.program.id, card)
                    .await
                    .ok()
                    .map(|m| m.id)
            }
        };
        match found {
            Some(m) => match state.tally.template_preview(tenant, &id, &m).await {
                Ok(p) => preview = Some(p),
                Err(_) => error = ui.t("messages.no_member").to_owned(),
            },
            None => error = ui.t("messages.no_member").to_owned(),
        }
    }
    render(&TemplatePage {
        ui,
        form: template_fields(&template),
        errors: FormErrors::default(),
        saved: query.contains_key("saved"),
        template,
        member,
        preview,
        error,
    })
}

#[derive(Template)]
#[template(path = "campaign.html")]
struct ReportPage {
    ui: Ui,
    /// A campaign's or a journey's report (`delivery`, `conversion`).
    report: Value,
    chart: String,
    title: String,
    subtitle: String,
}

/// The delivery figures as bars.
fn delivery_chart(ui: &Ui, d: &Value) -> String {
    let bars: Vec<Bar> = [
        "sent",
        "opened",
        "clicked",
        "bounced",
        "suppressed",
        "unsubscribed",
    ]
    .iter()
    .map(|k| {
        let value = d[*k].as_i64().unwrap_or(0);
        Bar {
            label: ui.tk("delivery", k).to_owned(),
            value,
            shown: ui.number(value),
        }
    })
    .collect();
    chart::bars(ui.t("messages.delivery_chart"), &bars, |m| ui.number(m))
}

/// A journey's report: its messages, and its members against its held-out members.
pub async fn journey<D: Database>(
    State(state): State<WebState<D>>,
    Path((program, journey)): Path<(String, String)>,
    console: Console,
) -> PageResult {
    console.require(Role::can_manage)?;
    let ui = Ui::load(&state, &console, &program, "messages").await?;
    let id = JourneyId::parse(&journey).map_err(|_| WebError::NotFound)?;
    let report = state
        .tally
        .journey_report(&console.operator.tenant_id, &id)
        .await?;
    let j = &report["journey"];
    if j["program_id"] != ui.program.id.as_str() {
        return Err(WebError::NotFound);
    }
    let title = form_text(&j["name"]);
    let trigger = ui.tk("trigger", j["trigger"]["type"].as_str().unwrap_or_default());
    let status = ui.tk("journey_status", j["status"].as_str().unwrap_or_default());
    let holdout = j["holdout_percent"].as_i64().unwrap_or(0);
    let subtitle = format!(
        "{trigger} · {status} · {} {holdout} %",
        ui.t("messages.holdout")
    );
    let chart = delivery_chart(&ui, &report["delivery"]);
    render(&ReportPage {
        ui,
        report,
        chart,
        title,
        subtitle,
    })
}

impl ReportPage {
    fn number(&self, v: &Value) -> String {
        self.ui.number(v.as_i64().unwrap_or(0))
    }

    fn money(&self, v: &Value) -> String {
        self.ui.money(v.as_i64().unwrap_or(0))
    }

    /// Whether the conversion uplift's interval excludes zero.
    fn significant(&self) -> bool {
        self.report["conversion"]["uplift"]["conversion"]["significant"] == true
    }

    fn percent(&self, v: &Value) -> String {
        v.as_f64()
            .map_or("–".into(), |x| format!("{:.1} %", x * 100.0))
    }

    /// An uplift in percentage points with its interval: "+12.5 pp (4.1 to 20.9)".
    fn points(&self, d: &Value) -> String {
        match (
            d["estimate"].as_f64(),
            d["low"].as_f64(),
            d["high"].as_f64(),
        ) {
            (Some(e), Some(l), Some(h)) => format!(
                "{:+.1} pp ({:+.1} … {:+.1})",
                e * 100.0,
                l * 100.0,
                h * 100.0
            ),
            _ => "–".into(),
        }
    }

    fn money_range(&self, d: &Value) -> String {
        match (
            d["estimate"].as_f64(),
            d["low"].as_f64(),
            d["high"].as_f64(),
        ) {
            (Some(e), Some(l), Some(h)) => format!(
                "{} ({} … {})",
                self.ui.money(e.round() as i64),
                self.ui.money(l.round() as i64),
                self.ui.money(h.round() as i64)
            ),
            _ => "–".into(),
        }
    }
}

pub async fn campaign<D: Database>(
    State(state): State<WebState<D>>,
    Path((program, campaign)): Path<(String, String)>,
    console: Console,
) -> PageResult {
    console.require(Role::can_manage)?;
    let ui = Ui::load(&state, &console, &program, "messages").await?;
    let id = CampaignId::parse(&campaign).map_err(|_| WebError::NotFound)?;
    let report = state
        .tally
        .campaign_report(&console.operator.tenant_id, &id)
        .await?;
    if report["campaign"]["program_id"] != ui.program.id.as_str() {
        return Err(WebError::NotFound);
    }
    let k = &report["campaign"];
    let title = form_text(&k["name"]);
    let mut subtitle = ui
        .tk("campaign_status", k["status"].as_str().unwrap_or_default())
        .to_owned();
    if !k["send_at"].is_null() {
        subtitle = format!("{subtitle} · {}", ui.datetime_of(&k["send_at"]));
    }
    let chart = delivery_chart(&ui, &report["delivery"]);
    render(&ReportPage {
        ui,
        report,
        chart,
        title,
        subtitle,
    })
}
