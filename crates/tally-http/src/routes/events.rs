//! Custom events: the program's declared event types, events posted to it, a member's events.

use super::{ApiResult, created, ok, page, write};
use crate::AppState;
use crate::auth::{Caller, Scope};
use crate::body::JsonBody;
use crate::params::{Params, path_id};
use axum::extract::{Path, State};
use serde_json::{Value, json};
use tally_core::Command;
use tally_domain::DomainError;
use tally_domain::events::{EventTypeDoc, EventTypeName, NewEvent};
use tally_domain::ids::{MemberId, ProgramId};
use tally_store::Database;

pub async fn list_types<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
) -> ApiResult {
    let program = path_id(&program, ProgramId::parse, "program")?;
    let items = app.tally.event_types(&caller.tenant, &program).await?;
    ok(json!({ "items": items }))
}

pub async fn get_type<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path((program, name)): Path<(String, String)>,
) -> ApiResult {
    let program = path_id(&program, ProgramId::parse, "program")?;
    ok(app
        .tally
        .event_type(&caller.tenant, &program, &name)
        .await?)
}

/// The body is the type's document; its `name` may be left out (the path names it) but must
/// match the path when given. A reserved or malformed name in the path is refused at `/name`.
pub async fn put_type<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path((program, name)): Path<(String, String)>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let program = path_id(&program, ProgramId::parse, "program")?;
    let name = EventTypeName::parse(&name).map_err(|m| DomainError::invalid("/name", m))?;
    let mut document = body.value.clone();
    if let Value::Object(map) = &mut document {
        match map.get("name") {
            None => {
                map.insert("name".into(), name.as_str().into());
            }
            Some(given) if given.as_str() != Some(name.as_str()) => {
                return Err(DomainError::invalid(
                    "/name",
                    format!("must match the name in the path (`{name}`), or be left out"),
                )
                .into());
            }
            Some(_) => {}
        }
    }
    let doc = EventTypeDoc::parse(&document)?;
    let command = Command::PutEventType { program, doc };
    ok(write(&app, &caller, body.idempotency, command).await?)
}

pub async fn record<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Write)?;
    let program = path_id(&program, ProgramId::parse, "program")?;
    let event = NewEvent::parse(&body.value)?;
    let command = Command::RecordEvent { program, event };
    created(write(&app, &caller, body.idempotency, command).await?)
}

pub async fn member_events<D: Database>(
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
            .member_events(&caller.tenant, &member, cursor, limit)
            .await?,
    )
}
