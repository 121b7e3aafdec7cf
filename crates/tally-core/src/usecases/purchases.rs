//! A purchase earns points.
//!
//! The order id is a business key: the same order with the same content answers with the
//! original answer (a till that retries after a timeout does no harm); the same order id with
//! other content is a 409. Imports are `usecases::imports`.

use super::{load_program_for_purchase, member_key};
use crate::StepResult;
use crate::commands::Ctx;
use crate::earning;
use crate::pending::CreditTo;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use tally_domain::ids::{MemberId, ProgramId, PurchaseId, TenantId};
use tally_domain::inputs::{MemberRef, NewPurchase};
use tally_domain::model::{MemberStatus, Purchase, PurchaseLine, TransferReason};
use tally_domain::program::Program;
use tally_domain::{DomainError, Points};
use tally_ledger::AccountKind;
use tally_store::queries::member_states;
use tally_store::queries::members::{self, MemberKey, MemberState, StateExtras};
use tally_store::queries::{locations, purchases};
use tally_store::{Conn, StoreError};

/// The base-earning rule's name on transfers, until the rules engine adds its own.
pub const BASE_RULE: &str = "base";

pub async fn record<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program_id: &ProgramId,
    p: &NewPurchase,
) -> StepResult<Value> {
    let program = load_program_for_purchase(c, ctx, program_id).await?;
    check_currency(&program, p)?;
    let (key, pointer) = match &p.member {
        MemberRef::Id(id) => (MemberKey::Id(id), "/member/id"),
        MemberRef::ExternalId(x) => (MemberKey::ExternalId(x), "/member/external_id"),
        MemberRef::CardNumber(x) => (MemberKey::CardNumber(x), "/member/card_number"),
    };
    let setup = earning::active_rules(c, &program).await?;
    let extras = StateExtras {
        order_id: Some(&p.order_id),
        ..state_extras(ctx, &setup)
    };
    let read_ahead = ctx
        .memo
        .take_member(&ctx.tenant, program_id, &p.member, &p.order_id);
    let found = match read_ahead {
        Some(found) => Some(found),
        None => members::find_member_state(c, &ctx.tenant, program_id, key, extras).await?,
    };
    let (member_id, member, read) =
        found.ok_or_else(|| DomainError::invalid(pointer, "no member of this program has it"))?;
    let mut profile = read.facts.map(earning::Profile::from);
    if let Some(profile) = profile.as_mut() {
        profile.segments = earning::member_segments(c, &setup, &member_id).await?;
    }
    // The offers stay with this purchase; the rest of the set-up goes to the earning plan.
    let with_offers = setup.clone();
    let known = crate::beyond::Known {
        setup,
        profile,
        qualifying: read.qualifying,
    };
    let content = content_hash(p, &member_id);
    if let Some((stored_hash, answer)) = &read.order {
        return replay_or_conflict(p, &content, stored_hash, answer);
    }
    if let Some(location) = &p.location_id
        && locations::get_location(c, &ctx.tenant, location)
            .await?
            .is_none_or(|l| &l.program_id != program_id)
    {
        return Err(DomainError::invalid(
            "/location_id",
            "no location of this program has this id",
        )
        .into());
    }
    require_active(&member)?;
    let offers = &with_offers.offers;
    let answer = write_new(
        c, ctx, &program, &member_id, &member, p, &content, known, offers,
    )
    .await?;
    if !with_offers.journeys.is_empty() {
        let journeys = &with_offers.journeys;
        crate::usecases::journeys::after_purchase(c, ctx, journeys, &member_id, &answer).await?;
    }
    if !with_offers.webhooks.is_empty() {
        let (hooks, cause) = (&with_offers.webhooks, answer["purchase_id"].as_str());
        let cause = cause.unwrap_or_default();
        super::webhooks::publish(
            c,
            ctx,
            hooks,
            program_id,
            "purchase.recorded",
            cause,
            &answer,
        )
        .await?;
    }
    Ok(answer)
}

/// Reads ahead, for a run of purchases in one batch, the state of every member they name and
/// whether their orders were recorded before: a few statements per program for the whole run
/// instead of one or two per purchase, each purchase then finding its member in the batch's
/// memo (see [`crate::commands::BatchMemo`]). Only for programs where a purchase changes no
/// member but its own (referrals, offers and journeys may change others). An order id that
/// comes twice in the run is not read ahead: its purchases read their member themselves, the
/// second after the first one's writes.
pub(crate) async fn read_ahead<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    run: &[(&TenantId, &ProgramId, &NewPurchase)],
) -> Result<(), StoreError> {
    let mut groups: Vec<(&TenantId, &ProgramId, Vec<&NewPurchase>)> = Vec::new();
    for (tenant, program, p) in run {
        match groups
            .iter_mut()
            .find(|g| g.0 == *tenant && g.1 == *program)
        {
            Some(group) => group.2.push(p),
            None => groups.push((tenant, program, vec![p])),
        }
    }
    for (tenant, program_id, purchases) in groups {
        let ctx = Ctx {
            tenant: tenant.clone(),
            ..ctx.clone()
        };
        let setup = match load_program_for_purchase(c, &ctx, program_id).await {
            Ok(program) => earning::active_rules(c, &program).await,
            Err(e) => Err(e),
        };
        let setup = match setup {
            Ok(setup) => setup,
            Err(crate::StepError::Domain(_)) => continue,
            Err(crate::StepError::Store(e)) => return Err(e),
        };
        if setup.referral.is_some() || !setup.offers.is_empty() || !setup.journeys.is_empty() {
            continue;
        }
        let mut named: HashMap<&str, usize> = HashMap::new();
        for p in &purchases {
            *named.entry(p.order_id.as_str()).or_default() += 1;
        }
        let once: Vec<&str> = named
            .into_iter()
            .filter_map(|(order, n)| (n == 1).then_some(order))
            .collect();
        let keys: Vec<MemberKey<'_>> = purchases.iter().map(|p| member_key(&p.member)).collect();
        let extras = state_extras(&ctx, &setup);
        let found = member_states::member_states_by_keys(c, program_id, &keys, extras).await?;
        let mut known = purchases::find_orders(c, program_id, &once).await?;
        let orders = once.iter().map(|o| (o.to_string(), known.remove(*o)));
        ctx.memo.keep_read_ahead(tenant, program_id, found, orders);
    }
    Ok(())
}

/// What the member's state query reads besides: the profile when some purchase rule reads
/// it, and the tier's qualifying value so far. Both still hold when the purchase is posted:
/// they are read with the member's accounts locked (PostgreSQL; SQLite's single writer holds
/// the write lock for the whole transaction), and every change to the member's points updates
/// one of them.
fn state_extras(ctx: &Ctx, setup: &earning::CompiledRules) -> StateExtras<'static> {
    let qualifying_since = setup
        .tier_plan
        .as_ref()
        .map(|plan| (plan.metric, plan.window_start(ctx.now, &setup.time_zone)));
    StateExtras {
        facts: setup.needs_profile && setup.set.for_trigger(tally_rules::Trigger::Purchase),
        qualifying_since,
        order_id: None,
        lock_accounts: true,
    }
}

pub(super) fn check_currency(program: &Program, p: &NewPurchase) -> StepResult<()> {
    if p.total.currency != program.currency {
        return Err(DomainError::invalid(
            "/total/currency",
            format!("must be {}, the program's currency", program.currency),
        )
        .into());
    }
    Ok(())
}

pub(super) fn require_active(member: &MemberState) -> StepResult<()> {
    if member.status != MemberStatus::Active {
        return Err(DomainError::refused(
            "member_not_active",
            format!("the member is {}", member.status.as_str()),
        )
        .into());
    }
    Ok(())
}

/// A known order id: the stored answer when the content is the same, a conflict otherwise.
pub(super) fn replay_or_conflict(
    p: &NewPurchase,
    content: &str,
    stored_hash: &str,
    answer: &str,
) -> StepResult<Value> {
    if stored_hash == content {
        return Ok(serde_json::from_str(answer).map_err(|e| StoreError::Decode(e.to_string()))?);
    }
    Err(DomainError::conflict(
        "order_conflict",
        format!("order `{}` was recorded with other content", p.order_id),
    )
    .into())
}

/// Writes a new purchase: its earn transfer, then the purchase row with the answer it gave.
#[allow(clippy::too_many_arguments)]
async fn write_new<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &Program,
    member_id: &MemberId,
    member: &MemberState,
    p: &NewPurchase,
    content: &str,
    known: crate::beyond::Known,
    offers: &[crate::usecases::offers::ActiveOffer],
) -> StepResult<Value> {
    let base = base_points(program, p);
    let purchase_id = PurchaseId::generate();
    let occurred_at = p.occurred_at.unwrap_or(ctx.now);
    let beyond = crate::beyond::plan_beyond_base(
        c,
        ctx,
        program,
        member_id,
        member.tier.as_deref(),
        p,
        &purchase_id,
        base,
        occurred_at,
        known,
    )
    .await?;
    // The base, the tier's multiplier and each rule's award: posted together.
    let mut credits = Vec::with_capacity(1 + beyond.credits.len());
    if base.is_positive() {
        let reason = TransferReason {
            order_id: Some(p.order_id.clone()),
            purchase_id: Some(purchase_id.clone()),
            rule: Some(BASE_RULE.into()),
            rule_version: Some(1),
            actor: Some(ctx.actor.clone()),
            ..TransferReason::default()
        };
        credits.push((base, reason));
    }
    credits.extend(beyond.credits.iter().cloned());
    let offered = if offers.is_empty() {
        crate::usecases::offers::Applied::default()
    } else {
        let purchase = crate::usecases::offers::OfferPurchase {
            id: &purchase_id,
            order_id: &p.order_id,
            facts: tally_domain::offers::PurchaseFacts {
                total_minor: p.total.amount_minor,
                categories: p
                    .lines
                    .iter()
                    .filter_map(|l| l.category.as_deref())
                    .collect(),
                channel: p.channel,
                location: p.location_id.as_ref(),
            },
            base,
            occurred_at,
        };
        let tier = member.tier.as_deref();
        crate::usecases::offers::apply(c, ctx, offers, member_id, tier, &purchase).await?
    };
    credits.extend(offered.credits.iter().cloned());
    // Inside a return window the points wait in the pending account.
    let release_at = crate::pending::release_at(program, occurred_at)?;
    let to = match release_at {
        Some(_) => CreditTo::Pending,
        None => CreditTo::Available(beyond.expiry()),
    };
    let pending_now = release_at.is_some();
    // The member's accounts were locked when the member was read: those balances are final.
    let before = match to {
        CreditTo::Pending => member.balance.pending,
        CreditTo::Available(_) => member.balance.available,
    };
    let after = crate::pending::post_credits(
        c,
        ctx,
        &program.id,
        member_id,
        &credits,
        occurred_at,
        to,
        Some(before),
    )
    .await?;
    let (available, pending) = match after {
        Some(after) if pending_now => (member.balance.available, after),
        Some(after) => (after, member.balance.pending),
        None => (member.balance.available, member.balance.pending),
    };
    let points = base + beyond.points() + offered.points();
    let tier =
        crate::beyond::finish_beyond_base(c, ctx, &beyond, &program.id, member_id, p, points)
            .await?;
    let purchase = Purchase {
        id: purchase_id.clone(),
        program_id: program.id.clone(),
        member_id: member_id.clone(),
        order_id: p.order_id.clone(),
        total_minor: p.total.amount_minor,
        currency: p.total.currency,
        channel: p.channel,
        location_id: p.location_id.clone(),
        lines: p
            .lines
            .iter()
            .map(|l| PurchaseLine {
                sku: l.sku.clone(),
                name: l.name.clone(),
                category: l.category.clone(),
                brand: l.brand.clone(),
                quantity: l.quantity,
                unit_price_minor: l.unit_price_minor,
                returned_quantity: 0,
            })
            .collect(),
        points_earned: points,
        points_reversed: Points::ZERO,
        returned_minor: 0,
        occurred_at,
        recorded_at: ctx.now,
    };
    let stamped =
        crate::stamps::after_purchase(c, ctx, program, beyond.stamp_cards(), member_id, &purchase)
            .await?;
    let granted = match beyond.outcome() {
        Some(outcome) => {
            let purchase = Some(&purchase_id);
            crate::awards::give_grants(
                c,
                ctx,
                &program.id,
                outcome,
                member_id,
                purchase,
                occurred_at,
            )
            .await?
        }
        None => Vec::new(),
    };
    let referral_settled = match beyond.referral() {
        Some(policy) => {
            let released = !pending_now;
            crate::referrals::after_purchase(c, ctx, policy, member_id, &purchase, released).await?
        }
        None => false,
    };
    // A completed card, a rule's grant or a rewarded referral may have given points: read the
    // balances again.
    let completed = stamped.iter().any(|s| s["completed"].as_i64() > Some(0));
    let (available, pending) = if !completed && granted.is_empty() && !referral_settled {
        (available, pending)
    } else {
        let (_, available) =
            members::member_account(c, member_id, AccountKind::MemberAvailable).await?;
        let (_, pending) =
            members::member_account(c, member_id, AccountKind::MemberPending).await?;
        (available, pending)
    };
    let answer = json!({
        "purchase_id": purchase_id,
        "order_id": p.order_id,
        "member_id": member_id,
        "points_earned": points,
        "base_points": base,
        "rule_awards": beyond.awards,
        "tier": tier,
        "stamps": stamped,
        "granted": granted,
        "offers": offered.answer,
        "balance": { "available": available, "pending": pending },
    });
    let answer_text = answer.to_string();
    purchases::insert_purchase(c, &ctx.tenant, &purchase, content, &answer_text, release_at)
        .await?;
    // What rules gave in cashback stays with the purchase, for returns to take back its share.
    let cashback: i64 = granted
        .iter()
        .filter_map(|g| g["cashback"]["amount_minor"].as_i64())
        .sum();
    if cashback > 0 {
        tally_store::queries::cashback::add_earned(c, &purchase_id, cashback).await?;
    }
    Ok(answer)
}

/// Base earning: the program rate on the eligible part of the order. With lines, the total is
/// shared out over the lines in proportion to their value (so a basket discount lowers every
/// line alike) and lines of excluded categories earn nothing.
pub fn base_points(program: &Program, p: &NewPurchase) -> Points {
    let total = p.total.amount_minor;
    let eligible = if p.lines.is_empty() {
        total
    } else {
        let value = |l: &tally_domain::inputs::LineInput| {
            i128::from(l.quantity) * i128::from(l.unit_price_minor)
        };
        let all: i128 = p.lines.iter().map(value).sum();
        let eligible: i128 = p
            .lines
            .iter()
            .filter(|l| !program.earning.is_excluded(l.category.as_deref()))
            .map(value)
            .sum();
        if all == 0 {
            0
        } else {
            i64::try_from(i128::from(total) * eligible / all).expect("at most the total")
        }
    };
    program
        .earning
        .points_for(eligible, total, program.currency)
}

/// A stable hash of what the purchase says, to tell a retry from a different order that reuses
/// an order id. The member is hashed by resolved id, so naming them by card or by id is the same.
///
/// What is hashed is a JSON object of these fields, keys in alphabetical order (as a
/// `serde_json::Value` of them prints, which is how the hashes stored so far were made),
/// written straight into the hash: building the value first cost an import 3 % of its time.
pub(super) fn content_hash(p: &NewPurchase, member: &MemberId) -> String {
    use tally_domain::inputs::LineInput;
    type Line<'a> = (
        &'a str,
        &'a Option<String>,
        &'a Option<String>,
        &'a Option<String>,
        i64,
        i64,
    );
    #[derive(serde::Serialize)]
    struct Canonical<'a> {
        channel: &'a tally_domain::model::SalesChannel,
        lines: Vec<Line<'a>>,
        location: &'a Option<tally_domain::ids::LocationId>,
        member: &'a MemberId,
        occurred_at: &'a Option<tally_domain::Timestamp>,
        total: (i64, &'a tally_domain::Currency),
    }
    fn line(l: &LineInput) -> Line<'_> {
        (
            &l.sku,
            &l.name,
            &l.category,
            &l.brand,
            l.quantity,
            l.unit_price_minor,
        )
    }
    let canonical = Canonical {
        channel: &p.channel,
        lines: p.lines.iter().map(line).collect(),
        location: &p.location_id,
        member,
        occurred_at: &p.occurred_at,
        total: (p.total.amount_minor, &p.total.currency),
    };
    // Sha256 is an `io::Write`: what is written goes into the hash.
    let mut hash = Sha256::new();
    serde_json::to_writer(&mut hash, &canonical).expect("plain data serialises");
    tally_domain::text::hex(&hash.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How the hashes stored before were made: from a `serde_json::Value`.
    fn hash_of_a_value(p: &NewPurchase, member: &MemberId) -> String {
        let canonical = json!({
            "member": member,
            "total": [p.total.amount_minor, p.total.currency],
            "lines": p.lines.iter().map(|l| json!([l.sku, l.name, l.category, l.brand, l.quantity, l.unit_price_minor])).collect::<Vec<_>>(),
            "channel": p.channel,
            "location": p.location_id,
            "occurred_at": p.occurred_at,
        });
        tally_domain::text::hex(&Sha256::digest(canonical.to_string().as_bytes()))
    }

    #[test]
    fn content_hashes_are_those_stored_before() {
        let member = MemberId::generate();
        let location = tally_domain::ids::LocationId::generate();
        let bodies = [
            json!({"order_id": "a", "member": {"id": member},
                   "total": {"amount_minor": 1999, "currency": "USD"}}),
            json!({"order_id": "b", "member": {"external_id": "ż-1"},
                   "total": {"amount_minor": 0, "currency": "PLN"}, "channel": "online",
                   "location_id": location, "occurred_at": "2026-03-29T01:30:00.123456Z",
                   "lines": [
                       {"sku": "ż\"\\", "name": "Płyta \"LP\" 😀", "category": "vinyl",
                        "quantity": 2, "unit_price_minor": 999},
                       {"sku": "x", "brand": "Ü", "quantity": 1, "unit_price_minor": 1}]}),
        ];
        for body in bodies {
            let p = NewPurchase::parse(&body).expect("a purchase");
            assert_eq!(
                content_hash(&p, &member),
                hash_of_a_value(&p, &member),
                "{body}"
            );
        }
    }
}
