//! When points change state: the program's expiry policy, what of a member's points expires
//! when, and when their pending points become available.

use super::{ApiResult, ok, write};
use crate::AppState;
use crate::auth::{Caller, Scope};
use crate::body::JsonBody;
use crate::params::path_id;
use axum::extract::{Path, State};
use tally_core::Command;
use tally_domain::expiry::ExpiryPolicy;
use tally_domain::ids::{MemberId, ProgramId};
use tally_store::Database;

pub async fn get_policy<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
) -> ApiResult {
    let program = path_id(&program, ProgramId::parse, "program")?;
    ok(app.tally.expiry_policy(&caller.tenant, &program).await?)
}

pub async fn set_policy<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let program = path_id(&program, ProgramId::parse, "program")?;
    let policy = ExpiryPolicy::parse(&body.value)?;
    let command = Command::SetExpiryPolicy { program, policy };
    ok(write(&app, &caller, body.idempotency, command).await?)
}

pub async fn upcoming<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(member): Path<String>,
) -> ApiResult {
    let member = path_id(&member, MemberId::parse, "member")?;
    let items = app.tally.upcoming_expiries(&caller.tenant, &member).await?;
    ok(serde_json::json!({ "items": items }))
}

pub async fn pending<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(member): Path<String>,
) -> ApiResult {
    let member = path_id(&member, MemberId::parse, "member")?;
    let items = app.tally.upcoming_releases(&caller.tenant, &member).await?;
    ok(serde_json::json!({ "items": items }))
}
