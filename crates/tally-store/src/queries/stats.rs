//! Aggregates for the console's dashboard. Each is one indexed range query over a period
//! (`purchases_program_time`, `members_program_enrolled`, `redemptions_program_time`), so the
//! dashboard costs the same whatever the size of the history before the period.

use super::ts;
use crate::{Conn, StoreError};
use tally_domain::Timestamp;
use tally_domain::ids::ProgramId;

/// Counts and sums per time bucket: bucket `i` covers `[origin + i·width, origin + (i+1)·width)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bucket {
    pub index: i64,
    pub count: i64,
    /// Money in minor units (net of returns) where the bucket counts purchases; else 0.
    pub amount_minor: i64,
}

/// Purchases and net revenue per bucket, for purchases in `[from, to)`.
pub async fn purchases_per_bucket<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    from: Timestamp,
    to: Timestamp,
    width_us: i64,
) -> Result<Vec<Bucket>, StoreError> {
    c.query(
        "SELECT (occurred_at_us - $2) / $4 AS bucket, COUNT(*), CAST(SUM(total_minor - returned_minor) AS BIGINT)
         FROM purchases WHERE program_id = $1 AND occurred_at_us >= $2 AND occurred_at_us < $3
         GROUP BY bucket ORDER BY bucket",
        &[program.as_str().into(), ts(from), ts(to), width_us.max(1).into()],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(Bucket {
            index: r.int(0)?,
            count: r.int(1)?,
            amount_minor: r.int(2)?,
        })
    })
    .collect()
}

/// New members per bucket, for enrolments in `[from, to)`.
pub async fn enrolments_per_bucket<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    from: Timestamp,
    to: Timestamp,
    width_us: i64,
) -> Result<Vec<Bucket>, StoreError> {
    c.query(
        "SELECT (enrolled_at_us - $2) / $4 AS bucket, COUNT(*)
         FROM members WHERE program_id = $1 AND enrolled_at_us >= $2 AND enrolled_at_us < $3
         GROUP BY bucket ORDER BY bucket",
        &[
            program.as_str().into(),
            ts(from),
            ts(to),
            width_us.max(1).into(),
        ],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(Bucket {
            index: r.int(0)?,
            count: r.int(1)?,
            amount_minor: 0,
        })
    })
    .collect()
}

/// Members who bought at least once in `[from, to)`.
pub async fn active_members<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    from: Timestamp,
    to: Timestamp,
) -> Result<i64, StoreError> {
    let row = c
        .query_one(
            "SELECT COUNT(DISTINCT member_id) FROM purchases WHERE program_id = $1 AND occurred_at_us >= $2 AND occurred_at_us < $3",
            &[program.as_str().into(), ts(from), ts(to)],
        )
        .await?;
    row.map_or(Ok(0), |r| r.int(0))
}

/// A reward and how often it was redeemed (not counting cancelled redemptions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RewardCount {
    pub reward_id: String,
    pub name: String,
    pub redemptions: i64,
    pub points: i64,
}

/// The most redeemed rewards in `[from, to)`.
pub async fn top_rewards<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    from: Timestamp,
    to: Timestamp,
    limit: i64,
) -> Result<Vec<RewardCount>, StoreError> {
    c.query(
        "SELECT reward_id, MAX(reward_name), COUNT(*), CAST(SUM(cost) AS BIGINT) FROM redemptions
         WHERE program_id = $1 AND created_at_us >= $2 AND created_at_us < $3 AND status <> 'cancelled'
         GROUP BY reward_id ORDER BY COUNT(*) DESC, reward_id LIMIT $4",
        &[program.as_str().into(), ts(from), ts(to), limit.clamp(1, 50).into()],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(RewardCount {
            reward_id: r.text(0)?,
            name: r.text(1)?,
            redemptions: r.int(2)?,
            points: r.int(3)?,
        })
    })
    .collect()
}
