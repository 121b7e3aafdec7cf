//! Birthday and anniversary bonuses: once a year, on the right local day, also when the server
//! was down that day. Housekeeping looks back [`CATCH_UP_DAYS`] days; each member's occasion is
//! claimed for its year (a row with a unique key) before any rule runs, so reruns, catch-ups and
//! several nodes give it at most once.

use crate::StepResult;
use crate::awards::AwardContext;
use crate::commands::Ctx;
use crate::earning::{self, CompiledRules, Profile};
use jiff::ToSpan;
use jiff::civil::Date;
use serde_json::{Value, json};
use tally_domain::Timestamp;
use tally_domain::ids::MemberId;
use tally_domain::model::birthdays_on;
use tally_domain::program::Program;
use tally_rules::Trigger;
use tally_store::Conn;
use tally_store::queries::{members, occasions};

/// How far back a run looks for occasions it has not given yet.
pub const CATCH_UP_DAYS: i64 = 7;

/// The local days in past years whose enrolments have their anniversary on `day`, as
/// `[start, end)` timestamps (29 February enrolments count on 28 February in other years).
pub(crate) fn anniversaries_on(
    day: Date,
    tz: &jiff::tz::TimeZone,
    since_year: i16,
) -> Vec<(Timestamp, Timestamp)> {
    let mut out = Vec::new();
    for year in since_year..day.year() {
        let mut dates = Vec::new();
        if let Ok(d) = Date::new(year, day.month(), day.day()) {
            dates.push(d);
        }
        if day.month() == 2
            && day.day() == 28
            && !day.in_leap_year()
            && let Ok(d) = Date::new(year, 2, 29)
        {
            dates.push(d);
        }
        for d in dates {
            let start = d.to_zoned(tz.clone()).map(|z| z.timestamp());
            let end = d
                .checked_add(1.day())
                .and_then(|n| n.to_zoned(tz.clone()))
                .map(|z| z.timestamp());
            if let (Ok(start), Ok(end)) = (start, end) {
                out.push((start, end));
            }
        }
    }
    out
}

/// Gives the birthday and anniversary bonuses due in the last [`CATCH_UP_DAYS`] days (today
/// included) that were not given yet. Answers how many members were considered and how many
/// points were given.
pub async fn award_due<C: Conn>(c: &mut C, ctx: &Ctx, program: &Program) -> StepResult<Value> {
    let compiled = earning::active_rules(c, program).await?;
    let (mut considered, mut given) = (0, 0);
    let today = ctx.now.to_zoned(compiled.time_zone.clone()).date();
    for back in (0..CATCH_UP_DAYS).rev() {
        let Ok(day) = today.checked_sub(back.days()) else {
            continue;
        };
        if compiled.set.for_trigger(Trigger::Birthday) {
            for born in occasions::born_on(c, &program.id, &birthdays_on(day)).await? {
                let member = born.member_id;
                if let Some(points) =
                    occasion(c, ctx, program, &compiled, &member, Trigger::Birthday, day).await?
                {
                    considered += 1;
                    given += points;
                }
            }
        }
        if compiled.set.for_trigger(Trigger::Anniversary) {
            let days = anniversaries_on(day, &compiled.time_zone, 1970);
            for member in occasions::enrolled_within(c, &program.id, &days).await? {
                if let Some(points) = occasion(
                    c,
                    ctx,
                    program,
                    &compiled,
                    &member,
                    Trigger::Anniversary,
                    day,
                )
                .await?
                {
                    considered += 1;
                    given += points;
                }
            }
        }
    }
    Ok(json!({ "members": considered, "points": given }))
}

/// One member's occasion on `day`: claimed for the year, then the rules of `trigger` decide.
/// `None` when it was already claimed (given before, or considered and not matched).
async fn occasion<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &Program,
    compiled: &CompiledRules,
    member_id: &MemberId,
    trigger: Trigger,
    day: Date,
) -> StepResult<Option<i64>> {
    if !occasions::claim(c, member_id, trigger.as_str(), day.year(), ctx.now).await? {
        return Ok(None);
    }
    let member = members::get_member(c, &ctx.tenant, member_id)
        .await?
        .ok_or_else(|| tally_store::StoreError::Decode(format!("member {member_id} is gone")))?;
    let tier = crate::tiers::current_name(c, compiled.tier_plan.as_ref(), member_id).await?;
    let mut profile = Profile::of(&member);
    profile.segments = crate::earning::member_segments(c, compiled, member_id).await?;
    let outcome = earning::evaluate(
        c,
        program,
        compiled,
        trigger,
        member_id,
        &profile,
        tier.as_deref(),
        None,
        tally_domain::Points::ZERO,
        ctx.now,
        true,
    )
    .await?;
    let at = AwardContext {
        program: &program.id,
        member: member_id,
        order_id: None,
        purchase_id: None,
        event_id: None,
        return_id: None,
        occurred_at: ctx.now,
    };
    let (given, _, _) = crate::awards::post_awards(c, ctx, compiled, &outcome, &at).await?;
    Ok(Some(given.value()))
}
