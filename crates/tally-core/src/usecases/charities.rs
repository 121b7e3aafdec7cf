//! Charities: a program's partners, members' gifts of points, and the program's payouts.
//!
//! A gift is a `donate` transfer from the member into the program's donations account, spent
//! like a redemption (a conditional write: only what the balance covers, oldest points first),
//! converted to money at the program's point value at that moment and recorded next to it.
//! Charity deals (`usecases::offers`) add the merchant's own gifts for members' purchases.
//! Payouts are money the program paid the charity; what it still owes is the money given (by
//! members' points and by the merchant) less the money paid.

use super::{Guard, Posting, load_program, post, require_active, to_json};
use crate::StepResult;
use crate::commands::Ctx;
use crate::usecases::admin::record;
use serde_json::{Value, json};
use tally_domain::DomainError;
use tally_domain::charities::{CharityInput, DonationRequest, SettlementInput, amount_minor};
use tally_domain::ids::{CharityId, MemberId, ProgramId, new_ulid};
use tally_domain::model::{TransferKind, TransferReason};
use tally_store::Conn;
use tally_store::queries::charities::{self as store, CharityRow, NewDonation, NewSettlement};
use tally_store::queries::{members, programs};

/// How a charity is shown: with what was given and what is still owed.
pub(crate) fn view(c: &CharityRow) -> Value {
    json!({
        "id": c.id,
        "program_id": c.program_id,
        "name": c.name,
        "description": c.description,
        "status": c.status,
        "created_at": c.created_at,
        "donated_points": c.donated_points,
        "donated_minor": c.donated_minor,
        "donors": c.donors,
        "merchant_minor": c.merchant_minor,
        "settled_minor": c.settled_minor,
        "owed_minor": c.donated_minor + c.merchant_minor - c.settled_minor,
    })
}

async fn load<C: Conn>(c: &mut C, ctx: &Ctx, id: &CharityId) -> StepResult<CharityRow> {
    store::get(c, &ctx.tenant, id)
        .await?
        .ok_or_else(|| DomainError::not_found("charity").into())
}

pub async fn create<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    input: &CharityInput,
) -> StepResult<Value> {
    load_program(c, ctx, program).await?;
    let row = CharityRow {
        id: CharityId::generate(),
        program_id: program.clone(),
        name: input.name.clone(),
        description: input.description.clone(),
        status: "active".into(),
        created_at: ctx.now,
        donated_points: 0,
        donated_minor: 0,
        donors: 0,
        settled_minor: 0,
        merchant_minor: 0,
    };
    store::insert(c, &ctx.tenant, &row).await?;
    record(
        c,
        ctx,
        "charity.created",
        row.id.as_str(),
        json!({ "name": row.name }),
    )
    .await?;
    Ok(view(&row))
}

pub async fn set_status<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    id: &CharityId,
    status: &str,
) -> StepResult<Value> {
    load(c, ctx, id).await?;
    store::set_status(c, id, status).await?;
    record(
        c,
        ctx,
        "charity.status_set",
        id.as_str(),
        json!({ "status": status }),
    )
    .await?;
    Ok(view(&load(c, ctx, id).await?))
}

/// A member gives points to a charity of their program.
pub async fn donate<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    member_id: &MemberId,
    r: &DonationRequest,
) -> StepResult<Value> {
    let member = members::get_member(c, &ctx.tenant, member_id)
        .await?
        .ok_or_else(|| DomainError::not_found("member"))?;
    require_active(&member)?;
    let charity = store::get(c, &ctx.tenant, &r.charity_id)
        .await?
        .filter(|ch| ch.program_id == member.program_id)
        .ok_or_else(|| {
            DomainError::invalid(
                "/charity_id",
                "no charity of the member's program has this id",
            )
        })?;
    if charity.status != "active" {
        return Err(DomainError::refused(
            "charity_not_active",
            format!("`{}` does not take gifts now", charity.name),
        )
        .into());
    }
    let program = load_program(c, ctx, &member.program_id).await?;
    let display = programs::get_display(c, &program.id).await?;
    let amount = amount_minor(r.points, display.point_value_milli);
    let reason = TransferReason {
        charity_id: Some(charity.id.clone()),
        actor: Some(ctx.actor.clone()),
        ..TransferReason::default()
    };
    let posting = Posting {
        program: &member.program_id,
        member: member_id,
        kind: TransferKind::Donate,
        amount: r.points,
        adjustment_positive: false,
        reason: &reason,
        occurred_at: ctx.now,
    };
    let Some(balance) = post(c, ctx, &posting, Guard::Covered).await? else {
        return Err(DomainError::refused(
            "insufficient_points",
            format!(
                "the member has {} points available, not {}",
                member.balance.available, r.points
            ),
        )
        .into());
    };
    let id = format!("don_{}", new_ulid());
    store::insert_donation(
        c,
        &NewDonation {
            id: &id,
            charity: &charity.id,
            member: member_id,
            points: r.points.value(),
            amount_minor: amount,
            at: ctx.now,
        },
    )
    .await?;
    Ok(json!({
        "id": id,
        "charity_id": charity.id,
        "charity_name": charity.name,
        "member_id": member_id,
        "points": r.points,
        "amount_minor": amount,
        "currency": program.currency.code(),
        "balance": {"available": balance, "pending": member.balance.pending},
        "created_at": ctx.now,
    }))
}

/// Records money the program paid a charity (never more than it owes).
pub async fn settle<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    id: &CharityId,
    s: &SettlementInput,
) -> StepResult<Value> {
    let charity = load(c, ctx, id).await?;
    let owed = charity.donated_minor + charity.merchant_minor - charity.settled_minor;
    if s.amount_minor > owed {
        return Err(DomainError::refused(
            "settlement_exceeds_owed",
            format!(
                "`{}` is owed {owed} (minor units); a payout of {} is more",
                charity.name, s.amount_minor
            ),
        )
        .into());
    }
    let settlement = format!("set_{}", new_ulid());
    store::insert_settlement(
        c,
        &NewSettlement {
            id: &settlement,
            charity: id,
            amount_minor: s.amount_minor,
            reference: &s.reference,
            settled_on: &s.settled_on.to_string(),
            actor: &ctx.actor,
            at: ctx.now,
        },
    )
    .await?;
    record(
        c,
        ctx,
        "charity.settled",
        id.as_str(),
        json!({ "amount_minor": s.amount_minor, "reference": s.reference, "settled_on": s.settled_on.to_string() }),
    )
    .await?;
    Ok(to_json(&view(&load(c, ctx, id).await?)))
}
