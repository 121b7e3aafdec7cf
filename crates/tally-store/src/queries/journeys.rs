//! Journeys and each member's place on them (migration 0023).

use super::{Page, page_query, to_opt_ts, to_ts, ts};
use crate::{Conn, Row, StoreError};
use tally_domain::Timestamp;
use tally_domain::ids::{JourneyId, JourneyRunId, MemberId, ProgramId, TenantId};

#[derive(Clone, Debug, PartialEq)]
pub struct JourneyRow {
    pub id: JourneyId,
    pub tenant_id: TenantId,
    pub program_id: ProgramId,
    pub name: String,
    pub trigger_type: String,
    /// The journey document as saved (JSON).
    pub document: String,
    /// `active`, `paused` (nobody enters, runs wait) or `archived` (nobody enters, runs end).
    pub status: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const COLS: &str = "id, tenant_id, program_id, name, trigger_type, document, status, created_at_us,
    updated_at_us, seq";

fn decode(r: &Row) -> Result<(i64, JourneyRow), StoreError> {
    Ok((
        r.int(9)?,
        JourneyRow {
            id: JourneyId::from_trusted(r.text(0)?),
            tenant_id: TenantId::from_trusted(r.text(1)?),
            program_id: ProgramId::from_trusted(r.text(2)?),
            name: r.text(3)?,
            trigger_type: r.text(4)?,
            document: r.text(5)?,
            status: r.text(6)?,
            created_at: to_ts(r.int(7)?)?,
            updated_at: to_ts(r.int(8)?)?,
        },
    ))
}

pub async fn insert<C: Conn>(c: &mut C, j: &JourneyRow) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO journeys (id, tenant_id, program_id, name, trigger_type, document, status,
             created_at_us, updated_at_us)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            j.id.as_str().into(),
            j.tenant_id.as_str().into(),
            j.program_id.as_str().into(),
            j.name.as_str().into(),
            j.trigger_type.as_str().into(),
            j.document.as_str().into(),
            j.status.as_str().into(),
            ts(j.created_at),
            ts(j.updated_at),
        ],
    )
    .await?;
    Ok(())
}

pub async fn set_status<C: Conn>(
    c: &mut C,
    id: &JourneyId,
    status: &str,
    at: Timestamp,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE journeys SET status = $2, updated_at_us = $3 WHERE id = $1",
        &[id.as_str().into(), status.into(), ts(at)],
    )
    .await?;
    Ok(())
}

pub async fn get<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: &JourneyId,
) -> Result<Option<JourneyRow>, StoreError> {
    let sql = format!("SELECT {COLS} FROM journeys WHERE id = $1 AND tenant_id = $2");
    c.query_one(&sql, &[id.as_str().into(), tenant.as_str().into()])
        .await?
        .map(|r| Ok(decode(&r)?.1))
        .transpose()
}

pub async fn list<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    after_seq: Option<i64>,
    limit: Option<i64>,
) -> Result<Page<JourneyRow>, StoreError> {
    let sql = format!(
        "SELECT {COLS} FROM journeys WHERE program_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
    );
    page_query(
        c,
        &sql,
        vec![program.as_str().into(), after_seq.unwrap_or(0).into()],
        limit,
        decode,
    )
    .await
}

/// The program's active journeys (what triggers look at).
pub async fn active<C: Conn>(
    c: &mut C,
    program: &ProgramId,
) -> Result<Vec<JourneyRow>, StoreError> {
    let sql = format!(
        "SELECT {COLS} FROM journeys WHERE program_id = $1 AND status = 'active' ORDER BY seq"
    );
    c.query(&sql, &[program.as_str().into()])
        .await?
        .iter()
        .map(|r| Ok(decode(r)?.1))
        .collect()
}

/// Active journeys with this trigger, in every program (birthdays are found by the runner).
pub async fn active_with_trigger<C: Conn>(
    c: &mut C,
    trigger_type: &str,
) -> Result<Vec<JourneyRow>, StoreError> {
    let sql = format!(
        "SELECT {COLS} FROM journeys WHERE status = 'active' AND trigger_type = $1 ORDER BY seq"
    );
    c.query(&sql, &[trigger_type.into()])
        .await?
        .iter()
        .map(|r| Ok(decode(r)?.1))
        .collect()
}

#[derive(Clone, Debug, PartialEq)]
pub struct RunRow {
    pub id: JourneyRunId,
    pub tenant_id: TenantId,
    pub journey_id: JourneyId,
    pub member_id: MemberId,
    pub occurrence: String,
    /// The next step to run (its index).
    pub step: i64,
    /// `active`, `done` or `exited`.
    pub status: String,
    pub due_at: Timestamp,
    pub entered_at: Timestamp,
    pub ended_at: Option<Timestamp>,
    /// Kept back at random (the journey's holdout): over at once, no step runs.
    pub held_out: bool,
}

const RUN_COLS: &str = "id, tenant_id, journey_id, member_id, occurrence, step, status, due_at_us,
    entered_at_us, ended_at_us, seq, held_out";

fn decode_run(r: &Row) -> Result<(i64, RunRow), StoreError> {
    Ok((
        r.int(10)?,
        RunRow {
            id: JourneyRunId::from_trusted(r.text(0)?),
            tenant_id: TenantId::from_trusted(r.text(1)?),
            journey_id: JourneyId::from_trusted(r.text(2)?),
            member_id: MemberId::from_trusted(r.text(3)?),
            occurrence: r.text(4)?,
            step: r.int(5)?,
            status: r.text(6)?,
            due_at: to_ts(r.int(7)?)?,
            entered_at: to_ts(r.int(8)?)?,
            ended_at: to_opt_ts(r.opt_int(9)?)?,
            held_out: r.int(11)? == 1,
        },
    ))
}

/// Puts a member on a journey for an occurrence, unless they are on it for that one already;
/// says whether they were put on it.
pub async fn enter<C: Conn>(c: &mut C, run: &RunRow) -> Result<bool, StoreError> {
    let row = c
        .query_one(
            "INSERT INTO journey_runs (id, tenant_id, journey_id, member_id, occurrence, step,
                 status, due_at_us, entered_at_us, ended_at_us, held_out)
             VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $8, $9, $10)
             ON CONFLICT (journey_id, member_id, occurrence) DO NOTHING
             RETURNING id",
            &[
                run.id.as_str().into(),
                run.tenant_id.as_str().into(),
                run.journey_id.as_str().into(),
                run.member_id.as_str().into(),
                run.occurrence.as_str().into(),
                if run.held_out { "done" } else { "active" }.into(),
                ts(run.due_at),
                ts(run.entered_at),
                super::opt_ts(run.held_out.then_some(run.entered_at)),
                i64::from(run.held_out).into(),
            ],
        )
        .await?;
    Ok(row.is_some())
}

/// Active runs due at `now`, the longest waiting first.
pub async fn due<C: Conn>(
    c: &mut C,
    now: Timestamp,
    limit: i64,
) -> Result<Vec<RunRow>, StoreError> {
    let sql = format!(
        "SELECT {RUN_COLS} FROM journey_runs WHERE status = 'active' AND due_at_us <= $1
         ORDER BY due_at_us LIMIT $2"
    );
    c.query(&sql, &[ts(now), limit.into()])
        .await?
        .iter()
        .map(|r| Ok(decode_run(r)?.1))
        .collect()
}

/// Takes a due run until `until` (a conditional write: of two nodes, one runs its steps).
pub async fn lease<C: Conn>(
    c: &mut C,
    id: &JourneyRunId,
    now: Timestamp,
    until: Timestamp,
) -> Result<bool, StoreError> {
    let n = c
        .execute(
            "UPDATE journey_runs SET due_at_us = $2
             WHERE id = $1 AND status = 'active' AND due_at_us <= $3",
            &[id.as_str().into(), ts(until), ts(now)],
        )
        .await?;
    Ok(n == 1)
}

/// Where a run stands after its steps ran: the next step and when, or ended (`done`, `exited`).
pub async fn save<C: Conn>(
    c: &mut C,
    id: &JourneyRunId,
    step: i64,
    status: &str,
    due_at: Timestamp,
    at: Timestamp,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE journey_runs SET step = $2, status = $3, due_at_us = $4,
             ended_at_us = CASE WHEN $3 = 'active' THEN NULL ELSE CAST($5 AS BIGINT) END
         WHERE id = $1",
        &[
            id.as_str().into(),
            step.into(),
            status.into(),
            ts(due_at),
            ts(at),
        ],
    )
    .await?;
    Ok(())
}

/// A member's journeys, newest first.
pub async fn runs_of_member<C: Conn>(
    c: &mut C,
    member: &MemberId,
    before_seq: Option<i64>,
    limit: Option<i64>,
) -> Result<Page<RunRow>, StoreError> {
    let sql = format!(
        "SELECT {RUN_COLS} FROM journey_runs WHERE member_id = $1 AND seq < $2
         ORDER BY seq DESC LIMIT $3"
    );
    page_query(
        c,
        &sql,
        vec![
            member.as_str().into(),
            before_seq.unwrap_or(i64::MAX).into(),
        ],
        limit,
        decode_run,
    )
    .await
}

/// Runs of a journey by status: `[(status, count)]`.
pub async fn run_counts<C: Conn>(
    c: &mut C,
    journey: &JourneyId,
) -> Result<Vec<(String, i64)>, StoreError> {
    c.query(
        "SELECT CASE WHEN held_out = 1 THEN 'held_out' ELSE status END,
             CAST(COUNT(*) AS BIGINT) FROM journey_runs WHERE journey_id = $1
         GROUP BY CASE WHEN held_out = 1 THEN 'held_out' ELSE status END ORDER BY 1",
        &[journey.as_str().into()],
    )
    .await?
    .iter()
    .map(|r| Ok((r.text(0)?, r.int(1)?)))
    .collect()
}

/// Each run of the journey: whether it was held out, and the member's purchases in the
/// `window_us` microseconds after entering (the purchase that started it, recorded as it
/// entered, excluded).
pub async fn outcomes<C: Conn>(
    c: &mut C,
    journey: &JourneyId,
    window_us: i64,
) -> Result<Vec<super::campaigns::Outcome>, StoreError> {
    c.query(
        "SELECT CAST(r.held_out AS BIGINT), CAST(COUNT(p.id) AS BIGINT),
             CAST(COALESCE(SUM(p.total_minor - p.returned_minor), 0) AS BIGINT)
         FROM journey_runs r
         LEFT JOIN purchases p ON p.member_id = r.member_id
             AND p.occurred_at_us > r.entered_at_us AND p.occurred_at_us < r.entered_at_us + $2
         WHERE r.journey_id = $1
         GROUP BY r.id, r.held_out",
        &[journey.as_str().into(), window_us.into()],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(super::campaigns::Outcome {
            held_out: r.int(0)? == 1,
            purchases: r.int(1)?,
            revenue_minor: r.int(2)?.max(0),
        })
    })
    .collect()
}

/// How many purchases the member has.
pub async fn purchase_count<C: Conn>(c: &mut C, member: &MemberId) -> Result<i64, StoreError> {
    c.query_one(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM purchases WHERE member_id = $1",
        &[member.as_str().into()],
    )
    .await?
    .map_or(Ok(0), |r| r.int(0))
}

/// Whether the member bought anything at or after `since`.
pub async fn purchased_since<C: Conn>(
    c: &mut C,
    member: &MemberId,
    since: Timestamp,
) -> Result<bool, StoreError> {
    Ok(c.query_one(
        "SELECT 1 FROM purchases WHERE member_id = $1 AND occurred_at_us >= $2 LIMIT 1",
        &[member.as_str().into(), ts(since)],
    )
    .await?
    .is_some())
}

/// Members of a program with points expiring in `(from, until]`, with the first such expiry.
pub async fn expiring_points<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    from: Timestamp,
    until: Timestamp,
) -> Result<Vec<(MemberId, Timestamp)>, StoreError> {
    c.query(
        "SELECT l.member_id, CAST(MIN(l.expires_at_us) AS BIGINT) FROM point_lots l
         JOIN members m ON m.id = l.member_id AND m.status = 'active'
         WHERE l.program_id = $1 AND l.remaining > 0 AND l.expires_at_us > $2
           AND l.expires_at_us <= $3
         GROUP BY l.member_id",
        &[program.as_str().into(), ts(from), ts(until)],
    )
    .await?
    .iter()
    .map(|r| Ok((MemberId::from_trusted(r.text(0)?), to_ts(r.int(1)?)?)))
    .collect()
}

/// Active members of a program in a lifecycle stage with at least this value percentile, with
/// when their insights were computed.
/// Active members whose last purchase was in `[from, until)`, with when it was: the members
/// who lapsed in that window (none bought since).
pub async fn lapsed<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    from: Timestamp,
    until: Timestamp,
) -> Result<Vec<(MemberId, Timestamp)>, StoreError> {
    c.query(
        "SELECT p.member_id, CAST(MAX(p.occurred_at_us) AS BIGINT) FROM purchases p
         JOIN members m ON m.id = p.member_id AND m.status = 'active'
         WHERE p.program_id = $1 AND p.occurred_at_us >= $2 AND p.occurred_at_us < $3
           AND NOT EXISTS (SELECT 1 FROM purchases q
                           WHERE q.member_id = p.member_id AND q.occurred_at_us >= $3)
         GROUP BY p.member_id",
        &[program.as_str().into(), ts(from), ts(until)],
    )
    .await?
    .iter()
    .map(|r| Ok((MemberId::from_trusted(r.text(0)?), to_ts(r.int(1)?)?)))
    .collect()
}

pub async fn members_in_stage<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    stage: &str,
    min_value_percentile: i64,
) -> Result<Vec<(MemberId, Timestamp)>, StoreError> {
    c.query(
        "SELECT mi.member_id, mi.computed_at_us FROM member_insights mi
         JOIN members m ON m.id = mi.member_id AND m.status = 'active'
         WHERE mi.program_id = $1 AND mi.lifecycle = $2
           AND COALESCE(mi.value_percentile, 0) >= $3",
        &[
            program.as_str().into(),
            stage.into(),
            min_value_percentile.into(),
        ],
    )
    .await?
    .iter()
    .map(|r| Ok((MemberId::from_trusted(r.text(0)?), to_ts(r.int(1)?)?)))
    .collect()
}
