//! Message templates: a program's templates, one template, replacing it, and a preview filled in
//! for one member.

use super::{ApiResult, created, ok, page, write};
use crate::AppState;
use crate::auth::{Caller, Scope};
use crate::body::JsonBody;
use crate::params::{Params, bad, path_id};
use axum::extract::{Path, State};
use tally_core::Command;
use tally_domain::ids::{MemberId, ProgramId, TemplateId};
use tally_domain::templates::TemplateInput;
use tally_store::Database;

fn template_id(raw: &str) -> Result<TemplateId, crate::problem::ApiError> {
    path_id(raw, TemplateId::parse, "template")
}

pub async fn create<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let program = path_id(&program, ProgramId::parse, "program")?;
    let input = TemplateInput::parse(&body.value)?;
    let command = Command::CreateTemplate { program, input };
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
            .templates(&caller.tenant, &program, cursor, limit)
            .await?,
    )
}

pub async fn get<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    ok(app
        .tally
        .template(&caller.tenant, &template_id(&id)?)
        .await?)
}

pub async fn replace<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let template = template_id(&id)?;
    let input = TemplateInput::parse(&body.value)?;
    let command = Command::ReplaceTemplate { template, input };
    ok(write(&app, &caller, body.idempotency, command).await?)
}

/// `?member=mem_…`: the template as that member would get it.
pub async fn preview<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult {
    params.only(&["member"])?;
    let template = template_id(&id)?;
    let member = params
        .get("member")
        .ok_or_else(|| {
            bad(
                "member",
                "is required: the member to fill the template in for",
            )
        })
        .and_then(|raw| MemberId::parse(raw).map_err(|e| bad("member", &e)))?;
    ok(app
        .tally
        .template_preview(&caller.tenant, &template, &member)
        .await?)
}
