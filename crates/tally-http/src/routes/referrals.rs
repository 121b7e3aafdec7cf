//! Referrals: the program's policy, and a member's code with their referrals. A referred
//! person enrols with `referral_code` in the enrolment body.

use super::{ApiResult, ok, write};
use crate::AppState;
use crate::auth::{Caller, Scope};
use crate::body::JsonBody;
use crate::params::path_id;
use axum::extract::{Path, State};
use tally_core::Command;
use tally_domain::ids::{MemberId, ProgramId};
use tally_domain::referrals::ReferralPolicy;
use tally_store::Database;

pub async fn get_policy<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
) -> ApiResult {
    let program = path_id(&program, ProgramId::parse, "program")?;
    ok(app.tally.referral_policy(&caller.tenant, &program).await?)
}

pub async fn set_policy<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let program = path_id(&program, ProgramId::parse, "program")?;
    let policy = ReferralPolicy::parse(&body.value)?;
    let command = Command::SetReferralPolicy { program, policy };
    ok(write(&app, &caller, body.idempotency, command).await?)
}

pub async fn of_member<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(member): Path<String>,
) -> ApiResult {
    let member = path_id(&member, MemberId::parse, "member")?;
    ok(app.tally.member_referrals(&caller.tenant, &member).await?)
}
