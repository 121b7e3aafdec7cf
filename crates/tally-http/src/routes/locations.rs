//! Stores.

use super::{ApiResult, created, ok, page, write};
use crate::AppState;
use crate::auth::{Caller, Scope};
use crate::body::JsonBody;
use crate::params::{Params, path_id};
use axum::extract::{Path, State};
use tally_core::Command;
use tally_domain::ids::{LocationId, ProgramId};
use tally_domain::inputs::NewLocation;
use tally_store::Database;

pub async fn create<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let program = path_id(&program, ProgramId::parse, "program")?;
    let location = NewLocation::parse(&body.value)?;
    created(
        write(
            &app,
            &caller,
            body.idempotency,
            Command::CreateLocation { program, location },
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
            .locations(&caller.tenant, &program, cursor, limit)
            .await?,
    )
}

pub async fn get<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    let id = path_id(&id, LocationId::parse, "location")?;
    ok(app.tally.location(&caller.tenant, &id).await?)
}
