//! Members: enrolment, lookup, profile, history, purchases, redemptions, adjustments.

use super::{ApiResult, created, ok, page, write};
use crate::AppState;
use crate::auth::{Caller, Scope};
use crate::body::{JsonBody, NoBody};
use crate::params::{Params, bad, path_id};
use crate::problem::ApiError;
use axum::extract::{Path, State};
use tally_core::Command;
use tally_domain::card::parse_card_number;
use tally_domain::ids::{MemberId, ProgramId};
use tally_domain::inputs::{AdjustmentRequest, MemberPatch, NewMember};
use tally_domain::model::MemberStatus;
use tally_domain::text::{Email, Phone};
use tally_store::Database;
use tally_store::queries::members::{MemberFilter, MemberKey};

pub async fn enroll<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Write)?;
    let program = path_id(&program, ProgramId::parse, "program")?;
    let member = NewMember::parse(&body.value)?;
    let command = Command::Enroll {
        program,
        member,
        source: "api".into(),
    };
    created(write(&app, &caller, body.idempotency, command).await?)
}

pub async fn list<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
    params: Params,
) -> ApiResult {
    params.only(&[
        "cursor",
        "limit",
        "email",
        "phone",
        "external_id",
        "card_number",
        "status",
        "q",
    ])?;
    let program = path_id(&program, ProgramId::parse, "program")?;
    let (cursor, limit) = params.page()?;
    let search = match params.get("q") {
        Some(q) if q.chars().count() > 200 => {
            return Err(bad("q", "must be at most 200 characters"));
        }
        Some(q) => tally_domain::search::fold(q)
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        None => Vec::new(),
    };
    let filter = MemberFilter {
        email: params
            .get("email")
            .map(|e| {
                Email::parse(e)
                    .map(|e| e.as_str().to_owned())
                    .map_err(|m| bad("email", &m))
            })
            .transpose()?,
        phone: params
            .get("phone")
            .map(|p| {
                Phone::parse(p)
                    .map(|p| p.as_str().to_owned())
                    .map_err(|m| bad("phone", &m))
            })
            .transpose()?,
        external_id: params.get("external_id").map(str::to_owned),
        card_number: params
            .get("card_number")
            .map(|c| parse_card_number(c).map_err(|m| bad("card_number", &m)))
            .transpose()?,
        status: params
            .get("status")
            .map(|s| MemberStatus::parse(s).map_err(|m| bad("status", &m)))
            .transpose()?,
        search,
    };
    page(
        app.tally
            .members(&caller.tenant, &program, &filter, cursor, limit)
            .await?,
    )
}

/// Exactly one of `card_number`, `external_id` or `card_token` (the QR code).
pub async fn lookup<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
    params: Params,
) -> ApiResult {
    params.only(&["card_number", "external_id", "card_token"])?;
    let program = path_id(&program, ProgramId::parse, "program")?;
    let card_number = params
        .get("card_number")
        .map(|c| parse_card_number(c).map_err(|m| bad("card_number", &m)))
        .transpose()?;
    let key = match (
        card_number.as_deref(),
        params.get("external_id"),
        params.get("card_token"),
    ) {
        (Some(number), None, None) => MemberKey::CardNumber(number),
        (None, Some(external), None) => MemberKey::ExternalId(external),
        (None, None, Some(token)) => MemberKey::CardToken(token),
        _ => {
            return Err(bad(
                "card_number",
                "give exactly one of card_number, external_id or card_token",
            ));
        }
    };
    ok(app.tally.find_member(&caller.tenant, &program, key).await?)
}

fn member_id(raw: &str) -> Result<MemberId, ApiError> {
    path_id(raw, MemberId::parse, "member")
}

pub async fn get<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    ok(app.tally.member(&caller.tenant, &member_id(&id)?).await?)
}

pub async fn update<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Write)?;
    let member = member_id(&id)?;
    let patch = MemberPatch::parse(&body.value)?;
    let command = Command::UpdateMember {
        member,
        patch,
        source: "api".into(),
    };
    ok(write(&app, &caller, body.idempotency, command).await?)
}

pub async fn rotate_card<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
    body: NoBody,
) -> ApiResult {
    caller.require(Scope::Write)?;
    let command = Command::RotateCardToken {
        member: member_id(&id)?,
    };
    ok(write(&app, &caller, body.idempotency, command).await?)
}

pub async fn history<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult {
    params.only(&["cursor", "limit"])?;
    let (cursor, limit) = params.page()?;
    page(
        app.tally
            .history(&caller.tenant, &member_id(&id)?, cursor, limit)
            .await?,
    )
}

pub async fn purchases<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult {
    params.only(&["cursor", "limit"])?;
    let (cursor, limit) = params.page()?;
    page(
        app.tally
            .member_purchases(&caller.tenant, &member_id(&id)?, cursor, limit)
            .await?,
    )
}

pub async fn redemptions<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult {
    params.only(&["cursor", "limit"])?;
    let (cursor, limit) = params.page()?;
    page(
        app.tally
            .member_redemptions(&caller.tenant, &member_id(&id)?, cursor, limit)
            .await?,
    )
}

pub async fn adjust<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Write)?;
    let member = member_id(&id)?;
    let request = AdjustmentRequest::parse(&body.value)?;
    created(
        write(
            &app,
            &caller,
            body.idempotency,
            Command::Adjust { member, request },
        )
        .await?,
    )
}
