//! A purchase earns points.
//!
//! The order id is a business key: the same order with the same content answers with the
//! original answer (a till that retries after a timeout does no harm); the same order id with
//! other content is a 409.

use super::{Guard, Posting, load_member, load_program, post, require_active, resolve_member};
use crate::StepResult;
use crate::commands::Ctx;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tally_domain::ids::{ProgramId, PurchaseId};
use tally_domain::inputs::NewPurchase;
use tally_domain::model::{Purchase, PurchaseLine, TransferKind, TransferReason};
use tally_domain::program::Program;
use tally_domain::{DomainError, Points};
use tally_ledger::AccountKind;
use tally_store::Conn;
use tally_store::queries::{locations, members, purchases};

/// The base-earning rule's name on transfers, until the rules engine adds its own.
pub const BASE_RULE: &str = "base";

pub async fn record<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program_id: &ProgramId,
    p: &NewPurchase,
) -> StepResult<Value> {
    let program = load_program(c, ctx, program_id).await?;
    if p.total.currency != program.currency {
        return Err(DomainError::invalid(
            "/total/currency",
            format!("must be {}, the program's currency", program.currency),
        )
        .into());
    }
    let member_id = resolve_member(c, ctx, program_id, &p.member).await?;
    let content = content_hash(p, &member_id);
    if let Some((stored_hash, answer)) = purchases::find_order(c, program_id, &p.order_id).await? {
        if stored_hash == content {
            return Ok(serde_json::from_str(&answer)
                .map_err(|e| tally_store::StoreError::Decode(e.to_string()))?);
        }
        return Err(DomainError::conflict(
            "order_conflict",
            format!("order `{}` was recorded with other content", p.order_id),
        )
        .into());
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
    let member = load_member(c, ctx, &member_id).await?;
    require_active(&member)?;

    let points = base_points(&program, p);
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
            program: program_id,
            member: &member_id,
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
        members::member_account(c, &member_id, AccountKind::MemberAvailable)
            .await?
            .1
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
        program_id: program_id.clone(),
        member_id,
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
    purchases::insert_purchase(c, &ctx.tenant, &purchase, &content, &answer.to_string()).await?;
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
fn content_hash(p: &NewPurchase, member: &tally_domain::ids::MemberId) -> String {
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
