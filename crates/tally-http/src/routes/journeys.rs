//! Journeys: a program's journeys, creating one, pausing, resuming or archiving it, one journey
//! with where its members stand, and a member's journeys.

use super::{ApiResult, created, ok, page, write};
use crate::AppState;
use crate::auth::{Caller, Scope};
use crate::body::JsonBody;
use crate::params::{Params, path_id};
use axum::extract::{Path, State};
use tally_core::Command;
use tally_domain::error::Fields;
use tally_domain::ids::{JourneyId, MemberId, ProgramId};
use tally_domain::inputs::Obj;
use tally_store::Database;

fn journey_id(raw: &str) -> Result<JourneyId, crate::problem::ApiError> {
    path_id(raw, JourneyId::parse, "journey")
}

pub async fn create<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let program = path_id(&program, ProgramId::parse, "program")?;
    let command = Command::CreateJourney {
        program,
        document: body.value.clone(),
    };
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
            .journeys(&caller.tenant, &program, cursor, limit)
            .await?,
    )
}

pub async fn get<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    ok(app.tally.journey(&caller.tenant, &journey_id(&id)?).await?)
}

/// `{"status": "active" | "paused" | "archived"}`.
pub async fn set_status<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let journey = journey_id(&id)?;
    let o = Obj::root(&body.value)?;
    let mut f = Fields::new();
    o.only(&mut f, &["status"]);
    let status = o.req(&mut f, "status", |v| match v.as_str() {
        Some(s) if tally_core::JOURNEY_STATUSES.contains(&s) => Ok(s.to_owned()),
        _ => Err("must be \"active\", \"paused\" or \"archived\"".to_owned()),
    });
    f.finish()?;
    let command = Command::SetJourneyStatus {
        journey,
        status: status.expect("checked"),
    };
    ok(write(&app, &caller, body.idempotency, command).await?)
}

pub async fn of_member<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(member): Path<String>,
    params: Params,
) -> ApiResult {
    params.only(&["cursor", "limit"])?;
    let member = path_id(&member, MemberId::parse, "member")?;
    let (cursor, limit) = params.page()?;
    page(
        app.tally
            .member_journeys(&caller.tenant, &member, cursor, limit)
            .await?,
    )
}

/// Every playbook, and whether it is on in the program.
pub async fn playbooks<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
) -> ApiResult {
    let program = path_id(&program, ProgramId::parse, "program")?;
    let items = app.tally.playbooks(&caller.tenant, &program).await?;
    ok(serde_json::json!({ "items": items }))
}

/// Switches a playbook on: its templates and journey are made at once. No body.
pub async fn switch_on<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path((program, key)): Path<(String, String)>,
    body: crate::body::NoBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let command = Command::SwitchOnPlaybook {
        program: path_id(&program, ProgramId::parse, "program")?,
        playbook: key,
    };
    created(write(&app, &caller, body.idempotency, command).await?)
}

/// Delivery figures and the comparison with the journey's held-out members.
pub async fn report<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    ok(app
        .tally
        .journey_report(&caller.tenant, &journey_id(&id)?)
        .await?)
}
