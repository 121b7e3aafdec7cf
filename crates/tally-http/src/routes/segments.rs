//! Segments: define (dynamic, by a condition; static, by upload), preview the size of a
//! definition, list members, entries and exits, and the size over time.

use super::{ApiResult, created, ok, page, write};
use crate::AppState;
use crate::auth::{Caller, Scope};
use crate::body::JsonBody;
use crate::params::{Params, bad, path_id};
use axum::extract::{Path, State};
use serde_json::Value;
use tally_core::{Command, SEGMENT_STATUSES};
use tally_domain::error::Fields;
use tally_domain::ids::{MemberId, ProgramId, SegmentId};
use tally_domain::inputs::Obj;
use tally_domain::segments::{Condition, SegmentInput, parse_static_members};
use tally_store::Database;

fn segment_id(raw: &str) -> Result<SegmentId, crate::problem::ApiError> {
    path_id(raw, SegmentId::parse, "segment")
}

/// Evaluates a dynamic segment after a change, then answers it as it stands.
async fn evaluated<D: Database>(
    app: &AppState<D>,
    caller: &Caller,
    answer: &Value,
) -> Result<Value, crate::problem::ApiError> {
    let id = segment_id(answer["id"].as_str().unwrap_or_default())?;
    app.tally.evaluate_segment(&caller.tenant, &id).await?;
    Ok(app.tally.segment(&caller.tenant, &id).await?)
}

pub async fn create<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let program = path_id(&program, ProgramId::parse, "program")?;
    let input = SegmentInput::parse(&body.value)?;
    let command = Command::CreateSegment { program, input };
    let answer = write(&app, &caller, body.idempotency, command).await?;
    created(evaluated(&app, &caller, &answer).await?)
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
            .segments(&caller.tenant, &program, cursor, limit)
            .await?,
    )
}

/// `{"definition"}`: how many members it would hold now, and a sample. Nothing is written.
pub async fn preview<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
    body: JsonBody,
) -> ApiResult {
    let program = path_id(&program, ProgramId::parse, "program")?;
    let o = Obj::root(&body.value)?;
    let mut f = Fields::new();
    o.only(&mut f, &["definition"]);
    f.finish()?;
    let definition = match body.value.get("definition") {
        Some(d) => Condition::parse(d).map_err(|e| prefixed(e, "/definition"))?,
        None => {
            return Err(tally_domain::DomainError::invalid("/definition", "is required").into());
        }
    };
    ok(app
        .tally
        .preview_segment(&caller.tenant, &program, &definition)
        .await?)
}

/// A definition's errors named under the field that holds it.
fn prefixed(e: tally_domain::DomainError, at: &str) -> tally_domain::DomainError {
    match e {
        tally_domain::DomainError::Invalid { fields } => {
            let mut f = Fields::new();
            for e in fields {
                f.push(format!("{at}{}", e.pointer), e.message);
            }
            f.finish().expect_err("there were errors")
        }
        other => other,
    }
}

pub async fn get<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    ok(app.tally.segment(&caller.tenant, &segment_id(&id)?).await?)
}

pub async fn replace<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let segment = segment_id(&id)?;
    let input = SegmentInput::parse(&body.value)?;
    let command = Command::ReplaceSegment { segment, input };
    let answer = write(&app, &caller, body.idempotency, command).await?;
    ok(evaluated(&app, &caller, &answer).await?)
}

pub async fn set_status<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let segment = segment_id(&id)?;
    let o = Obj::root(&body.value)?;
    let mut f = Fields::new();
    o.only(&mut f, &["status"]);
    let status = o.req(&mut f, "status", |v| match v.as_str() {
        Some(s) if SEGMENT_STATUSES.contains(&s) => Ok(s.to_owned()),
        _ => Err(format!("must be one of {}", SEGMENT_STATUSES.join(", "))),
    });
    f.finish()?;
    let command = Command::SetSegmentStatus {
        segment,
        status: status.expect("checked"),
    };
    let answer = write(&app, &caller, body.idempotency, command).await?;
    ok(evaluated(&app, &caller, &answer).await?)
}

pub async fn members<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult {
    params.only(&["cursor", "limit"])?;
    let (cursor, limit) = params.page()?;
    page(
        app.tally
            .segment_members(&caller.tenant, &segment_id(&id)?, cursor, limit)
            .await?,
    )
}

/// Replaces a static segment's members.
pub async fn set_members<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Write)?;
    let segment = segment_id(&id)?;
    let members = parse_static_members(&body.value)?;
    let command = Command::SetStaticSegmentMembers { segment, members };
    ok(write(&app, &caller, body.idempotency, command).await?)
}

pub async fn changes<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult {
    params.only(&["cursor", "limit"])?;
    let (cursor, limit) = params.page()?;
    page(
        app.tally
            .segment_changes(&caller.tenant, &segment_id(&id)?, cursor, limit)
            .await?,
    )
}

pub async fn sizes<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult {
    params.only(&["days"])?;
    let days = match params.get("days") {
        None => 90,
        Some(d) => d
            .parse::<i64>()
            .ok()
            .filter(|d| (1..=3660).contains(d))
            .ok_or_else(|| bad("days", "must be a whole number from 1 to 3660"))?,
    };
    ok(app
        .tally
        .segment_sizes(&caller.tenant, &segment_id(&id)?, days)
        .await?)
}

pub async fn of_member<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(member): Path<String>,
) -> ApiResult {
    let member = path_id(&member, MemberId::parse, "member")?;
    let keys = app
        .tally
        .segments_of_member(&caller.tenant, &member)
        .await?;
    ok(serde_json::json!({ "items": keys }))
}
