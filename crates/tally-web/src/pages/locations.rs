//! Stores (locations) in the console: list, create, edit, close.

use super::{FormErrors, PageResult, Ui, form_value, render, unprocessable, write_or_errors};
use crate::WebState;
use crate::error::WebError;
use crate::session::{Console, ConsoleForm, Fields};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use serde_json::{Map, Value};
use tally_core::Command;
use tally_domain::ids::LocationId;
use tally_domain::inputs::NewLocation;
use tally_domain::model::Location;
use tally_domain::operators::Role;
use tally_store::Database;

#[derive(Template)]
#[template(path = "locations.html")]
struct LocationsPage {
    ui: Ui,
    locations: Vec<Location>,
    form: Fields,
    errors: FormErrors,
}

#[derive(Template)]
#[template(path = "location.html")]
struct LocationPage {
    ui: Ui,
    location: Location,
    form: Fields,
    errors: FormErrors,
}

/// Micro-degrees as the decimal degrees people type: 52229700 → `52.2297`.
pub fn degrees(micro: i64) -> String {
    let text = format!("{:.6}", micro as f64 / 1_000_000.0);
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

impl LocationPage {
    fn value(&self, field: &str) -> String {
        if !self.form.0.is_empty() {
            return self.form.raw(field).to_owned();
        }
        let l = &self.location;
        match field {
            "name" => l.name.clone(),
            "address" => l.address.clone().unwrap_or_default(),
            "latitude" => degrees(l.latitude_micro),
            "longitude" => degrees(l.longitude_micro),
            "time_zone" => l
                .time_zone
                .as_ref()
                .map(|z| z.to_string())
                .unwrap_or_default(),
            _ => String::new(),
        }
    }
}

impl LocationsPage {
    fn degrees(&self, micro: &i64) -> String {
        degrees(*micro)
    }
}

const FIELDS: [(&str, &str); 5] = [
    ("/name", "name"),
    ("/address", "address"),
    ("/latitude", "latitude"),
    ("/longitude", "longitude"),
    ("/time_zone", "time_zone"),
];

fn location_body(f: &Fields) -> Value {
    let mut body = Map::new();
    for (_, field) in FIELDS {
        if let Some(v) = f.get(field) {
            let value = match field {
                "latitude" | "longitude" => form_value(&v.replace(',', ".")),
                _ => v.into(),
            };
            body.insert(field.to_owned(), value);
        }
    }
    Value::Object(body)
}

async fn list_page<D: Database>(
    state: &WebState<D>,
    console: &Console,
    program: &str,
    form: Fields,
    errors: FormErrors,
) -> PageResult {
    let ui = Ui::load(state, console, program, "locations").await?;
    let locations = state
        .tally
        .locations(&console.operator.tenant_id, &ui.program.id, None, Some(200))
        .await?
        .items;
    render(&LocationsPage {
        ui,
        locations,
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
    list_page(
        &state,
        &console,
        &program,
        Fields::default(),
        FormErrors::default(),
    )
    .await
}

pub async fn create<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_manage)?;
    let ui = Ui::load(&state, &form.console, &program, "locations").await?;
    let command =
        NewLocation::parse(&location_body(&form.fields)).map(|location| Command::CreateLocation {
            program: ui.program.id.clone(),
            location,
        });
    match write_or_errors(&state, &form.console, command, &FIELDS).await? {
        Ok(_) => Ok(Redirect::to(&ui.url("locations")).into_response()),
        Err(errors) => Ok(unprocessable(
            list_page(&state, &form.console, &program, form.fields, errors).await?,
        )),
    }
}

async fn load<D: Database>(
    state: &WebState<D>,
    console: &Console,
    ui: &Ui,
    id: &str,
) -> Result<Location, WebError> {
    let id = LocationId::parse(id).map_err(|_| WebError::NotFound)?;
    let location = state
        .tally
        .location(&console.operator.tenant_id, &id)
        .await?;
    if location.program_id != ui.program.id {
        return Err(WebError::NotFound);
    }
    Ok(location)
}

pub async fn edit<D: Database>(
    State(state): State<WebState<D>>,
    Path((program, location)): Path<(String, String)>,
    console: Console,
) -> PageResult {
    console.require(Role::can_manage)?;
    let ui = Ui::load(&state, &console, &program, "locations").await?;
    let location = load(&state, &console, &ui, &location).await?;
    render(&LocationPage {
        ui,
        location,
        form: Fields::default(),
        errors: FormErrors::default(),
    })
}

pub async fn update<D: Database>(
    State(state): State<WebState<D>>,
    Path((program, location)): Path<(String, String)>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_manage)?;
    let ui = Ui::load(&state, &form.console, &program, "locations").await?;
    let current = load(&state, &form.console, &ui, &location).await?;
    let command =
        NewLocation::parse(&location_body(&form.fields)).map(|update| Command::UpdateLocation {
            location: current.id.clone(),
            update,
            active: form.fields.get("active").is_some(),
        });
    match write_or_errors(&state, &form.console, command, &FIELDS).await? {
        Ok(_) => Ok(Redirect::to(&ui.url("locations")).into_response()),
        Err(errors) => Ok(unprocessable(render(&LocationPage {
            ui,
            location: current,
            form: form.fields,
            errors,
        })?)),
    }
}
