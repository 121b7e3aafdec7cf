//! The reward catalog and redemptions.
//!
//! A redemption takes points (a conditional write on the balance), one unit of stock
//! (conditional on stock left) and one of the member's claims (conditional on the limit), all
//! in one transaction: if any is refused, none happened.

use super::{
    Guard, Posting, load_member, load_program, post, require_active, resolve_member, to_json,
};
use crate::StepResult;
use crate::commands::{Ctx, RewardPatch};
use crate::usecases::admin::record;
use serde_json::{Value, json};
use tally_domain::fulfilment::{Fulfilment, FulfilmentStatus, FulfilmentUpdate, RewardKind};
use tally_domain::ids::{ProgramId, RedemptionId, RewardId};
use tally_domain::inputs::{NewReward, RedeemRequest};
use tally_domain::model::{Redemption, RedemptionStatus, Reward, TransferKind, TransferReason};
use tally_domain::{DomainError, Points};
use tally_store::Conn;
use tally_store::queries::{rewards, segments as segment_rows, vouchers};

/// A reward's voucher pool must be an active pool of the program.
async fn check_pool<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    pool: &tally_domain::ids::VoucherPoolId,
) -> StepResult<()> {
    match vouchers::get_pool(c, &ctx.tenant, pool).await? {
        Some(p) if &p.program_id == program && p.status == "active" => Ok(()),
        Some(p) if &p.program_id == program => {
            Err(DomainError::invalid("/voucher_pool_id", "the voucher pool is archived").into())
        }
        _ => Err(DomainError::invalid(
            "/voucher_pool_id",
            "no voucher pool of this program has this id",
        )
        .into()),
    }
}

/// Segments a reward or an offer is kept for must be active segments of the program; `at` is
/// the list's pointer.
pub(crate) async fn check_segments<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    keys: &[String],
    at: &str,
) -> StepResult<()> {
    let mut f = tally_domain::error::Fields::new();
    for (i, key) in keys.iter().enumerate() {
        let found = segment_rows::get_by_key(c, program, key).await?;
        if found.is_none_or(|s| s.status != "active") {
            f.push(
                format!("{at}/{i}"),
                "is not an active segment of this program",
            );
        }
    }
    f.finish()?;
    Ok(())
}

/// Whether the member may have a reward kept for some segments: `Err` names them.
async fn segment_allows<C: Conn>(
    c: &mut C,
    reward: &Reward,
    member: &tally_domain::ids::MemberId,
) -> StepResult<()> {
    if reward.segments.is_empty() {
        return Ok(());
    }
    let mine = segment_rows::keys_of_member(c, member).await?;
    if reward.segments.iter().any(|k| mine.contains(k)) {
        return Ok(());
    }
    let mut names = Vec::new();
    for key in &reward.segments {
        if let Some(s) = segment_rows::get_by_key(c, &reward.program_id, key).await? {
            names.push(s.name);
        }
    }
    Err(DomainError::refused(
        "reward_not_available",
        format!("`{}` is for {} only", reward.name, names.join(" and ")),
    )
    .into())
}

/// Tiers a reward or an offer is kept for must be levels of the program's tier plan; `at` is
/// the list's pointer.
pub(crate) async fn check_tiers<C: Conn>(
    c: &mut C,
    program: &tally_domain::program::Program,
    tiers: &[String],
    at: &str,
) -> StepResult<()> {
    if tiers.is_empty() {
        return Ok(());
    }
    let plan = crate::earning::active_rules(c, program)
        .await?
        .tier_plan
        .clone();
    let Some(plan) = plan else {
        return Err(DomainError::invalid(at, "the program has no tiers").into());
    };
    let mut f = tally_domain::error::Fields::new();
    for (i, name) in tiers.iter().enumerate() {
        if plan.level_named(name).is_none() {
            let names: Vec<&str> = plan.levels.iter().map(|l| l.name.as_str()).collect();
            f.push(
                format!("{at}/{i}"),
                format!("is not a tier of this program ({})", names.join(", ")),
            );
        }
    }
    f.finish()?;
    Ok(())
}

/// Whether the member may have a reward kept for some tiers: `Err` names the tiers.
pub(crate) async fn tier_allows<C: Conn>(
    c: &mut C,
    program: &tally_domain::program::Program,
    reward: &Reward,
    member: &tally_domain::ids::MemberId,
) -> StepResult<()> {
    if reward.tiers.is_empty() {
        return Ok(());
    }
    let compiled = crate::earning::active_rules(c, program).await?;
    let tier = crate::tiers::current_name(c, compiled.tier_plan.as_ref(), member).await?;
    if tier.is_some_and(|t| reward.tiers.contains(&t)) {
        return Ok(());
    }
    Err(DomainError::refused(
        "reward_not_available",
        format!(
            "`{}` is for {} members only",
            reward.name,
            reward.tiers.join(" and ")
        ),
    )
    .into())
}

pub async fn create<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    r: &NewReward,
) -> StepResult<Value> {
    let program_row = load_program(c, ctx, program).await?;
    check_tiers(c, &program_row, &r.tiers, "/tiers").await?;
    if let Some(pool) = &r.voucher_pool_id {
        check_pool(c, ctx, program, pool).await?;
    }
    check_segments(c, program, &r.segments, "/segments").await?;
    let reward = Reward {
        id: RewardId::generate(),
        program_id: program.clone(),
        name: r.name.clone(),
        description: r.description.clone(),
        cost: r.cost,
        stock_remaining: r.stock,
        active_from: r.active_from,
        active_until: r.active_until,
        per_member_limit: r.per_member_limit,
        tiers: r.tiers.clone(),
        voucher_pool_id: r.voucher_pool_id.clone(),
        segments: r.segments.clone(),
        kind: r.kind,
        sku: r.sku.clone(),
        active: true,
        created_at: ctx.now,
    };
    rewards::insert_reward(c, &ctx.tenant, &reward).await?;
    record(
        c,
        ctx,
        "reward.created",
        reward.id.as_str(),
        json!({ "name": reward.name, "cost": reward.cost }),
    )
    .await?;
    Ok(to_json(&reward))
}

pub async fn update<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    id: &RewardId,
    patch: &RewardPatch,
) -> StepResult<Value> {
    let mut reward = rewards::get_reward(c, &ctx.tenant, id)
        .await?
        .ok_or_else(|| DomainError::not_found("reward"))?;
    if let Some(name) = &patch.name {
        reward.name = name.clone();
    }
    if let Some(description) = &patch.description {
        reward.description = description.clone();
    }
    if let Some(cost) = patch.cost {
        reward.cost = cost;
    }
    if let Some(stock) = patch.stock {
        reward.stock_remaining = stock;
    }
    if let Some(limit) = patch.per_member_limit {
        reward.per_member_limit = limit;
    }
    if let Some(active) = patch.active {
        reward.active = active;
    }
    if let Some(pool) = &patch.voucher_pool_id {
        if let Some(pool) = pool {
            check_pool(c, ctx, &reward.program_id, pool).await?;
        }
        reward.voucher_pool_id = pool.clone();
    }
    if let Some(keys) = &patch.segments {
        check_segments(c, &reward.program_id, keys, "/segments").await?;
        reward.segments = keys.clone();
    }
    if let Some(tiers) = &patch.tiers {
        let program = load_program(c, ctx, &reward.program_id).await?;
        check_tiers(c, &program, tiers, "/tiers").await?;
        reward.tiers = tiers.clone();
    }
    rewards::update_reward(c, &reward).await?;
    record(
        c,
        ctx,
        "reward.updated",
        reward.id.as_str(),
        json!({ "name": reward.name, "active": reward.active }),
    )
    .await?;
    Ok(to_json(&reward))
}

/// `R7K-3QF-X9P`: 9 characters, about 44 bits; unique per program (a clash is retried).
/// A reward given free (a completed stamp card, a rule's `reward` effect): an issued
/// redemption with cost 0, not taken from stock or the per-member limit. Answers
/// `{"redemption_id", "code", "reward_name"}`.
pub(crate) async fn grant_free<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    tenant: &tally_domain::ids::TenantId,
    reward: &tally_domain::model::Reward,
    member: &tally_domain::ids::MemberId,
) -> StepResult<Value> {
    let redemption = Redemption {
        id: RedemptionId::generate(),
        program_id: reward.program_id.clone(),
        member_id: member.clone(),
        reward_id: reward.id.clone(),
        reward_name: reward.name.clone(),
        cost: Points::ZERO,
        code: new_redemption_code(),
        voucher_code: None,
        fulfilment: None,
        status: RedemptionStatus::Issued,
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    rewards::insert_redemption(c, tenant, &redemption).await?;
    Ok(json!({
        "redemption_id": redemption.id,
        "code": redemption.code,
        "reward_name": redemption.reward_name,
    }))
}

fn new_redemption_code() -> String {
    let chars: Vec<char> = crate::secrets::random_code(9).chars().collect();
    chars
        .chunks(3)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

pub async fn redeem<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    r: &RedeemRequest,
) -> StepResult<Value> {
    let program_row = load_program(c, ctx, program).await?;
    let member_id = resolve_member(c, ctx, program, &r.member).await?;
    let reward = rewards::get_reward(c, &ctx.tenant, &r.reward_id)
        .await?
        .filter(|x| &x.program_id == program)
        .ok_or_else(|| {
            DomainError::invalid("/reward_id", "no reward of this program has this id")
        })?;
    let fulfilment = match (reward.kind, &r.delivery_address) {
        (RewardKind::Physical, Some(address)) => Some(Fulfilment {
            status: FulfilmentStatus::Requested,
            address: address.clone(),
            tracking: None,
        }),
        (RewardKind::Physical, None) => {
            return Err(DomainError::invalid(
                "/delivery_address",
                format!("is required: `{}` is sent to the member", reward.name),
            )
            .into());
        }
        (_, Some(_)) => {
            return Err(DomainError::invalid(
                "/delivery_address",
                format!("`{}` is not sent, so it takes no address", reward.name),
            )
            .into());
        }
        (_, None) => None,
    };
    let member = load_member(c, ctx, &member_id).await?;
    require_active(&member)?;
    let in_window = reward.active_from.is_none_or(|from| ctx.now >= from)
        && reward.active_until.is_none_or(|until| ctx.now < until);
    if !reward.active || !in_window {
        return Err(DomainError::refused(
            "reward_not_available",
            format!("`{}` is not available now", reward.name),
        )
        .into());
    }
    tier_allows(c, &program_row, &reward, &member_id).await?;
    segment_allows(c, &reward, &member_id).await?;
    if member.balance.available < reward.cost {
        return Err(insufficient(reward.cost, member.balance.available));
    }
    if let Some(limit) = reward.per_member_limit
        && !rewards::claim(c, &member_id, &reward.id, limit).await?
    {
        return Err(DomainError::refused(
            "limit_reached",
            format!(
                "a member may redeem `{}` at most {limit} times",
                reward.name
            ),
        )
        .into());
    }
    if !rewards::take_stock(c, &reward.id).await? {
        return Err(DomainError::refused(
            "out_of_stock",
            format!("`{}` is out of stock", reward.name),
        )
        .into());
    }
    // A voucher reward hands the member the pool's next free code (a personal code).
    let voucher_code = match &reward.voucher_pool_id {
        None => None,
        Some(pool) => Some(
            vouchers::assign_code(c, pool, &member_id)
                .await?
                .ok_or_else(|| {
                    DomainError::refused(
                        "voucher_pool_empty",
                        format!("`{}` has no voucher code left", reward.name),
                    )
                })?
                .shown,
        ),
    };
    let redemption = Redemption {
        id: RedemptionId::generate(),
        program_id: program.clone(),
        member_id: member_id.clone(),
        reward_id: reward.id.clone(),
        reward_name: reward.name.clone(),
        cost: reward.cost,
        code: new_redemption_code(),
        voucher_code,
        fulfilment,
        status: RedemptionStatus::Issued,
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    let reason = TransferReason {
        redemption_id: Some(redemption.id.clone()),
        reward_id: Some(reward.id.clone()),
        actor: Some(ctx.actor.clone()),
        ..TransferReason::default()
    };
    let posting = Posting {
        program,
        member: &member_id,
        kind: TransferKind::Redeem,
        amount: reward.cost,
        adjustment_positive: false,
        reason: &reason,
        occurred_at: ctx.now,
    };
    // The read above was only a friendly early answer; this conditional write is the guard.
    let Some(balance) = post(c, ctx, &posting, Guard::Covered).await? else {
        return Err(insufficient(reward.cost, member.balance.available));
    };
    rewards::insert_redemption(c, &ctx.tenant, &redemption).await?;
    let mut answer = to_json(&redemption);
    answer["balance"] = json!({ "available": balance, "pending": member.balance.pending });
    let hooks = &crate::earning::active_rules(c, &program_row)
        .await?
        .webhooks;
    let cause = redemption.id.as_str();
    super::webhooks::publish(c, ctx, hooks, program, "reward.redeemed", cause, &answer).await?;
    Ok(answer)
}

fn insufficient(cost: Points, available: Points) -> crate::StepError {
    DomainError::refused(
        "insufficient_points",
        format!("this reward costs {cost} points; the member has {available} available"),
    )
    .into()
}

pub async fn cancel<C: Conn>(c: &mut C, ctx: &Ctx, id: &RedemptionId) -> StepResult<Value> {
    let redemption = settle(
        c,
        ctx,
        id,
        RedemptionStatus::Cancelled,
        "redemption_not_cancellable",
        "can no longer be cancelled",
    )
    .await?;
    if let Some(code) = &redemption.voucher_code {
        let canonical = tally_domain::vouchers::canonical_code(code);
        if !vouchers::unassign_code(c, &redemption.program_id, &canonical, &redemption.member_id)
            .await?
        {
            return Err(DomainError::conflict(
                "redemption_not_cancellable",
                format!("its voucher {code} was already used"),
            )
            .into());
        }
    }
    if !redemption.cost.is_positive() {
        // Given free (a completed stamp card): no points, stock or claim to give back.
        return Ok(to_json(&redemption));
    }
    let reason = TransferReason {
        redemption_id: Some(redemption.id.clone()),
        reward_id: Some(redemption.reward_id.clone()),
        actor: Some(ctx.actor.clone()),
        ..TransferReason::default()
    };
    let posting = Posting {
        program: &redemption.program_id,
        member: &redemption.member_id,
        kind: TransferKind::Refund,
        amount: redemption.cost,
        adjustment_positive: false,
        reason: &reason,
        occurred_at: ctx.now,
    };
    let balance = post(c, ctx, &posting, Guard::MayGoNegative)
        .await?
        .expect("credits always post");
    rewards::return_stock(c, &redemption.reward_id).await?;
    rewards::unclaim(c, &redemption.member_id, &redemption.reward_id).await?;
    let mut answer = to_json(&redemption);
    answer["balance"] = json!({ "available": balance });
    Ok(answer)
}

/// A physical reward moves on: shipped (with the carrier's tracking) or delivered (which uses the
/// redemption up, like a code used at the till).
pub async fn fulfil<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    id: &RedemptionId,
    update: &FulfilmentUpdate,
) -> StepResult<Value> {
    let redemption = rewards::get_redemption(c, &ctx.tenant, id)
        .await?
        .ok_or_else(|| DomainError::not_found("redemption"))?;
    let Some(mut fulfilment) = redemption.fulfilment.clone() else {
        return Err(DomainError::refused(
            "fulfilment_not_allowed",
            format!("`{}` is not a physical reward", redemption.reward_name),
        )
        .into());
    };
    if redemption.status != RedemptionStatus::Issued {
        return Err(DomainError::conflict(
            "fulfilment_not_allowed",
            format!("the redemption is {}", redemption.status.as_str()),
        )
        .into());
    }
    if !fulfilment.status.may_become(update.status) {
        return Err(DomainError::conflict(
            "fulfilment_not_allowed",
            format!(
                "a reward {} cannot become {}",
                fulfilment.status.as_str(),
                update.status.as_str()
            ),
        )
        .into());
    }
    fulfilment.status = update.status;
    if update.tracking.is_some() {
        fulfilment.tracking = update.tracking.clone();
    }
    rewards::set_fulfilment(c, id, &fulfilment, ctx.now).await?;
    if update.status == FulfilmentStatus::Delivered {
        settle(
            c,
            ctx,
            id,
            RedemptionStatus::Consumed,
            "fulfilment_not_allowed",
            "cannot be delivered",
        )
        .await?;
    }
    record(
        c,
        ctx,
        "redemption.fulfilment",
        id.as_str(),
        json!({ "status": update.status.as_str(), "tracking": fulfilment.tracking }),
    )
    .await?;
    let redemption = rewards::get_redemption(c, &ctx.tenant, id)
        .await?
        .expect("read above");
    Ok(to_json(&redemption))
}

pub async fn consume<C: Conn>(c: &mut C, ctx: &Ctx, id: &RedemptionId) -> StepResult<Value> {
    let redemption = settle(
        c,
        ctx,
        id,
        RedemptionStatus::Consumed,
        "redemption_not_consumable",
        "cannot be used again",
    )
    .await?;
    Ok(to_json(&redemption))
}

/// Moves an issued redemption to its final status (conditionally: exactly one of concurrent
/// cancels and consumes wins); a redemption already settled is a conflict naming its status.
async fn settle<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    id: &RedemptionId,
    to: RedemptionStatus,
    code: &str,
    refusal: &str,
) -> StepResult<Redemption> {
    let mut redemption = rewards::get_redemption(c, &ctx.tenant, id)
        .await?
        .ok_or_else(|| DomainError::not_found("redemption"))?;
    if !rewards::change_redemption_status(c, id, RedemptionStatus::Issued, to, ctx.now).await? {
        let detail = format!(
            "the redemption is {} and {refusal}",
            redemption.status.as_str()
        );
        return Err(DomainError::conflict(code, detail).into());
    }
    redemption.status = to;
    redemption.updated_at = ctx.now;
    Ok(redemption)
}
