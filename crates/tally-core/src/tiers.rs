//! Tiers at work: a member's current level, the earning multiplier it gives, the upgrade after a
//! purchase, and the review that keeps or lowers a tier when its period ends. The plan and its
//! dates are `tally_domain::tiers`; the rows are `tally_store::queries::tiers`.

use crate::StepResult;
use crate::commands::Ctx;
use jiff::tz::TimeZone;
use serde_json::{Value, json};
use tally_domain::Timestamp;
use tally_domain::ids::{MemberId, ProgramId};
use tally_domain::tiers::{TierMetric, TierPlan};
use tally_store::Conn;
use tally_store::queries::tiers::{self, MemberTier, TierChange};

/// The level of a stored tier name: the named level, or the plan's first level when its
/// threshold is 0 (everyone starts there). `None`: no tier.
pub fn level_of(plan: &TierPlan, stored: Option<&str>) -> Option<usize> {
    stored
        .and_then(|name| plan.level_named(name))
        .or_else(|| (plan.levels[0].threshold == 0).then_some(0))
}

/// Records a change in the member's tier history; a move to another tier is also an event
/// for the program's webhooks.
async fn record<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    member: &MemberId,
    change: &TierChange,
) -> StepResult<()> {
    tiers::record_change(c, program, member, change).await?;
    if change.from_tier == change.to_tier {
        return Ok(());
    }
    let Some(setup) = crate::earning::setup_by_id(c, program).await? else {
        return Ok(());
    };
    let data = json!({
        "member_id": member,
        "from_tier": change.from_tier,
        "to_tier": change.to_tier,
        "reason": change.reason,
        "qualifying": change.qualifying,
    });
    let cause = format!("{member}:{}", change.at.as_microsecond());
    if change.reason == "downgrade" {
        let down = tally_domain::journeys::Trigger::TierDown;
        crate::usecases::journeys::enter(c, ctx, &setup.journeys, member, &down, &cause).await?;
    }
    let event = "member.tier_changed";
    crate::usecases::webhooks::publish(c, ctx, &setup.webhooks, program, event, &cause, &data)
        .await?;
    Ok(())
}

/// The level a member holds now, and their tier row.
pub async fn current_level<C: Conn>(
    c: &mut C,
    plan: &TierPlan,
    member: &MemberId,
) -> StepResult<(Option<usize>, Option<MemberTier>)> {
    let row = tiers::member_tier(c, member).await?;
    Ok((level_of(plan, row.as_ref().map(|r| r.tier.as_str())), row))
}

/// The name of the tier a member holds now (`None`: no plan, or no tier).
pub async fn current_name<C: Conn>(
    c: &mut C,
    plan: Option<&TierPlan>,
    member: &MemberId,
) -> StepResult<Option<String>> {
    let Some(plan) = plan else {
        return Ok(None);
    };
    let (level, _) = current_level(c, plan, member).await?;
    Ok(level.map(|i| plan.levels[i].name.clone()))
}

/// The member's qualifying value in `[since, until)`.
pub async fn qualifying<C: Conn>(
    c: &mut C,
    plan: &TierPlan,
    member: &MemberId,
    since: Timestamp,
    until: Timestamp,
) -> StepResult<i64> {
    Ok(tiers::qualifying(c, plan.metric, member, since, until).await?)
}

/// A purchase as the tier sees it: the points it earned and the money it spent, when, and the
/// qualifying value before it (in the plan's window as of now), when the purchase's first query
/// read it (see `members::find_member_state`).
pub struct TierInput {
    pub points: i64,
    pub money: i64,
    pub at: Timestamp,
    pub before: Option<i64>,
}

/// After a purchase: raises the member's tier at once if the qualifying value now reaches a
/// higher level. The purchase's points are posted by now but its row (its money) is written
/// after the answer is known. Returns the new tier's name when it changed.
#[allow(clippy::too_many_arguments)]
pub async fn upgrade_after_purchase<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    plan: &TierPlan,
    tz: &TimeZone,
    member: &MemberId,
    level: Option<usize>,
    purchase: &TierInput,
) -> StepResult<Option<String>> {
    let since = plan.window_start(ctx.now, tz);
    let counts = purchase.at >= since;
    let value = match purchase.before {
        Some(before) => {
            let this = match plan.metric {
                TierMetric::PointsEarned => purchase.points,
                TierMetric::MoneySpent => purchase.money,
            };
            before + if counts { this } else { 0 }
        }
        _ => {
            let posted = qualifying(c, plan, member, since, Timestamp::MAX).await?;
            match plan.metric {
                TierMetric::MoneySpent if counts => posted + purchase.money,
                _ => posted,
            }
        }
    };
    let reached = plan.level_for(value);
    if reached <= level {
        return Ok(None);
    }
    let to = reached.map(|i| plan.levels[i].name.clone());
    let row = MemberTier {
        tier: to.clone().expect("a higher level is a level"),
        reached_at: ctx.now,
        review_at: plan.review_after(ctx.now, tz),
    };
    tiers::set_member_tier(c, program, member, Some(&row)).await?;
    let change = TierChange {
        from_tier: level.map(|i| plan.levels[i].name.clone()),
        to_tier: to.clone(),
        qualifying: value,
        reason: "upgrade".into(),
        at: ctx.now,
    };
    record(c, ctx, program, member, &change).await?;
    Ok(to)
}

/// Reviews up to `limit` members of a program whose review is due: each keeps the tier (and is
/// reviewed again after the next period) if the activity of the judged period still reaches it,
/// and is lowered to the level it does reach otherwise. Answers how many were reviewed and
/// lowered; a program without a plan has nothing to review.
pub async fn review_due<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    plan: &TierPlan,
    tz: &TimeZone,
    limit: i64,
) -> StepResult<Value> {
    let due = tiers::due_reviews(c, program, ctx.now, limit).await?;
    let mut lowered = 0;
    for (member, row) in &due {
        let review_at = row.review_at.expect("only rows with a review date are due");
        let until = plan.judged_until(review_at, tz);
        let since = plan.window_start(until - jiff::SignedDuration::from_micros(1), tz);
        let value = qualifying(c, plan, member, since, until).await?;
        let held = plan.level_named(&row.tier);
        let reached = plan.level_for(value);
        if held.is_some() && reached >= held {
            let kept = MemberTier {
                review_at: plan.review_after(review_at, tz),
                ..row.clone()
            };
            tiers::set_member_tier(c, program, member, Some(&kept)).await?;
            if plan.window == tally_domain::tiers::TierWindow::CalendarYear {
                let change = TierChange {
                    from_tier: Some(row.tier.clone()),
                    to_tier: Some(row.tier.clone()),
                    qualifying: value,
                    reason: "kept".into(),
                    at: ctx.now,
                };
                record(c, ctx, program, member, &change).await?;
            }
            continue;
        }
        lowered += 1;
        // The zero-threshold first level needs no row: it is where everyone is.
        let new_row = reached
            .filter(|i| plan.levels[*i].threshold > 0)
            .map(|i| MemberTier {
                tier: plan.levels[i].name.clone(),
                reached_at: ctx.now,
                review_at: plan.review_after(review_at, tz),
            });
        tiers::set_member_tier(c, program, member, new_row.as_ref()).await?;
        let change = TierChange {
            from_tier: Some(row.tier.clone()),
            to_tier: reached.map(|i| plan.levels[i].name.clone()),
            qualifying: value,
            reason: "downgrade".into(),
            at: ctx.now,
        };
        record(c, ctx, program, member, &change).await?;
    }
    Ok(json!({ "reviewed": due.len(), "lowered": lowered }))
}

/// What the member API and the wallet show: the tier, since when, until the next review, the
/// qualifying value so far and what the next level needs ("120 more points to reach Gold").
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TierStatus {
    pub tier: Option<String>,
    pub multiplier: f64,
    pub reached_at: Option<Timestamp>,
    pub review_at: Option<Timestamp>,
    pub metric: TierMetric,
    pub window: tally_domain::tiers::TierWindow,
    pub qualifying: i64,
    pub next: Option<NextTier>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct NextTier {
    pub name: String,
    pub threshold: i64,
    pub needed: i64,
}

pub async fn status<C: Conn>(
    c: &mut C,
    plan: &TierPlan,
    tz: &TimeZone,
    member: &MemberId,
    now: Timestamp,
) -> StepResult<TierStatus> {
    let (level, row) = current_level(c, plan, member).await?;
    let value = qualifying(c, plan, member, plan.window_start(now, tz), Timestamp::MAX).await?;
    let next = plan
        .levels
        .iter()
        .enumerate()
        .find(|(i, l)| Some(*i) > level && l.threshold > value)
        .map(|(_, l)| NextTier {
            name: l.name.clone(),
            threshold: l.threshold,
            needed: l.threshold - value,
        });
    Ok(TierStatus {
        tier: level.map(|i| plan.levels[i].name.clone()),
        multiplier: level.map_or(1.0, |i| plan.levels[i].multiplier_permille as f64 / 1000.0),
        reached_at: row.as_ref().map(|r| r.reached_at),
        review_at: row.as_ref().and_then(|r| r.review_at),
        metric: plan.metric,
        window: plan.window,
        qualifying: value,
        next,
    })
}
