//! The referral policy. Setting it bumps the program's rules revision: purchases read it from
//! the cached earning set-up.

use super::load_program;
use crate::StepResult;
use crate::commands::Ctx;
use crate::usecases::admin::record;
use serde_json::Value;
use tally_domain::ids::ProgramId;
use tally_domain::referrals::ReferralPolicy;
use tally_store::Conn;
use tally_store::queries::{referrals, rules};

pub async fn set_policy<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    policy: &ReferralPolicy,
) -> StepResult<Value> {
    let program = load_program(c, ctx, program).await?;
    referrals::set_policy(c, &program.id, policy, ctx.now).await?;
    rules::bump_revision(c, &program.id).await?;
    record(
        c,
        ctx,
        "referral_policy.updated",
        program.id.as_str(),
        policy.to_json(),
    )
    .await?;
    Ok(policy.to_json())
}
