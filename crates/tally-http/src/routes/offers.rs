//! Offers and deals: a program's offers, their status and report; the offers a member can have,
//! and a member activating one.

use super::{ApiResult, created, ok, page, write};
use crate::AppState;
use crate::auth::{Caller, Scope};
use crate::body::{JsonBody, NoBody};
use crate::params::{Params, path_id};
use axum::extract::{Path, State};
use tally_core::Command;
use tally_domain::error::Fields;
use tally_domain::ids::{MemberId, OfferId, ProgramId};
use tally_domain::inputs::Obj;
use tally_domain::offers::OfferInput;
use tally_store::Database;

fn offer_id(raw: &str) -> Result<OfferId, crate::problem::ApiError> {
    path_id(raw, OfferId::parse, "offer")
}

pub async fn create<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let program = path_id(&program, ProgramId::parse, "program")?;
    let input = OfferInput::parse(&body.value)?;
    let command = Command::CreateOffer { program, input };
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
            .offers(&caller.tenant, &program, cursor, limit)
            .await?,
    )
}

pub async fn get<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    ok(app.tally.offer(&caller.tenant, &offer_id(&id)?).await?)
}

pub async fn report<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    ok(app
        .tally
        .offer_report(&caller.tenant, &offer_id(&id)?)
        .await?)
}

/// `{"status": "active" | "paused" | "ended"}`.
pub async fn set_status<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let offer = offer_id(&id)?;
    let o = Obj::root(&body.value)?;
    let mut f = Fields::new();
    o.only(&mut f, &["status"]);
    let status = o.req(&mut f, "status", |v| match v.as_str() {
        Some(s @ ("active" | "paused" | "ended")) => Ok(s.to_owned()),
        _ => Err("must be \"active\", \"paused\" or \"ended\"".to_owned()),
    });
    f.finish()?;
    let command = Command::SetOfferStatus {
        offer,
        status: status.expect("checked"),
    };
    ok(write(&app, &caller, body.idempotency, command).await?)
}

pub async fn of_member<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(member): Path<String>,
) -> ApiResult {
    let member = path_id(&member, MemberId::parse, "member")?;
    ok(app.tally.member_offers(&caller.tenant, &member).await?)
}

/// The member starts a group for a friend deal (or gets the one they are in); no body.
pub async fn start_group<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path((member, offer)): Path<(String, String)>,
    body: NoBody,
) -> ApiResult {
    caller.require(Scope::Write)?;
    let member = path_id(&member, MemberId::parse, "member")?;
    let offer = offer_id(&offer)?;
    let command = Command::StartOfferGroup { member, offer };
    ok(write(&app, &caller, body.idempotency, command).await?)
}

/// `{"code"}`: the member joins a friend deal's group.
pub async fn join_group<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(member): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Write)?;
    let member = path_id(&member, MemberId::parse, "member")?;
    let o = Obj::root(&body.value)?;
    let mut f = Fields::new();
    o.only(&mut f, &["code"]);
    let code = o.req(&mut f, "code", tally_domain::inputs::text(40));
    f.finish()?;
    let command = Command::JoinOfferGroup {
        member,
        code: code.expect("checked"),
    };
    ok(write(&app, &caller, body.idempotency, command).await?)
}

/// The member activates ("clips") the offer; no body.
pub async fn activate<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path((member, offer)): Path<(String, String)>,
    body: NoBody,
) -> ApiResult {
    caller.require(Scope::Write)?;
    let member = path_id(&member, MemberId::parse, "member")?;
    let offer = offer_id(&offer)?;
    let command = Command::ActivateOffer { member, offer };
    ok(write(&app, &caller, body.idempotency, command).await?)
}
