//! A purchase earns points.
//!
//! The order id is a business key: the same order with the same content answers with the
//! original answer (a till that retries after a timeout does no harm); the same order id with
//! other content is a 409.
//!
//! Imports take the same path in bulk: a chunk's members and known order ids are read in two
//! queries, then each new purchase costs only its writes.

use super::load_program;
use crate::StepResult;
use crate::commands::Ctx;
use crate::earning;
use crate::pending::CreditTo;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use tally_domain::ids::{MemberId, ProgramId, PurchaseId, TransferId};
use tally_domain::inputs::{MemberRef, NewPurchase};
use tally_domain::model::{MemberStatus, Purchase, PurchaseLine, TransferKind, TransferReason};
use tally_domain::program::Program;
use tally_domain::tiers::TierMetric;
use tally_domain::{DomainError, Points};
use tally_ledger::AccountKind;
use tally_store::queries::members::{self, MemberKey, MemberState, QualifyingMetric, StateExtras};
use tally_store::queries::{ledger, locations, programs, purchases};
use tally_store::{Conn, StoreError};

/// The base-earning rule's name on transfers, until the rules engine adds its own.
pub const BASE_RULE: &str = "base";

/// Most purchases in one import command: bounds the `IN (…)` lists and the work one retry loses.
pub const MAX_IMPORT_CHUNK: usize = 1000;

pub async fn record<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program_id: &ProgramId,
    p: &NewPurchase,
) -> StepResult<Value> {
    let program = load_program(c, ctx, program_id).await?;
    check_currency(&program, p)?;
    let (key, pointer) = match &p.member {
        MemberRef::Id(id) => (MemberKey::Id(id), "/member/id"),
        MemberRef::ExternalId(x) => (MemberKey::ExternalId(x), "/member/external_id"),
        MemberRef::CardNumber(x) => (MemberKey::CardNumber(x), "/member/card_number"),
    };
    let setup = earning::active_rules(c, &program).await?;
    let extras = state_extras(c, ctx, &setup);
    let (member_id, member, read) =
        members::find_member_state(c, &ctx.tenant, program_id, key, extras)
            .await?
            .ok_or_else(|| DomainError::invalid(pointer, "no member of this program has it"))?;
    let known = crate::beyond::Known {
        profile: read.facts.map(earning::Profile::from),
        qualifying: read.qualifying.zip(extras.qualifying_since.map(|(_, t)| t)),
    };
    let content = content_hash(p, &member_id);
    if let Some((stored_hash, answer)) = purchases::find_order(c, program_id, &p.order_id).await? {
        return replay_or_conflict(p, &content, &stored_hash, &answer);
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
    write_new(c, ctx, &program, &member_id, &member, p, &content, known).await
}

/// What the member's state query reads besides: the profile when some purchase rule reads
/// it, and the tier's qualifying value when a value read now still holds after the purchase
/// is posted, which SQLite's single writer guarantees by holding the write lock for the whole
/// transaction. With several PostgreSQL writers another may credit the member between this
/// read and the purchase's lock, so there the tier is summed after the points are posted.
fn state_extras<C: Conn>(c: &C, ctx: &Ctx, setup: &earning::CompiledRules) -> StateExtras {
    let qualifying_since = setup
        .tier_plan
        .as_ref()
        .filter(|_| c.dialect() == tally_store::Dialect::Sqlite)
        .map(|plan| {
            let metric = match plan.metric {
                TierMetric::PointsEarned => QualifyingMetric::PointsEarned,
                TierMetric::MoneySpent => QualifyingMetric::MoneySpent,
            };
            (metric, plan.window_start(ctx.now, &setup.time_zone))
        });
    StateExtras {
        facts: setup.needs_profile && setup.set.for_trigger(tally_rules::Trigger::Purchase),
        qualifying_since,
    }
}

/// Records many purchases (all naming members by external id, without lines, as an import
/// does). Answers `{"recorded": n, "already_present": n, "refused": [{"index": i, "problem": …}]}`;
/// a refused row does not stop the others.
///
/// Set-based, so a chunk costs a handful of statements whatever its size: read the members and
/// the known order ids, lock and read the balances it will change, compute every transfer and
/// answer in memory, then write transfers, balances and purchases with multi-row statements.
/// The balances are locked (PostgreSQL) or the write lock is held (SQLite), so the balances
/// computed here are exactly what the database ends with.
pub async fn import<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program_id: &ProgramId,
    rows: &[NewPurchase],
) -> StepResult<Value> {
    assert!(rows.len() <= MAX_IMPORT_CHUNK, "import chunks are bounded");
    let program = load_program(c, ctx, program_id).await?;
    // One import chunk of a program at a time: chunks lock many member rows each.
    programs::lock_program(c, program_id).await?;
    let earning = earning::active_rules(c, &program).await?;
    if earning.set.for_trigger(tally_rules::Trigger::Purchase)
        || earning.tier_plan.is_some()
        || earning.expiry.is_some()
        || program.earning.pending_days > 0
        || !earning.stamp_cards.is_empty()
        || earning.referral.is_some()
    {
        return import_row_by_row(c, ctx, program_id, rows).await;
    }
    let external_ids: Vec<&str> = rows
        .iter()
        .filter_map(|p| match &p.member {
            MemberRef::ExternalId(x) => Some(x.as_str()),
            _ => None,
        })
        .collect();
    let members =
        members::member_states_by_external_id(c, &ctx.tenant, program_id, &dedup(external_ids))
            .await?;
    let order_ids: Vec<&str> = rows.iter().map(|p| p.order_id.as_str()).collect();
    let known = purchases::find_orders(c, program_id, &dedup(order_ids)).await?;

    // 1. Decide, in memory, which rows are new and what they earn.
    let mut plans: Vec<Plan<'_>> = Vec::new();
    let mut in_chunk: HashMap<&str, String> = HashMap::new();
    let mut location_ok: HashMap<String, bool> = HashMap::new();
    let (mut present, mut refused) = (0, Vec::new());
    for (index, p) in rows.iter().enumerate() {
        let decision = plan_row(
            c,
            ctx,
            &program,
            p,
            &members,
            &known,
            &in_chunk,
            &mut location_ok,
        )
        .await;
        match decision {
            Ok(Some(plan)) => {
                in_chunk.insert(plan.p.order_id.as_str(), plan.content.clone());
                plans.push(plan);
            }
            Ok(None) => present += 1,
            Err(crate::StepError::Domain(problem)) => {
                refused.push(json!({ "index": index, "problem": problem }))
            }
            Err(store) => return Err(store),
        }
    }

    // 2. Add each member's points in one pass over the accounts, in id order (the same order on
    //    every writer); the rows stay locked, and the balance before the chunk is the new
    //    balance less what the chunk added.
    let mut added: HashMap<String, i64> = HashMap::new();
    for plan in plans.iter().filter(|x| x.points.is_positive()) {
        *added.entry(available_account(plan.member_id)).or_default() += plan.points.value();
    }
    let mut deltas: Vec<(String, i64)> = added.into_iter().collect();
    deltas.sort_unstable();
    let after = ledger::add_to_balances(c, &deltas).await?;
    let mut balances: HashMap<String, Points> = deltas
        .iter()
        .map(|(account, delta)| (account.clone(), after[account] - Points(*delta)))
        .collect();

    // 3. Every transfer, purchase and answer, in memory.
    let issuance = programs::program_account(program_id, AccountKind::Issuance);
    let mut transfers_owned = Vec::new();
    let mut purchases_new = Vec::with_capacity(plans.len());
    for plan in &plans {
        let purchase_id = PurchaseId::generate();
        let occurred_at = plan.p.occurred_at.unwrap_or(ctx.now);
        let account = available_account(plan.member_id);
        let available = match balances.get_mut(&account) {
            Some(balance) if plan.points.is_positive() => {
                *balance = *balance + plan.points;
                let reason = TransferReason {
                    order_id: Some(plan.p.order_id.clone()),
                    purchase_id: Some(purchase_id.clone()),
                    rule: Some(BASE_RULE.into()),
                    rule_version: Some(1),
                    actor: Some(ctx.actor.clone()),
                    ..TransferReason::default()
                };
                transfers_owned.push((
                    TransferId::generate(),
                    plan.member_id,
                    account,
                    plan.points,
                    *balance,
                    reason,
                    occurred_at,
                ));
                *balance
            }
            Some(balance) => *balance,
            None => plan.member.balance.available,
        };
        let answer = json!({
            "purchase_id": purchase_id,
            "order_id": plan.p.order_id,
            "member_id": plan.member_id,
            "points_earned": plan.points,
            "base_points": plan.points,
            "rule_awards": [],
            "stamps": [],
            "granted": [],
            "balance": { "available": available, "pending": plan.member.balance.pending },
        });
        let purchase = Purchase {
            id: purchase_id,
            program_id: program_id.clone(),
            member_id: plan.member_id.clone(),
            order_id: plan.p.order_id.clone(),
            total_minor: plan.p.total.amount_minor,
            currency: plan.p.total.currency,
            channel: plan.p.channel,
            location_id: plan.p.location_id.clone(),
            lines: Vec::new(),
            points_earned: plan.points,
            points_reversed: Points::ZERO,
            returned_minor: 0,
            occurred_at,
            recorded_at: ctx.now,
        };
        purchases_new.push((purchase, plan.content.clone(), answer.to_string()));
    }

    // 4. Write it all.
    let transfers: Vec<ledger::NewTransfer<'_>> = transfers_owned
        .iter()
        .map(
            |(id, member, account, points, balance_after, reason, occurred_at)| {
                ledger::NewTransfer {
                    id: id.clone(),
                    program_id,
                    member_id: member,
                    kind: TransferKind::Earn,
                    debit_account_id: &issuance,
                    credit_account_id: account,
                    amount: *points,
                    balance_after: *balance_after,
                    reason,
                    occurred_at: *occurred_at,
                    recorded_at: ctx.now,
                }
            },
        )
        .collect();
    ledger::insert_transfers(c, &transfers).await?;
    purchases::insert_purchases(c, &ctx.tenant, &purchases_new).await?;
    Ok(json!({ "recorded": plans.len(), "already_present": present, "refused": refused }))
}

/// An import into a program with purchase rules, tiers, expiring or pending points: each row
/// takes the API's path, so rules, limits, budgets, tiers, lots and return windows apply exactly
/// as they do to live purchases (slower than the set-based path, which knows only base earning).
async fn import_row_by_row<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program_id: &ProgramId,
    rows: &[NewPurchase],
) -> StepResult<Value> {
    let (mut recorded, mut present, mut refused) = (0, 0, Vec::new());
    for (index, p) in rows.iter().enumerate() {
        let outcome = match import_shape(p) {
            Ok(()) => {
                let known = purchases::find_order(c, program_id, &p.order_id).await?;
                record(c, ctx, program_id, p).await.map(|_| known.is_none())
            }
            Err(e) => Err(e),
        };
        match outcome {
            Ok(true) => recorded += 1,
            Ok(false) => present += 1,
            Err(crate::StepError::Domain(problem)) => {
                refused.push(json!({ "index": index, "problem": problem }))
            }
            Err(store) => return Err(store),
        }
    }
    Ok(json!({ "recorded": recorded, "already_present": present, "refused": refused }))
}

/// What every import row must look like: members by external id, totals without lines.
fn import_shape(p: &NewPurchase) -> StepResult<()> {
    if !matches!(p.member, MemberRef::ExternalId(_)) {
        return Err(DomainError::invalid("/member", "imports name members by external_id").into());
    }
    if !p.lines.is_empty() {
        return Err(DomainError::invalid("/lines", "imports carry order totals, not lines").into());
    }
    Ok(())
}

/// A new row of an import, decided but not yet written.
struct Plan<'a> {
    p: &'a NewPurchase,
    member_id: &'a MemberId,
    member: &'a MemberState,
    content: String,
    points: Points,
}

fn available_account(member: &MemberId) -> String {
    tally_ledger::account_id(member.as_str(), AccountKind::MemberAvailable)
}

/// Checks one import row: `Some(plan)` to write it, `None` when the same order is already
/// recorded (or earlier in the chunk), a domain error to refuse it.
#[allow(clippy::too_many_arguments)]
async fn plan_row<'a, C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &Program,
    p: &'a NewPurchase,
    members: &'a HashMap<String, (MemberId, MemberState)>,
    known: &HashMap<String, (String, String)>,
    in_chunk: &HashMap<&str, String>,
    location_ok: &mut HashMap<String, bool>,
) -> StepResult<Option<Plan<'a>>> {
    check_currency(program, p)?;
    import_shape(p)?;
    let MemberRef::ExternalId(external_id) = &p.member else {
        return Err(DomainError::invalid("/member", "imports name members by external_id").into());
    };
    let (member_id, member) = members.get(external_id).ok_or_else(|| {
        DomainError::invalid("/member/external_id", "no member of this program has it")
    })?;
    let content = content_hash(p, member_id);
    if let Some((stored_hash, answer)) = known.get(&p.order_id) {
        replay_or_conflict(p, &content, stored_hash, answer)?;
        return Ok(None);
    }
    if let Some(earlier) = in_chunk.get(p.order_id.as_str()) {
        if *earlier == content {
            return Ok(None);
        }
        return Err(DomainError::conflict(
            "order_conflict",
            format!("order `{}` appears twice with other content", p.order_id),
        )
        .into());
    }
    if let Some(location) = &p.location_id {
        let ok = match location_ok.get(location.as_str()) {
            Some(ok) => *ok,
            None => {
                let ok = locations::get_location(c, &ctx.tenant, location)
                    .await?
                    .is_some_and(|l| l.program_id == program.id);
                location_ok.insert(location.to_string(), ok);
                ok
            }
        };
        if !ok {
            return Err(DomainError::invalid(
                "/location_id",
                "no location of this program has this id",
            )
            .into());
        }
    }
    require_active(member)?;
    Ok(Some(Plan {
        p,
        member_id,
        member,
        content,
        points: base_points(program, p),
    }))
}

fn dedup(mut values: Vec<&str>) -> Vec<&str> {
    values.sort_unstable();
    values.dedup();
    values
}

fn check_currency(program: &Program, p: &NewPurchase) -> StepResult<()> {
    if p.total.currency != program.currency {
        return Err(DomainError::invalid(
            "/total/currency",
            format!("must be {}, the program's currency", program.currency),
        )
        .into());
    }
    Ok(())
}

fn require_active(member: &MemberState) -> StepResult<()> {
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
fn replay_or_conflict(
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
    // Inside a return window the points wait in the pending account.
    let release_at = crate::pending::release_at(program, occurred_at)?;
    let to = match release_at {
        Some(_) => CreditTo::Pending,
        None => CreditTo::Available(beyond.expiry()),
    };
    let pending_now = release_at.is_some();
    let after =
        crate::pending::post_credits(c, ctx, &program.id, member_id, &credits, occurred_at, to)
            .await?;
    let (available, pending) = match after {
        Some(after) if pending_now => (member.balance.available, after),
        Some(after) => (after, member.balance.pending),
        None => (member.balance.available, member.balance.pending),
    };
    let points = base + beyond.points();
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
        "balance": { "available": available, "pending": pending },
    });
    let answer_text = answer.to_string();
    purchases::insert_purchase(c, &ctx.tenant, &purchase, content, &answer_text, release_at)
        .await?;
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
fn content_hash(p: &NewPurchase, member: &MemberId) -> String {
    let canonical = json!({
        "member": member,
        "total": [p.total.amount_minor, p.total.currency],
        "lines": p.lines.iter().map(|l| json!([l.sku, l.name, l.category, l.brand, l.quantity, l.unit_price_minor])).collect::<Vec<_>>(),
        "channel": p.channel,
        "location": p.location_id,
        "occurred_at": p.occurred_at,
    });
    let digest = Sha256::digest(canonical.to_string().as_bytes());
    tally_domain::text::hex(&digest)
}
