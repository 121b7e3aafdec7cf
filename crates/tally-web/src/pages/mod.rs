//! The pages. Each module is one area of the console; every page template receives a [`Ui`]:
//! the language, the operator, the current program and the CSRF token its forms carry.

pub mod audit;
pub mod cashier;
pub mod charities;
pub mod dashboard;
pub mod insights;
pub mod journey_builder;
pub mod keys;
pub mod locations;
pub mod members;
pub mod message_links;
pub mod messages;
pub mod messaging_settings;
pub mod offers;
pub mod referrals;
pub mod rewards;
pub mod rules;
pub mod segments;
pub mod settings;
pub mod setup;
pub mod sign_in;
pub mod stamps;
pub mod tiers;
pub mod vouchers;
pub mod wallet;
pub mod wallet_card;
pub mod wallet_charities;
pub mod wallet_inbox;
pub mod wallet_offers;
pub mod wallet_referrals;
pub mod wallet_rewards;
pub mod wallet_stamps;
pub mod wallet_vouchers;
pub mod webhooks;

use crate::WebState;
use crate::error::WebError;
use crate::i18n::Lang;
use crate::session::Console;
use askama::Template;
use axum::response::{Html, IntoResponse, Response};
use std::borrow::Borrow;
use tally_domain::ids::ProgramId;
use tally_domain::operators::Operator;
use tally_domain::program::Program;
use tally_domain::{DomainError, Timestamp};
use tally_store::Database;

pub type PageResult = Result<Response, WebError>;

/// What every page of the signed-in console knows.
pub struct Ui {
    pub lang: Lang,
    pub operator: Operator,
    pub csrf: String,
    pub program: Program,
    pub zone: jiff::tz::TimeZone,
    /// Which navigation item is current.
    pub section: &'static str,
}

impl Ui {
    /// Loads the program the page is about (of the operator's tenant: another tenant's program
    /// is "not found").
    pub async fn load<D: Database>(
        state: &WebState<D>,
        console: &Console,
        program: &str,
        section: &'static str,
    ) -> Result<Ui, WebError> {
        let id = ProgramId::parse(program).map_err(|_| WebError::NotFound)?;
        let program = state
            .tally
            .program(&console.operator.tenant_id, &id)
            .await?;
        let zone =
            jiff::tz::TimeZone::get(program.time_zone.as_str()).unwrap_or(jiff::tz::TimeZone::UTC);
        Ok(Ui {
            lang: console.lang,
            operator: console.operator.clone(),
            csrf: console.csrf_token.clone(),
            program,
            zone,
            section,
        })
    }

    pub fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }

    pub fn tf(&self, key: &str, args: &[(&str, &str)]) -> String {
        self.lang.tf(key, args)
    }

    // Helpers take `Borrow` so templates can pass values or references alike.

    pub fn number(&self, n: impl Borrow<i64>) -> String {
        self.lang.number(*n.borrow())
    }

    /// A number, or `none` when there is none (`∞` for unlimited stock).
    pub fn opt_number(&self, n: impl Borrow<Option<i64>>, none: &str) -> String {
        n.borrow()
            .map_or_else(|| none.to_owned(), |n| self.lang.number(n))
    }

    /// `1,234 points` / `1 234 punkty`.
    pub fn points(&self, n: impl Borrow<i64>) -> String {
        self.lang.count("unit.points", *n.borrow())
    }

    pub fn money(&self, amount_minor: impl Borrow<i64>) -> String {
        self.lang
            .money(*amount_minor.borrow(), self.program.currency)
    }

    pub fn datetime(&self, at: impl Borrow<Timestamp>) -> String {
        self.lang.datetime(*at.borrow(), &self.zone)
    }

    /// A timestamp as the API writes it in JSON (RFC 3339 text), shown like [`Ui::datetime`];
    /// "–" when there is none.
    pub fn datetime_of(&self, v: &serde_json::Value) -> String {
        v.as_str()
            .and_then(|t| t.parse::<Timestamp>().ok())
            .map_or_else(|| "–".to_owned(), |t| self.datetime(t))
    }

    pub fn date(&self, at: impl Borrow<Timestamp>) -> String {
        self.lang
            .date(at.borrow().to_zoned(self.zone.clone()).date())
    }

    /// The text of `<prefix>.<name>` (`status.active`): for names that come from data.
    pub fn tk(&self, prefix: &str, name: &str) -> &'static str {
        self.t(&format!("{prefix}.{name}"))
    }

    pub fn role_name(&self) -> &'static str {
        self.t(&format!("role.{}", self.operator.role.as_str()))
    }

    pub fn can_administer(&self) -> bool {
        self.operator.role.can_administer()
    }

    pub fn can_manage(&self) -> bool {
        self.operator.role.can_manage()
    }

    /// `/console/prg_…/` + `rest`.
    pub fn url(&self, rest: &str) -> String {
        format!("/console/{}/{rest}", self.program.id)
    }
}

/// Renders a template into an HTML response.
pub fn render(template: &impl Template) -> PageResult {
    template
        .render()
        .map(|html| Html(html).into_response())
        .map_err(|e| WebError::Internal(format!("template: {e}")))
}

/// A form field as the JSON the domain parsers read: a number where it is one (so `12` and
/// `52.2297` parse as numbers), text otherwise (so the parser names what is wrong with it).
pub fn form_value(raw: &str) -> serde_json::Value {
    let raw = raw.trim();
    if let Ok(n) = raw.parse::<i64>() {
        return n.into();
    }
    match raw.parse::<f64>() {
        Ok(x) if x.is_finite() && raw.contains('.') => x.into(),
        _ => raw.into(),
    }
}

/// A money field typed in major units (`12.50`, or `12,50` in Polish) as minor units; what
/// does not parse goes on as typed, so the parser names the field.
pub fn money_field(ui: &Ui, raw: &str) -> serde_json::Value {
    let typed = ui.lang.normalise_decimal(raw);
    tally_domain::money::parse_decimal_minor(&typed, ui.program.currency)
        .map_or_else(|_| form_value(raw), serde_json::Value::from)
}

/// A day typed as `YYYY-MM-DD` as the start of that day in the program's time zone (`plus_days`
/// later: `1` gives the end of the day, for "valid until").
pub fn day_start(ui: &Ui, raw: &str, plus_days: i64) -> serde_json::Value {
    raw.trim()
        .parse::<jiff::civil::Date>()
        .ok()
        .and_then(|d| d.checked_add(jiff::Span::new().days(plus_days)).ok())
        .and_then(|d| d.to_zoned(ui.zone.clone()).ok())
        .map_or_else(
            || form_value(raw),
            |z| serde_json::Value::String(z.timestamp().to_string()),
        )
}

/// A field typed as a comma-separated list, without empty items.
pub fn comma_list(raw: &str) -> Vec<serde_json::Value> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| serde_json::Value::String(s.to_owned()))
        .collect()
}

/// A stored JSON value as a form field shows it: strings as they are, nothing for null.
pub fn form_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Runs a write for the signed-in operator. A domain refusal (or a command that did not parse)
/// comes back as messages for the form's fields (`fields`: pointer → field); anything else is an
/// error page.
pub async fn write_or_errors<D: tally_store::Database>(
    state: &WebState<D>,
    console: &Console,
    command: Result<tally_core::Command, DomainError>,
    fields: &[(&str, &str)],
) -> Result<Result<serde_json::Value, FormErrors>, WebError> {
    let tenant = &console.operator.tenant_id;
    write_as(
        state,
        tenant,
        &console.actor(),
        console.lang,
        command,
        fields,
    )
    .await
}

/// [`write_or_errors`] for any tenant and actor (the wallet writes as the card's tenant).
pub async fn write_as<D: tally_store::Database>(
    state: &WebState<D>,
    tenant: &tally_domain::ids::TenantId,
    actor: &str,
    lang: Lang,
    command: Result<tally_core::Command, DomainError>,
    fields: &[(&str, &str)],
) -> Result<Result<serde_json::Value, FormErrors>, WebError> {
    let outcome = match command {
        Ok(c) => state.tally.write(tenant, actor, None, c).await,
        Err(e) => Err(tally_core::CoreError::Domain(e)),
    };
    match outcome {
        Ok(answer) => Ok(Ok(answer)),
        Err(tally_core::CoreError::Domain(e)) => Ok(Err(FormErrors::from_domain(lang, &e, fields))),
        Err(e) => Err(e.into()),
    }
}

/// A page drawn again after a refused form: 422, so tests and tools see the refusal.
pub fn unprocessable(mut page: Response) -> Response {
    *page.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    page
}

/// Percent-encodes a query value.
pub fn url_encode(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Messages to show next to form fields, keyed by field name.
#[derive(Clone, Debug, Default)]
pub struct FormErrors(pub Vec<(String, String)>);

impl FormErrors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push((field.to_owned(), message.into()));
    }

    /// The message for `field`, or empty.
    pub fn get(&self, field: &str) -> &str {
        self.0
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
            .unwrap_or("")
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Turns a domain refusal into messages: invalid fields go next to the form field their
    /// JSON pointer names (per `fields`: pointer prefix → form field), everything else to
    /// `general`. Refusals with a code have a message in the catalogue (`problem.<code>`).
    pub fn from_domain(lang: Lang, e: &DomainError, fields: &[(&str, &str)]) -> FormErrors {
        let mut out = FormErrors::default();
        match e {
            DomainError::Invalid { fields: invalid } => {
                for f in invalid {
                    let field = fields
                        .iter()
                        .find(|(pointer, _)| f.pointer.starts_with(pointer))
                        .map(|(_, field)| *field)
                        .unwrap_or("general");
                    out.add(field, lang.field_message(&f.message));
                }
            }
            DomainError::Refused { code, detail } | DomainError::Conflict { code, detail } => {
                let text = lang.lookup(&format!("problem.{code}"));
                out.add(
                    "general",
                    text.map_or_else(|| detail.clone(), str::to_owned),
                );
            }
            DomainError::NotFound { entity } => {
                out.add(
                    "general",
                    lang.tf("problem.not_found", &[("entity", entity)]),
                );
            }
        }
        out
    }
}
