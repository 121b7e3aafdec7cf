//! Pending points: what each purchase still has in the member's pending account and when it
//! becomes available, kept on the purchase row (see migration 0009). The purchases of a member
//! add up to their pending balance.

use super::{to_ts, ts};
use crate::{Conn, StoreError};
use tally_domain::Timestamp;
use tally_domain::ids::{MemberId, ProgramId, PurchaseId};

/// What of a purchase's points is still pending (0 for a purchase without a return window).
pub async fn for_purchase<C: Conn>(c: &mut C, purchase: &PurchaseId) -> Result<i64, StoreError> {
    c.query_one(
        "SELECT pending_points FROM purchases WHERE id = $1",
        &[purchase.as_str().into()],
    )
    .await?
    .map_or(Ok(0), |r| r.int(0))
}

pub async fn set_remaining<C: Conn>(
    c: &mut C,
    purchase: &PurchaseId,
    remaining: i64,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE purchases SET pending_points = $2 WHERE id = $1",
        &[purchase.as_str().into(), remaining.into()],
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
        "SELECT DISTINCT member_id FROM purchases
         WHERE program_id = $1 AND pending_points > 0 AND pending_release_at_us <= $2 ORDER BY member_id LIMIT $3",
        &[program.as_str().into(), ts(now), limit.into()],
    )
    .await?
    .iter()
    .map(|r| Ok(MemberId::from_trusted(r.text(0)?)))
    .collect()
}

/// A purchase's pending points whose window has ended.
pub struct Due {
    pub purchase: PurchaseId,
    pub remaining: i64,
}

/// The member's purchases with points due by `now`, oldest first.
pub async fn due<C: Conn>(
    c: &mut C,
    member: &MemberId,
    now: Timestamp,
) -> Result<Vec<Due>, StoreError> {
    c.query(
        "SELECT id, pending_points FROM purchases
         WHERE member_id = $1 AND pending_points > 0 AND pending_release_at_us <= $2
         ORDER BY pending_release_at_us, seq",
        &[member.as_str().into(), ts(now)],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(Due {
            purchase: PurchaseId::from_trusted(r.text(0)?),
            remaining: r.int(1)?,
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
        "SELECT pending_release_at_us, CAST(SUM(pending_points) AS BIGINT) FROM purchases
         WHERE member_id = $1 AND pending_points > 0
         GROUP BY pending_release_at_us ORDER BY pending_release_at_us",
        &[member.as_str().into()],
    )
    .await?
    .iter()
    .map(|r| Ok((to_ts(r.int(0)?)?, r.int(1)?)))
    .collect()
}

/// Members whose purchases' pending points do not add up to their pending balance (the
/// invariant the rows keep): `(member, rows, balance)`.
pub async fn mismatches<C: Conn>(
    c: &mut C,
    program: &ProgramId,
) -> Result<Vec<(String, i64, i64)>, StoreError> {
    c.query(
        "SELECT a.member_id, CAST(COALESCE((SELECT SUM(p.pending_points) FROM purchases p
             WHERE p.member_id = a.member_id AND p.pending_points > 0), 0) AS BIGINT), a.balance
         FROM accounts a WHERE a.program_id = $1 AND a.kind = 'member_pending'",
        &[program.as_str().into()],
    )
    .await?
    .iter()
    .map(|r| Ok((r.text(0)?, r.int(1)?, r.int(2)?)))
    .filter(|x: &Result<(String, i64, i64), StoreError>| {
        x.as_ref()
            .map_or(true, |(_, rows, balance)| rows != balance)
    })
    .collect()
}
