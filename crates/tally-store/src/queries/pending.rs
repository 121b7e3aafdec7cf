//! Pending points: what each purchase put in the member's pending account and when it becomes
//! available (see migration 0004). The rows of a member add up to their pending balance.

use super::{to_ts, ts};
use crate::{Conn, StoreError};
use tally_domain::Timestamp;
use tally_domain::ids::{MemberId, ProgramId, PurchaseId};

pub async fn insert<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    member: &MemberId,
    purchase: &PurchaseId,
    release_at: Timestamp,
    amount: i64,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO pending_points (program_id, member_id, purchase_id, release_at_us, amount, remaining)
         VALUES ($1, $2, $3, $4, $5, $5)",
        &[program.as_str().into(), member.as_str().into(), purchase.as_str().into(), ts(release_at), amount.into()],
    )
    .await?;
    Ok(())
}

/// What of a purchase's points is still pending: `(seq, remaining)`.
pub async fn for_purchase<C: Conn>(
    c: &mut C,
    purchase: &PurchaseId,
) -> Result<Option<(i64, i64)>, StoreError> {
    c.query_one(
        "SELECT seq, remaining FROM pending_points WHERE purchase_id = $1",
        &[purchase.as_str().into()],
    )
    .await?
    .map(|r| Ok((r.int(0)?, r.int(1)?)))
    .transpose()
}

pub async fn set_remaining<C: Conn>(c: &mut C, seq: i64, remaining: i64) -> Result<(), StoreError> {
    c.execute(
        "UPDATE pending_points SET remaining = $2 WHERE seq = $1",
        &[seq.into(), remaining.into()],
    )
    .await?;
    Ok(())
}

/// Members of a program with points due for release by `now`, at most `limit`.
pub async fn members_due<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    now: Timestamp,
    limit: i64,
) -> Result<Vec<MemberId>, StoreError> {
    c.query(
        "SELECT DISTINCT member_id FROM pending_points
         WHERE program_id = $1 AND remaining > 0 AND release_at_us <= $2 ORDER BY member_id LIMIT $3",
        &[program.as_str().into(), ts(now), limit.into()],
    )
    .await?
    .iter()
    .map(|r| Ok(MemberId::from_trusted(r.text(0)?)))
    .collect()
}

/// A purchase's pending points whose window has ended.
pub struct Due {
    pub seq: i64,
    pub purchase: PurchaseId,
    pub remaining: i64,
}

/// The member's rows due by `now`, oldest first.
pub async fn due<C: Conn>(
    c: &mut C,
    member: &MemberId,
    now: Timestamp,
) -> Result<Vec<Due>, StoreError> {
    c.query(
        "SELECT seq, purchase_id, remaining FROM pending_points WHERE member_id = $1 AND remaining > 0 AND release_at_us <= $2 ORDER BY seq",
        &[member.as_str().into(), ts(now)],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(Due {
            seq: r.int(0)?,
            purchase: PurchaseId::from_trusted(r.text(1)?),
            remaining: r.int(2)?,
        })
    })
    .collect()
}

/// When the member's pending points become available: `(release_at, points)`, soonest first.
pub async fn upcoming<C: Conn>(
    c: &mut C,
    member: &MemberId,
) -> Result<Vec<(Timestamp, i64)>, StoreError> {
    c.query(
        "SELECT release_at_us, CAST(SUM(remaining) AS BIGINT) FROM pending_points
         WHERE member_id = $1 AND remaining > 0 GROUP BY release_at_us ORDER BY release_at_us",
        &[member.as_str().into()],
    )
    .await?
    .iter()
    .map(|r| Ok((to_ts(r.int(0)?)?, r.int(1)?)))
    .collect()
}

/// Members whose pending rows do not add up to their pending balance (the invariant the rows
/// keep): `(member, rows, balance)`.
pub async fn mismatches<C: Conn>(
    c: &mut C,
    program: &ProgramId,
) -> Result<Vec<(String, i64, i64)>, StoreError> {
    c.query(
        "SELECT a.member_id, CAST(COALESCE((SELECT SUM(p.remaining) FROM pending_points p WHERE p.member_id = a.member_id), 0) AS BIGINT), a.balance
         FROM accounts a WHERE a.program_id = $1 AND a.kind = 'member_pending'",
        &[program.as_str().into()],
    )
    .await?
    .iter()
    .map(|r| Ok((r.text(0)?, r.int(1)?, r.int(2)?)))
    .filter(|x: &Result<(String, i64, i64), StoreError>| {
        x.as_ref().map_or(true, |(_, rows, balance)| rows != balance)
    })
    .collect()
}
