//! Customer insights (migration 0010): what the models read (a program's purchase log), the
//! run's claim on the program, and what they write (each member's numbers, the program's
//! summary).

use super::{json, to_ts, ts};
use crate::{Conn, StoreError, Value};
use tally_domain::Timestamp;
use tally_domain::ids::{MemberId, ProgramId};

/// One purchase as the models see it: who, when, and the amount kept (net of returns).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedPurchase {
    pub member_id: String,
    pub occurred_at_us: i64,
    pub net_minor: i64,
}

/// The program's purchases that were not returned in full (a purchase of nothing, a free
/// sample, still counts as a visit).
pub async fn purchase_log<C: Conn>(
    c: &mut C,
    program: &ProgramId,
) -> Result<Vec<LoggedPurchase>, StoreError> {
    c.query(
        "SELECT member_id, occurred_at_us, total_minor - returned_minor FROM purchases
         WHERE program_id = $1 AND (returned_minor < total_minor OR total_minor = 0)",
        &[program.as_str().into()],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(LoggedPurchase {
            member_id: r.text(0)?,
            occurred_at_us: r.int(1)?,
            net_minor: r.int(2)?,
        })
    })
    .collect()
}

/// One purchase line as the models see it, with the quantity kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedLine {
    pub member_id: String,
    pub sku: String,
    pub category: Option<String>,
    pub quantity: i64,
}

/// The program's purchase lines, less what came back.
pub async fn line_log<C: Conn>(
    c: &mut C,
    program: &ProgramId,
) -> Result<Vec<LoggedLine>, StoreError> {
    c.query(
        "SELECT p.member_id, l.sku, l.category, l.quantity - l.returned_quantity
         FROM purchase_lines l JOIN purchases p ON p.id = l.purchase_id
         WHERE p.program_id = $1 AND l.quantity > l.returned_quantity",
        &[program.as_str().into()],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(LoggedLine {
            member_id: r.text(0)?,
            sku: r.text(1)?,
            category: r.opt_text(2)?,
            quantity: r.int(3)?,
        })
    })
    .collect()
}

/// The program's members who are not closed, in id order.
pub async fn open_members<C: Conn>(
    c: &mut C,
    program: &ProgramId,
) -> Result<Vec<String>, StoreError> {
    c.query(
        "SELECT id FROM members WHERE program_id = $1 AND status <> 'closed' ORDER BY id",
        &[program.as_str().into()],
    )
    .await?
    .iter()
    .map(|r| r.text(0))
    .collect()
}

/// Each member's churn readings as stored by the last run: `(member id, history)`.
pub async fn churn_histories<C: Conn>(
    c: &mut C,
    program: &ProgramId,
) -> Result<Vec<(String, String)>, StoreError> {
    c.query(
        "SELECT member_id, churn_history FROM member_insights WHERE program_id = $1",
        &[program.as_str().into()],
    )
    .await?
    .iter()
    .map(|r| Ok((r.text(0)?, r.text(1)?)))
    .collect()
}

/// Claims the program for a run until `until`, unless another run holds it past `now`.
pub async fn claim<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    now: Timestamp,
    until: Timestamp,
) -> Result<bool, StoreError> {
    let claimed = c
        .query_one(
            "INSERT INTO program_insights (program_id, claimed_until_us) VALUES ($1, $2)
             ON CONFLICT (program_id) DO UPDATE SET claimed_until_us = excluded.claimed_until_us
             WHERE program_insights.claimed_until_us <= $3
             RETURNING program_id",
            &[program.as_str().into(), ts(until), ts(now)],
        )
        .await?;
    Ok(claimed.is_some())
}

/// Ends a run: records its summary (when it finished) and lets the next run claim the program.
pub async fn finish<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    finished: Option<(Timestamp, &serde_json::Value)>,
) -> Result<(), StoreError> {
    match finished {
        Some((at, summary)) => {
            c.execute(
                "UPDATE program_insights SET claimed_until_us = 0, computed_at_us = $2, summary = $3
                 WHERE program_id = $1",
                &[program.as_str().into(), ts(at), summary.to_string().into()],
            )
            .await?
        }
        None => {
            c.execute(
                "UPDATE program_insights SET claimed_until_us = 0 WHERE program_id = $1",
                &[program.as_str().into()],
            )
            .await?
        }
    };
    Ok(())
}

/// One member's numbers from a run.
#[derive(Clone, Debug, PartialEq)]
pub struct MemberInsightRow {
    pub member_id: MemberId,
    pub program_id: ProgramId,
    pub computed_at: Timestamp,
    pub lifecycle: Option<String>,
    pub rfm_segment: Option<String>,
    pub vip: bool,
    pub p_alive_ppm: Option<i64>,
    pub churn_risk_ppm: Option<i64>,
    pub clv_minor: Option<i64>,
    pub value_percentile: Option<i64>,
    pub best_send_hour: i64,
    pub churn_history: String,
    pub details: serde_json::Value,
}

pub async fn store_member<C: Conn>(c: &mut C, row: &MemberInsightRow) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO member_insights (member_id, program_id, computed_at_us, lifecycle,
             rfm_segment, vip, p_alive_ppm, churn_risk_ppm, clv_minor, value_percentile,
             best_send_hour, churn_history, details)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (member_id) DO UPDATE SET computed_at_us = excluded.computed_at_us,
             lifecycle = excluded.lifecycle, rfm_segment = excluded.rfm_segment,
             vip = excluded.vip, p_alive_ppm = excluded.p_alive_ppm,
             churn_risk_ppm = excluded.churn_risk_ppm, clv_minor = excluded.clv_minor,
             value_percentile = excluded.value_percentile,
             best_send_hour = excluded.best_send_hour, churn_history = excluded.churn_history,
             details = excluded.details",
        &[
            row.member_id.as_str().into(),
            row.program_id.as_str().into(),
            ts(row.computed_at),
            row.lifecycle.clone().into(),
            row.rfm_segment.clone().into(),
            row.vip.into(),
            row.p_alive_ppm.into(),
            row.churn_risk_ppm.into(),
            row.clv_minor.into(),
            row.value_percentile.into(),
            row.best_send_hour.into(),
            row.churn_history.as_str().into(),
            row.details.to_string().into(),
        ],
    )
    .await?;
    Ok(())
}

/// The program's last run: when it finished (None before the first) and its summary.
pub async fn program_summary<C: Conn>(
    c: &mut C,
    program: &ProgramId,
) -> Result<Option<(Timestamp, serde_json::Value)>, StoreError> {
    let row = c
        .query_one(
            "SELECT computed_at_us, summary FROM program_insights
             WHERE program_id = $1 AND computed_at_us IS NOT NULL",
            &[program.as_str().into()],
        )
        .await?;
    row.map(|r| Ok((to_ts(r.int(0)?)?, json(&r.text(1)?)?)))
        .transpose()
}

/// A member's numbers from the last run that saw them.
pub async fn member_details<C: Conn>(
    c: &mut C,
    member: &MemberId,
) -> Result<Option<serde_json::Value>, StoreError> {
    let row = c
        .query_one(
            "SELECT details FROM member_insights WHERE member_id = $1",
            &[member.as_str().into()],
        )
        .await?;
    row.map(|r| json(&r.text(0)?)).transpose()
}

/// A member of a lifecycle stage, for the win-back list.
#[derive(Clone, Debug, PartialEq)]
pub struct StageMember {
    pub member_id: MemberId,
    pub name: Option<String>,
    pub external_id: Option<String>,
    pub details: serde_json::Value,
}

/// Members in one lifecycle stage, the most valuable first (by CLV, then id): e.g. those at
/// risk worth winning back.
pub async fn by_stage<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    stage: &str,
    limit: i64,
) -> Result<Vec<StageMember>, StoreError> {
    c.query(
        "SELECT i.member_id, m.name, m.external_id, i.details
         FROM member_insights i JOIN members m ON m.id = i.member_id
         WHERE i.program_id = $1 AND i.lifecycle = $2
         ORDER BY COALESCE(i.clv_minor, -1) DESC, i.member_id LIMIT $3",
        &[
            program.as_str().into(),
            stage.into(),
            Value::Int(limit.clamp(1, super::MAX_PAGE)),
        ],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(StageMember {
            member_id: MemberId::from_trusted(r.text(0)?),
            name: r.opt_text(1)?,
            external_id: r.opt_text(2)?,
            details: json(&r.text(3)?)?,
        })
    })
    .collect()
}
