//! Customer insights: the program's models and distribution, a run on demand, members by
//! lifecycle stage (most valuable first), and one member's numbers.

use super::{ApiResult, ok};
use crate::AppState;
use crate::auth::{Caller, Scope};
use crate::body::NoBody;
use crate::params::{Params, bad, path_id};
use axum::extract::{Path, State};
use serde_json::json;
use tally_core::insights::STAGES;
use tally_domain::DomainError;
use tally_domain::ids::{MemberId, ProgramId};
use tally_store::Database;

pub async fn summary<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
) -> ApiResult {
    let program = path_id(&program, ProgramId::parse, "program")?;
    match app.tally.program_insights(&caller.tenant, &program).await? {
        Some(summary) => ok(summary),
        None => Err(DomainError::not_found("insights").into()),
    }
}

/// Computes every member's insights now and answers the new summary.
pub async fn run<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
    body: NoBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let program = path_id(&program, ProgramId::parse, "program")?;
    let run = app
        .tally
        .run_insights(&caller.tenant, &caller.actor, &program, body.idempotency)
        .await?;
    match run {
        Some(summary) => ok(summary),
        None => Err(DomainError::conflict(
            "insights_running",
            "insights are being computed for this program right now; ask again when that run has finished",
        )
        .into()),
    }
}

pub async fn members<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
    params: Params,
) -> ApiResult {
    params.only(&["stage", "limit"])?;
    let program = path_id(&program, ProgramId::parse, "program")?;
    let stage = params.get("stage").unwrap_or("at_risk");
    if !STAGES.contains(&stage) {
        return Err(bad(
            "stage",
            &format!("must be one of: {}", STAGES.join(", ")),
        ));
    }
    let (_, limit) = params.page()?;
    let items = app
        .tally
        .members_in_stage(&caller.tenant, &program, stage, limit.unwrap_or(50))
        .await?;
    ok(json!({ "items": items }))
}

pub async fn of_member<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(member): Path<String>,
) -> ApiResult {
    let member = path_id(&member, MemberId::parse, "member")?;
    match app.tally.member_insights(&caller.tenant, &member).await? {
        Some(details) => ok(details),
        None => Err(DomainError::not_found("insights").into()),
    }
}
