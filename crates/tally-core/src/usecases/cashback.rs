//! Cashback: a member's second wallet, in minor units of the program's currency, in the same
//! double-entry ledger as points (`member_cashback` against the program's `cashback_issuance`
//! and `cashback_spent`).
//!
//! Rules give it (`awards::give_grants`), a return takes back the returned share of what its
//! purchase earned (never below zero: what is already spent stays spent and is reported), and
//! the till or the e-shop pays part of an order with it: once per order (the same request again
//! answers the same), refunded when the order is cancelled.

use super::{Guard, Posting, load_member, load_program, post, require_active, resolve_member};
use crate::StepResult;
use crate::commands::Ctx;
use serde_json::{Value, json};
use tally_domain::cashback::CashbackPayment;
use tally_domain::ids::{MemberId, ProgramId, new_ulid};
use tally_domain::model::{Purchase, TransferKind, TransferReason};
use tally_domain::{DomainError, Points, Timestamp};
use tally_ledger::reversal_for_return;
use tally_store::Conn;
use tally_store::queries::cashback::{self as store, PaymentRow};

/// Credits cashback to a member (making their cashback account at the first credit); returns
/// the new balance.
pub(crate) async fn credit<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    member: &MemberId,
    amount_minor: i64,
    reason: &TransferReason,
    occurred_at: Timestamp,
) -> StepResult<i64> {
    store::ensure_account(c, program, member).await?;
    let posting = Posting {
        program,
        member,
        kind: TransferKind::CashbackEarn,
        amount: Points(amount_minor),
        adjustment_positive: false,
        reason,
        occurred_at,
    };
    let balance = post(c, ctx, &posting, Guard::MayGoNegative)
        .await?
        .expect("credits always post");
    Ok(balance.value())
}

/// What a return takes back of the cashback its purchase earned: the share of what is returned
/// by now less what earlier returns took (as for points), at most the member's balance.
/// Returns `(taken, not recovered)`.
pub(crate) async fn after_return<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    purchase: &Purchase,
    returned_after_minor: i64,
    reason: &TransferReason,
    occurred_at: Timestamp,
) -> StepResult<(i64, i64)> {
    let (earned, reversed) = store::of_purchase(c, &purchase.id).await?;
    if earned == 0 {
        return Ok((0, 0));
    }
    let due = reversal_for_return(
        Points(earned),
        Points(reversed),
        purchase.total_minor,
        returned_after_minor,
    )
    .value();
    if due == 0 {
        return Ok((0, 0));
    }
    store::add_reversed(c, &purchase.id, due).await?;
    let balance = store::balance(c, &purchase.member_id).await?;
    let taken = due.min(balance.max(0));
    if taken > 0 {
        let posting = Posting {
            program: &purchase.program_id,
            member: &purchase.member_id,
            kind: TransferKind::CashbackReverse,
            amount: Points(taken),
            adjustment_positive: false,
            reason,
            occurred_at,
        };
        post(c, ctx, &posting, Guard::Covered).await?;
    }
    Ok((taken, due - taken))
}

fn payment_answer(p: &PaymentRow, balance: i64, currency: &str) -> Value {
    json!({
        "id": p.id,
        "member_id": p.member_id,
        "order_id": p.order_id,
        "amount_minor": p.amount_minor,
        "currency": currency,
        "status": p.status,
        "created_at": p.created_at,
        "refunded_at": p.refunded_at,
        "cashback_balance_minor": balance,
    })
}

/// Pays part of an order from the member's cashback.
pub async fn pay<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program_id: &ProgramId,
    r: &CashbackPayment,
) -> StepResult<Value> {
    let program = load_program(c, ctx, program_id).await?;
    let member_id = resolve_member(c, ctx, program_id, &r.member).await?;
    let currency = program.currency.code();
    if let Some(known) = store::payment_by_order(c, program_id, &r.order_id).await? {
        if known.member_id == member_id && known.amount_minor == r.amount_minor {
            let balance = store::balance(c, &member_id).await?;
            return Ok(payment_answer(&known, balance, currency));
        }
        return Err(DomainError::conflict(
            "order_conflict",
            format!(
                "order `{}` was paid from cashback with other content",
                r.order_id
            ),
        )
        .into());
    }
    let member = load_member(c, ctx, &member_id).await?;
    require_active(&member)?;
    let reason = TransferReason {
        order_id: Some(r.order_id.clone()),
        actor: Some(ctx.actor.clone()),
        ..TransferReason::default()
    };
    let posting = Posting {
        program: program_id,
        member: &member_id,
        kind: TransferKind::CashbackSpend,
        amount: Points(r.amount_minor),
        adjustment_positive: false,
        reason: &reason,
        occurred_at: ctx.now,
    };
    let Some(balance) = post(c, ctx, &posting, Guard::Covered).await? else {
        let balance = store::balance(c, &member_id).await?;
        return Err(DomainError::refused(
            "insufficient_cashback",
            format!(
                "the member has {balance} (minor units) of cashback, not {}",
                r.amount_minor
            ),
        )
        .into());
    };
    let payment = PaymentRow {
        id: format!("cbp_{}", new_ulid()),
        program_id: program_id.clone(),
        member_id,
        order_id: r.order_id.clone(),
        amount_minor: r.amount_minor,
        status: "paid".into(),
        created_at: ctx.now,
        refunded_at: None,
    };
    store::insert_payment(c, &ctx.tenant, &payment).await?;
    Ok(payment_answer(&payment, balance.value(), currency))
}

/// Gives a payment from cashback back (the order was cancelled). Refunding again answers the
/// same.
pub async fn refund<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program_id: &ProgramId,
    order_id: &str,
) -> StepResult<Value> {
    let program = load_program(c, ctx, program_id).await?;
    let currency = program.currency.code();
    let payment = store::payment_by_order(c, program_id, order_id)
        .await?
        .ok_or_else(|| {
            DomainError::invalid("/order_id", "no payment from cashback has this order id")
        })?;
    if payment.status == "paid" && store::set_refunded(c, &payment.id, ctx.now).await? {
        let reason = TransferReason {
            order_id: Some(payment.order_id.clone()),
            actor: Some(ctx.actor.clone()),
            ..TransferReason::default()
        };
        let posting = Posting {
            program: program_id,
            member: &payment.member_id,
            kind: TransferKind::CashbackRefund,
            amount: Points(payment.amount_minor),
            adjustment_positive: false,
            reason: &reason,
            occurred_at: ctx.now,
        };
        post(c, ctx, &posting, Guard::MayGoNegative).await?;
    }
    // As it stands now (refunded by this request or an earlier one).
    let payment = store::payment_by_order(c, program_id, order_id)
        .await?
        .expect("read above");
    let balance = store::balance(c, &payment.member_id).await?;
    Ok(payment_answer(&payment, balance, currency))
}
