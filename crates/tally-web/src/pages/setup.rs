//! The setup wizard: a newcomer's program in four short steps — the program (name, currency,
//! earning rate, card colour and logo), first rewards, the first store, then an API key and how
//! to connect a till or an e-shop. Every step can be left and changed later in the console.

use super::{FormErrors, PageResult, Ui, form_value, render, unprocessable, write_or_errors};
use crate::WebState;
use crate::error::WebError;
use crate::i18n::Lang;
use crate::session::{Console, ConsoleForm, Fields};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use serde_json::{Map, Value, json};
use tally_core::Command;
use tally_core::secrets::{new_api_key, sha256_hex};
use tally_domain::DomainError;
use tally_domain::display::ProgramDisplay;
use tally_domain::inputs::{NewLocation, NewProgram, NewReward};
use tally_domain::operators::{Operator, Role};
use tally_domain::program::Program;
use tally_store::Database;

/// Currencies offered first in the wizard (any ISO code the program supports can be typed).
const CURRENCIES: [&str; 6] = ["PLN", "EUR", "USD", "GBP", "CZK", "CHF"];
/// Rows of the first-rewards step.
const REWARD_ROWS: usize = 3;

#[derive(Template)]
#[template(path = "setup_program.html")]
struct ProgramStep {
    lang: Lang,
    csrf: String,
    operator: Operator,
    form: Fields,
    errors: FormErrors,
}

impl ProgramStep {
    fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }

    fn value(&self, field: &str, default: &str) -> String {
        match self.form.get(field) {
            Some(v) => v.to_owned(),
            None if self.form.0.contains_key(field) => String::new(),
            None => default.to_owned(),
        }
    }

    fn currencies(&self) -> &'static [&'static str] {
        &CURRENCIES
    }
}

#[derive(Template)]
#[template(path = "setup_step.html")]
struct Step {
    ui: Ui,
    step: u8,
    form: Fields,
    errors: FormErrors,
    /// On the last step: a key just made (shown once), and where this server is.
    api_key: String,
    public_url: String,
    rows: Vec<usize>,
}

impl Step {
    fn new(ui: Ui, step: u8, public_url: &str) -> Step {
        Step {
            ui,
            step,
            form: Fields::default(),
            errors: FormErrors::default(),
            api_key: String::new(),
            public_url: public_url.to_owned(),
            rows: (0..REWARD_ROWS).collect(),
        }
    }

    fn row_field(&self, name: &str, row: &usize) -> String {
        format!("{name}_{row}")
    }

    fn row_value(&self, name: &str, row: &usize) -> &str {
        self.form.raw(&self.row_field(name, row))
    }

    fn row_error(&self, name: &str, row: &usize) -> &str {
        self.errors.get(&self.row_field(name, row))
    }
}

fn owner(console: &Console) -> Result<(), WebError> {
    console.require(Role::can_administer)
}

pub async fn program_form<D: Database>(
    State(_state): State<WebState<D>>,
    console: Console,
) -> PageResult {
    owner(&console)?;
    render(&ProgramStep {
        lang: console.lang,
        csrf: console.csrf_token.clone(),
        operator: console.operator,
        form: Fields::default(),
        errors: FormErrors::default(),
    })
}

pub async fn create_program<D: Database>(
    State(state): State<WebState<D>>,
    form: ConsoleForm,
) -> PageResult {
    owner(&form.console)?;
    let f = &form.fields;
    let lang = form.console.lang;
    let body = json!({
        "name": f.raw("name").trim(),
        "points_name": f.get("points_name").unwrap_or("points"),
        "currency": f.raw("currency").trim().to_ascii_uppercase(),
        "time_zone": f.get("time_zone").unwrap_or("UTC"),
        "earning": { "points_per_unit": lang.normalise_decimal(f.raw("points_per_unit")) },
    });
    let display = ProgramDisplay::parse(f.raw("card_color"), f.get("logo_data_url"), None);
    let fields = [
        ("/name", "name"),
        ("/points_name", "points_name"),
        ("/currency", "currency"),
        ("/time_zone", "time_zone"),
        ("/earning/points_per_unit", "points_per_unit"),
        ("/card_color", "card_color"),
        ("/logo", "logo"),
    ];
    // Both parts are checked before anything is written, so a refusal writes nothing.
    let parsed = match (NewProgram::parse(&body), display) {
        (Ok(p), Ok(d)) => Ok((p, d)),
        (Err(a), Err(b)) => Err(merge(a, b)),
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    let (new, display) = match parsed {
        Ok(both) => both,
        Err(e) => {
            return Ok(unprocessable(render(&ProgramStep {
                lang,
                csrf: form.console.csrf_token.clone(),
                errors: FormErrors::from_domain(lang, &e, &fields),
                operator: form.console.operator,
                form: form.fields,
            })?));
        }
    };
    let created = write_or_errors(
        &state,
        &form.console,
        Ok(Command::CreateProgram(new)),
        &fields,
    )
    .await?
    .map_err(|e| WebError::Internal(format!("creating a program: {e:?}")))?;
    let program: Program = serde_json::from_value(created)
        .map_err(|e| WebError::Internal(format!("program answer: {e}")))?;
    let set = Command::SetProgramDisplay {
        program: program.id.clone(),
        display,
    };
    write_or_errors(&state, &form.console, Ok(set), &fields)
        .await?
        .map_err(|e| WebError::Internal(format!("program display: {e:?}")))?;
    Ok(Redirect::to(&format!("/console/{}/setup/rewards", program.id)).into_response())
}

/// Both parsers' field errors, for one message per field.
fn merge(a: DomainError, b: DomainError) -> DomainError {
    match (a, b) {
        (DomainError::Invalid { fields: mut x }, DomainError::Invalid { fields: y }) => {
            x.extend(y);
            DomainError::Invalid { fields: x }
        }
        (a, _) => a,
    }
}

async fn step<D: Database>(
    state: &WebState<D>,
    console: &Console,
    program: &str,
    number: u8,
) -> PageResult {
    owner(console)?;
    let ui = Ui::load(state, console, program, "setup").await?;
    render(&Step::new(ui, number, &state.public_url))
}

pub async fn rewards_form<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    console: Console,
) -> PageResult {
    step(&state, &console, &program, 2).await
}

pub async fn location_form<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    console: Console,
) -> PageResult {
    step(&state, &console, &program, 3).await
}

pub async fn done<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    console: Console,
) -> PageResult {
    step(&state, &console, &program, 4).await
}

pub async fn rewards<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    form: ConsoleForm,
) -> PageResult {
    owner(&form.console)?;
    let ui = Ui::load(&state, &form.console, &program, "setup").await?;
    let f = &form.fields;
    let mut commands = Vec::new();
    let mut errors = FormErrors::default();
    for row in 0..REWARD_ROWS {
        let (name, cost) = (f.get(&format!("name_{row}")), f.get(&format!("cost_{row}")));
        if name.is_none() && cost.is_none() {
            continue;
        }
        let mut body = Map::new();
        body.insert("name".into(), name.unwrap_or("").into());
        body.insert("cost_points".into(), cost.map_or(Value::Null, form_value));
        match NewReward::parse(&Value::Object(body)) {
            Ok(reward) => commands.push(Command::CreateReward {
                program: ui.program.id.clone(),
                reward,
            }),
            Err(e) => {
                let fields = [
                    ("/name", format!("name_{row}")),
                    ("/cost_points", format!("cost_{row}")),
                ];
                let fields: Vec<(&str, &str)> =
                    fields.iter().map(|(p, n)| (*p, n.as_str())).collect();
                errors
                    .0
                    .extend(FormErrors::from_domain(form.console.lang, &e, &fields).0);
            }
        }
    }
    if !errors.is_empty() {
        let mut page = Step::new(ui, 2, &state.public_url);
        page.form = form.fields;
        page.errors = errors;
        return Ok(unprocessable(render(&page)?));
    }
    for command in commands {
        write_or_errors(&state, &form.console, Ok(command), &[])
            .await?
            .map_err(|e| WebError::Internal(format!("first rewards: {e:?}")))?;
    }
    Ok(Redirect::to(&ui.url("setup/location")).into_response())
}

pub async fn location<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    form: ConsoleForm,
) -> PageResult {
    owner(&form.console)?;
    let ui = Ui::load(&state, &form.console, &program, "setup").await?;
    let f = &form.fields;
    if f.get("name").is_none() && f.get("latitude").is_none() {
        return Ok(Redirect::to(&ui.url("setup/done")).into_response());
    }
    let mut body = Map::new();
    for field in ["name", "address", "latitude", "longitude"] {
        if let Some(v) = f.get(field) {
            let value = if field.ends_with("itude") {
                form_value(&v.replace(',', "."))
            } else {
                v.into()
            };
            body.insert(field.into(), value);
        }
    }
    body.insert("time_zone".into(), ui.program.time_zone.as_str().into());
    let command =
        NewLocation::parse(&Value::Object(body)).map(|location| Command::CreateLocation {
            program: ui.program.id.clone(),
            location,
        });
    let fields = [
        ("/name", "name"),
        ("/address", "address"),
        ("/latitude", "latitude"),
        ("/longitude", "longitude"),
    ];
    match write_or_errors(&state, &form.console, command, &fields).await? {
        Ok(_) => Ok(Redirect::to(&ui.url("setup/done")).into_response()),
        Err(errors) => {
            let mut page = Step::new(ui, 3, &state.public_url);
            page.form = form.fields;
            page.errors = errors;
            Ok(unprocessable(render(&page)?))
        }
    }
}

pub async fn api_key<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    form: ConsoleForm,
) -> PageResult {
    owner(&form.console)?;
    let ui = Ui::load(&state, &form.console, &program, "setup").await?;
    let (secret, prefix) = new_api_key();
    let command = Command::CreateApiKey {
        name: "shop".into(),
        scope: "write".into(),
        secret_sha256: sha256_hex(&secret),
        prefix,
    };
    write_or_errors(&state, &form.console, Ok(command), &[])
        .await?
        .map_err(|e| WebError::Internal(format!("api key: {e:?}")))?;
    let mut page = Step::new(ui, 4, &state.public_url);
    page.api_key = secret;
    render(&page)
}
