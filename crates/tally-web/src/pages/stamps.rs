//! Stamp cards in the console: the program's cards with a form to add one, pause and resume,
//! and the screen a store shows at the till — its one-use QR code, renewed as soon as a member
//! collects the stamp (the page reloads every few seconds).

use super::{FormErrors, PageResult, Ui, form_value, render, unprocessable, write_or_errors};
use crate::WebState;
use crate::error::WebError;
use crate::qr;
use crate::session::{Console, ConsoleForm, Fields};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use serde_json::{Value, json};
use std::collections::HashMap;
use tally_core::Command;
use tally_domain::ids::{LocationId, StampCardId};
use tally_domain::model::{Location, Reward};
use tally_domain::operators::Role;
use tally_domain::stamps::StampCardDoc;
use tally_store::Database;

/// A card as the list shows it.
pub struct CardRow {
    pub id: String,
    pub name: String,
    pub required: i64,
    pub status: String,
    pub reward: String,
    pub qr: bool,
}

#[derive(Template)]
#[template(path = "stamps.html")]
struct StampsPage {
    ui: Ui,
    cards: Vec<CardRow>,
    rewards: Vec<Reward>,
    stores: Vec<Location>,
    form: Fields,
    errors: FormErrors,
}

impl StampsPage {
    fn checked(&self, name: &str) -> bool {
        !self.form.raw(name).is_empty()
    }
}

const FIELDS: [(&str, &str); 8] = [
    ("/name", "name"),
    ("/stamps_required", "stamps_required"),
    ("/reward/points", "reward_points"),
    ("/reward/reward_id", "reward_id"),
    ("/reward", "reward_points"),
    ("/qualifying_purchase/min_total_minor", "min_total"),
    ("/qualifying_purchase/categories", "categories"),
    ("/max_per_day", "max_per_day"),
];

/// The form as a card document.
fn document(f: &Fields, ui: &Ui) -> Value {
    let reward = match f.raw("reward_id") {
        "" => json!({ "points": form_value(f.raw("reward_points")) }),
        id => json!({ "reward_id": id }),
    };
    let mut doc = json!({
        "name": f.raw("name").trim(),
        "stamps_required": form_value(f.raw("stamps_required")),
        "reward": reward,
        "qr_stamps": !f.raw("qr_stamps").is_empty(),
    });
    if let Some(max) = f.get("max_per_day") {
        doc["max_per_day"] = form_value(max);
    }
    if !f.raw("purchases").is_empty() {
        let min = ui.lang.normalise_decimal(f.raw("min_total"));
        let min_total_minor = match tally_domain::money::parse_decimal_minor(
            if min.is_empty() { "0" } else { &min },
            ui.program.currency,
        ) {
            Ok(minor) => minor.into(),
            Err(_) => form_value(f.raw("min_total")),
        };
        let categories: Vec<&str> = f
            .raw("categories")
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        doc["qualifying_purchase"] =
            json!({ "min_total_minor": min_total_minor, "categories": categories });
    }
    doc
}

async fn page<D: Database>(
    state: &WebState<D>,
    ui: Ui,
    form: Fields,
    errors: FormErrors,
) -> PageResult {
    let tenant = ui.operator.tenant_id.clone();
    let rewards = state
        .tally
        .rewards(&tenant, &ui.program.id, None, Some(100))
        .await?
        .items;
    let stores = state
        .tally
        .locations(&tenant, &ui.program.id, None, Some(200))
        .await?
        .items
        .into_iter()
        .filter(|l| l.active)
        .collect();
    let cards = state
        .tally
        .stamp_cards(&tenant, &ui.program.id, None, Some(100))
        .await?
        .items
        .into_iter()
        .map(|c| {
            let reward = super::wallet_stamps::reward_text(ui.lang, &c["reward"], &rewards);
            CardRow {
                id: c["id"].as_str().unwrap_or_default().to_owned(),
                name: c["name"].as_str().unwrap_or_default().to_owned(),
                required: c["stamps_required"].as_i64().unwrap_or(0),
                status: c["status"].as_str().unwrap_or_default().to_owned(),
                reward,
                qr: c["qr_stamps"].as_bool().unwrap_or(false),
            }
        })
        .collect();
    render(&StampsPage {
        ui,
        cards,
        rewards,
        stores,
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
    let ui = Ui::load(&state, &console, &program, "stamps").await?;
    let mut defaults = HashMap::new();
    defaults.insert("stamps_required".to_owned(), "10".to_owned());
    defaults.insert("max_per_day".to_owned(), "1".to_owned());
    page(&state, ui, Fields(defaults), FormErrors::default()).await
}

/// Adds a card, or (with `card` and `status` in the form) pauses or resumes one.
pub async fn update<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_manage)?;
    let ui = Ui::load(&state, &form.console, &program, "stamps").await?;
    let f = &form.fields;
    let command = if let Some(card) = f.get("card") {
        let card = StampCardId::parse(card).map_err(|_| WebError::NotFound)?;
        Ok(Command::UpdateStampCard {
            card,
            document: None,
            status: Some(f.raw("status").to_owned()),
        })
    } else {
        StampCardDoc::parse(&document(f, &ui)).map(|card| Command::CreateStampCard {
            program: ui.program.id.clone(),
            card,
        })
    };
    match write_or_errors(&state, &form.console, command, &FIELDS).await? {
        Ok(_) => Ok(Redirect::to(&ui.url("stamps")).into_response()),
        Err(errors) => Ok(unprocessable(page(&state, ui, form.fields, errors).await?)),
    }
}

#[derive(Template)]
#[template(path = "stamp_screen.html")]
struct ScreenPage {
    ui: Ui,
    card_name: String,
    store_name: String,
    qr_svg: String,
    code: String,
}

/// The till's screen: the current code as a QR linking to the wallet. Each load asks for the
/// current code, which is renewed once used or nearly expired — a write, because the screen
/// is what hands codes out.
pub async fn screen<D: Database>(
    State(state): State<WebState<D>>,
    Path((program, card)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    console: Console,
) -> PageResult {
    let ui = Ui::load(&state, &console, &program, "stamps").await?;
    let card = StampCardId::parse(&card).map_err(|_| WebError::NotFound)?;
    let location = q
        .get("location")
        .and_then(|l| LocationId::parse(l).ok())
        .ok_or(WebError::NotFound)?;
    let tenant = console.operator.tenant_id.clone();
    let shown = state
        .tally
        .write(
            &tenant,
            &console.actor(),
            None,
            Command::StampDisplayCode {
                card: card.clone(),
                location: location.clone(),
            },
        )
        .await?;
    let code = shown["code"].as_str().unwrap_or_default().to_owned();
    let card_name = state.tally.stamp_card(&tenant, &card).await?["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let store_name = state
        .tally
        .location(&tenant, &location)
        .await
        .map(|l| l.name)
        .unwrap_or_default();
    let qr_svg = qr::svg(&format!("{}/wallet/stamp/{code}", state.public_url));
    render(&ScreenPage {
        ui,
        card_name,
        store_name,
        qr_svg,
        code,
    })
}
