//! The expiry policy and the expiry job.

use super::load_program;
use crate::StepResult;
use crate::commands::Ctx;
use crate::earning;
use crate::usecases::admin::record;
use serde_json::{Value, json};
use tally_domain::expiry::ExpiryPolicy;
use tally_domain::ids::ProgramId;
use tally_store::Conn;
use tally_store::queries::{lots, rules};

/// Sets the program's expiry policy. Every member's current balance starts as one lot as of
/// now, dated by the new policy (a change of policy never expires points at once); points
/// earned from now on get their own lots.
pub async fn set_policy<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    policy: &ExpiryPolicy,
) -> StepResult<Value> {
    let program = load_program(c, ctx, program).await?;
    lots::set_policy(c, &program.id, policy, ctx.now).await?;
    rules::bump_revision(c, &program.id).await?;
    let tz = crate::earning::zone(&program)?;
    lots::rebuild(c, &program.id, ctx.now, policy.expires_at(ctx.now, &tz)).await?;
    record(
        c,
        ctx,
        "expiry.updated",
        program.id.as_str(),
        policy.to_json(),
    )
    .await?;
    Ok(policy.to_json())
}

/// Expires what is due (see `crate::lots::expire_due`), for at most `limit` members.
pub async fn expire<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    limit: i64,
) -> StepResult<Value> {
    let program = load_program(c, ctx, program).await?;
    if earning::active_rules(c, &program).await?.expiry.is_none() {
        return Ok(json!({ "members": 0, "expired": 0 }));
    }
    crate::lots::expire_due(c, ctx, &program.id, limit).await
}
