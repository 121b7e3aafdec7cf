//! A purchase earns points.
//!
//! The order id is a business key: the same order with the same content answers with the
//! original answer (a till that retries after a timeout does no harm); the same order id with
//! other content is a 409.
//!
//! Imports take the same path in bulk: a chunk's members and known order ids are read in two
//! queries, then each new purchase costs only its writes.

use super::{Guard, Posting, load_program, post};
use crate::StepResult;
use crate::commands::Ctx;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use tally_domain::ids::{MemberId, ProgramId, PurchaseId};
use tally_domain::inputs::{MemberRef, NewPurchase};
use tally_domain::model::{MemberStatus, Purchase, PurchaseLine, TransferKind, TransferReason};
use tally_domain::program::Program;
use tally_domain::{DomainError, Points};
use tally_store::queries::members::{self, MemberKey, MemberState};
use tally_store::queries::{locations, purchases};
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
    let (member_id, member) = members::find_member_state(c, &ctx.tenant, program_id, key)
        .await?
        .ok_or_else(|| DomainError::invalid(pointer, "no member of this program has it"))?;
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
    write_new(c, ctx, &program, &member_id, &member, p, &content).await
}

/// Records many purchases (all naming members by external id, as an import does). Answers
/// `{"recorded": n, "already_present": n, "refused": [{"index": i, "problem": …}]}`; a refused
/// row does not stop the others.
pub async fn import<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program_id: &ProgramId,
    rows: &[NewPurchase],
) -> StepResult<Value> {
    assert!(rows.len() <= MAX_IMPORT_CHUNK, "import chunks are bounded");
    let program = load_program(c, ctx, program_id).await?;
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
    let mut known = purchases::find_orders(c, program_id, &dedup(order_ids)).await?;
    let mut location_ok: HashMap<String, bool> = HashMap::new();
    let (mut recorded, mut present, mut refused) = (0, 0, Vec::new());
    for (index, p) in rows.iter().enumerate() {
        let outcome: Result<bool, DomainError> = async {
            check_currency(&program, p).map_err(step_domain)?;
            let MemberRef::ExternalId(external_id) = &p.member else {
                return Err(DomainError::invalid(
                    "/member",
                    "imports name members by external_id",
                ));
            };
            let (member_id, member) = members.get(external_id).ok_or_else(|| {
                DomainError::invalid("/member/external_id", "no member of this program has it")
            })?;
            let content = content_hash(p, member_id);
            if let Some((stored_hash, answer)) = known.get(&p.order_id) {
                replay_or_conflict(p, &content, stored_hash, answer).map_err(step_domain)?;
                return Ok(false);
            }
            if let Some(location) = &p.location_id {
                let ok = match location_ok.get(location.as_str()) {
                    Some(ok) => *ok,
                    None => {
                        let ok = locations::get_location(c, &ctx.tenant, location)
                            .await
                            .map_err(store_as_domain)?
                            .is_some_and(|l| &l.program_id == program_id);
                        location_ok.insert(location.to_string(), ok);
                        ok
                    }
                };
                if !ok {
                    return Err(DomainError::invalid(
                        "/location_id",
                        "no location of this program has this id",
                    ));
                }
            }
            require_active(member).map_err(step_domain)?;
            let answer = write_new(c, ctx, &program, member_id, member, p, &content)
                .await
                .map_err(step_domain)?;
            known.insert(p.order_id.clone(), (content, answer.to_string()));
            Ok(true)
        }
        .await;
        match outcome {
            Ok(true) => recorded += 1,
            Ok(false) => present += 1,
            Err(DomainError::Refused { code, .. }) if code == STORE_FAILURE => {
                return Err(
                    StoreError::Retryable("a store error inside an import chunk".into()).into(),
                );
            }
            Err(problem) => refused.push(json!({ "index": index, "problem": problem })),
        }
    }
    Ok(json!({ "recorded": recorded, "already_present": present, "refused": refused }))
}

/// Inside the import loop, store errors travel as a marked domain error and are re-raised as
/// store errors outside it (so the writer retries the batch); domain errors become per-row refusals.
const STORE_FAILURE: &str = "__store_failure";

fn store_as_domain(e: StoreError) -> DomainError {
    tracing::warn!(error = %e, "store error inside an import chunk");
    DomainError::refused(STORE_FAILURE, e.to_string())
}

fn step_domain(e: crate::StepError) -> DomainError {
    match e {
        crate::StepError::Domain(d) => d,
        crate::StepError::Store(s) => store_as_domain(s),
    }
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
async fn write_new<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &Program,
    member_id: &MemberId,
    member: &MemberState,
    p: &NewPurchase,
    content: &str,
) -> StepResult<Value> {
    let points = base_points(program, p);
    let purchase_id = PurchaseId::generate();
    let occurred_at = p.occurred_at.unwrap_or(ctx.now);
    let available = if points.is_positive() {
        let reason = TransferReason {
            order_id: Some(p.order_id.clone()),
            purchase_id: Some(purchase_id.clone()),
            rule: Some(BASE_RULE.into()),
            rule_version: Some(1),
            actor: Some(ctx.actor.clone()),
            ..TransferReason::default()
        };
        let posting = Posting {
            program: &program.id,
            member: member_id,
            kind: TransferKind::Earn,
            amount: points,
            adjustment_positive: false,
            reason: &reason,
            occurred_at,
        };
        post(c, ctx, &posting, Guard::MayGoNegative)
            .await?
            .expect("credits always post")
    } else {
        member.balance.available
    };
    let answer = json!({
        "purchase_id": purchase_id,
        "order_id": p.order_id,
        "member_id": member_id,
        "points_earned": points,
        "balance": { "available": available, "pending": member.balance.pending },
    });
    let purchase = Purchase {
        id: purchase_id,
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
    purchases::insert_purchase(c, &ctx.tenant, &purchase, content, &answer.to_string()).await?;
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
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
