//! Expiry at work. A program with an expiry policy keeps each member's points in lots: every
//! credit adds a lot (the part of it above zero, so open lots always add up to a positive
//! balance), every debit takes from the lots that expire first, and the expiry job posts an
//! `expire` transfer for what is left of the lots whose date has come. The ledger stays the
//! truth; lots only say which points are the oldest.

use crate::StepResult;
use crate::commands::Ctx;
use crate::usecases::{Guard, Posting, post};
use jiff::tz::TimeZone;
use serde_json::{Value, json};
use tally_domain::expiry::ExpiryPolicy;
use tally_domain::ids::{MemberId, ProgramId};
use tally_domain::model::{TransferKind, TransferReason};
use tally_domain::{Points, Timestamp};
use tally_ledger::AccountKind;
use tally_store::Conn;
use tally_store::queries::{ledger, lots};

/// A program's expiry policy with its time zone.
#[derive(Clone, Debug)]
pub struct Expiry {
    pub policy: ExpiryPolicy,
    pub time_zone: TimeZone,
}

/// After `amount` was credited to the member's available balance (now `balance_after`).
pub async fn credited<C: Conn>(
    c: &mut C,
    e: &Expiry,
    program: &ProgramId,
    member: &MemberId,
    amount: i64,
    balance_after: Points,
    at: Timestamp,
) -> StepResult<()> {
    // Only what lifts the balance above zero is a lot: points that paid off a negative balance
    // are already gone.
    let lot = amount.min(balance_after.value().max(0));
    let expires_at = e.policy.expires_at(at, &e.time_zone);
    if lot > 0 {
        lots::insert_lot(c, program, member, at, expires_at, lot).await?;
    }
    if e.policy.extends_on_activity() {
        lots::redate_member(c, member, expires_at).await?;
    }
    Ok(())
}

/// After `amount` was debited (spent, reversed, taken): takes it from the lots that expire
/// first. A debit past the lots leaves them empty and the balance negative.
pub async fn debited<C: Conn>(
    c: &mut C,
    e: &Expiry,
    member: &MemberId,
    amount: i64,
    at: Timestamp,
) -> StepResult<()> {
    let mut left = amount;
    for (lot, remaining) in lots::open_lots(c, member).await? {
        if left == 0 {
            break;
        }
        let take = remaining.min(left);
        lots::set_remaining(c, lot, remaining - take).await?;
        left -= take;
    }
    if e.policy.extends_on_activity() {
        let expires_at = e.policy.expires_at(at, &e.time_zone);
        lots::redate_member(c, member, expires_at).await?;
    }
    Ok(())
}

/// Expires the lots due by now, for up to `limit` members: one `expire` transfer per member for
/// what is left of their due lots. Safe to run again and on several nodes: the member's account
/// is locked before their due lots are read, so a second run finds them empty.
pub async fn expire_due<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    limit: i64,
) -> StepResult<Value> {
    let (mut members, mut points) = (0, 0);
    for member in lots::members_due(c, program, ctx.now, limit).await? {
        let account = tally_ledger::account_id(member.as_str(), AccountKind::MemberAvailable);
        ledger::lock_balance(c, &account).await?;
        let due = lots::due_lots(c, &member, ctx.now).await?;
        let total: i64 = due.iter().map(|(_, r)| r).sum();
        if total == 0 {
            continue;
        }
        for (lot, _) in &due {
            lots::set_remaining(c, *lot, 0).await?;
        }
        let reason = TransferReason {
            actor: Some(ctx.actor.clone()),
            note: Some(format!("{} lot(s) reached their expiry date", due.len())),
            ..TransferReason::default()
        };
        let posting = Posting {
            program,
            member: &member,
            kind: TransferKind::Expire,
            amount: Points(total),
            adjustment_positive: false,
            reason: &reason,
            occurred_at: ctx.now,
        };
        post(c, ctx, &posting, Guard::MayGoNegative).await?;
        members += 1;
        points += total;
    }
    Ok(json!({ "members": members, "expired": points }))
}
