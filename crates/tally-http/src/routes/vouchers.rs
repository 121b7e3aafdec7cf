//! Voucher pools and codes: define a pool, add codes (generate or import), list and export them,
//! hand a personal code to a member; and for the till and the e-shop, validate a code against a
//! basket, redeem it for an order, release it when the order is cancelled.

use super::{ApiResult, created, ok, page, write};
use crate::AppState;
use crate::auth::{Caller, ClientAddress, Scope};
use crate::body::JsonBody;
use crate::params::{Params, bad, path_id};
use axum::extract::{Path, State};
use tally_core::{Command, Prober};
use tally_domain::error::Fields;
use tally_domain::ids::{MemberId, ProgramId, VoucherPoolId};
use tally_domain::inputs::{MemberRef, Obj};
use tally_domain::vouchers::{NewCodes, PoolInput, PoolPatch, VoucherRelease, VoucherUse};
use tally_store::Database;

fn pool_id(raw: &str) -> Result<VoucherPoolId, crate::problem::ApiError> {
    path_id(raw, VoucherPoolId::parse, "voucher pool")
}

fn prober(caller: &Caller, address: ClientAddress) -> Prober {
    Prober {
        actor: caller.actor.clone(),
        address: address.0,
    }
}

pub async fn create_pool<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let program = path_id(&program, ProgramId::parse, "program")?;
    let input = PoolInput::parse(&body.value)?;
    let command = Command::CreateVoucherPool { program, input };
    created(write(&app, &caller, body.idempotency, command).await?)
}

pub async fn list_pools<D: Database>(
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
            .voucher_pools(&caller.tenant, &program, cursor, limit)
            .await?,
    )
}

pub async fn get_pool<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    ok(app
        .tally
        .voucher_pool(&caller.tenant, &pool_id(&id)?)
        .await?)
}

pub async fn update_pool<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let pool = pool_id(&id)?;
    let patch = PoolPatch::parse(&body.value)?;
    ok(write(
        &app,
        &caller,
        body.idempotency,
        Command::UpdateVoucherPool { pool, patch },
    )
    .await?)
}

/// `{"generate": N}`, `{"codes": [...]}` or `{"csv": "..."}`.
pub async fn add_codes<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let pool = pool_id(&id)?;
    let codes = NewCodes::parse(&body.value)?;
    created(
        write(
            &app,
            &caller,
            body.idempotency,
            Command::AddVoucherCodes { pool, codes },
        )
        .await?,
    )
}

pub async fn list_codes<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult {
    params.only(&["status", "cursor", "limit"])?;
    let status = match params.get("status") {
        None => None,
        Some(s @ ("available" | "redeemed")) => Some(s),
        Some(_) => return Err(bad("status", "must be available or redeemed")),
    };
    let (cursor, limit) = params.page()?;
    page(
        app.tally
            .voucher_codes(&caller.tenant, &pool_id(&id)?, status, cursor, limit)
            .await?,
    )
}

/// `{"member": {...}}`: the pool's next free code becomes the member's personal code.
pub async fn assign<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Write)?;
    let pool = pool_id(&id)?;
    let o = Obj::root(&body.value)?;
    let mut f = Fields::new();
    o.only(&mut f, &["member"]);
    let member = o
        .obj(&mut f, "member", true)
        .and_then(|m| MemberRef::parse(&m, &mut f));
    f.finish()?;
    let member = member.expect("checked");
    created(
        write(
            &app,
            &caller,
            body.idempotency,
            Command::AssignVoucher { pool, member },
        )
        .await?,
    )
}

pub async fn of_member<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(member): Path<String>,
) -> ApiResult {
    let member = path_id(&member, MemberId::parse, "member")?;
    ok(app.tally.member_vouchers(&caller.tenant, &member).await?)
}

/// What discount a code gives this basket, or why none. Nothing is written.
pub async fn validate<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    address: ClientAddress,
    Path(program): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Write)?;
    let program = path_id(&program, ProgramId::parse, "program")?;
    let request = VoucherUse::parse(&body.value, false)?;
    ok(app
        .tally
        .validate_voucher(
            &caller.tenant,
            &program,
            &prober(&caller, address),
            &request,
        )
        .await?)
}

pub async fn redeem<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    address: ClientAddress,
    Path(program): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Write)?;
    let program = path_id(&program, ProgramId::parse, "program")?;
    let request = VoucherUse::parse(&body.value, true)?;
    ok(app
        .tally
        .redeem_voucher(
            &caller.tenant,
            &program,
            &prober(&caller, address),
            body.idempotency,
            request,
        )
        .await?)
}

pub async fn release<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Write)?;
    let program = path_id(&program, ProgramId::parse, "program")?;
    let request = VoucherRelease::parse(&body.value)?;
    ok(write(
        &app,
        &caller,
        body.idempotency,
        Command::ReleaseVoucher { program, request },
    )
    .await?)
}
