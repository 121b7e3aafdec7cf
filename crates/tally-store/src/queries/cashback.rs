//! Cashback (migration 0017): members' cashback accounts, their history, what each purchase
//! earned and gave back, and payments from cashback per order.

use super::{Page, json, page_limit, to_opt_ts, to_ts, ts};
use crate::{Conn, Row, StoreError};
use tally_domain::Timestamp;
use tally_domain::ids::{MemberId, ProgramId, PurchaseId, TenantId, TransferId};
use tally_domain::model::{TransferKind, TransferReason};
use tally_ledger::AccountKind;

/// Makes the member's cashback account if it is not there yet (at the first credit).
pub async fn ensure_account<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    member: &MemberId,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO accounts (id, program_id, member_id, kind, balance) VALUES ($1, $2, $3, $4, 0)
         ON CONFLICT (id) DO NOTHING",
        &[
            tally_ledger::account_id(member.as_str(), AccountKind::MemberCashback).into(),
            program.as_str().into(),
            member.as_str().into(),
            AccountKind::MemberCashback.as_str().into(),
        ],
    )
    .await?;
    Ok(())
}

/// The member's cashback balance in minor units (0 before the first credit).
pub async fn balance<C: Conn>(c: &mut C, member: &MemberId) -> Result<i64, StoreError> {
    let id = tally_ledger::account_id(member.as_str(), AccountKind::MemberCashback);
    Ok(
        c.query_one("SELECT balance FROM accounts WHERE id = $1", &[id.into()])
            .await?
            .map(|r| r.int(0))
            .transpose()?
            .unwrap_or(0),
    )
}

/// One movement of a member's cashback, signed from the member's side.
#[derive(Clone, Debug, PartialEq)]
pub struct CashbackEntry {
    pub transfer_id: TransferId,
    pub kind: TransferKind,
    pub amount_minor: i64,
    pub balance_after_minor: i64,
    pub reason: TransferReason,
    pub occurred_at: Timestamp,
}

/// The member's cashback movements, newest first.
pub async fn history<C: Conn>(
    c: &mut C,
    member: &MemberId,
    after_seq: Option<i64>,
    limit: Option<i64>,
) -> Result<Page<CashbackEntry>, StoreError> {
    let limit = page_limit(limit);
    let account = tally_ledger::account_id(member.as_str(), AccountKind::MemberCashback);
    let rows = c
        .query(
            "SELECT seq, id, kind, amount, balance_after, reason, occurred_at_us, credit_account_id
             FROM transfers
             WHERE member_id = $1 AND seq < $2
               AND kind IN ('cashback_earn', 'cashback_reverse', 'cashback_spend', 'cashback_refund')
             ORDER BY seq DESC LIMIT $3",
            &[
                member.as_str().into(),
                after_seq.unwrap_or(i64::MAX).into(),
                (limit + 1).into(),
            ],
        )
        .await?;
    let entries = rows
        .iter()
        .map(|r: &Row| {
            let kind = TransferKind::parse(&r.text(2)?)
                .ok_or_else(|| StoreError::Decode("transfer kind".into()))?;
            let amount = r.int(3)?;
            let credited = r.text(7)? == account;
            Ok((
                r.int(0)?,
                CashbackEntry {
                    transfer_id: TransferId::from_trusted(r.text(1)?),
                    kind,
                    amount_minor: if credited { amount } else { -amount },
                    balance_after_minor: r.int(4)?,
                    reason: json(&r.text(5)?)?,
                    occurred_at: to_ts(r.int(6)?)?,
                },
            ))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Page::from_rows(entries, limit))
}

/// Adds cashback a purchase earned (kept so a return takes back its share).
pub async fn add_earned<C: Conn>(
    c: &mut C,
    purchase: &PurchaseId,
    amount: i64,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE purchases SET cashback_minor = cashback_minor + $2 WHERE id = $1",
        &[purchase.as_str().into(), amount.into()],
    )
    .await?;
    Ok(())
}

/// What a purchase earned in cashback and what returns took back: `(earned, reversed)`.
pub async fn of_purchase<C: Conn>(
    c: &mut C,
    purchase: &PurchaseId,
) -> Result<(i64, i64), StoreError> {
    let r = c
        .query_one(
            "SELECT cashback_minor, cashback_reversed_minor FROM purchases WHERE id = $1",
            &[purchase.as_str().into()],
        )
        .await?
        .ok_or_else(|| StoreError::Decode("no such purchase".into()))?;
    Ok((r.int(0)?, r.int(1)?))
}

pub async fn add_reversed<C: Conn>(
    c: &mut C,
    purchase: &PurchaseId,
    amount: i64,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE purchases SET cashback_reversed_minor = cashback_reversed_minor + $2 WHERE id = $1",
        &[purchase.as_str().into(), amount.into()],
    )
    .await?;
    Ok(())
}

/// Part of an order paid from a member's cashback.
#[derive(Clone, Debug, PartialEq)]
pub struct PaymentRow {
    pub id: String,
    pub program_id: ProgramId,
    pub member_id: MemberId,
    pub order_id: String,
    pub amount_minor: i64,
    /// `paid` or `refunded`.
    pub status: String,
    pub created_at: Timestamp,
    pub refunded_at: Option<Timestamp>,
}

const PAYMENT_COLS: &str =
    "id, program_id, member_id, order_id, amount_minor, status, created_at_us, refunded_at_us";

fn decode_payment(r: &Row) -> Result<PaymentRow, StoreError> {
    Ok(PaymentRow {
        id: r.text(0)?,
        program_id: ProgramId::from_trusted(r.text(1)?),
        member_id: MemberId::from_trusted(r.text(2)?),
        order_id: r.text(3)?,
        amount_minor: r.int(4)?,
        status: r.text(5)?,
        created_at: to_ts(r.int(6)?)?,
        refunded_at: to_opt_ts(r.opt_int(7)?)?,
    })
}

pub async fn insert_payment<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    p: &PaymentRow,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO cashback_payments (id, tenant_id, program_id, member_id, order_id,
             amount_minor, status, created_at_us)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            p.id.as_str().into(),
            tenant.as_str().into(),
            p.program_id.as_str().into(),
            p.member_id.as_str().into(),
            p.order_id.as_str().into(),
            p.amount_minor.into(),
            p.status.as_str().into(),
            ts(p.created_at),
        ],
    )
    .await?;
    Ok(())
}

pub async fn payment_by_order<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    order_id: &str,
) -> Result<Option<PaymentRow>, StoreError> {
    let sql = format!(
        "SELECT {PAYMENT_COLS} FROM cashback_payments WHERE program_id = $1 AND order_id = $2"
    );
    c.query_one(&sql, &[program.as_str().into(), order_id.into()])
        .await?
        .map(|r| decode_payment(&r))
        .transpose()
}

/// Marks a payment refunded; `false` when it already was (a concurrent refund won).
pub async fn set_refunded<C: Conn>(c: &mut C, id: &str, at: Timestamp) -> Result<bool, StoreError> {
    let changed = c
        .execute(
            "UPDATE cashback_payments SET status = 'refunded', refunded_at_us = $2
             WHERE id = $1 AND status = 'paid'",
            &[id.into(), ts(at)],
        )
        .await?;
    Ok(changed == 1)
}
