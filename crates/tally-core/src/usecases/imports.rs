//! Imports of purchases in bulk: a chunk's members and known order ids are read in two
//! queries, then each new purchase costs only its writes. Programs with rules, tiers, expiring
//! or pending points, stamp cards, referrals or offers take the API's path row by row instead.

use super::load_program;
use super::purchases::{
    BASE_RULE, base_points, check_currency, content_hash, record, replay_or_conflict,
    require_active,
};
use crate::StepResult;
use crate::commands::Ctx;
use crate::earning;
use serde_json::{Value, json};
use std::collections::HashMap;
use tally_domain::DomainError;
use tally_domain::Points;
use tally_domain::ids::{MemberId, ProgramId, PurchaseId, TransferId};
use tally_domain::inputs::{MemberRef, NewPurchase};
use tally_domain::model::{Purchase, TransferKind, TransferReason};
use tally_domain::program::Program;
use tally_ledger::AccountKind;
use tally_store::Conn;
use tally_store::queries::members::{self, MemberState};
use tally_store::queries::{ledger, locations, programs, purchases};

/// The answer an imported purchase keeps (an order id sent again gets it): what the API answers
/// for a purchase without rules, written straight to text (keys in the order a
/// `serde_json::Value` prints them).
#[derive(serde::Serialize)]
struct ImportedAnswer<'a> {
    balance: tally_domain::model::Balance,
    base_points: Points,
    granted: [(); 0],
    member_id: &'a MemberId,
    order_id: &'a str,
    points_earned: Points,
    purchase_id: &'a PurchaseId,
    rule_awards: [(); 0],
    stamps: [(); 0],
}

/// Most purchases in one import command: bounds the `IN (…)` lists and the work one retry loses.
pub const MAX_IMPORT_CHUNK: usize = 1000;

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
    let earning = earning::active_rules(c, &program).await?;
    if earning.set.for_trigger(tally_rules::Trigger::Purchase)
        || earning.tier_plan.is_some()
        || earning.expiry.is_some()
        || program.earning.pending_days > 0
        || !earning.stamp_cards.is_empty()
        || earning.referral.is_some()
        || !earning.offers.is_empty()
    {
        // One import chunk of a program at a time: chunks lock many member rows each.
        programs::lock_program(c, program_id).await?;
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

    // 2. Add each member's points in one pass over the accounts, in id order (so chunks on
    //    several writers whose members overlap wait for each other instead of deadlocking);
    //    the rows stay locked, and the balance before the chunk is the new balance less what
    //    the chunk added.
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
        let answer = ImportedAnswer {
            balance: tally_domain::model::Balance {
                available,
                pending: plan.member.balance.pending,
            },
            base_points: plan.points,
            granted: [],
            member_id: plan.member_id,
            order_id: &plan.p.order_id,
            points_earned: plan.points,
            purchase_id: &purchase_id,
            rule_awards: [],
            stamps: [],
        };
        let answer = serde_json::to_string(&answer).expect("plain data serialises");
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
        purchases_new.push((purchase, plan.content.clone(), answer));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_imported_answer_reads_as_the_value_it_replaced() {
        let (member, purchase) = (MemberId::generate(), PurchaseId::generate());
        let answer = ImportedAnswer {
            balance: tally_domain::model::Balance {
                available: Points(1_250),
                pending: Points(-3),
            },
            base_points: Points(25),
            granted: [],
            member_id: &member,
            order_id: "ż\"1",
            points_earned: Points(25),
            purchase_id: &purchase,
            rule_awards: [],
            stamps: [],
        };
        let value = json!({
            "purchase_id": purchase,
            "order_id": "ż\"1",
            "member_id": member,
            "points_earned": Points(25),
            "base_points": Points(25),
            "rule_awards": [],
            "stamps": [],
            "granted": [],
            "balance": { "available": Points(1_250), "pending": Points(-3) },
        });
        assert_eq!(serde_json::to_string(&answer).unwrap(), value.to_string());
    }
}
