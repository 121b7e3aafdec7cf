//! Campaigns: a program's campaigns, creating one (a draft), launching and cancelling it, and
//! its report.

use super::{ApiResult, created, ok, page, write};
use crate::AppState;
use crate::auth::{Caller, Scope};
use crate::body::{JsonBody, NoBody};
use crate::params::{Params, path_id};
use axum::extract::{Path, State};
use tally_core::Command;
use tally_domain::campaigns::CampaignInput;
use tally_domain::ids::{CampaignId, ProgramId};
use tally_store::Database;

fn campaign_id(raw: &str) -> Result<CampaignId, crate::problem::ApiError> {
    path_id(raw, CampaignId::parse, "campaign")
}

pub async fn create<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let program = path_id(&program, ProgramId::parse, "program")?;
    let input = CampaignInput::parse(&body.value)?;
    let command = Command::CreateCampaign { program, input };
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
            .campaigns(&caller.tenant, &program, cursor, limit)
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
        .campaign(&caller.tenant, &campaign_id(&id)?)
        .await?)
}

pub async fn launch<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
    body: NoBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let command = Command::LaunchCampaign {
        campaign: campaign_id(&id)?,
    };
    ok(write(&app, &caller, body.idempotency, command).await?)
}

pub async fn cancel<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
    body: NoBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let command = Command::CancelCampaign {
        campaign: campaign_id(&id)?,
    };
    ok(write(&app, &caller, body.idempotency, command).await?)
}

pub async fn report<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    ok(app
        .tally
        .campaign_report(&caller.tenant, &campaign_id(&id)?)
        .await?)
}
