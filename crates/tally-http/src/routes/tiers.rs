//! Tiers: the program's plan, a member's tier and its history.

use super::{ApiResult, ok, page, write};
use crate::AppState;
use crate::auth::{Caller, Scope};
use crate::body::JsonBody;
use crate::params::{Params, path_id};
use axum::extract::{Path, State};
use tally_core::Command;
use tally_domain::ids::{MemberId, ProgramId};
use tally_domain::tiers::TierPlan;
use tally_store::Database;

pub async fn get_plan<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
) -> ApiResult {
    let program = path_id(&program, ProgramId::parse, "program")?;
    ok(app.tally.tier_plan(&caller.tenant, &program).await?)
}

pub async fn set_plan<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let program = path_id(&program, ProgramId::parse, "program")?;
    let plan = TierPlan::parse(&body.value)?;
    let command = Command::SetTierPlan { program, plan };
    ok(write(&app, &caller, body.idempotency, command).await?)
}

pub async fn member_tier<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(member): Path<String>,
) -> ApiResult {
    let member = path_id(&member, MemberId::parse, "member")?;
    match app.tally.member_tier(&caller.tenant, &member).await? {
        Some(status) => ok(status),
        None => Err(tally_domain::DomainError::not_found("tier plan").into()),
    }
}

pub async fn history<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(member): Path<String>,
    params: Params,
) -> ApiResult {
    params.only(&["cursor", "limit"])?;
    let member = path_id(&member, MemberId::parse, "member")?;
    let (cursor, limit) = params.page()?;
    page(
        app.tally
            .member_tier_history(&caller.tenant, &member, cursor, limit)
            .await?,
    )
}
