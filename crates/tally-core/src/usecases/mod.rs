//! The use cases. Each takes the connection of the writer's transaction and a [`Ctx`], checks
//! everything it needs first, and either changes the database and answers with JSON, or refuses
//! with a domain error (and the writer rolls back whatever it had written).

pub mod adjustments;
pub mod admin;
pub mod campaigns;
pub mod cashback;
pub mod charities;
pub mod events;
pub mod expiry;
pub mod imports;
pub mod insights;
pub mod journeys;
pub mod members;
pub mod messages;
pub mod offer_groups;
pub mod offers;
pub mod operators;
pub mod purchases;
pub mod push;
pub mod referrals;
pub mod returns;
pub mod rewards;
pub mod rules;
pub mod segments;
pub mod stamps;
pub mod templates;
pub mod tiers;
pub mod vouchers;
pub mod wallet;
pub mod webhooks;

use crate::StepResult;
use crate::commands::Ctx;
use tally_domain::ids::{MemberId, ProgramId, TransferId};
use tally_domain::inputs::MemberRef;
use tally_domain::model::{Member, MemberStatus, TransferKind, TransferReason};
use tally_domain::program::Program;
use tally_domain::{DomainError, Points, Timestamp};
use tally_ledger::direction;
use tally_store::Conn;
use tally_store::queries::{ledger, members as member_rows, programs};

pub(crate) async fn load_program<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    id: &ProgramId,
) -> StepResult<Program> {
    programs::get_program(c, &ctx.tenant, id)
        .await?
        .ok_or_else(|| DomainError::not_found("program").into())
}

/// [`load_program`] for a purchase: read once per batch (see `commands::BatchMemo`).
pub(crate) async fn load_program_for_purchase<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    id: &ProgramId,
) -> StepResult<Program> {
    if let Some(program) = ctx.memo.program(&ctx.tenant, id) {
        return Ok(program);
    }
    let program = load_program(c, ctx, id).await?;
    ctx.memo.keep_program(&ctx.tenant, &program);
    Ok(program)
}

pub(crate) async fn load_member<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    id: &MemberId,
) -> StepResult<Member> {
    member_rows::get_member(c, &ctx.tenant, id)
        .await?
        .ok_or_else(|| DomainError::not_found("member").into())
}

/// How the store looks up the member a request names.
pub(crate) fn member_key(r: &MemberRef) -> member_rows::MemberKey<'_> {
    match r {
        MemberRef::Id(id) => member_rows::MemberKey::Id(id),
        MemberRef::ExternalId(x) => member_rows::MemberKey::ExternalId(x),
        MemberRef::CardNumber(x) => member_rows::MemberKey::CardNumber(x),
    }
}

/// Finds the member a request body names; an unknown member is an invalid `/member` field.
pub(crate) async fn resolve_member<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    r: &MemberRef,
) -> StepResult<MemberId> {
    let key = member_key(r);
    let what = match r {
        MemberRef::Id(_) => "/member/id",
        MemberRef::ExternalId(_) => "/member/external_id",
        MemberRef::CardNumber(_) => "/member/card_number",
    };
    member_rows::find_member_id(c, &ctx.tenant, program, key)
        .await?
        .ok_or_else(|| DomainError::invalid(what, "no member of this program has it").into())
}

pub(crate) fn require_active(member: &Member) -> StepResult<()> {
    match member.status {
        MemberStatus::Active => Ok(()),
        other => Err(DomainError::refused(
            "member_not_active",
            format!("the member is {}", other.as_str()),
        )
        .into()),
    }
}

/// One movement of points between a member's available account and a program account, as the
/// ledger's direction table says for `kind`.
pub(crate) struct Posting<'a> {
    pub program: &'a ProgramId,
    pub member: &'a MemberId,
    pub kind: TransferKind,
    pub amount: Points,
    /// For adjustments: whether points are given (true) or taken.
    pub adjustment_positive: bool,
    pub reason: &'a TransferReason,
    pub occurred_at: Timestamp,
}

/// How a debit of a member account is guarded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Guard {
    /// Only if the balance covers it (spending).
    Covered,
    /// Even into a negative balance (a return of spent points under `allow_negative`).
    MayGoNegative,
}

/// Posts a transfer and updates the member's cached balance in the same transaction.
/// Returns the new balance, or `None` when a guarded debit was not covered (nothing written).
pub(crate) async fn post<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    p: &Posting<'_>,
    guard: Guard,
) -> StepResult<Option<Points>> {
    assert!(p.amount.is_positive(), "postings move a positive amount");
    let d = direction(p.kind, p.adjustment_positive);
    let member_account = tally_ledger::account_id(p.member.as_str(), d.member);
    let program_account = programs::program_account(p.program, d.counterpart);
    let balance_after = if d.member_credited {
        ledger::change_balance(c, &member_account, p.amount.value()).await?
    } else if guard == Guard::Covered {
        match ledger::spend_if_covered(c, &member_account, p.amount).await? {
            Some(balance) => balance,
            None => return Ok(None),
        }
    } else {
        ledger::change_balance(c, &member_account, -p.amount.value()).await?
    };
    // Lots follow the balance of points (an expiry posts its own lots' end itself).
    if p.kind != TransferKind::Expire
        && !p.kind.is_cashback()
        && let Some(setup) = crate::earning::setup_by_id(c, p.program).await?
        && let Some(e) = &setup.expiry
    {
        if d.member_credited {
            crate::lots::credited(
                c,
                e,
                p.program,
                p.member,
                p.amount.value(),
                balance_after,
                p.occurred_at,
            )
            .await?;
        } else {
            crate::lots::debited(c, e, p.member, p.amount.value(), p.occurred_at).await?;
        }
    }
    let (debit, credit) = if d.member_credited {
        (program_account.as_str(), member_account.as_str())
    } else {
        (member_account.as_str(), program_account.as_str())
    };
    ledger::insert_transfer(
        c,
        &ledger::NewTransfer {
            id: TransferId::generate(),
            program_id: p.program,
            member_id: p.member,
            kind: p.kind,
            debit_account_id: debit,
            credit_account_id: credit,
            amount: p.amount,
            balance_after,
            reason: p.reason,
            occurred_at: p.occurred_at,
            recorded_at: ctx.now,
        },
    )
    .await?;
    Ok(Some(balance_after))
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).expect("our types serialise")
}
