//! Manual adjustments by an operator or an API key: always with a reason, always audited.

use super::{Guard, Posting, load_member, post};
use crate::StepResult;
use crate::commands::Ctx;
use crate::usecases::admin::record;
use serde_json::{Value, json};
use tally_domain::ids::MemberId;
use tally_domain::inputs::AdjustmentRequest;
use tally_domain::model::{TransferKind, TransferReason};
use tally_domain::program::NegativeBalancePolicy;
use tally_domain::{DomainError, Points};
use tally_store::queries::programs;

pub async fn adjust<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    member_id: &MemberId,
    r: &AdjustmentRequest,
) -> StepResult<Value> {
    let member = load_member(c, ctx, member_id).await?;
    let program = programs::get_program(c, &ctx.tenant, &member.program_id)
        .await?
        .ok_or_else(|| DomainError::not_found("program"))?;
    let positive = r.points.is_positive();
    let reason = TransferReason {
        actor: Some(ctx.actor.clone()),
        note: Some(r.reason.clone()),
        ..TransferReason::default()
    };
    let posting = Posting {
        program: &member.program_id,
        member: member_id,
        kind: TransferKind::Adjust,
        amount: Points(r.points.value().abs()),
        adjustment_positive: positive,
        reason: &reason,
        occurred_at: ctx.now,
    };
    // Taking points never drives a balance negative unless the program allows negative balances.
    let guard = match program.negative_balance {
        NegativeBalancePolicy::AllowNegative => Guard::MayGoNegative,
        NegativeBalancePolicy::FloorAtZero => Guard::Covered,
    };
    let Some(balance) = post(c, ctx, &posting, guard).await? else {
        return Err(DomainError::refused(
            "insufficient_points",
            format!(
                "cannot take {} points; the member has {} available",
                posting.amount, member.balance.available
            ),
        )
        .into());
    };
    record(
        c,
        ctx,
        "member.points_adjusted",
        member_id.as_str(),
        json!({ "points": r.points, "reason": r.reason }),
    )
    .await?;
    Ok(json!({
        "member_id": member_id,
        "points": r.points,
        "reason": r.reason,
        "balance": { "available": balance, "pending": member.balance.pending },
    }))
}

use tally_store::Conn;
