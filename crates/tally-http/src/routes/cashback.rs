//! Cashback: paying part of an order from a member's cashback, giving it back, and a member's
//! cashback with its movements.

use super::{ApiResult, ok, write};
use crate::AppState;
use crate::auth::{Caller, Scope};
use crate::body::JsonBody;
use crate::params::{Params, path_id};
use axum::extract::{Path, State};
use tally_core::Command;
use tally_domain::cashback::{CashbackPayment, parse_refund};
use tally_domain::ids::{MemberId, ProgramId};
use tally_store::Database;

pub async fn pay<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Write)?;
    let program = path_id(&program, ProgramId::parse, "program")?;
    let request = CashbackPayment::parse(&body.value)?;
    let command = Command::PayWithCashback { program, request };
    ok(write(&app, &caller, body.idempotency, command).await?)
}

pub async fn refund<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Write)?;
    let program = path_id(&program, ProgramId::parse, "program")?;
    let order_id = parse_refund(&body.value)?;
    let command = Command::RefundCashback { program, order_id };
    ok(write(&app, &caller, body.idempotency, command).await?)
}

pub async fn of_member<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(member): Path<String>,
    params: Params,
) -> ApiResult {
    params.only(&["cursor", "limit"])?;
    let member = path_id(&member, MemberId::parse, "member")?;
    let (cursor, limit) = params.page()?;
    ok(app
        .tally
        .member_cashback(&caller.tenant, &member, cursor, limit)
        .await?)
}
