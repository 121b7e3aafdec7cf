//! Programs, their totals, and the tenant's audit log.

use super::{ApiResult, created, ok, page, write};
use crate::AppState;
use crate::auth::{Caller, Scope};
use crate::body::JsonBody;
use crate::params::{Params, path_id};
use axum::extract::{Path, State};
use tally_core::Command;
use tally_domain::ids::ProgramId;
use tally_domain::inputs::{NewProgram, ProgramPatch};
use tally_store::Database;

pub async fn list<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    params: Params,
) -> ApiResult {
    params.only(&["cursor", "limit"])?;
    let (cursor, limit) = params.page()?;
    page(
        app.tally
            .programs_page(&caller.tenant, cursor, limit)
            .await?,
    )
}

pub async fn create<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let program = NewProgram::parse(&body.value)?;
    created(
        write(
            &app,
            &caller,
            body.idempotency,
            Command::CreateProgram(program),
        )
        .await?,
    )
}

pub async fn get<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    let id = path_id(&id, ProgramId::parse, "program")?;
    ok(app.tally.program(&caller.tenant, &id).await?)
}

/// Changes a program's settings (not its currency). Earning changes apply from now on.
pub async fn update<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let program = path_id(&id, ProgramId::parse, "program")?;
    let patch = ProgramPatch::parse(&body.value)?;
    ok(write(
        &app,
        &caller,
        body.idempotency,
        Command::UpdateProgram { program, patch },
    )
    .await?)
}

pub async fn totals<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    let id = path_id(&id, ProgramId::parse, "program")?;
    ok(app.tally.program_totals(&caller.tenant, &id).await?)
}

pub async fn audit_log<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    params: Params,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    params.only(&["cursor", "limit"])?;
    let (cursor, limit) = params.page()?;
    page(app.tally.audit_log(&caller.tenant, cursor, limit).await?)
}
