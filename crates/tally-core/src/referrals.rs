//! Referrals at work. Every member gets a referral code when they enrol; a person who enrols
//! with someone's code is recorded as their referral (`pending`). The referred member's first
//! purchase that meets the program's policy qualifies it (`qualified`); once that purchase's
//! points are available — at once, or when its return window ends — both members get the
//! policy's points (`rewarded`), unless the referrer already reached the cap (`void`). A full
//! return of the qualifying purchase inside the window sends the referral back to `pending`.
//!
//! No self-referral: the code of a member who is the same person, or has the same email or
//! phone, is refused at enrolment. Each move is a conditional update on the status, and the
//! referrer's account is locked before the cap is counted, so retries and concurrent releases
//! reward at most once and never past the cap.

use crate::StepResult;
use crate::commands::Ctx;
use crate::pending::{CreditTo, post_credits};
use tally_domain::DomainError;
use tally_domain::ids::{MemberId, ProgramId, PurchaseId, ReferralId};
use tally_domain::model::{Member, MemberStatus, Purchase, TransferReason};
use tally_domain::referrals::ReferralPolicy;
use tally_domain::{Points, Timestamp};
use tally_ledger::AccountKind;
use tally_rules::Trigger;
use tally_store::Conn;
use tally_store::queries::referrals::{self, Referral};
use tally_store::queries::{ledger, members, programs};

/// What referral awards carry in place of a rule id.
pub const REFERRAL_RULE: &str = "referral";

/// At enrolment: the new member's own code, and who referred them (if `code` names someone).
pub async fn on_enrol<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    member: &Member,
    code: Option<&str>,
) -> StepResult<()> {
    // A clash of random codes is a unique violation; the writer retries with a new one.
    let own = crate::secrets::random_code(8);
    referrals::insert_code(c, &own, &member.id, &member.program_id).await?;
    let Some(code) = code else {
        return Ok(());
    };
    let invalid = |why: &str| DomainError::invalid("/referral_code", why);
    let referrer_id = referrals::member_of_code(c, &member.program_id, code)
        .await?
        .ok_or_else(|| invalid("no member of this program has this referral code"))?;
    let referrer = members::get_member(c, &ctx.tenant, &referrer_id)
        .await?
        .ok_or_else(|| invalid("no member of this program has this referral code"))?;
    let same = |a: Option<&str>, b: Option<&str>| a.is_some() && a == b;
    if referrer.person_id == member.person_id
        || same(
            referrer.email.as_ref().map(|e| e.as_str()),
            member.email.as_ref().map(|e| e.as_str()),
        )
        || same(
            referrer.phone.as_ref().map(|p| p.as_str()),
            member.phone.as_ref().map(|p| p.as_str()),
        )
    {
        return Err(invalid("a member cannot refer themselves").into());
    }
    if referrer.status != MemberStatus::Active {
        return Err(invalid("this referral code is no longer valid").into());
    }
    referrals::insert(
        c,
        &Referral {
            id: ReferralId::generate(),
            program_id: member.program_id.clone(),
            referrer_id,
            referred_id: member.id.clone(),
            status: "pending".into(),
            purchase_id: None,
            note: None,
            created_at: ctx.now,
            updated_at: ctx.now,
        },
    )
    .await?;
    Ok(())
}

/// After a purchase by `member` in a program with a referral policy: qualifies their pending
/// referral if the purchase meets the policy, and rewards it at once when the purchase's points
/// are already available (`released`). Answers whether it was settled now, so balances may
/// have changed.
pub async fn after_purchase<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    policy: &ReferralPolicy,
    member: &MemberId,
    purchase: &Purchase,
    released: bool,
) -> StepResult<bool> {
    let Some(r) = referrals::of_referred(c, member)
        .await?
        .filter(|r| r.status == "pending")
    else {
        return Ok(false);
    };
    if purchase.total_minor < policy.min_purchase_minor {
        return Ok(false);
    }
    if let Some(days) = policy.qualify_within_days {
        let enrolled = members::get_member(c, &ctx.tenant, member)
            .await?
            .map_or(purchase.occurred_at, |m| m.enrolled_at);
        if purchase.occurred_at > enrolled + jiff::SignedDuration::from_hours(24 * days) {
            let note = format!("no qualifying purchase within {days} days of enrolling");
            referrals::advance(c, &r.id, "pending", "void", None, Some(&note), ctx.now).await?;
            return Ok(false);
        }
    }
    if !referrals::advance(
        c,
        &r.id,
        "pending",
        "qualified",
        Some(&purchase.id),
        None,
        ctx.now,
    )
    .await?
    {
        return Ok(false);
    }
    if released {
        reward(c, ctx, policy, &r, purchase.occurred_at).await?;
    }
    Ok(released)
}

/// After `purchase`'s pending points were released: rewards the referral it qualified.
pub async fn after_release<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    policy: &ReferralPolicy,
    purchase: &PurchaseId,
) -> StepResult<()> {
    for r in referrals::of_purchase(c, purchase).await? {
        if r.status == "qualified" {
            reward(c, ctx, policy, &r, ctx.now).await?;
        }
    }
    Ok(())
}

/// After a full return of `purchase`: a referral it qualified (and that was not rewarded yet)
/// waits for another purchase.
pub async fn after_full_return<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    purchase: &PurchaseId,
) -> StepResult<()> {
    for r in referrals::of_purchase(c, purchase).await? {
        if r.status == "qualified" {
            let note = "the qualifying purchase was returned";
            referrals::advance(c, &r.id, "qualified", "pending", None, Some(note), ctx.now).await?;
        }
    }
    Ok(())
}

async fn reward<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    policy: &ReferralPolicy,
    r: &Referral,
    at: Timestamp,
) -> StepResult<()> {
    // Locked before counting: two referrals of one referrer rewarded at once see each other.
    let account = tally_ledger::account_id(r.referrer_id.as_str(), AccountKind::MemberAvailable);
    ledger::lock_balance(c, &account).await?;
    if let Some(max) = policy.max_per_referrer
        && referrals::rewarded_count(c, &r.referrer_id).await? >= max
    {
        let note = format!("the referrer was already rewarded for {max} referrals");
        referrals::advance(
            c,
            &r.id,
            "qualified",
            "void",
            r.purchase_id.as_ref(),
            Some(&note),
            ctx.now,
        )
        .await?;
        return Ok(());
    }
    if !referrals::advance(
        c,
        &r.id,
        "qualified",
        "rewarded",
        r.purchase_id.as_ref(),
        None,
        ctx.now,
    )
    .await?
    {
        return Ok(());
    }
    let expiry = crate::earning::setup_by_id(c, &r.program_id)
        .await?
        .and_then(|s| s.expiry.clone());
    for (member, points, note) in [
        (
            &r.referrer_id,
            policy.referrer_points,
            format!("referred {}", r.referred_id),
        ),
        (
            &r.referred_id,
            policy.referred_points,
            format!("referred by {}", r.referrer_id),
        ),
    ] {
        if points == 0 {
            continue;
        }
        let reason = TransferReason {
            rule: Some(REFERRAL_RULE.into()),
            actor: Some(ctx.actor.clone()),
            note: Some(note),
            ..TransferReason::default()
        };
        post_credits(
            c,
            ctx,
            &r.program_id,
            member,
            &[(Points(points), reason)],
            at,
            CreditTo::Available(expiry.as_ref()),
            None,
        )
        .await?;
    }
    referral_rules(c, ctx, r, at).await
}

/// The program's `referral` rules, for the referrer, once a referral is rewarded.
async fn referral_rules<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    r: &Referral,
    at: Timestamp,
) -> StepResult<()> {
    let Some(program) = programs::get_program_by_id(c, &r.program_id).await? else {
        return Ok(());
    };
    let compiled = crate::earning::active_rules(c, &program).await?;
    if !compiled.set.for_trigger(Trigger::Referral) {
        return Ok(());
    }
    let referrer = &r.referrer_id;
    let profile = crate::earning::profile(c, &compiled, referrer).await?;
    let tier = crate::tiers::current_name(c, compiled.tier_plan.as_ref(), referrer).await?;
    let outcome = crate::earning::evaluate(
        c,
        &program,
        &compiled,
        Trigger::Referral,
        referrer,
        &profile,
        tier.as_deref(),
        None,
        Points::ZERO,
        at,
        true,
    )
    .await?;
    let award = crate::awards::AwardContext {
        program: &program.id,
        member: referrer,
        order_id: None,
        purchase_id: None,
        event_id: None,
        return_id: None,
        occurred_at: at,
    };
    crate::awards::post_awards(c, ctx, &compiled, &outcome, &award).await?;
    Ok(())
}

/// The program's referral policy (`None` until one is set), for the policy's API.
pub async fn policy<C: Conn>(c: &mut C, program: &ProgramId) -> StepResult<Option<ReferralPolicy>> {
    Ok(referrals::get_policy(c, program).await?)
}
