//! Tier plans and tier reviews.

use super::load_program;
use crate::StepResult;
use crate::commands::Ctx;
use crate::earning;
use crate::usecases::admin::record;
use serde_json::{Value, json};
use tally_domain::ids::ProgramId;
use tally_domain::tiers::TierPlan;
use tally_store::Conn;
use tally_store::queries::{rules, tiers};

/// Sets the program's tier plan. Members keep their rows; a tier that the new plan no longer
/// has is judged again at its next review, and upgrades follow the new thresholds at once.
pub async fn set_plan<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    plan: &TierPlan,
) -> StepResult<Value> {
    load_program(c, ctx, program).await?;
    still_names_every_tier_in_use(c, program, plan).await?;
    tiers::set_plan(c, program, plan, ctx.now).await?;
    rules::bump_revision(c, program).await?;
    record(c, ctx, "tiers.updated", program.as_str(), plan.to_json()).await?;
    Ok(plan.to_json())
}

/// A new plan must keep every tier an active rule's audience or an active reward names: such a
/// rule would never apply again, such a reward could never be redeemed (a paused rule is
/// checked when resumed).
async fn still_names_every_tier_in_use<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    plan: &TierPlan,
) -> StepResult<()> {
    for (row, rule) in earning::active_rule_docs(c, program).await? {
        if let Some(tier) = rule
            .audience
            .tiers
            .iter()
            .find(|t| plan.level_named(t).is_none())
        {
            return Err(tally_domain::DomainError::invalid(
                "/levels",
                format!(
                    "the active rule `{}` ({}) is for tier `{tier}`, which this plan no longer has; \
                     change or pause the rule first",
                    rule.name, row.id
                ),
            )
            .into());
        }
    }
    for reward in tally_store::queries::rewards::tier_rewards(c, program).await? {
        if let Some(tier) = reward.tiers.iter().find(|t| plan.level_named(t).is_none()) {
            return Err(tally_domain::DomainError::invalid(
                "/levels",
                format!(
                    "the reward `{}` ({}) is kept for tier `{tier}`, which this plan no longer \
                     has; change or withdraw the reward first",
                    reward.name, reward.id
                ),
            )
            .into());
        }
    }
    Ok(())
}

/// Reviews the tiers due (see `crate::tiers::review_due`); at most `limit` members per call.
pub async fn review<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    limit: i64,
) -> StepResult<Value> {
    let program = load_program(c, ctx, program).await?;
    let compiled = earning::active_rules(c, &program).await?;
    match &compiled.tier_plan {
        Some(plan) => {
            crate::tiers::review_due(c, ctx, &program.id, plan, &compiled.time_zone, limit).await
        }
        None => Ok(json!({ "reviewed": 0, "lowered": 0 })),
    }
}
