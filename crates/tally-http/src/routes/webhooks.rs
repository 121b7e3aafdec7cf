//! Webhooks: a program's endpoints, creating and changing one, its secret (admins), a test
//! event, its deliveries (the dead letters among them) and replaying them.

use super::{ApiResult, created, ok, page, write};
use crate::AppState;
use crate::auth::{Caller, Scope};
use crate::body::{JsonBody, NoBody};
use crate::params::{Params, bad, path_id};
use axum::extract::{Path, State};
use tally_core::Command;
use tally_core::webhooks::{DELIVERY_STATUSES, WebhookCommand};
use tally_domain::ids::{ProgramId, WebhookDeliveryId, WebhookId};
use tally_domain::webhooks::{WebhookInput, WebhookPatch};
use tally_store::Database;

fn webhook_id(raw: &str) -> Result<WebhookId, crate::problem::ApiError> {
    path_id(raw, WebhookId::parse, "webhook")
}

fn delivery_id(raw: &str) -> Result<WebhookDeliveryId, crate::problem::ApiError> {
    path_id(raw, WebhookDeliveryId::parse, "webhook delivery")
}

/// Webhook writes change configuration or carry secrets: admins only (checked first).
async fn admin_write<D: Database>(
    app: &AppState<D>,
    caller: &Caller,
    idempotency: Option<tally_core::IdempotencyKey>,
    command: WebhookCommand,
) -> Result<serde_json::Value, crate::problem::ApiError> {
    write(app, caller, idempotency, Command::Webhooks(command)).await
}

pub async fn create<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let program = path_id(&program, ProgramId::parse, "program")?;
    let input = WebhookInput::parse(&body.value)?;
    let command = WebhookCommand::Create { program, input };
    created(admin_write(&app, &caller, body.idempotency, command).await?)
}

pub async fn list<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
    params: Params,
) -> ApiResult {
    params.only(&["cursor", "limit"])?;
    let program = path_id(&program, ProgramId::parse, "program")?;
    let (cursor, limit) = params.page()?;
    page(
        app.tally
            .webhooks(&caller.tenant, &program, cursor, limit)
            .await?,
    )
}

pub async fn get<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    ok(app.tally.webhook(&caller.tenant, &webhook_id(&id)?).await?)
}

pub async fn update<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let webhook = webhook_id(&id)?;
    let patch = WebhookPatch::parse(&body.value)?;
    let command = WebhookCommand::Update { webhook, patch };
    ok(admin_write(&app, &caller, body.idempotency, command).await?)
}

pub async fn secret<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    ok(app
        .tally
        .webhook_secret(&caller.tenant, &webhook_id(&id)?)
        .await?)
}

pub async fn rotate_secret<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
    body: NoBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let command = WebhookCommand::RotateSecret {
        webhook: webhook_id(&id)?,
    };
    ok(admin_write(&app, &caller, body.idempotency, command).await?)
}

pub async fn test<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
    body: NoBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let command = WebhookCommand::SendTest {
        webhook: webhook_id(&id)?,
    };
    created(admin_write(&app, &caller, body.idempotency, command).await?)
}

pub async fn deliveries<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult {
    params.only(&["status", "cursor", "limit"])?;
    let status = params.get("status");
    if status.is_some_and(|s| !DELIVERY_STATUSES.contains(&s)) {
        return Err(bad("status", "must be pending, delivered or dead"));
    }
    let (cursor, limit) = params.page()?;
    let webhook = webhook_id(&id)?;
    page(
        app.tally
            .webhook_deliveries(&caller.tenant, &webhook, status, cursor, limit)
            .await?,
    )
}

pub async fn replay_dead<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
    body: NoBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let command = WebhookCommand::ReplayDead {
        webhook: webhook_id(&id)?,
    };
    ok(admin_write(&app, &caller, body.idempotency, command).await?)
}

pub async fn delivery<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    ok(app
        .tally
        .webhook_delivery(&caller.tenant, &delivery_id(&id)?)
        .await?)
}

pub async fn replay<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
    body: NoBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let command = WebhookCommand::Replay {
        delivery: delivery_id(&id)?,
    };
    ok(admin_write(&app, &caller, body.idempotency, command).await?)
}
