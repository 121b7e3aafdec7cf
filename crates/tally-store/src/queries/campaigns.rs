//! One-off campaigns (migration 0022): the campaign, the members it goes to, chunk by chunk,
//! and what its report reads (delivery counts, purchases of treated and held-out members).

use super::{Page, opt_ts, page_query, to_opt_ts, to_ts, ts};
use crate::{Conn, Row, StoreError};
use tally_domain::Timestamp;
use tally_domain::ids::{CampaignId, MemberId, ProgramId, SegmentId, TemplateId, TenantId};

#[derive(Clone, Debug, PartialEq)]
pub struct CampaignRow {
    pub id: CampaignId,
    pub program_id: ProgramId,
    pub name: String,
    pub template_id: TemplateId,
    pub segment_id: Option<SegmentId>,
    pub channel: Option<String>,
    pub send_at: Option<Timestamp>,
    pub best_hour_within_hours: Option<i64>,
    pub holdout_percent: i64,
    pub conversion_days: i64,
    /// `draft`, `scheduled`, `sending` (being fanned out), `queued` (every member has their
    /// message in the outbox) or `cancelled`.
    pub status: String,
    /// The `seq` of the last member fanned out.
    pub cursor: i64,
    pub queued: i64,
    pub held_out: i64,
    pub created_at: Timestamp,
    pub launched_at: Option<Timestamp>,
    pub fanned_out_at: Option<Timestamp>,
}

const COLS: &str = "id, program_id, name, template_id, segment_id, channel, send_at_us,
    best_hour_within_hours, holdout_percent, conversion_days, status, cursor, queued, held_out,
    created_at_us, launched_at_us, fanned_out_at_us, seq, tenant_id";

fn decode(r: &Row) -> Result<(i64, CampaignRow), StoreError> {
    Ok((
        r.int(17)?,
        CampaignRow {
            id: CampaignId::from_trusted(r.text(0)?),
            program_id: ProgramId::from_trusted(r.text(1)?),
            name: r.text(2)?,
            template_id: TemplateId::from_trusted(r.text(3)?),
            segment_id: r.opt_text(4)?.map(SegmentId::from_trusted),
            channel: r.opt_text(5)?,
            send_at: to_opt_ts(r.opt_int(6)?)?,
            best_hour_within_hours: r.opt_int(7)?,
            holdout_percent: r.int(8)?,
            conversion_days: r.int(9)?,
            status: r.text(10)?,
            cursor: r.int(11)?,
            queued: r.int(12)?,
            held_out: r.int(13)?,
            created_at: to_ts(r.int(14)?)?,
            launched_at: to_opt_ts(r.opt_int(15)?)?,
            fanned_out_at: to_opt_ts(r.opt_int(16)?)?,
        },
    ))
}

pub async fn insert<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    k: &CampaignRow,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO campaigns (id, tenant_id, program_id, name, template_id, segment_id, channel,
             send_at_us, best_hour_within_hours, holdout_percent, conversion_days, status,
             created_at_us)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        &[
            k.id.as_str().into(),
            tenant.as_str().into(),
            k.program_id.as_str().into(),
            k.name.as_str().into(),
            k.template_id.as_str().into(),
            k.segment_id.as_ref().map(|s| s.as_str().to_owned()).into(),
            k.channel.clone().into(),
            opt_ts(k.send_at),
            k.best_hour_within_hours.into(),
            k.holdout_percent.into(),
            k.conversion_days.into(),
            k.status.as_str().into(),
            ts(k.created_at),
        ],
    )
    .await?;
    Ok(())
}

pub async fn get<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: &CampaignId,
) -> Result<Option<CampaignRow>, StoreError> {
    let sql = format!("SELECT {COLS} FROM campaigns WHERE id = $1 AND tenant_id = $2");
    c.query_one(&sql, &[id.as_str().into(), tenant.as_str().into()])
        .await?
        .map(|r| Ok(decode(&r)?.1))
        .transpose()
}

pub async fn list<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    before_seq: Option<i64>,
    limit: Option<i64>,
) -> Result<Page<CampaignRow>, StoreError> {
    let sql = format!(
        "SELECT {COLS} FROM campaigns WHERE program_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3"
    );
    page_query(
        c,
        &sql,
        vec![
            program.as_str().into(),
            before_seq.unwrap_or(i64::MAX).into(),
        ],
        limit,
        decode,
    )
    .await
}

/// Launches a draft: from `send_at` on it is fanned out. False when it was not a draft.
pub async fn launch<C: Conn>(
    c: &mut C,
    id: &CampaignId,
    send_at: Timestamp,
    at: Timestamp,
) -> Result<bool, StoreError> {
    let n = c
        .execute(
            "UPDATE campaigns SET status = 'scheduled', send_at_us = $2, launched_at_us = $3
             WHERE id = $1 AND status = 'draft'",
            &[id.as_str().into(), ts(send_at), ts(at)],
        )
        .await?;
    Ok(n == 1)
}

/// Cancels a campaign. False when it was cancelled already.
pub async fn cancel<C: Conn>(c: &mut C, id: &CampaignId) -> Result<bool, StoreError> {
    let n = c
        .execute(
            "UPDATE campaigns SET status = 'cancelled'
             WHERE id = $1 AND status <> 'cancelled'",
            &[id.as_str().into()],
        )
        .await?;
    Ok(n == 1)
}

/// Campaigns whose time has come and that still have members to fan out, with their tenant.
pub async fn due<C: Conn>(
    c: &mut C,
    now: Timestamp,
    limit: i64,
) -> Result<Vec<(TenantId, CampaignRow)>, StoreError> {
    let sql = format!(
        "SELECT {COLS} FROM campaigns
         WHERE status IN ('scheduled', 'sending') AND send_at_us <= $1
         ORDER BY send_at_us LIMIT $2"
    );
    c.query(&sql, &[ts(now), limit.into()])
        .await?
        .iter()
        .map(|r| Ok((TenantId::from_trusted(r.text(18)?), decode(r)?.1)))
        .collect()
}

/// A member a campaign goes to: where they are in `seq` order, their time zone and best send
/// hour of the week (from their insights), if known.
#[derive(Clone, Debug, PartialEq)]
pub struct Recipient {
    pub seq: i64,
    pub member_id: MemberId,
    pub time_zone: Option<String>,
    pub best_hour_of_week: Option<i64>,
}

/// The next `limit` active members of the audience after `after_seq`.
pub async fn audience<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    segment: Option<&SegmentId>,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<Recipient>, StoreError> {
    let (join, params): (&str, Vec<crate::Value>) = match segment {
        Some(s) => (
            "JOIN segment_members sm ON sm.member_id = m.id AND sm.segment_id = $4",
            vec![
                program.as_str().into(),
                after_seq.into(),
                limit.into(),
                s.as_str().into(),
            ],
        ),
        None => (
            "",
            vec![program.as_str().into(), after_seq.into(), limit.into()],
        ),
    };
    let sql = format!(
        "SELECT m.seq, m.id, m.time_zone, mi.best_send_hour FROM members m {join}
         LEFT JOIN member_insights mi ON mi.member_id = m.id
         WHERE m.program_id = $1 AND m.status = 'active' AND m.seq > $2
         ORDER BY m.seq LIMIT $3"
    );
    c.query(&sql, &params)
        .await?
        .iter()
        .map(|r| {
            Ok(Recipient {
                seq: r.int(0)?,
                member_id: MemberId::from_trusted(r.text(1)?),
                time_zone: r.opt_text(2)?,
                best_hour_of_week: r.opt_int(3)?,
            })
        })
        .collect()
}

/// Moves the cursor from `from` to `to` (a conditional write: of two nodes fanning out the same
/// chunk, one wins), adds the chunk's counts, and marks the campaign `queued` when `done`.
pub async fn advance<C: Conn>(
    c: &mut C,
    id: &CampaignId,
    from: i64,
    to: i64,
    (queued, held_out): (i64, i64),
    done: bool,
    at: Timestamp,
) -> Result<bool, StoreError> {
    let n = c
        .execute(
            "UPDATE campaigns SET cursor = $3, queued = queued + $4, held_out = held_out + $5,
                 status = CASE WHEN $6 THEN 'queued' ELSE 'sending' END,
                 fanned_out_at_us = CASE WHEN $6 THEN $7 ELSE fanned_out_at_us END
             WHERE id = $1 AND cursor = $2 AND status IN ('scheduled', 'sending')",
            &[
                id.as_str().into(),
                from.into(),
                to.into(),
                queued.into(),
                held_out.into(),
                done.into(),
                ts(at),
            ],
        )
        .await?;
    Ok(n == 1)
}

/// What one member of a campaign's audience did in the report's window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub held_out: bool,
    pub purchases: i64,
    /// Spent net of returns, in minor units.
    pub revenue_minor: i64,
}

/// Each member the campaign was for: whether they were held out, and their purchases in
/// `[from, until)`.
pub async fn outcomes<C: Conn>(
    c: &mut C,
    id: &CampaignId,
    from: Timestamp,
    until: Timestamp,
) -> Result<Vec<Outcome>, StoreError> {
    c.query(
        "SELECT CAST(CASE WHEN msg.status = 'held_out' THEN 1 ELSE 0 END AS BIGINT),
             CAST(COUNT(p.id) AS BIGINT),
             CAST(COALESCE(SUM(p.total_minor - p.returned_minor), 0) AS BIGINT)
         FROM messages msg
         LEFT JOIN purchases p ON p.member_id = msg.member_id
             AND p.occurred_at_us >= $2 AND p.occurred_at_us < $3
         WHERE msg.source_id = $1
         GROUP BY msg.member_id, msg.status",
        &[id.as_str().into(), ts(from), ts(until)],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(Outcome {
            held_out: r.int(0)? == 1,
            purchases: r.int(1)?,
            revenue_minor: r.int(2)?.max(0),
        })
    })
    .collect()
}
