//! Charities: a program's partners with what members gave and what was paid out, members'
//! gifts of points, and payouts.

use super::{ApiResult, created, ok, page, write};
use crate::AppState;
use crate::auth::{Caller, Scope};
use crate::body::JsonBody;
use crate::params::{Params, path_id};
use axum::extract::{Path, State};
use tally_core::Command;
use tally_domain::charities::{CharityInput, DonationRequest, SettlementInput};
use tally_domain::error::Fields;
use tally_domain::ids::{CharityId, MemberId, ProgramId};
use tally_domain::inputs::Obj;
use tally_store::Database;

fn charity_id(raw: &str) -> Result<CharityId, crate::problem::ApiError> {
    path_id(raw, CharityId::parse, "charity")
}

pub async fn create<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let program = path_id(&program, ProgramId::parse, "program")?;
    let input = CharityInput::parse(&body.value)?;
    let command = Command::CreateCharity { program, input };
    created(write(&app, &caller, body.idempotency, command).await?)
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
            .charities(&caller.tenant, &program, cursor, limit)
            .await?,
    )
}

pub async fn get<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    ok(app.tally.charity(&caller.tenant, &charity_id(&id)?).await?)
}

/// `{"status": "active" | "archived"}`: an archived charity takes no gifts.
pub async fn set_status<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let charity = charity_id(&id)?;
    let o = Obj::root(&body.value)?;
    let mut f = Fields::new();
    o.only(&mut f, &["status"]);
    let status = o.req(&mut f, "status", |v| match v.as_str() {
        Some(s @ ("active" | "archived")) => Ok(s.to_owned()),
        _ => Err("must be \"active\" or \"archived\"".to_owned()),
    });
    f.finish()?;
    let command = Command::SetCharityStatus {
        charity,
        status: status.expect("checked"),
    };
    ok(write(&app, &caller, body.idempotency, command).await?)
}

pub async fn donate<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(member): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Write)?;
    let member = path_id(&member, MemberId::parse, "member")?;
    let request = DonationRequest::parse(&body.value)?;
    let command = Command::Donate { member, request };
    created(write(&app, &caller, body.idempotency, command).await?)
}

pub async fn of_member<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(member): Path<String>,
) -> ApiResult {
    let member = path_id(&member, MemberId::parse, "member")?;
    ok(app.tally.member_donations(&caller.tenant, &member).await?)
}

pub async fn settle<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let charity = charity_id(&id)?;
    let settlement = SettlementInput::parse(&body.value)?;
    let command = Command::SettleCharity {
        charity,
        settlement,
    };
    created(write(&app, &caller, body.idempotency, command).await?)
}
