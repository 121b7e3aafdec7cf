//! What a purchase earns beyond its base points: the tier's multiplier and the purchase rules,
//! decided before anything is posted, then the usage they count and the tier they may raise.

use crate::StepResult;
use crate::awards::{AwardContext, award_credits, record_usage};
use crate::commands::Ctx;
use crate::earning::{CompiledRules, Profile, PurchaseView, evaluate, profile};
use crate::lots::Expiry;
use crate::pending::Credit;
use std::sync::Arc;
use tally_domain::ids::{MemberId, ProgramId, PurchaseId};
use tally_domain::inputs::NewPurchase;
use tally_domain::model::TransferReason;
use tally_domain::program::Program;
use tally_domain::{Points, Timestamp};
use tally_rules::{Outcome, Trigger};
use tally_store::Conn;

/// What a purchase earns beyond its base points, decided but not yet posted.
pub struct Beyond {
    /// The transfers to post after the base: the tier's multiplier, then each rule's award.
    pub credits: Vec<Credit>,
    /// `{"rule_id", "version", "name", "points"}` per rule that gave points.
    pub awards: Vec<serde_json::Value>,
    compiled: Arc<CompiledRules>,
    outcome: Option<Outcome>,
    level: Option<usize>,
    qualifying_before: Option<i64>,
}

/// What the purchase already read, so it is not read again: the program's earning set-up,
/// and what its first query read of the member.
pub struct Known {
    pub setup: Arc<CompiledRules>,
    /// The profile, when some rule reads it.
    pub profile: Option<Profile>,
    /// The tier's qualifying value before this purchase, in the plan's window as of now.
    pub qualifying: Option<i64>,
}

impl Beyond {
    /// The rules' decisions for the purchase, when the program has purchase rules.
    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    /// The program's referral policy.
    pub fn referral(&self) -> Option<&tally_domain::referrals::ReferralPolicy> {
        self.compiled.referral.as_ref()
    }

    /// The program's stamp cards that purchases stamp.
    pub fn stamp_cards(&self) -> &[crate::stamps::Card] {
        &self.compiled.stamp_cards
    }

    /// The program's expiry, for posting these credits.
    pub fn expiry(&self) -> Option<&Expiry> {
        self.compiled.expiry.as_ref()
    }
}

impl Beyond {
    pub fn points(&self) -> Points {
        self.credits
            .iter()
            .fold(Points::ZERO, |sum, (p, _)| sum + *p)
    }
}

/// Decides everything a purchase earns beyond the base rate: the tier's multiplier (the tier
/// held before this purchase) and the rules (which see that tier). Nothing is written yet but
/// locks (usage), so the caller posts base and these credits together; then
/// [`finish_beyond_base`] records usage and the upgrade this purchase may bring.
#[allow(clippy::too_many_arguments)]
pub async fn plan_beyond_base<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &Program,
    member_id: &MemberId,
    stored_tier: Option<&str>,
    p: &NewPurchase,
    purchase_id: &PurchaseId,
    base: Points,
    occurred_at: Timestamp,
    known: Known,
) -> StepResult<Beyond> {
    let compiled = known.setup;
    let level = compiled
        .tier_plan
        .as_ref()
        .and_then(|plan| crate::tiers::level_of(plan, stored_tier));
    let mut beyond = Beyond {
        credits: Vec::new(),
        awards: Vec::new(),
        compiled: compiled.clone(),
        outcome: None,
        level,
        qualifying_before: known.qualifying,
    };
    let tier_name = level.and_then(|i| {
        let plan = compiled.tier_plan.as_ref()?;
        Some(plan.levels[i].name.as_str())
    });
    if let (Some(plan), Some(i)) = (&compiled.tier_plan, level) {
        let tier = &plan.levels[i];
        let extra =
            program
                .earning
                .rounding
                .scale(base.value(), tier.multiplier_permille - 1000, 1000);
        if extra > 0 {
            let reason = TransferReason {
                order_id: Some(p.order_id.clone()),
                purchase_id: Some(purchase_id.clone()),
                rule: Some(TIER_RULE.into()),
                actor: Some(ctx.actor.clone()),
                note: Some(format!(
                    "{} ×{}",
                    tier.name,
                    tier.multiplier_permille as f64 / 1000.0
                )),
                ..TransferReason::default()
            };
            beyond.credits.push((Points(extra), reason));
        }
    }
    if compiled.set.for_trigger(Trigger::Purchase) {
        let profile = match known.profile {
            Some(known) => known,
            None => profile(c, &compiled, member_id).await?,
        };
        let view = PurchaseView::new(p);
        let outcome = evaluate(
            c,
            program,
            &compiled,
            Trigger::Purchase,
            member_id,
            &profile,
            tier_name,
            Some(&view),
            base,
            occurred_at,
            true,
        )
        .await?;
        let at = AwardContext {
            program: &program.id,
            member: member_id,
            order_id: Some(&p.order_id),
            purchase_id: Some(purchase_id),
            event_id: None,
            return_id: None,
            occurred_at,
        };
        beyond.credits.extend(award_credits(ctx, &outcome, &at));
        beyond.awards = crate::awards::award_answers(&outcome);
        beyond.outcome = Some(outcome);
    }
    Ok(beyond)
}

/// After the credits are posted: records the usage limits count, and raises the tier when
/// this purchase reached a higher level. Answers `{"name", "upgraded"}` when the program has
/// tiers.
pub async fn finish_beyond_base<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    beyond: &Beyond,
    program: &ProgramId,
    member_id: &MemberId,
    p: &NewPurchase,
    points: Points,
) -> StepResult<Option<serde_json::Value>> {
    let occurred_at = p.occurred_at.unwrap_or(ctx.now);
    let compiled = &beyond.compiled;
    if let Some(outcome) = &beyond.outcome {
        record_usage(c, compiled, outcome, member_id, occurred_at).await?;
    }
    let Some(plan) = &compiled.tier_plan else {
        return Ok(None);
    };
    let upgraded = crate::tiers::upgrade_after_purchase(
        c,
        ctx,
        program,
        plan,
        &compiled.time_zone,
        member_id,
        beyond.level,
        &crate::tiers::TierInput {
            points: points.value(),
            money: p.total.amount_minor,
            at: occurred_at,
            before: beyond.qualifying_before,
        },
    )
    .await?;
    let name = upgraded
        .clone()
        .or_else(|| beyond.level.map(|i| plan.levels[i].name.clone()));
    Ok(Some(
        serde_json::json!({ "name": name, "upgraded": upgraded.is_some() }),
    ))
}

/// The name tier multipliers carry on their transfers, in place of a rule id.
pub const TIER_RULE: &str = "tier";
