//! Custom events: the event types a program declares, and the events posted to it.

use super::{Page, json, page_limit, to_ts, ts};
use crate::{Conn, Row, StoreError};
use serde_json::{Map, Value};
use tally_domain::Timestamp;
use tally_domain::events::EventTypeDoc;
use tally_domain::ids::{EventId, MemberId, ProgramId};

/// A declared event type as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct EventTypeRow {
    pub doc: EventTypeDoc,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

fn decode_type(r: &Row) -> Result<EventTypeRow, StoreError> {
    let value: Value = json(&r.text(0)?)?;
    Ok(EventTypeRow {
        doc: EventTypeDoc::parse(&value)
            .map_err(|e| StoreError::Decode(format!("stored event type: {e}")))?,
        created_at: to_ts(r.int(1)?)?,
        updated_at: to_ts(r.int(2)?)?,
    })
}

pub async fn get_type<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    name: &str,
) -> Result<Option<EventTypeRow>, StoreError> {
    c.query_one(
        "SELECT document, created_at_us, updated_at_us FROM event_types WHERE program_id = $1 AND name = $2",
        &[program.as_str().into(), name.into()],
    )
    .await?
    .map(|r| decode_type(&r))
    .transpose()
}

/// Every type the program declares, by name (a program declares at most a few dozen).
pub async fn list_types<C: Conn>(
    c: &mut C,
    program: &ProgramId,
) -> Result<Vec<EventTypeRow>, StoreError> {
    c.query(
        "SELECT document, created_at_us, updated_at_us FROM event_types WHERE program_id = $1 ORDER BY name",
        &[program.as_str().into()],
    )
    .await?
    .iter()
    .map(decode_type)
    .collect()
}

pub async fn count_types<C: Conn>(c: &mut C, program: &ProgramId) -> Result<i64, StoreError> {
    let row = c
        .query_one(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM event_types WHERE program_id = $1",
            &[program.as_str().into()],
        )
        .await?;
    row.map_or(Ok(0), |r| r.int(0))
}

/// Inserts the type, or replaces its document (keeping when it was created).
pub async fn put_type<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    doc: &EventTypeDoc,
    at: Timestamp,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO event_types (program_id, name, document, created_at_us, updated_at_us) VALUES ($1, $2, $3, $4, $4)
         ON CONFLICT (program_id, name) DO UPDATE SET document = excluded.document, updated_at_us = excluded.updated_at_us",
        &[
            program.as_str().into(),
            doc.name.as_str().into(),
            doc.to_json().to_string().into(),
            ts(at),
        ],
    )
    .await?;
    Ok(())
}

/// A recorded event.
#[derive(Clone, Debug, PartialEq)]
pub struct EventRow {
    pub id: EventId,
    pub program_id: ProgramId,
    pub member_id: MemberId,
    pub event_type: String,
    pub properties: Map<String, Value>,
    pub idempotency_key: Option<String>,
    pub occurred_at: Timestamp,
    pub recorded_at: Timestamp,
}

/// What an event was recorded with under an idempotency key: (content hash, answer).
pub async fn find_by_key<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    key: &str,
) -> Result<Option<(String, String)>, StoreError> {
    let row = c
        .query_one(
            "SELECT content_sha256, answer FROM events WHERE program_id = $1 AND idempotency_key = $2",
            &[program.as_str().into(), key.into()],
        )
        .await?;
    row.map(|r| Ok((r.text(0)?, r.text(1)?))).transpose()
}

pub async fn insert<C: Conn>(
    c: &mut C,
    e: &EventRow,
    content_sha256: &str,
    answer: &Value,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO events (id, program_id, member_id, type, properties, idempotency_key, content_sha256, answer, occurred_at_us, recorded_at_us)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &[
            e.id.as_str().into(),
            e.program_id.as_str().into(),
            e.member_id.as_str().into(),
            e.event_type.as_str().into(),
            Value::Object(e.properties.clone()).to_string().into(),
            e.idempotency_key.as_deref().into(),
            content_sha256.into(),
            answer.to_string().into(),
            ts(e.occurred_at),
            ts(e.recorded_at),
        ],
    )
    .await?;
    Ok(())
}

const EVENT_COLS: &str = "seq, id, program_id, member_id, type, properties, idempotency_key, occurred_at_us, recorded_at_us";

fn decode_event(r: &Row) -> Result<(i64, EventRow), StoreError> {
    Ok((
        r.int(0)?,
        EventRow {
            id: EventId::from_trusted(r.text(1)?),
            program_id: ProgramId::from_trusted(r.text(2)?),
            member_id: MemberId::from_trusted(r.text(3)?),
            event_type: r.text(4)?,
            properties: json(&r.text(5)?)?,
            idempotency_key: r.opt_text(6)?,
            occurred_at: to_ts(r.int(7)?)?,
            recorded_at: to_ts(r.int(8)?)?,
        },
    ))
}

/// A member's events, newest first; `before_seq` is the cursor of the previous page.
pub async fn member_events<C: Conn>(
    c: &mut C,
    member: &MemberId,
    before_seq: Option<i64>,
    limit: Option<i64>,
) -> Result<Page<EventRow>, StoreError> {
    let limit = page_limit(limit);
    let sql = format!(
        "SELECT {EVENT_COLS} FROM events WHERE member_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3"
    );
    let rows = c
        .query(
            &sql,
            &[
                member.as_str().into(),
                before_seq.unwrap_or(i64::MAX).into(),
                (limit + 1).into(),
            ],
        )
        .await?
        .iter()
        .map(decode_event)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(rows, limit))
}

/// The program's events since `since`, oldest first (at most `limit`), each with the points
/// it earned when it was recorded.
pub async fn program_events_since<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    since: Timestamp,
    limit: i64,
) -> Result<Vec<(EventRow, i64)>, StoreError> {
    let sql = format!(
        "SELECT {EVENT_COLS}, answer FROM events WHERE program_id = $1 AND occurred_at_us >= $2 ORDER BY occurred_at_us, seq LIMIT $3"
    );
    c.query(&sql, &[program.as_str().into(), ts(since), limit.into()])
        .await?
        .iter()
        .map(|r| {
            let (_, event) = decode_event(r)?;
            let answer: Value = json(&r.text(9)?)?;
            Ok((event, answer["points_earned"].as_i64().unwrap_or(0)))
        })
        .collect()
}
