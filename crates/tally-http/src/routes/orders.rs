//! Purchases and returns.

use super::{ApiResult, created, ok, write};
use crate::AppState;
use crate::auth::{Caller, Scope};
use crate::body::JsonBody;
use crate::params::path_id;
use axum::extract::{Path, State};
use tally_core::Command;
use tally_domain::ids::{ProgramId, PurchaseId};
use tally_domain::inputs::{NewPurchase, NewReturn};
use tally_store::Database;

pub async fn purchase<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Write)?;
    let program = path_id(&program, ProgramId::parse, "program")?;
    let purchase = NewPurchase::parse(&body.value)?;
    created(
        write(
            &app,
            &caller,
            body.idempotency,
            Command::RecordPurchase { program, purchase },
        )
        .await?,
    )
}

pub async fn return_order<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Write)?;
    let program = path_id(&program, ProgramId::parse, "program")?;
    let ret = NewReturn::parse(&body.value)?;
    created(
        write(
            &app,
            &caller,
            body.idempotency,
            Command::RecordReturn { program, ret },
        )
        .await?,
    )
}

pub async fn get<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    let id = path_id(&id, PurchaseId::parse, "purchase")?;
    ok(app.tally.purchase(&caller.tenant, &id).await?)
}
