//! Messages: a program's messaging settings, a message to one member, a member's messages and
//! in-app inbox, one message.

use super::{ApiResult, created, ok, page, write};
use crate::AppState;
use crate::auth::{Caller, Scope};
use crate::body::{JsonBody, NoBody};
use crate::params::{Params, path_id};
use axum::extract::{Path, State};
use tally_core::Command;
use tally_domain::ids::{MemberId, MessageId, ProgramId};
use tally_domain::messaging::{MessageRequest, MessagingSettings};
use tally_store::Database;

fn member_id(raw: &str) -> Result<MemberId, crate::problem::ApiError> {
    path_id(raw, MemberId::parse, "member")
}

fn message_id(raw: &str) -> Result<MessageId, crate::problem::ApiError> {
    path_id(raw, MessageId::parse, "message")
}

pub async fn settings<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
) -> ApiResult {
    let program = path_id(&program, ProgramId::parse, "program")?;
    ok(app
        .tally
        .messaging_settings(&caller.tenant, &program)
        .await?)
}

pub async fn put_settings<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let program = path_id(&program, ProgramId::parse, "program")?;
    let settings = MessagingSettings::parse(&body.value)?;
    let command = Command::PutMessagingSettings { program, settings };
    ok(write(&app, &caller, body.idempotency, command).await?)
}

pub async fn send<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(member): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Write)?;
    let member = member_id(&member)?;
    let request = MessageRequest::parse(&body.value)?;
    let command = Command::QueueMessage { member, request };
    created(write(&app, &caller, body.idempotency, command).await?)
}

pub async fn of_member<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(member): Path<String>,
    params: Params,
) -> ApiResult {
    params.only(&["cursor", "limit"])?;
    let member = member_id(&member)?;
    let (cursor, limit) = params.page()?;
    page(
        app.tally
            .member_messages(&caller.tenant, &member, cursor, limit)
            .await?,
    )
}

pub async fn inbox<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(member): Path<String>,
    params: Params,
) -> ApiResult {
    params.only(&["cursor", "limit"])?;
    let member = member_id(&member)?;
    let (cursor, limit) = params.page()?;
    page(
        app.tally
            .member_inbox(&caller.tenant, &member, cursor, limit)
            .await?,
    )
}

pub async fn read<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path((member, message)): Path<(String, String)>,
    body: NoBody,
) -> ApiResult {
    caller.require(Scope::Write)?;
    let command = Command::ReadMessage {
        member: member_id(&member)?,
        message: message_id(&message)?,
    };
    ok(write(&app, &caller, body.idempotency, command).await?)
}

pub async fn get<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    ok(app.tally.message(&caller.tenant, &message_id(&id)?).await?)
}
