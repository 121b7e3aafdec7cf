//! Earning rules in the console: the list with pause and resume, a form for a new rule or a new
//! version, each refusal next to its field (expressions are type-checked when saved), and a
//! "try it" dry run of the rule as typed against a purchase.

use super::{
    FormErrors, PageResult, Ui, comma_list, form_text, form_value, render, unprocessable,
    write_or_errors,
};
use crate::WebState;
use crate::error::WebError;
use crate::session::{Console, ConsoleForm, Fields};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use serde_json::{Map, Value, json};
use tally_core::Command;
use tally_domain::DomainError;
use tally_domain::ids::RuleId;
use tally_domain::inputs::NewPurchase;
use tally_domain::operators::Role;
use tally_rules::RuleDoc;
use tally_store::Database;

pub const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
pub const CHANNELS: [&str; 3] = ["pos", "online", "app"];
pub const EFFECTS: [&str; 7] = [
    "bonus",
    "points",
    "per_item",
    "multiplier",
    "stamp",
    "reward",
    "cashback",
];

/// Pointers of the rule document → form fields; the first prefix that matches wins, so the
/// longer pointers come first.
const FIELDS: [(&str, &str); 21] = [
    ("/name", "name"),
    ("/trigger", "trigger"),
    ("/event_type", "event_type"),
    ("/condition", "condition"),
    ("/effect/per_item/condition", "item_condition"),
    ("/effect/stamp/card_id", "stamp_card"),
    ("/effect/reward", "reward_id"),
    ("/effect", "effect_value"),
    ("/limits/per_event", "per_event"),
    ("/limits/per_member/day", "per_day"),
    ("/limits/per_member/week", "per_week"),
    ("/limits/per_member/month", "per_month"),
    ("/limits/per_member/lifetime", "per_lifetime"),
    ("/limits/budget", "budget"),
    ("/schedule/days", "days"),
    ("/schedule/hours", "hours_from"),
    ("/schedule", "days"),
    ("/audience/channels", "channels"),
    ("/audience/tiers", "tiers"),
    ("/audience/tags", "tags"),
    ("/priority", "priority"),
];

/// One rule in the list.
pub struct RuleRow {
    pub id: String,
    pub name: String,
    pub trigger: String,
    pub version: i64,
    pub status: String,
}

#[derive(Template)]
#[template(path = "rules.html")]
struct RulesPage {
    ui: Ui,
    rules: Vec<RuleRow>,
    /// The rule being edited (`None`: a new one).
    editing: Option<RuleRow>,
    form: Fields,
    errors: FormErrors,
    /// The dry run's decisions, when "try it" was pressed.
    trial: Option<Value>,
    choices: Choices,
}

/// What the form offers to pick from: `(value, label)` pairs.
#[derive(Default)]
struct Choices {
    event_types: Vec<(String, String)>,
    stamp_cards: Vec<(String, String)>,
    rewards: Vec<(String, String)>,
}

impl Choices {
    async fn load<D: Database>(
        state: &WebState<D>,
        console: &Console,
        ui: &Ui,
    ) -> Result<Choices, WebError> {
        let tenant = &console.operator.tenant_id;
        let program = &ui.program.id;
        let pair = |v: &Value, id: &str| (form_text(&v[id]), form_text(&v["name"]));
        Ok(Choices {
            event_types: (state.tally.event_types(tenant, program).await?.iter())
                .map(|t| pair(t, "name"))
                .collect(),
            stamp_cards: (state.tally.stamp_cards(tenant, program, None, Some(200)))
                .await?
                .items
                .iter()
                .map(|c| pair(c, "id"))
                .collect(),
            rewards: (state.tally.rewards(tenant, program, None, Some(200)))
                .await?
                .items
                .iter()
                .map(|r| (r.id.to_string(), r.name.clone()))
                .collect(),
        })
    }
}

impl RulesPage {
    fn checked(&self, name: &str) -> bool {
        self.form.get(name).is_some()
    }

    fn selected(&self, name: &str, value: &str) -> bool {
        self.form.raw(name) == value
    }

    /// Each rule's decision in the trial, in plain words.
    fn trial_lines(&self) -> Vec<String> {
        let Some(t) = &self.trial else {
            return Vec::new();
        };
        t["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| {
                let why = d["why"].as_str().unwrap_or_default();
                match d["capped_by"].as_str() {
                    Some(cap) => format!("{why} ({cap})"),
                    None => why.to_owned(),
                }
            })
            .collect()
    }

    fn trial_points(&self, key: &str) -> i64 {
        self.trial
            .as_ref()
            .and_then(|t| t[key].as_i64())
            .unwrap_or_default()
    }

    fn action(&self) -> String {
        match &self.editing {
            Some(r) => format!("{}/{}", self.ui.url("rules"), r.id),
            None => self.ui.url("rules"),
        }
    }
}

/// The form as a rule document: what is empty is left out, so the parser's messages name
/// exactly what was typed wrong.
pub fn rule_document(f: &Fields) -> Value {
    let mut doc = Map::new();
    doc.insert("name".into(), f.raw("name").trim().into());
    doc.insert("trigger".into(), f.raw("trigger").into());
    if let Some(t) = f.get("event_type") {
        doc.insert("event_type".into(), t.into());
    }
    if let Some(c) = f.get("condition") {
        doc.insert("condition".into(), c.into());
    }
    let value = f.raw("effect_value").trim();
    let effect = match f.raw("effect_kind") {
        "points" => json!({ "points": value }),
        "per_item" => {
            let mut per_item = json!({ "points": value });
            if let Some(c) = f.get("item_condition") {
                per_item["condition"] = c.into();
            }
            json!({ "per_item": per_item })
        }
        "multiplier" => json!({ "multiplier": form_value(value) }),
        "stamp" => {
            let mut stamp = json!({ "card_id": f.raw("stamp_card") });
            if !value.is_empty() {
                stamp["count"] = form_value(value);
            }
            json!({ "stamp": stamp })
        }
        "reward" => json!({ "reward": { "reward_id": f.raw("reward_id") } }),
        // The console gives a share of the purchase; a fixed amount is the API's.
        "cashback" => json!({ "cashback": { "percent": form_value(value) } }),
        _ => json!({ "bonus": form_value(value) }),
    };
    doc.insert("effect".into(), effect);
    let mut limits = Map::new();
    let mut per_member = Map::new();
    if let Some(v) = f.get("per_event") {
        limits.insert("per_event".into(), form_value(v));
    }
    for (field, key) in [
        ("per_day", "day"),
        ("per_week", "week"),
        ("per_month", "month"),
        ("per_lifetime", "lifetime"),
    ] {
        if let Some(v) = f.get(field) {
            per_member.insert(key.into(), form_value(v));
        }
    }
    if !per_member.is_empty() {
        limits.insert("per_member".into(), Value::Object(per_member));
    }
    if let Some(v) = f.get("budget") {
        limits.insert("budget".into(), form_value(v));
    }
    if !limits.is_empty() {
        doc.insert("limits".into(), Value::Object(limits));
    }
    let mut schedule = Map::new();
    let days: Vec<Value> = DAYS
        .iter()
        .filter(|d| f.get(&format!("day_{d}")).is_some())
        .map(|d| Value::String((*d).into()))
        .collect();
    if !days.is_empty() {
        schedule.insert("days".into(), days.into());
    }
    if f.get("hours_from").is_some() || f.get("hours_to").is_some() {
        schedule.insert(
            "hours".into(),
            json!({ "from": f.raw("hours_from").trim(), "to": f.raw("hours_to").trim() }),
        );
    }
    if !schedule.is_empty() {
        doc.insert("schedule".into(), Value::Object(schedule));
    }
    let mut audience = Map::new();
    let channels: Vec<Value> = CHANNELS
        .iter()
        .filter(|c| f.get(&format!("channel_{c}")).is_some())
        .map(|c| Value::String((*c).into()))
        .collect();
    if !channels.is_empty() {
        audience.insert("channels".into(), channels.into());
    }
    for key in ["tiers", "tags"] {
        let values = comma_list(f.raw(key));
        if !values.is_empty() {
            audience.insert(key.into(), values.into());
        }
    }
    if !audience.is_empty() {
        doc.insert("audience".into(), Value::Object(audience));
    }
    if let Some(v) = f.get("priority") {
        doc.insert("priority".into(), form_value(v));
    }
    if f.get("stop_further").is_some() {
        doc.insert("stop_further".into(), true.into());
    }
    Value::Object(doc)
}

/// A stored rule document as the form shows it.
pub fn form_of(doc: &Value) -> Fields {
    let mut f = std::collections::HashMap::new();
    let mut put = |k: &str, v: String| {
        f.insert(k.to_owned(), v);
    };
    put("name", form_text(&doc["name"]));
    put("trigger", form_text(&doc["trigger"]));
    put("event_type", form_text(&doc["event_type"]));
    put("condition", form_text(&doc["condition"]));
    let effect = &doc["effect"];
    for kind in EFFECTS {
        if let Some(v) = effect.get(kind) {
            put("effect_kind", kind.into());
            match kind {
                "per_item" => {
                    put("effect_value", form_text(&v["points"]));
                    put("item_condition", form_text(&v["condition"]));
                }
                "stamp" => {
                    put("effect_value", form_text(&v["count"]));
                    put("stamp_card", form_text(&v["card_id"]));
                }
                "reward" => put("reward_id", form_text(&v["reward_id"])),
                "cashback" => put("effect_value", form_text(&v["percent"])),
                _ => put("effect_value", form_text(v)),
            }
        }
    }
    let limits = &doc["limits"];
    put("per_event", form_text(&limits["per_event"]));
    for (field, key) in [
        ("per_day", "day"),
        ("per_week", "week"),
        ("per_month", "month"),
        ("per_lifetime", "lifetime"),
    ] {
        put(field, form_text(&limits["per_member"][key]));
    }
    put("budget", form_text(&limits["budget"]));
    for d in doc["schedule"]["days"].as_array().into_iter().flatten() {
        put(&format!("day_{}", form_text(d)), "on".into());
    }
    put("hours_from", form_text(&doc["schedule"]["hours"]["from"]));
    put("hours_to", form_text(&doc["schedule"]["hours"]["to"]));
    for c in doc["audience"]["channels"].as_array().into_iter().flatten() {
        put(&format!("channel_{}", form_text(c)), "on".into());
    }
    for key in ["tiers", "tags"] {
        let joined: Vec<String> = doc["audience"][key]
            .as_array()
            .into_iter()
            .flatten()
            .map(form_text)
            .collect();
        put(key, joined.join(", "));
    }
    put("priority", form_text(&doc["priority"]));
    if doc["stop_further"] == true {
        put("stop_further", "on".into());
    }
    Fields(f)
}

async fn rows<D: Database>(
    state: &WebState<D>,
    console: &Console,
    ui: &Ui,
) -> Result<Vec<RuleRow>, WebError> {
    Ok(state
        .tally
        .rules(&console.operator.tenant_id, &ui.program.id, None, Some(200))
        .await?
        .items
        .iter()
        .map(row)
        .collect())
}

fn row(r: &Value) -> RuleRow {
    RuleRow {
        id: form_text(&r["id"]),
        name: form_text(&r["name"]),
        trigger: form_text(&r["trigger"]),
        version: r["version"].as_i64().unwrap_or_default(),
        status: form_text(&r["status"]),
    }
}

#[allow(clippy::too_many_arguments)]
async fn page<D: Database>(
    state: &WebState<D>,
    console: &Console,
    program: &str,
    editing: Option<RuleRow>,
    form: Fields,
    errors: FormErrors,
    trial: Option<Value>,
) -> PageResult {
    let ui = Ui::load(state, console, program, "rules").await?;
    let rules = rows(state, console, &ui).await?;
    let choices = Choices::load(state, console, &ui).await?;
    let mut form = form;
    if form.0.is_empty() {
        form.0.insert("trigger".into(), "purchase".into());
        form.0.insert("effect_kind".into(), "bonus".into());
    }
    render(&RulesPage {
        ui,
        rules,
        editing,
        form,
        errors,
        trial,
        choices,
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
        None,
        Fields::default(),
        FormErrors::default(),
        None,
    )
    .await
}

async fn load<D: Database>(
    state: &WebState<D>,
    console: &Console,
    ui: &Ui,
    id: &str,
) -> Result<Value, WebError> {
    let id = RuleId::parse(id).map_err(|_| WebError::NotFound)?;
    let rule = state.tally.rule(&console.operator.tenant_id, &id).await?;
    if rule["program_id"] != ui.program.id.as_str() {
        return Err(WebError::NotFound);
    }
    Ok(rule)
}

pub async fn edit<D: Database>(
    State(state): State<WebState<D>>,
    Path((program, rule)): Path<(String, String)>,
    console: Console,
) -> PageResult {
    console.require(Role::can_manage)?;
    let ui = Ui::load(&state, &console, &program, "rules").await?;
    let rule = load(&state, &console, &ui, &rule).await?;
    let form = form_of(&rule);
    page(
        &state,
        &console,
        &program,
        Some(row(&rule)),
        form,
        FormErrors::default(),
        None,
    )
    .await
}

/// Saves a new rule (or, with `rule`, a new version) — or, when "try it" was pressed, runs the
/// rule as typed against the purchase in the form and shows each decision, saving nothing.
async fn save_or_try<D: Database>(
    state: &WebState<D>,
    program: &str,
    rule: Option<String>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_manage)?;
    let ui = Ui::load(state, &form.console, program, "rules").await?;
    let editing = match &rule {
        Some(id) => Some(row(&load(state, &form.console, &ui, id).await?)),
        None => None,
    };
    let document = rule_document(&form.fields);
    if form.fields.get("try").is_some() {
        let outcome = try_rule(state, &form.console, &ui, &document, &form.fields).await?;
        let (trial, errors) = match outcome {
            Ok(trial) => (Some(trial), FormErrors::default()),
            Err(e) => (
                None,
                FormErrors::from_domain(form.console.lang, &e, &TRY_FIELDS),
            ),
        };
        return page(
            state,
            &form.console,
            program,
            editing,
            form.fields,
            errors,
            trial,
        )
        .await;
    }
    let command = RuleDoc::parse(&document).map(|_| match &editing {
        Some(r) => Command::UpdateRule {
            rule: RuleId::parse(&r.id).expect("a stored rule id"),
            document: Some(document.clone()),
            status: None,
        },
        None => Command::CreateRule {
            program: ui.program.id.clone(),
            document: document.clone(),
            status: "active".into(),
        },
    });
    match write_or_errors(state, &form.console, command, &FIELDS).await? {
        Ok(_) => Ok(Redirect::to(&ui.url("rules")).into_response()),
        Err(errors) => {
            let page = page(
                state,
                &form.console,
                program,
                editing,
                form.fields,
                errors,
                None,
            )
            .await?;
            Ok(unprocessable(page))
        }
    }
}

/// Pointers of the trial purchase (under `/purchase`) and of the rule (as drafted, under
/// `/rules/0`) → form fields.
const TRY_FIELDS: [(&str, &str); 6] = [
    ("/purchase/member", "try_card"),
    ("/purchase/total", "try_amount"),
    ("/purchase/lines", "try_category"),
    ("/purchase/channel", "try_channel"),
    ("/purchase", "try_amount"),
    ("/rules/0", "general"),
];

async fn try_rule<D: Database>(
    state: &WebState<D>,
    console: &Console,
    ui: &Ui,
    document: &Value,
    f: &Fields,
) -> Result<Result<Value, DomainError>, WebError> {
    let doc = match RuleDoc::parse(document) {
        Ok(doc) => doc,
        Err(e) => return Ok(Err(e)),
    };
    let amount = ui.lang.normalise_decimal(f.raw("try_amount"));
    let Ok(minor) = tally_domain::money::parse_decimal_minor(&amount, ui.program.currency) else {
        return Ok(Err(DomainError::invalid(
            "/purchase/total",
            ui.lang.t("cashier.amount_invalid"),
        )));
    };
    let mut purchase = json!({
        "order_id": "console-try",
        "member": {"card_number": f.raw("try_card").trim()},
        "total": {"amount_minor": minor, "currency": ui.program.currency.code()},
        "channel": f.get("try_channel").unwrap_or("pos"),
    });
    if let Some(category) = f.get("try_category") {
        purchase["lines"] =
            json!([{"sku": "try", "category": category, "quantity": 1, "unit_price_minor": minor}]);
    }
    let purchase = match NewPurchase::parse(&purchase) {
        Ok(p) => p,
        Err(DomainError::Invalid { fields }) => {
            let fields = fields
                .into_iter()
                .map(|e| {
                    tally_domain::FieldError::new(format!("/purchase{}", e.pointer), e.message)
                })
                .collect();
            return Ok(Err(DomainError::Invalid { fields }));
        }
        Err(e) => return Ok(Err(e)),
    };
    match state
        .tally
        .simulate_purchase(
            &console.operator.tenant_id,
            &ui.program.id,
            &purchase,
            Some(vec![doc]),
        )
        .await
    {
        Ok(answer) => Ok(Ok(answer)),
        Err(tally_core::CoreError::Domain(e)) => Ok(Err(e)),
        Err(e) => Err(e.into()),
    }
}

pub async fn create<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    form: ConsoleForm,
) -> PageResult {
    save_or_try(&state, &program, None, form).await
}

pub async fn update<D: Database>(
    State(state): State<WebState<D>>,
    Path((program, rule)): Path<(String, String)>,
    form: ConsoleForm,
) -> PageResult {
    save_or_try(&state, &program, Some(rule), form).await
}

/// Pause, resume or archive.
pub async fn set_status<D: Database>(
    State(state): State<WebState<D>>,
    Path((program, rule)): Path<(String, String)>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_manage)?;
    let ui = Ui::load(&state, &form.console, &program, "rules").await?;
    let current = load(&state, &form.console, &ui, &rule).await?;
    let status = form.fields.raw("status").to_owned();
    if !tally_core::RULE_STATUSES.contains(&status.as_str()) {
        return Err(WebError::BadRequest);
    }
    let command = Ok(Command::UpdateRule {
        rule: RuleId::parse(current["id"].as_str().unwrap_or_default())
            .map_err(|_| WebError::NotFound)?,
        document: None,
        status: Some(status),
    });
    match write_or_errors(&state, &form.console, command, &[]).await? {
        Ok(_) => Ok(Redirect::to(&ui.url("rules")).into_response()),
        Err(errors) => {
            let page = page(
                &state,
                &form.console,
                &program,
                None,
                Fields::default(),
                errors,
                None,
            )
            .await?;
            Ok(unprocessable(page))
        }
    }
}
