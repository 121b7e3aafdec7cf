//! Tiers: the program's plan, each member's tier, the history of changes, and the qualifying
//! values (points earned or money spent since a time).

use super::{Page, page_query, to_opt_ts, to_ts, ts};
use crate::{Conn, Row, StoreError};
use tally_domain::Timestamp;
use tally_domain::ids::{MemberId, ProgramId};
use tally_domain::tiers::{TierMetric, TierPlan};

pub async fn get_plan<C: Conn>(
    c: &mut C,
    program: &ProgramId,
) -> Result<Option<TierPlan>, StoreError> {
    c.query_one(
        "SELECT document FROM tier_plans WHERE program_id = $1",
        &[program.as_str().into()],
    )
    .await?
    .map(|r| {
        let value: serde_json::Value = super::json(&r.text(0)?)?;
        TierPlan::parse(&value).map_err(|e| StoreError::Decode(format!("stored tier plan: {e}")))
    })
    .transpose()
}

pub async fn set_plan<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    plan: &TierPlan,
    at: Timestamp,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO tier_plans (program_id, document, updated_at_us) VALUES ($1, $2, $3)
         ON CONFLICT (program_id) DO UPDATE SET document = excluded.document, updated_at_us = excluded.updated_at_us",
        &[program.as_str().into(), plan.to_json().to_string().into(), ts(at)],
    )
    .await?;
    Ok(())
}

/// A member's tier as stored (members without a row hold the plan's zero-threshold level).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberTier {
    pub tier: String,
    pub reached_at: Timestamp,
    pub review_at: Option<Timestamp>,
}

fn decode_tier(r: &Row, from: usize) -> Result<MemberTier, StoreError> {
    Ok(MemberTier {
        tier: r.text(from)?,
        reached_at: to_ts(r.int(from + 1)?)?,
        review_at: to_opt_ts(r.opt_int(from + 2)?)?,
    })
}

pub async fn member_tier<C: Conn>(
    c: &mut C,
    member: &MemberId,
) -> Result<Option<MemberTier>, StoreError> {
    c.query_one(
        "SELECT tier, reached_at_us, review_at_us FROM member_tiers WHERE member_id = $1",
        &[member.as_str().into()],
    )
    .await?
    .map(|r| decode_tier(&r, 0))
    .transpose()
}

/// Sets (or, with `None`, removes) a member's tier row.
pub async fn set_member_tier<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    member: &MemberId,
    tier: Option<&MemberTier>,
) -> Result<(), StoreError> {
    match tier {
        Some(t) => c.execute(
            "INSERT INTO member_tiers (member_id, program_id, tier, reached_at_us, review_at_us) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (member_id) DO UPDATE SET tier = excluded.tier, reached_at_us = excluded.reached_at_us, review_at_us = excluded.review_at_us",
            &[member.as_str().into(), program.as_str().into(), t.tier.as_str().into(), ts(t.reached_at), t.review_at.map(ts).into()],
        )
        .await?,
        None => c.execute("DELETE FROM member_tiers WHERE member_id = $1", &[member.as_str().into()]).await?,
    };
    Ok(())
}

/// Members of a program whose review is due, oldest due first.
pub async fn due_reviews<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    now: Timestamp,
    limit: i64,
) -> Result<Vec<(MemberId, MemberTier)>, StoreError> {
    c.query(
        "SELECT member_id, tier, reached_at_us, review_at_us FROM member_tiers
         WHERE program_id = $1 AND review_at_us IS NOT NULL AND review_at_us <= $2
         ORDER BY review_at_us, member_id LIMIT $3",
        &[program.as_str().into(), ts(now), limit.into()],
    )
    .await?
    .iter()
    .map(|r| Ok((MemberId::from_trusted(r.text(0)?), decode_tier(r, 1)?)))
    .collect()
}

/// One change of a member's tier, as the history shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TierChange {
    pub from_tier: Option<String>,
    pub to_tier: Option<String>,
    /// The qualifying value the decision was made on.
    pub qualifying: i64,
    /// `upgrade`, `downgrade` or `kept` (a review that confirmed the tier).
    pub reason: String,
    pub at: Timestamp,
}

pub async fn record_change<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    member: &MemberId,
    change: &TierChange,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO tier_changes (program_id, member_id, from_tier, to_tier, qualifying, reason, at_us) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            program.as_str().into(),
            member.as_str().into(),
            change.from_tier.as_deref().into(),
            change.to_tier.as_deref().into(),
            change.qualifying.into(),
            change.reason.as_str().into(),
            ts(change.at),
        ],
    )
    .await?;
    Ok(())
}

pub async fn changes<C: Conn>(
    c: &mut C,
    member: &MemberId,
    after_seq: Option<i64>,
    limit: Option<i64>,
) -> Result<Page<TierChange>, StoreError> {
    page_query(
        c,
        "SELECT seq, from_tier, to_tier, qualifying, reason, at_us FROM tier_changes WHERE member_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        vec![member.as_str().into(), after_seq.unwrap_or(0).into()],
        limit,
        |r| {
            Ok((
                r.int(0)?,
                TierChange {
                    from_tier: r.opt_text(1)?,
                    to_tier: r.opt_text(2)?,
                    qualifying: r.int(3)?,
                    reason: r.text(4)?,
                    at: to_ts(r.int(5)?)?,
                },
            ))
        },
    )
    .await
}

/// A scalar subquery of a member's qualifying value in `[since, until)` (`until`: none, no
/// end): points earned (earn transfers less reversals) or money spent (less what was returned,
/// in minor units), by when they happened. The bounds and `member` are SQL expressions (a
/// parameter, or a column of an outer query).
pub(crate) fn qualifying_sql(
    metric: TierMetric,
    member: &str,
    since: &str,
    until: Option<&str>,
) -> String {
    let until = until.map_or(String::new(), |u| format!(" AND occurred_at_us < {u}"));
    match metric {
        TierMetric::PointsEarned => format!(
            "(SELECT CAST(COALESCE(SUM(CASE WHEN kind = 'earn' THEN amount ELSE -amount END), 0) AS BIGINT)
              FROM transfers WHERE member_id = {member} AND kind IN ('earn', 'reverse')
              AND occurred_at_us >= {since}{until})"
        ),
        TierMetric::MoneySpent => format!(
            "(SELECT CAST(COALESCE(SUM(total_minor - returned_minor), 0) AS BIGINT)
              FROM purchases WHERE member_id = {member} AND occurred_at_us >= {since}{until})"
        ),
    }
}

/// The member's qualifying value (see [`qualifying_sql`]) in `[since, until)`.
pub async fn qualifying<C: Conn>(
    c: &mut C,
    metric: TierMetric,
    member: &MemberId,
    since: Timestamp,
    until: Timestamp,
) -> Result<i64, StoreError> {
    let sql = format!("SELECT {}", qualifying_sql(metric, "$1", "$2", Some("$3")));
    let row = c
        .query_one(&sql, &[member.as_str().into(), ts(since), ts(until)])
        .await?;
    row.map_or(Ok(0), |r| r.int(0))
}
