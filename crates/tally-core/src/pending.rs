//! Where earned points land. Points a member can spend at once go to their available account;
//! in a program with a return window (`earning.pending_days`), a purchase's points wait in the
//! pending account, counted on the purchase's own row (`pending_points`, with the release
//! date), until the window ends. A return
//! inside the window takes back pending points first; the release job then moves what is left
//! to the available account with a `release` transfer, exactly once (the member's accounts are
//! locked, available before pending as everywhere, before the due rows are read).

use crate::StepResult;
use crate::commands::Ctx;
use crate::lots::Expiry;
use serde_json::{Value, json};
use tally_domain::ids::{MemberId, ProgramId, PurchaseId, TransferId};
use tally_domain::model::{TransferKind, TransferReason};
use tally_domain::program::Program;
use tally_domain::{Points, Timestamp};
use tally_ledger::AccountKind;
use tally_store::queries::{ledger, pending, programs};
use tally_store::{Conn, StoreError};

/// One `earn` transfer to post: how many points, and why.
pub type Credit = (Points, TransferReason);

/// Where credited points go.
pub enum CreditTo<'a> {
    /// Spendable at once (kept in lots when points expire).
    Available(Option<&'a Expiry>),
    /// Pending: the purchase row written after them records their release date.
    Pending,
}

/// When a purchase made at `occurred_at` releases its points, if the program has a return
/// window: that many local days later in the program's zone (the same wall-clock time across a
/// daylight-saving change).
pub fn release_at(program: &Program, occurred_at: Timestamp) -> StepResult<Option<Timestamp>> {
    let days = program.earning.pending_days;
    if days == 0 {
        return Ok(None);
    }
    let zone = crate::earning::zone(program)?;
    let at = occurred_at
        .to_zoned(zone)
        .checked_add(jiff::Span::new().days(i64::from(days)))
        .map_err(|e| StoreError::Decode(format!("release date: {e}")))?;
    Ok(Some(at.timestamp()))
}

/// Posts several `earn` transfers to a member at once: one balance update and one insert,
/// whatever their number. Returns the balance after of the account credited (`None` when there
/// was nothing to post). `locked_balance`: the credited account's balance, when the caller has
/// locked its row and read it in this transaction; it is final then, so the update need not
/// answer with it and is held with the transfers (see `Conn::execute_later`), a round trip less.
#[allow(clippy::too_many_arguments)]
pub async fn post_credits<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    member: &MemberId,
    credits: &[Credit],
    occurred_at: Timestamp,
    to: CreditTo<'_>,
    locked_balance: Option<Points>,
) -> StepResult<Option<Points>> {
    let total: i64 = credits.iter().map(|(p, _)| p.value()).sum();
    if credits.is_empty() {
        return Ok(None);
    }
    let kind = match to {
        CreditTo::Available(_) => AccountKind::MemberAvailable,
        CreditTo::Pending => AccountKind::MemberPending,
    };
    let account = tally_ledger::account_id(member.as_str(), kind);
    let issuance = programs::program_account(program, AccountKind::Issuance);
    let after = match locked_balance {
        Some(before) => {
            ledger::add_to_balance(c, &account, total).await?;
            before + Points(total)
        }
        None => ledger::change_balance(c, &account, total).await?,
    };
    let mut running = after - Points(total);
    let transfers: Vec<ledger::NewTransfer<'_>> = credits
        .iter()
        .map(|(points, reason)| {
            running = running + *points;
            ledger::NewTransfer {
                id: TransferId::generate(),
                program_id: program,
                member_id: member,
                kind: TransferKind::Earn,
                debit_account_id: &issuance,
                credit_account_id: &account,
                amount: *points,
                balance_after: running,
                reason,
                occurred_at,
                recorded_at: ctx.now,
            }
        })
        .collect();
    ledger::insert_transfers(c, &transfers).await?;
    if let CreditTo::Available(Some(e)) = to {
        crate::lots::credited(c, e, program, member, total, after, occurred_at).await?;
    }
    Ok(Some(after))
}

/// For a return of `purchase`: takes up to `reversal` points back from what the purchase still
/// has pending. The caller has locked the member's available account. Returns the points taken
/// and the pending balance after.
#[allow(clippy::too_many_arguments)]
pub async fn take_for_return<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    member: &MemberId,
    purchase: &PurchaseId,
    reversal: Points,
    reason: &TransferReason,
    occurred_at: Timestamp,
) -> StepResult<Points> {
    let account = tally_ledger::account_id(member.as_str(), AccountKind::MemberPending);
    ledger::lock_balance(c, &account).await?;
    let remaining = pending::for_purchase(c, purchase).await?;
    let take = remaining.min(reversal.value());
    if take <= 0 {
        return Ok(Points::ZERO);
    }
    pending::set_remaining(c, purchase, remaining - take).await?;
    let after = ledger::change_balance(c, &account, -take).await?;
    let issuance = programs::program_account(program, AccountKind::Issuance);
    ledger::insert_transfer(
        c,
        &ledger::NewTransfer {
            id: TransferId::generate(),
            program_id: program,
            member_id: member,
            kind: TransferKind::Reverse,
            debit_account_id: &account,
            credit_account_id: &issuance,
            amount: Points(take),
            balance_after: after,
            reason,
            occurred_at,
            recorded_at: ctx.now,
        },
    )
    .await?;
    Ok(Points(take))
}

/// Releases the pending points due by now, for up to `limit` members: one `release` transfer
/// per purchase, naming it. Safe to run again and on several nodes: the member's accounts are
/// locked before the due rows are read, so a second run finds them empty.
pub async fn release_due<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    limit: i64,
) -> StepResult<Value> {
    let (mut members, mut points) = (0, 0);
    let setup = crate::earning::setup_by_id(c, program).await?;
    let expiry = setup.as_ref().and_then(|s| s.expiry.clone());
    let referral = setup.as_ref().and_then(|s| s.referral.clone());
    for member in pending::members_due(c, program, ctx.now, limit).await? {
        let available = tally_ledger::account_id(member.as_str(), AccountKind::MemberAvailable);
        let pending_account = tally_ledger::account_id(member.as_str(), AccountKind::MemberPending);
        ledger::lock_balance(c, &available).await?;
        ledger::lock_balance(c, &pending_account).await?;
        let due = pending::due(c, &member, ctx.now).await?;
        let total: i64 = due.iter().map(|d| d.remaining).sum();
        if total == 0 {
            continue;
        }
        ledger::change_balance(c, &pending_account, -total).await?;
        let after = ledger::change_balance(c, &available, total).await?;
        let mut running = after - Points(total);
        let reasons: Vec<TransferReason> = due
            .iter()
            .map(|d| TransferReason {
                purchase_id: Some(d.purchase.clone()),
                actor: Some(ctx.actor.clone()),
                note: Some("the return window ended".into()),
                ..TransferReason::default()
            })
            .collect();
        let transfers: Vec<ledger::NewTransfer<'_>> = due
            .iter()
            .zip(&reasons)
            .map(|(d, reason)| {
                running = running + Points(d.remaining);
                ledger::NewTransfer {
                    id: TransferId::generate(),
                    program_id: program,
                    member_id: &member,
                    kind: TransferKind::Release,
                    debit_account_id: &pending_account,
                    credit_account_id: &available,
                    amount: Points(d.remaining),
                    balance_after: running,
                    reason,
                    occurred_at: ctx.now,
                    recorded_at: ctx.now,
                }
            })
            .collect();
        ledger::insert_transfers(c, &transfers).await?;
        for d in &due {
            pending::set_remaining(c, &d.purchase, 0).await?;
        }
        if let Some(e) = &expiry {
            crate::lots::credited(c, e, program, &member, total, after, ctx.now).await?;
        }
        if let Some(policy) = &referral {
            for d in &due {
                crate::referrals::after_release(c, ctx, policy, &d.purchase).await?;
            }
        }
        members += 1;
        points += total;
    }
    Ok(json!({ "members": members, "released": points }))
}
