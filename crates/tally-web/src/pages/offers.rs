//! Offers and deals in the console: the program's offers with their uses, a new offer (any of
//! the deals), pause / resume / end, and each offer's report.

use super::{
    FormErrors, PageResult, Ui, comma_list, day_start, form_text, form_value, money_field, render,
    unprocessable, write_or_errors,
};
use crate::WebState;
use crate::error::WebError;
use crate::i18n::Lang;
use crate::session::{Console, ConsoleForm, Fields};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use serde_json::{Map, Value, json};
use tally_core::Command;
use tally_domain::Currency;
use tally_domain::ids::OfferId;
use tally_domain::offers::OfferInput;
use tally_domain::operators::Role;
use tally_store::Database;

#[derive(Template)]
#[template(path = "offers.html")]
struct OffersPage {
    ui: Ui,
    offers: Vec<Value>,
    /// The program's active charities, `(id, name)`, for a charity deal.
    charities: Vec<(String, String)>,
    form: Fields,
    errors: FormErrors,
}

/// "+200 points", "×2 points" or "$0.40 to School meals" (the console and the wallet).
pub fn benefit_text(lang: Lang, currency: Currency, benefit: &Value, charity_name: &str) -> String {
    if let Some(points) = benefit["points"].as_i64() {
        return format!("+{}", lang.count("unit.points", points));
    }
    if let Some(m) = benefit["multiplier"].as_f64() {
        return lang.tf("offers.benefit_multiplier", &[("x", &m.to_string())]);
    }
    let amount = lang.money(
        benefit["charity"]["amount_minor"].as_i64().unwrap_or(0),
        currency,
    );
    lang.tf(
        "offers.benefit_charity",
        &[("amount", &amount), ("cause", charity_name)],
    )
}

impl OffersPage {
    fn benefit(&self, o: &Value) -> String {
        let charity = o["benefit"]["charity"]["charity_id"].as_str().unwrap_or("");
        let name = self
            .charities
            .iter()
            .find(|(id, _)| id == charity)
            .map_or("", |(_, n)| n.as_str());
        benefit_text(self.ui.lang, self.ui.program.currency, &o["benefit"], name)
    }

    fn text<'a>(&self, o: &'a Value, field: &str) -> &'a str {
        o[field].as_str().unwrap_or_default()
    }

    fn number(&self, o: &Value, field: &str) -> String {
        self.ui.number(o[field].as_i64().unwrap_or(0))
    }

    /// What the offer is for, in a few words: its audience and what qualifies.
    fn terms(&self, o: &Value) -> String {
        let mut parts = Vec::new();
        let joined = |v: &Value| {
            v.as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        };
        for (field, key) in [
            ("segments", "offers.for_segments"),
            ("tiers", "offers.for_tiers"),
        ] {
            let names = joined(&o["audience"][field]);
            if !names.is_empty() {
                parts.push(self.ui.tf(key, &[("names", &names)]));
            }
        }
        let categories = joined(&o["qualify"]["categories"]);
        if !categories.is_empty() {
            parts.push(
                self.ui
                    .tf("offers.on_categories", &[("names", &categories)]),
            );
        }
        if let Some(min) = o["qualify"]["min_total_minor"].as_i64().filter(|m| *m > 0) {
            parts.push(
                self.ui
                    .tf("offers.min_total", &[("amount", &self.ui.money(min))]),
            );
        }
        if let Some(count) = o["qualify"]["visits"]["count"].as_i64() {
            let days = o["qualify"]["visits"]["within_days"].as_i64().unwrap_or(0);
            parts.push(self.ui.tf(
                "offers.visits",
                &[("count", &count.to_string()), ("days", &days.to_string())],
            ));
        }
        parts.join(" · ")
    }
}

async fn page<D: Database>(
    state: &WebState<D>,
    console: &Console,
    program: &str,
    form: Fields,
    errors: FormErrors,
) -> PageResult {
    let ui = Ui::load(state, console, program, "offers").await?;
    let tenant = &console.operator.tenant_id;
    let offers = state
        .tally
        .offers(tenant, &ui.program.id, None, Some(200))
        .await?
        .items;
    let charities = state
        .tally
        .charities(tenant, &ui.program.id, None, Some(200))
        .await?
        .items
        .iter()
        .filter(|c| c["status"] == "active")
        .map(|c| (form_text(&c["id"]), form_text(&c["name"])))
        .collect();
    render(&OffersPage {
        ui,
        offers,
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

/// Form fields by the pointers the offer parser names (the more specific first).
const FIELDS: &[(&str, &str)] = &[
    ("/name", "name"),
    ("/description", "description"),
    ("/benefit/points", "benefit_points"),
    ("/benefit/multiplier", "multiplier"),
    ("/benefit/charity/charity_id", "charity_id"),
    ("/benefit/charity/amount_minor", "charity_amount"),
    ("/benefit", "benefit_kind"),
    ("/activation", "activation"),
    ("/audience/segments", "segments"),
    ("/audience/tiers", "tiers"),
    ("/audience/members", "member_id"),
    ("/qualify/min_total_minor", "min_total"),
    ("/qualify/categories", "categories"),
    ("/qualify/visits/count", "visits"),
    ("/qualify/visits/within_days", "within_days"),
    ("/limits/per_member", "per_member"),
    ("/limits/total_uses", "total_uses"),
    ("/limits/budget", "budget"),
    ("/ends_at", "ends_on"),
];

/// The form as the API's body: what is empty is left out, so the parser names what was typed
/// wrong.
fn offer_body(ui: &Ui, f: &Fields) -> Value {
    let mut body = Map::new();
    body.insert("name".into(), json!(f.raw("name").trim()));
    if let Some(d) = f.get("description") {
        body.insert("description".into(), json!(d));
    }
    let benefit = match f.raw("benefit_kind") {
        "multiplier" => json!({"multiplier": form_value(f.raw("multiplier"))}),
        "charity" => json!({"charity": {
            "charity_id": f.raw("charity_id"),
            "amount_minor": money_field(ui, f.raw("charity_amount")),
        }}),
        _ => json!({"points": form_value(f.raw("benefit_points"))}),
    };
    body.insert("benefit".into(), benefit);
    body.insert("activation".into(), json!(f.raw("activation")));
    let mut audience = Map::new();
    audience.insert("segments".into(), comma_list(f.raw("segments")).into());
    audience.insert("tiers".into(), comma_list(f.raw("tiers")).into());
    audience.insert("members".into(), comma_list(f.raw("member_id")).into());
    body.insert("audience".into(), audience.into());
    let mut qualify = Map::new();
    if let Some(min) = f.get("min_total") {
        qualify.insert("min_total_minor".into(), money_field(ui, min));
    }
    qualify.insert("categories".into(), comma_list(f.raw("categories")).into());
    if f.get("visits").is_some() || f.get("within_days").is_some() {
        qualify.insert(
            "visits".into(),
            json!({"count": form_value(f.raw("visits")), "within_days": form_value(f.raw("within_days"))}),
        );
    }
    body.insert("qualify".into(), qualify.into());
    let mut limits = Map::new();
    for field in ["per_member", "total_uses"] {
        if let Some(v) = f.get(field) {
            limits.insert(field.into(), form_value(v));
        }
    }
    if let Some(budget) = f.get("budget") {
        // A charity deal's budget is money; the others' are points.
        let value = if f.raw("benefit_kind") == "charity" {
            money_field(ui, budget)
        } else {
            form_value(budget)
        };
        limits.insert("budget".into(), value);
    }
    body.insert("limits".into(), limits.into());
    if let Some(until) = f.get("ends_on") {
        body.insert("ends_at".into(), day_start(ui, until, 1));
    }
    body.into()
}

pub async fn create<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_manage)?;
    let ui = Ui::load(&state, &form.console, &program, "offers").await?;
    let command =
        OfferInput::parse(&offer_body(&ui, &form.fields)).map(|input| Command::CreateOffer {
            program: ui.program.id.clone(),
            input,
        });
    match write_or_errors(&state, &form.console, command, FIELDS).await? {
        Ok(_) => Ok(Redirect::to(&ui.url("offers")).into_response()),
        Err(errors) => Ok(unprocessable(
            page(&state, &form.console, &program, form.fields.clone(), errors).await?,
        )),
    }
}

/// Pause, resume or end one offer.
pub async fn set_status<D: Database>(
    State(state): State<WebState<D>>,
    Path((program, offer)): Path<(String, String)>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_manage)?;
    let ui = Ui::load(&state, &form.console, &program, "offers").await?;
    let offer = OfferId::parse(&offer).map_err(|_| WebError::NotFound)?;
    let status = form.fields.raw("status").to_owned();
    if !matches!(status.as_str(), "active" | "paused" | "ended") {
        return Err(WebError::BadRequest);
    }
    let command = Ok(Command::SetOfferStatus { offer, status });
    match write_or_errors(&state, &form.console, command, &[]).await? {
        Ok(_) => Ok(Redirect::to(&ui.url("offers")).into_response()),
        Err(errors) => Ok(unprocessable(
            page(&state, &form.console, &program, Fields::default(), errors).await?,
        )),
    }
}

#[derive(Template)]
#[template(path = "offer.html")]
struct ReportPage {
    ui: Ui,
    report: Value,
    benefit: String,
}

impl ReportPage {
    fn number(&self, v: &Value) -> String {
        self.ui.number(v.as_i64().unwrap_or(0))
    }

    fn money(&self, v: &Value) -> String {
        self.ui.money(v.as_f64().unwrap_or(0.0).round() as i64)
    }

    /// A per-member average with two decimals, or a dash when the group is empty.
    fn average(&self, v: &Value) -> String {
        v.as_f64().map_or("–".into(), |x| format!("{x:.2}"))
    }
}

/// One offer's report: its uses and cost, and its users next to the audience's other members.
pub async fn report<D: Database>(
    State(state): State<WebState<D>>,
    Path((program, offer)): Path<(String, String)>,
    console: Console,
) -> PageResult {
    console.require(Role::can_manage)?;
    let ui = Ui::load(&state, &console, &program, "offers").await?;
    let offer = OfferId::parse(&offer).map_err(|_| WebError::NotFound)?;
    let tenant = &console.operator.tenant_id;
    let report = state.tally.offer_report(tenant, &offer).await?;
    if report["offer"]["program_id"] != ui.program.id.as_str() {
        return Err(WebError::NotFound);
    }
    let charity = match report["offer"]["benefit"]["charity"]["charity_id"].as_str() {
        Some(id) => match tally_domain::ids::CharityId::parse(id) {
            Ok(id) => form_text(&state.tally.charity(tenant, &id).await?["name"]),
            Err(_) => String::new(),
        },
        None => String::new(),
    };
    let benefit = benefit_text(
        ui.lang,
        ui.program.currency,
        &report["offer"]["benefit"],
        &charity,
    );
    render(&ReportPage {
        ui,
        report,
        benefit,
    })
}
