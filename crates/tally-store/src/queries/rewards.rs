//! The reward catalog and redemptions. Stock and per-member limits are conditional writes, so
//! they hold under any number of concurrent redemptions.

use super::{Page, opt_ts, page_query, to_opt_ts, to_ts, ts};
use crate::{Conn, Row, StoreError};
use tally_domain::fulfilment::{Fulfilment, RewardKind};
use tally_domain::ids::{MemberId, ProgramId, RedemptionId, RewardId, TenantId};
use tally_domain::model::{Redemption, RedemptionStatus, Reward};
use tally_domain::{Points, Timestamp};

pub async fn insert_reward<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    r: &Reward,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO rewards (id, tenant_id, program_id, name, description, cost, stock_remaining, active_from_us, active_until_us,
             per_member_limit, active, created_at_us, tiers, voucher_pool_id, segments, kind, sku)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
        &[
            r.id.as_str().into(),
            tenant.as_str().into(),
            r.program_id.as_str().into(),
            r.name.as_str().into(),
            r.description.as_deref().into(),
            r.cost.value().into(),
            r.stock_remaining.into(),
            opt_ts(r.active_from),
            opt_ts(r.active_until),
            r.per_member_limit.into(),
            r.active.into(),
            ts(r.created_at),
            super::to_json(&r.tiers),
            r.voucher_pool_id.as_ref().map(|p| p.as_str()).into(),
            super::to_json(&r.segments),
            r.kind.as_str().into(),
            r.sku.as_deref().into(),
        ],
    )
    .await?;
    Ok(())
}

/// Writes back a reward's editable fields (stock is changed only by [`take_stock`] and
/// [`return_stock`], or here by an operator restocking).
pub async fn update_reward<C: Conn>(c: &mut C, r: &Reward) -> Result<(), StoreError> {
    c.execute(
        "UPDATE rewards SET name = $2, description = $3, cost = $4, stock_remaining = $5, active_from_us = $6, active_until_us = $7,
             per_member_limit = $8, active = $9, tiers = $10, voucher_pool_id = $11, segments = $12
         WHERE id = $1",
        &[
            r.id.as_str().into(),
            r.name.as_str().into(),
            r.description.as_deref().into(),
            r.cost.value().into(),
            r.stock_remaining.into(),
            opt_ts(r.active_from),
            opt_ts(r.active_until),
            r.per_member_limit.into(),
            r.active.into(),
            super::to_json(&r.tiers),
            r.voucher_pool_id.as_ref().map(|p| p.as_str()).into(),
            super::to_json(&r.segments),
        ],
    )
    .await?;
    Ok(())
}

const REWARD_COLS: &str = "id, program_id, name, description, cost, stock_remaining, active_from_us, active_until_us, per_member_limit, active, created_at_us, seq, tiers, voucher_pool_id, segments, kind, sku";

fn decode_reward(r: &Row) -> Result<(i64, Reward), StoreError> {
    Ok((
        r.int(11)?,
        Reward {
            id: RewardId::from_trusted(r.text(0)?),
            program_id: ProgramId::from_trusted(r.text(1)?),
            name: r.text(2)?,
            description: r.opt_text(3)?,
            cost: Points(r.int(4)?),
            stock_remaining: r.opt_int(5)?,
            active_from: to_opt_ts(r.opt_int(6)?)?,
            active_until: to_opt_ts(r.opt_int(7)?)?,
            per_member_limit: r.opt_int(8)?,
            tiers: super::json(&r.text(12)?)?,
            voucher_pool_id: r
                .opt_text(13)?
                .map(tally_domain::ids::VoucherPoolId::from_trusted),
            segments: super::json(&r.text(14)?)?,
            kind: RewardKind::parse(&r.text(15)?).map_err(StoreError::Decode)?,
            sku: r.opt_text(16)?,
            active: r.boolean(9)?,
            created_at: to_ts(r.int(10)?)?,
        },
    ))
}

pub async fn get_reward<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: &RewardId,
) -> Result<Option<Reward>, StoreError> {
    let sql = format!("SELECT {REWARD_COLS} FROM rewards WHERE id = $1 AND tenant_id = $2");
    c.query_one(&sql, &[id.as_str().into(), tenant.as_str().into()])
        .await?
        .map(|r| Ok(decode_reward(&r)?.1))
        .transpose()
}

pub async fn list_rewards<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    program: &ProgramId,
    after_seq: Option<i64>,
    limit: Option<i64>,
) -> Result<Page<Reward>, StoreError> {
    let sql = format!(
        "SELECT {REWARD_COLS} FROM rewards WHERE tenant_id = $1 AND program_id = $2 AND seq > $3 ORDER BY seq LIMIT $4"
    );
    page_query(
        c,
        &sql,
        vec![
            tenant.as_str().into(),
            program.as_str().into(),
            after_seq.unwrap_or(0).into(),
        ],
        limit,
        decode_reward,
    )
    .await
}

/// The program's active rewards kept for some tiers.
pub async fn tier_rewards<C: Conn>(
    c: &mut C,
    program: &ProgramId,
) -> Result<Vec<Reward>, StoreError> {
    let sql = format!(
        "SELECT {REWARD_COLS} FROM rewards WHERE program_id = $1 AND active AND tiers <> '[]' ORDER BY seq"
    );
    c.query(&sql, &[program.as_str().into()])
        .await?
        .iter()
        .map(|r| Ok(decode_reward(r)?.1))
        .collect()
}

/// Takes one item of stock if any is left (always succeeds for unlimited rewards).
pub async fn take_stock<C: Conn>(c: &mut C, reward: &RewardId) -> Result<bool, StoreError> {
    let changed = c
        .execute(
            "UPDATE rewards SET stock_remaining = stock_remaining - 1 WHERE id = $1 AND (stock_remaining IS NULL OR stock_remaining > 0)",
            &[reward.as_str().into()],
        )
        .await?;
    Ok(changed == 1)
}

pub async fn return_stock<C: Conn>(c: &mut C, reward: &RewardId) -> Result<(), StoreError> {
    c.execute("UPDATE rewards SET stock_remaining = stock_remaining + 1 WHERE id = $1 AND stock_remaining IS NOT NULL", &[reward.as_str().into()])
        .await?;
    Ok(())
}

/// Counts one more claim of a reward by a member if the limit allows it.
pub async fn claim<C: Conn>(
    c: &mut C,
    member: &MemberId,
    reward: &RewardId,
    limit: i64,
) -> Result<bool, StoreError> {
    let changed = c
        .execute(
            "INSERT INTO reward_claims (member_id, reward_id, claimed) VALUES ($1, $2, 1)
             ON CONFLICT (member_id, reward_id) DO UPDATE SET claimed = reward_claims.claimed + 1
             WHERE reward_claims.claimed < $3",
            &[member.as_str().into(), reward.as_str().into(), limit.into()],
        )
        .await?;
    Ok(changed == 1)
}

pub async fn unclaim<C: Conn>(
    c: &mut C,
    member: &MemberId,
    reward: &RewardId,
) -> Result<(), StoreError> {
    c.execute("UPDATE reward_claims SET claimed = claimed - 1 WHERE member_id = $1 AND reward_id = $2 AND claimed > 0", &[
        member.as_str().into(),
        reward.as_str().into(),
    ])
    .await?;
    Ok(())
}

pub async fn insert_redemption<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    r: &Redemption,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO redemptions (id, tenant_id, program_id, member_id, reward_id, reward_name, cost, code, status, created_at_us, updated_at_us, voucher_code,
             fulfilment_status, fulfilment)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        &[
            r.id.as_str().into(),
            tenant.as_str().into(),
            r.program_id.as_str().into(),
            r.member_id.as_str().into(),
            r.reward_id.as_str().into(),
            r.reward_name.as_str().into(),
            r.cost.value().into(),
            r.code.as_str().into(),
            r.status.as_str().into(),
            ts(r.created_at),
            ts(r.updated_at),
            r.voucher_code.as_deref().into(),
            r.fulfilment.as_ref().map(|f| f.status.as_str()).into(),
            r.fulfilment
                .as_ref()
                .map(|f| serde_json::to_string(f).expect("serialises"))
                .into(),
        ],
    )
    .await?;
    Ok(())
}

const REDEMPTION_COLS: &str = "id, program_id, member_id, reward_id, reward_name, cost, code, status, created_at_us, updated_at_us, seq, voucher_code, fulfilment";

fn decode_redemption(r: &Row) -> Result<(i64, Redemption), StoreError> {
    Ok((
        r.int(10)?,
        Redemption {
            id: RedemptionId::from_trusted(r.text(0)?),
            program_id: ProgramId::from_trusted(r.text(1)?),
            member_id: MemberId::from_trusted(r.text(2)?),
            reward_id: RewardId::from_trusted(r.text(3)?),
            reward_name: r.text(4)?,
            cost: Points(r.int(5)?),
            code: r.text(6)?,
            voucher_code: r.opt_text(11)?,
            fulfilment: r
                .opt_text(12)?
                .map(|raw| super::json::<Fulfilment>(&raw))
                .transpose()?,
            status: RedemptionStatus::parse(&r.text(7)?)
                .ok_or_else(|| StoreError::Decode("redemption status".into()))?,
            created_at: to_ts(r.int(8)?)?,
            updated_at: to_ts(r.int(9)?)?,
        },
    ))
}

pub async fn get_redemption<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: &RedemptionId,
) -> Result<Option<Redemption>, StoreError> {
    let sql = format!("SELECT {REDEMPTION_COLS} FROM redemptions WHERE id = $1 AND tenant_id = $2");
    c.query_one(&sql, &[id.as_str().into(), tenant.as_str().into()])
        .await?
        .map(|r| Ok(decode_redemption(&r)?.1))
        .transpose()
}

pub async fn find_redemption_by_code<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    program: &ProgramId,
    code: &str,
) -> Result<Option<Redemption>, StoreError> {
    let sql = format!(
        "SELECT {REDEMPTION_COLS} FROM redemptions WHERE program_id = $1 AND code = $2 AND tenant_id = $3"
    );
    c.query_one(
        &sql,
        &[program.as_str().into(), code.into(), tenant.as_str().into()],
    )
    .await?
    .map(|r| Ok(decode_redemption(&r)?.1))
    .transpose()
}

/// Moves a redemption from one status to another; `false` if it was not in `from` any more
/// (someone else cancelled or consumed it first).
pub async fn change_redemption_status<C: Conn>(
    c: &mut C,
    id: &RedemptionId,
    from: RedemptionStatus,
    to: RedemptionStatus,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let changed = c
        .execute(
            "UPDATE redemptions SET status = $3, updated_at_us = $4 WHERE id = $1 AND status = $2",
            &[
                id.as_str().into(),
                from.as_str().into(),
                to.as_str().into(),
                ts(now),
            ],
        )
        .await?;
    Ok(changed == 1)
}

pub async fn member_redemptions<C: Conn>(
    c: &mut C,
    member: &MemberId,
    before_seq: Option<i64>,
    limit: Option<i64>,
) -> Result<Page<Redemption>, StoreError> {
    let sql = format!(
        "SELECT {REDEMPTION_COLS} FROM redemptions WHERE member_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3"
    );
    page_query(
        c,
        &sql,
        vec![
            member.as_str().into(),
            before_seq.unwrap_or(i64::MAX).into(),
        ],
        limit,
        decode_redemption,
    )
    .await
}

/// Writes a physical reward's fulfilment (its status kept in its own column for the queue).
pub async fn set_fulfilment<C: Conn>(
    c: &mut C,
    id: &RedemptionId,
    f: &Fulfilment,
    now: Timestamp,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE redemptions SET fulfilment_status = $2, fulfilment = $3, updated_at_us = $4
         WHERE id = $1",
        &[
            id.as_str().into(),
            f.status.as_str().into(),
            serde_json::to_string(f).expect("serialises").into(),
            ts(now),
        ],
    )
    .await?;
    Ok(())
}

/// Physical rewards of a program to send or on their way (still issued), and delivered ones,
/// oldest first; with `status`, only those in it.
pub async fn fulfilment_queue<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    status: Option<&str>,
    after_seq: Option<i64>,
    limit: Option<i64>,
) -> Result<Page<Redemption>, StoreError> {
    let sql = format!(
        "SELECT {REDEMPTION_COLS} FROM redemptions
         WHERE program_id = $1 AND fulfilment_status IS NOT NULL
           AND (status = 'issued' OR fulfilment_status = 'delivered')
           AND ($2 = '' OR fulfilment_status = $2) AND seq > $3
         ORDER BY seq LIMIT $4"
    );
    page_query(
        c,
        &sql,
        vec![
            program.as_str().into(),
            status.unwrap_or("").into(),
            after_seq.unwrap_or(0).into(),
        ],
        limit,
        decode_redemption,
    )
    .await
}
