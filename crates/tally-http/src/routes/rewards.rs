//! The reward catalog and redemptions.

use super::{ApiResult, created, ok, page, write};
use crate::AppState;
use crate::auth::{Caller, Scope};
use crate::body::{JsonBody, NoBody};
use crate::params::{Params, bad, path_id};
use axum::extract::{Path, State};
use tally_core::Command;
use tally_core::commands::RewardPatch;
use tally_domain::Points;
use tally_domain::error::Fields;
use tally_domain::ids::{ProgramId, RedemptionId, RewardId};
use tally_domain::inputs::{MAX_COST, NewReward, Obj, RedeemRequest, int, text};
use tally_store::Database;

pub async fn create<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let program = path_id(&program, ProgramId::parse, "program")?;
    let reward = NewReward::parse(&body.value)?;
    created(
        write(
            &app,
            &caller,
            body.idempotency,
            Command::CreateReward { program, reward },
        )
        .await?,
    )
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
            .rewards(&caller.tenant, &program, cursor, limit)
            .await?,
    )
}

pub async fn get<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    let id = path_id(&id, RewardId::parse, "reward")?;
    ok(app.tally.reward(&caller.tenant, &id).await?)
}

fn parse_patch(body: &serde_json::Value) -> Result<RewardPatch, tally_domain::DomainError> {
    let o = Obj::root(body)?;
    let mut f = Fields::new();
    o.only(
        &mut f,
        &[
            "name",
            "description",
            "cost_points",
            "stock",
            "per_member_limit",
            "tiers",
            "voucher_pool_id",
            "segments",
            "active",
        ],
    );
    let patch = RewardPatch {
        name: o.opt(&mut f, "name", text(200)),
        description: o.patch(&mut f, "description", text(2000)),
        cost: o.opt(&mut f, "cost_points", int(1, MAX_COST)).map(Points),
        stock: o.patch(&mut f, "stock", int(0, 1_000_000_000)),
        per_member_limit: o.patch(&mut f, "per_member_limit", int(1, 1_000_000)),
        tiers: o.opt(&mut f, "tiers", tally_domain::inputs::tier_names),
        voucher_pool_id: o.patch(&mut f, "voucher_pool_id", |v| {
            let raw = tally_domain::inputs::string(v)?;
            tally_domain::ids::VoucherPoolId::parse(raw).map_err(|e| e.to_string())
        }),
        segments: o.opt(&mut f, "segments", tally_domain::inputs::segment_keys),
        active: o.opt(&mut f, "active", tally_domain::inputs::boolean),
    };
    f.finish()?;
    Ok(patch)
}

pub async fn update<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let reward = path_id(&id, RewardId::parse, "reward")?;
    let patch = parse_patch(&body.value)?;
    ok(write(
        &app,
        &caller,
        body.idempotency,
        Command::UpdateReward { reward, patch },
    )
    .await?)
}

pub async fn redeem<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Write)?;
    let program = path_id(&program, ProgramId::parse, "program")?;
    let request = RedeemRequest::parse(&body.value)?;
    created(
        write(
            &app,
            &caller,
            body.idempotency,
            Command::Redeem { program, request },
        )
        .await?,
    )
}

/// The cashier checks a code: which reward, for whom, and whether it is still valid.
pub async fn check_code<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
    params: Params,
) -> ApiResult {
    params.only(&["code"])?;
    let program = path_id(&program, ProgramId::parse, "program")?;
    let code = params
        .get("code")
        .ok_or_else(|| bad("code", "is required"))?;
    ok(app
        .tally
        .redemption_by_code(&caller.tenant, &program, code)
        .await?)
}

fn redemption_id(raw: &str) -> Result<RedemptionId, crate::problem::ApiError> {
    path_id(raw, RedemptionId::parse, "redemption")
}

pub async fn get_redemption<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    ok(app
        .tally
        .redemption(&caller.tenant, &redemption_id(&id)?)
        .await?)
}

pub async fn cancel<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
    body: NoBody,
) -> ApiResult {
    caller.require(Scope::Write)?;
    let command = Command::CancelRedemption {
        redemption: redemption_id(&id)?,
    };
    ok(write(&app, &caller, body.idempotency, command).await?)
}

pub async fn consume<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
    body: NoBody,
) -> ApiResult {
    caller.require(Scope::Write)?;
    let command = Command::ConsumeRedemption {
        redemption: redemption_id(&id)?,
    };
    ok(write(&app, &caller, body.idempotency, command).await?)
}

/// `{"status": "shipped" | "delivered", "tracking"?}` for a physical reward's redemption.
pub async fn fulfil<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Write)?;
    let redemption = redemption_id(&id)?;
    let update = tally_domain::fulfilment::FulfilmentUpdate::parse(&body.value)?;
    let command = Command::FulfilRedemption { redemption, update };
    ok(write(&app, &caller, body.idempotency, command).await?)
}

/// `?status=requested|shipped|delivered`: physical rewards to send, on their way, delivered.
pub async fn fulfilment_queue<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
    params: Params,
) -> ApiResult {
    params.only(&["status", "cursor", "limit"])?;
    let program = path_id(&program, ProgramId::parse, "program")?;
    let status = params.get("status");
    if let Some(s) = status
        && tally_domain::fulfilment::FulfilmentStatus::parse(s).is_none()
    {
        return Err(bad("status", "must be requested, shipped or delivered"));
    }
    let (cursor, limit) = params.page()?;
    page(
        app.tally
            .fulfilment_queue(&caller.tenant, &program, status, cursor, limit)
            .await?,
    )
}
