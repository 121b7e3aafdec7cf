//! Expiry: the program's policy and the lots points are kept in (see migration 0003).

use super::{to_opt_ts, ts};
use crate::{Conn, StoreError};
use tally_domain::Timestamp;
use tally_domain::expiry::ExpiryPolicy;
use tally_domain::ids::{MemberId, ProgramId};

/// Lots without a date sort after every dated lot.
const NEVER: i64 = i64::MAX;

pub async fn get_policy<C: Conn>(
    c: &mut C,
    program: &ProgramId,
) -> Result<Option<ExpiryPolicy>, StoreError> {
    c.query_one(
        "SELECT document FROM expiry_policies WHERE program_id = $1",
        &[program.as_str().into()],
    )
    .await?
    .map(|r| {
        let value: serde_json::Value = super::json(&r.text(0)?)?;
        ExpiryPolicy::parse(&value)
            .map_err(|e| StoreError::Decode(format!("stored expiry policy: {e}")))
    })
    .transpose()
}

pub async fn set_policy<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    policy: &ExpiryPolicy,
    at: Timestamp,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO expiry_policies (program_id, document, updated_at_us) VALUES ($1, $2, $3)
         ON CONFLICT (program_id) DO UPDATE SET document = excluded.document, updated_at_us = excluded.updated_at_us",
        &[program.as_str().into(), policy.to_json().to_string().into(), ts(at)],
    )
    .await?;
    Ok(())
}

/// Starts the program's lots afresh: every member's positive available balance becomes one lot
/// as of `at`, expiring at `expires_at`.
pub async fn rebuild<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    at: Timestamp,
    expires_at: Option<Timestamp>,
) -> Result<(), StoreError> {
    c.execute(
        "DELETE FROM point_lots WHERE program_id = $1",
        &[program.as_str().into()],
    )
    .await?;
    c.execute(
        "INSERT INTO point_lots (program_id, member_id, earned_at_us, expires_at_us, amount, remaining)
         SELECT a.program_id, a.member_id, $2, $3, a.balance, a.balance FROM accounts a
         WHERE a.program_id = $1 AND a.kind = 'member_available' AND a.balance > 0",
        &[program.as_str().into(), ts(at), expires_at.map(ts).into()],
    )
    .await?;
    Ok(())
}

pub async fn insert_lot<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    member: &MemberId,
    earned_at: Timestamp,
    expires_at: Option<Timestamp>,
    amount: i64,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO point_lots (program_id, member_id, earned_at_us, expires_at_us, amount, remaining) VALUES ($1, $2, $3, $4, $5, $5)",
        &[program.as_str().into(), member.as_str().into(), ts(earned_at), expires_at.map(ts).into(), amount.into()],
    )
    .await?;
    Ok(())
}

/// The member's open lots, the first to expire first: `(seq, remaining)`.
pub async fn open_lots<C: Conn>(
    c: &mut C,
    member: &MemberId,
) -> Result<Vec<(i64, i64)>, StoreError> {
    c.query(
        "SELECT seq, remaining FROM point_lots WHERE member_id = $1 AND remaining > 0
         ORDER BY COALESCE(expires_at_us, $2), seq",
        &[member.as_str().into(), NEVER.into()],
    )
    .await?
    .iter()
    .map(|r| Ok((r.int(0)?, r.int(1)?)))
    .collect()
}

/// Sets what is left of a lot.
pub async fn set_remaining<C: Conn>(c: &mut C, lot: i64, remaining: i64) -> Result<(), StoreError> {
    c.execute(
        "UPDATE point_lots SET remaining = $2 WHERE seq = $1",
        &[lot.into(), remaining.into()],
    )
    .await?;
    Ok(())
}

/// Moves the date of all the member's open lots (an inactivity policy, after activity).
pub async fn redate_member<C: Conn>(
    c: &mut C,
    member: &MemberId,
    expires_at: Option<Timestamp>,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE point_lots SET expires_at_us = $2 WHERE member_id = $1 AND remaining > 0",
        &[member.as_str().into(), expires_at.map(ts).into()],
    )
    .await?;
    Ok(())
}

/// Members of a program with lots due by `now`, at most `limit`.
pub async fn members_due<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    now: Timestamp,
    limit: i64,
) -> Result<Vec<MemberId>, StoreError> {
    c.query(
        "SELECT DISTINCT member_id FROM point_lots
         WHERE program_id = $1 AND remaining > 0 AND expires_at_us <= $2 ORDER BY member_id LIMIT $3",
        &[program.as_str().into(), ts(now), limit.into()],
    )
    .await?
    .iter()
    .map(|r| Ok(MemberId::from_trusted(r.text(0)?)))
    .collect()
}

/// The member's lots due by `now`: `(seq, remaining)`.
pub async fn due_lots<C: Conn>(
    c: &mut C,
    member: &MemberId,
    now: Timestamp,
) -> Result<Vec<(i64, i64)>, StoreError> {
    c.query(
        "SELECT seq, remaining FROM point_lots WHERE member_id = $1 AND remaining > 0 AND expires_at_us <= $2 ORDER BY seq",
        &[member.as_str().into(), ts(now)],
    )
    .await?
    .iter()
    .map(|r| Ok((r.int(0)?, r.int(1)?)))
    .collect()
}

/// What will expire when: `(expires_at, points)` for the member's open dated lots, soonest
/// first.
pub async fn upcoming<C: Conn>(
    c: &mut C,
    member: &MemberId,
) -> Result<Vec<(Timestamp, i64)>, StoreError> {
    c.query(
        "SELECT expires_at_us, CAST(SUM(remaining) AS BIGINT) FROM point_lots
         WHERE member_id = $1 AND remaining > 0 AND expires_at_us IS NOT NULL
         GROUP BY expires_at_us ORDER BY expires_at_us",
        &[member.as_str().into()],
    )
    .await?
    .iter()
    .map(|r| {
        let at =
            to_opt_ts(r.opt_int(0)?)?.ok_or_else(|| StoreError::Decode("a dated lot".into()))?;
        Ok((at, r.int(1)?))
    })
    .collect()
}

/// Members whose open lots do not add up to their positive available balance (the invariant
/// the lots keep): `(member, lots, balance)`.
pub async fn mismatches<C: Conn>(
    c: &mut C,
    program: &ProgramId,
) -> Result<Vec<(String, i64, i64)>, StoreError> {
    c.query(
        "SELECT a.member_id, CAST(COALESCE((SELECT SUM(l.remaining) FROM point_lots l WHERE l.member_id = a.member_id), 0) AS BIGINT), a.balance
         FROM accounts a WHERE a.program_id = $1 AND a.kind = 'member_available'",
        &[program.as_str().into()],
    )
    .await?
    .iter()
    .map(|r| Ok((r.text(0)?, r.int(1)?, r.int(2)?)))
    .filter(|x: &Result<(String, i64, i64), StoreError>| {
        x.as_ref().map_or(true, |(_, lots, balance)| *lots != (*balance).max(0))
    })
    .collect()
}
