//! The reward catalogue in the console: list, create, edit, deactivate.

use super::{
    FormErrors, PageResult, Ui, comma_list, form_value, render, unprocessable, write_or_errors,
};
use crate::WebState;
use crate::error::WebError;
use crate::session::{Console, ConsoleForm, Fields};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use serde_json::{Map, Value};
use tally_core::Command;
use tally_core::commands::RewardPatch;
use tally_domain::ids::RewardId;
use tally_domain::inputs::NewReward;
use tally_domain::model::Reward;
use tally_domain::operators::Role;
use tally_store::Database;

#[derive(Template)]
#[template(path = "rewards.html")]
struct RewardsPage {
    ui: Ui,
    rewards: Vec<Reward>,
    form: Fields,
    errors: FormErrors,
    /// Active voucher pools a reward can hand codes from: `(id, name)`.
    pools: Vec<(String, String)>,
    /// Physical rewards to send or on their way.
    to_send: Vec<tally_domain::model::Redemption>,
}

impl RewardsPage {
    fn kind_selected(&self, kind: &str) -> bool {
        self.form.raw("kind") == kind
    }

    /// One line of a delivery address.
    fn address(&self, r: &tally_domain::model::Redemption) -> String {
        r.fulfilment.as_ref().map_or_else(String::new, |f| {
            let a = &f.address;
            [
                Some(a.name.as_str()),
                Some(a.line1.as_str()),
                a.line2.as_deref(),
                Some(&format!("{} {}", a.postal_code, a.city)),
                Some(a.country.as_str()),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ")
        })
    }

    fn fulfilment_status(&self, r: &tally_domain::model::Redemption) -> &'static str {
        r.fulfilment.as_ref().map_or("", |f| f.status.as_str())
    }
}

#[derive(Template)]
#[template(path = "reward.html")]
struct RewardPage {
    ui: Ui,
    reward: Reward,
    form: Fields,
    errors: FormErrors,
    pools: Vec<(String, String)>,
}

impl RewardPage {
    /// What the edit form shows: what was typed (after a refusal), else the reward as it is.
    fn value(&self, field: &str) -> String {
        if !self.form.0.is_empty() {
            return self.form.raw(field).to_owned();
        }
        let r = &self.reward;
        match field {
            "name" => r.name.clone(),
            "description" => r.description.clone().unwrap_or_default(),
            "cost_points" => r.cost.value().to_string(),
            "stock" => r.stock_remaining.map(|s| s.to_string()).unwrap_or_default(),
            "per_member_limit" => r
                .per_member_limit
                .map(|s| s.to_string())
                .unwrap_or_default(),
            "tiers" => r.tiers.join(", "),
            "segments" => r.segments.join(", "),
            "voucher_pool_id" => r
                .voucher_pool_id
                .as_ref()
                .map(|p| p.to_string())
                .unwrap_or_default(),
            _ => String::new(),
        }
    }
}

/// Pointers of reward fields → form fields.
const FIELDS: [(&str, &str); 10] = [
    ("/kind", "kind"),
    ("/sku", "sku"),
    ("/segments", "segments"),
    ("/voucher_pool_id", "voucher_pool_id"),
    ("/name", "name"),
    ("/description", "description"),
    ("/cost_points", "cost_points"),
    ("/stock", "stock"),
    ("/per_member_limit", "per_member_limit"),
    ("/tiers", "tiers"),
];

/// The reward form as the API's body: empty optional fields are left out.
fn reward_body(f: &Fields) -> Value {
    let mut body = Map::new();
    for (_, field) in FIELDS {
        if let Some(v) = f.get(field) {
            body.insert(field.to_owned(), form_value(v));
        }
    }
    // Kind and product are names, whatever they look like.
    for field in ["kind", "sku"] {
        if let Some(v) = f.get(field) {
            body.insert(field.into(), v.trim().into());
        }
    }
    // Tiers are typed comma-separated.
    body.insert("tiers".into(), comma_list(f.raw("tiers")).into());
    body.insert("segments".into(), comma_list(f.raw("segments")).into());
    if let Some(pool) = f.get("voucher_pool_id") {
        body.insert("voucher_pool_id".into(), pool.into());
    }
    Value::Object(body)
}

/// The program's active voucher pools, for the reward form's choice.
async fn pool_choices<D: Database>(
    state: &WebState<D>,
    console: &Console,
    ui: &Ui,
) -> Result<Vec<(String, String)>, WebError> {
    Ok(state
        .tally
        .voucher_pools(&console.operator.tenant_id, &ui.program.id, None, Some(200))
        .await?
        .items
        .iter()
        .filter(|p| p["status"] == "active")
        .map(|p| {
            (
                p["id"].as_str().unwrap_or_default().to_owned(),
                p["name"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect())
}

async fn list_page<D: Database>(
    state: &WebState<D>,
    console: &Console,
    program: &str,
    form: Fields,
    errors: FormErrors,
) -> PageResult {
    let ui = Ui::load(state, console, program, "rewards").await?;
    let rewards = state
        .tally
        .rewards(&console.operator.tenant_id, &ui.program.id, None, Some(200))
        .await?
        .items;
    let pools = pool_choices(state, console, &ui).await?;
    let to_send = state
        .tally
        .fulfilment_queue(
            &console.operator.tenant_id,
            &ui.program.id,
            None,
            None,
            Some(200),
        )
        .await?
        .items
        .into_iter()
        .filter(|r| r.status == tally_domain::model::RedemptionStatus::Issued)
        .collect();
    render(&RewardsPage {
        ui,
        rewards,
        form,
        errors,
        pools,
        to_send,
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
    let ui = Ui::load(&state, &form.console, &program, "rewards").await?;
    let command =
        NewReward::parse(&reward_body(&form.fields)).map(|reward| Command::CreateReward {
            program: ui.program.id.clone(),
            reward,
        });
    match write_or_errors(&state, &form.console, command, &FIELDS).await? {
        Ok(_) => Ok(Redirect::to(&ui.url("rewards")).into_response()),
        Err(errors) => {
            let page = list_page(&state, &form.console, &program, form.fields, errors).await?;
            Ok(unprocessable(page))
        }
    }
}

async fn load<D: Database>(
    state: &WebState<D>,
    console: &Console,
    ui: &Ui,
    id: &str,
) -> Result<Reward, WebError> {
    let id = RewardId::parse(id).map_err(|_| WebError::NotFound)?;
    let reward = state.tally.reward(&console.operator.tenant_id, &id).await?;
    if reward.program_id != ui.program.id {
        return Err(WebError::NotFound);
    }
    Ok(reward)
}

pub async fn edit<D: Database>(
    State(state): State<WebState<D>>,
    Path((program, reward)): Path<(String, String)>,
    console: Console,
) -> PageResult {
    console.require(Role::can_manage)?;
    let ui = Ui::load(&state, &console, &program, "rewards").await?;
    let reward = load(&state, &console, &ui, &reward).await?;
    let pools = pool_choices(&state, &console, &ui).await?;
    render(&RewardPage {
        ui,
        reward,
        form: Fields::default(),
        errors: FormErrors::default(),
        pools,
    })
}

pub async fn update<D: Database>(
    State(state): State<WebState<D>>,
    Path((program, reward)): Path<(String, String)>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_manage)?;
    let ui = Ui::load(&state, &form.console, &program, "rewards").await?;
    let current = load(&state, &form.console, &ui, &reward).await?;
    // The same checks as a new reward; then every field is set as the form says.
    let command = NewReward::parse(&reward_body(&form.fields)).map(|r| Command::UpdateReward {
        reward: current.id.clone(),
        patch: RewardPatch {
            name: Some(r.name),
            description: Some(r.description),
            cost: Some(r.cost),
            stock: Some(r.stock),
            per_member_limit: Some(r.per_member_limit),
            tiers: Some(r.tiers),
            voucher_pool_id: Some(r.voucher_pool_id),
            segments: Some(r.segments),
            active: Some(form.fields.get("active").is_some()),
        },
    });
    match write_or_errors(&state, &form.console, command, &FIELDS).await? {
        Ok(_) => Ok(Redirect::to(&ui.url("rewards")).into_response()),
        Err(errors) => {
            let pools = pool_choices(&state, &form.console, &ui).await?;
            Ok(unprocessable(render(&RewardPage {
                ui,
                reward: current,
                form: form.fields,
                errors,
                pools,
            })?))
        }
    }
}

/// A physical reward moves on: shipped (with the carrier's tracking) or delivered.
pub async fn fulfil<D: Database>(
    State(state): State<WebState<D>>,
    Path((program, redemption)): Path<(String, String)>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_manage)?;
    let ui = Ui::load(&state, &form.console, &program, "rewards").await?;
    let redemption =
        tally_domain::ids::RedemptionId::parse(&redemption).map_err(|_| WebError::NotFound)?;
    let mut body = serde_json::json!({"status": form.fields.raw("status")});
    if let Some(tracking) = form.fields.get("tracking") {
        body["tracking"] = tracking.trim().into();
    }
    let command = tally_domain::fulfilment::FulfilmentUpdate::parse(&body)
        .map(|update| Command::FulfilRedemption { redemption, update });
    match write_or_errors(&state, &form.console, command, &[]).await? {
        Ok(_) => Ok(Redirect::to(&ui.url("rewards")).into_response()),
        Err(errors) => Ok(unprocessable(
            list_page(&state, &form.console, &program, Fields::default(), errors).await?,
        )),
    }
}
