//! Stamp cards: create, list, read, replace, pause or archive; the cashier's stamps; the
//! store display's one-use QR code and a member scanning it; a member's progress.

use super::{ApiResult, created, ok, page, write};
use crate::AppState;
use crate::auth::{Caller, Scope};
use crate::body::JsonBody;
use crate::params::{Params, path_id};
use axum::extract::{Path, State};
use tally_core::Command;
use tally_core::STAMP_CARD_STATUSES as STATUSES;
use tally_domain::DomainError;
use tally_domain::error::Fields;
use tally_domain::ids::{LocationId, MemberId, ProgramId, StampCardId};
use tally_domain::inputs::Obj;
use tally_domain::stamps::{StampCardDoc, StampRequest};
use tally_store::Database;

fn card_id(raw: &str) -> Result<StampCardId, crate::problem::ApiError> {
    path_id(raw, StampCardId::parse, "stamp card")
}

pub async fn create<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let program = path_id(&program, ProgramId::parse, "program")?;
    let card = StampCardDoc::parse(&body.value)?;
    let command = Command::CreateStampCard { program, card };
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
            .stamp_cards(&caller.tenant, &program, cursor, limit)
            .await?,
    )
}

pub async fn get<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(card): Path<String>,
) -> ApiResult {
    let card = card_id(&card)?;
    ok(app.tally.stamp_card(&caller.tenant, &card).await?)
}

pub async fn replace<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(card): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let card = card_id(&card)?;
    let document = Some(StampCardDoc::parse(&body.value)?);
    let command = Command::UpdateStampCard {
        card,
        document,
        status: None,
    };
    ok(write(&app, &caller, body.idempotency, command).await?)
}

pub async fn set_status<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(card): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let card = card_id(&card)?;
    let o = Obj::root(&body.value)?;
    let mut f = Fields::new();
    o.only(&mut f, &["status"]);
    let status = o.req(&mut f, "status", |v| match v.as_str() {
        Some(s) if STATUSES.contains(&s) => Ok(s.to_owned()),
        _ => Err(format!("must be one of {}", STATUSES.join(", "))),
    });
    f.finish()?;
    let command = Command::UpdateStampCard {
        card,
        document: None,
        status,
    };
    ok(write(&app, &caller, body.idempotency, command).await?)
}

pub async fn give<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(card): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Write)?;
    let card = card_id(&card)?;
    let request = StampRequest::parse(&body.value)?;
    let command = Command::GiveStamps { card, request };
    created(write(&app, &caller, body.idempotency, command).await?)
}

/// `{"location_id"}`: the code the store's display shows now.
pub async fn display_code<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(card): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Write)?;
    let card = card_id(&card)?;
    let location = one_field(&body.value, "location_id", LocationId::parse)?;
    let command = Command::StampDisplayCode { card, location };
    ok(write(&app, &caller, body.idempotency, command).await?)
}

/// `{"code"}`: the member scanned the store's code (an app that scans for the member).
pub async fn scan<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(member): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Write)?;
    let member = path_id(&member, MemberId::parse, "member")?;
    let code = one_field(&body.value, "code", |raw| {
        if raw.is_empty() || raw.len() > 64 {
            Err("must be a code of 1 to 64 characters".into())
        } else {
            Ok(raw.trim().to_ascii_uppercase())
        }
    })?;
    let command = Command::ScanStampCode { member, code };
    created(write(&app, &caller, body.idempotency, command).await?)
}

pub async fn progress<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(member): Path<String>,
) -> ApiResult {
    let member = path_id(&member, MemberId::parse, "member")?;
    let items = app.tally.member_stamps(&caller.tenant, &member).await?;
    ok(serde_json::json!({ "items": items }))
}

/// A body of exactly one required string field.
fn one_field<T>(
    body: &serde_json::Value,
    key: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<T, DomainError> {
    let o = Obj::root(body)?;
    let mut f = Fields::new();
    o.only(&mut f, &[key]);
    let value = o.req(&mut f, key, |v| {
        v.as_str()
            .ok_or_else(|| "must be a string".to_owned())
            .and_then(&parse)
    });
    f.finish()?;
    Ok(value.expect("checked"))
}
