//! The outbox (migration 0021): messages to members, their delivery, the weekly counts caps
//! take from, and each program's messaging settings.
//!
//! A message is `queued` until settled as `sent`, `bounced`, `failed` or `suppressed` (or it
//! was `held_out` of a campaign from the start). Claiming moves `due_at_us` a lease ahead with
//! a conditional write, so of several deliverers exactly one wins a message, and one that dies
//! lets it fall due again (at least once, with the same id).

use super::{Page, page_query, to_opt_ts, to_ts, ts};
use crate::{Conn, Row, StoreError, Value};
use tally_domain::Timestamp;
use tally_domain::ids::{MemberId, MessageId, ProgramId, TemplateId, TenantId};

/// A message as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct MessageRow {
    pub id: MessageId,
    pub tenant_id: TenantId,
    pub program_id: ProgramId,
    pub member_id: MemberId,
    pub template_id: TemplateId,
    /// The channel asked for; `None`: the member's preferred one, then the fallback order.
    pub channel: Option<String>,
    /// What made it: `api`, `campaign`, `journey`.
    pub source: String,
    /// The campaign or journey step it belongs to.
    pub source_id: Option<String>,
    pub dedupe_key: String,
    pub status: String,
    /// Why it was suppressed, bounced or failed, or why the last attempt did not go.
    pub reason: Option<String>,
    pub due_at: Timestamp,
    pub attempts: i64,
    /// The channel it went (or is going) through, and the address there.
    pub sent_channel: Option<String>,
    pub address: Option<String>,
    pub subject: Option<String>,
    pub html: Option<String>,
    pub text: Option<String>,
    pub token: String,
    pub created_at: Timestamp,
    pub settled_at: Option<Timestamp>,
    pub opened_at: Option<Timestamp>,
    pub clicked_at: Option<Timestamp>,
    pub unsubscribed_at: Option<Timestamp>,
    pub read_at: Option<Timestamp>,
}

const COLS: &str = "id, tenant_id, program_id, member_id, template_id, channel, source, source_id,
    dedupe_key, status, reason, due_at_us, attempts, sent_channel, address, subject, html,
    body_text, token, created_at_us, settled_at_us, opened_at_us, clicked_at_us,
    unsubscribed_at_us, read_at_us, seq";

fn decode(r: &Row) -> Result<(i64, MessageRow), StoreError> {
    Ok((
        r.int(25)?,
        MessageRow {
            id: MessageId::from_trusted(r.text(0)?),
            tenant_id: TenantId::from_trusted(r.text(1)?),
            program_id: ProgramId::from_trusted(r.text(2)?),
            member_id: MemberId::from_trusted(r.text(3)?),
            template_id: TemplateId::from_trusted(r.text(4)?),
            channel: r.opt_text(5)?,
            source: r.text(6)?,
            source_id: r.opt_text(7)?,
            dedupe_key: r.text(8)?,
            status: r.text(9)?,
            reason: r.opt_text(10)?,
            due_at: to_ts(r.int(11)?)?,
            attempts: r.int(12)?,
            sent_channel: r.opt_text(13)?,
            address: r.opt_text(14)?,
            subject: r.opt_text(15)?,
            html: r.opt_text(16)?,
            text: r.opt_text(17)?,
            token: r.text(18)?,
            created_at: to_ts(r.int(19)?)?,
            settled_at: to_opt_ts(r.opt_int(20)?)?,
            opened_at: to_opt_ts(r.opt_int(21)?)?,
            clicked_at: to_opt_ts(r.opt_int(22)?)?,
            unsubscribed_at: to_opt_ts(r.opt_int(23)?)?,
            read_at: to_opt_ts(r.opt_int(24)?)?,
        },
    ))
}

fn one(r: &Row) -> Result<MessageRow, StoreError> {
    Ok(decode(r)?.1)
}

const INSERT_COLUMNS: &str = "INSERT INTO messages (id, tenant_id, program_id, member_id,
     template_id, channel, source, source_id, dedupe_key, status, reason, due_at_us, token,
     created_at_us, settled_at_us)";

/// A row's values, in [`INSERT_COLUMNS`]' order.
fn insert_values(m: &MessageRow) -> [Value; 15] {
    [
        m.id.as_str().into(),
        m.tenant_id.as_str().into(),
        m.program_id.as_str().into(),
        m.member_id.as_str().into(),
        m.template_id.as_str().into(),
        m.channel.clone().into(),
        m.source.as_str().into(),
        m.source_id.clone().into(),
        m.dedupe_key.as_str().into(),
        m.status.as_str().into(),
        m.reason.clone().into(),
        ts(m.due_at),
        m.token.as_str().into(),
        ts(m.created_at),
        super::opt_ts(m.settled_at),
    ]
}

/// Queues a message unless one with the same `dedupe_key` exists in the program; says whether
/// it was queued.
pub async fn insert<C: Conn>(c: &mut C, m: &MessageRow) -> Result<bool, StoreError> {
    let sql = format!(
        "{INSERT_COLUMNS} VALUES ({}) ON CONFLICT (program_id, dedupe_key) DO NOTHING RETURNING id",
        super::placeholders(1, 15)
    );
    let inserted = c.query_one(&sql, &insert_values(m)).await?;
    Ok(inserted.is_some())
}

/// Rows per statement in [`insert_many`]: 15 parameters each stays under SQLite's limit.
const MANY: usize = 500;

/// Queues many messages (a campaign's chunk), several rows per statement; a row whose
/// `dedupe_key` exists is skipped. Answers the statuses of the rows queued.
pub async fn insert_many<C: Conn>(
    c: &mut C,
    rows: &[MessageRow],
) -> Result<Vec<String>, StoreError> {
    let mut inserted = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(MANY) {
        let mut values = Vec::with_capacity(chunk.len());
        let mut params = Vec::with_capacity(chunk.len() * 15);
        for (i, m) in chunk.iter().enumerate() {
            values.push(format!("({})", super::placeholders(i * 15 + 1, 15)));
            params.extend(insert_values(m));
        }
        let sql = format!(
            "{INSERT_COLUMNS} VALUES {} ON CONFLICT (program_id, dedupe_key) DO NOTHING RETURNING status",
            values.join(", ")
        );
        for r in c.query(&sql, &params).await? {
            inserted.push(r.text(0)?);
        }
    }
    Ok(inserted)
}

pub async fn get<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: &MessageId,
) -> Result<Option<MessageRow>, StoreError> {
    let sql = format!("SELECT {COLS} FROM messages WHERE id = $1 AND tenant_id = $2");
    c.query_one(&sql, &[id.as_str().into(), tenant.as_str().into()])
        .await?
        .map(|r| one(&r))
        .transpose()
}

/// A message by id, whatever its tenant (for the deliverer, which works for all of them).
pub async fn by_id<C: Conn>(c: &mut C, id: &MessageId) -> Result<Option<MessageRow>, StoreError> {
    let sql = format!("SELECT {COLS} FROM messages WHERE id = $1");
    c.query_one(&sql, &[id.as_str().into()])
        .await?
        .map(|r| one(&r))
        .transpose()
}

/// The message a link's token names (unsubscribe, tracking), whatever its tenant.
pub async fn by_token<C: Conn>(c: &mut C, token: &str) -> Result<Option<MessageRow>, StoreError> {
    let sql = format!("SELECT {COLS} FROM messages WHERE token = $1");
    c.query_one(&sql, &[token.into()])
        .await?
        .map(|r| one(&r))
        .transpose()
}

/// Queued messages due at `now`, the longest waiting first.
pub async fn due<C: Conn>(
    c: &mut C,
    now: Timestamp,
    limit: i64,
) -> Result<Vec<MessageRow>, StoreError> {
    let sql = format!(
        "SELECT {COLS} FROM messages WHERE status = 'queued' AND due_at_us <= $1
         ORDER BY due_at_us LIMIT $2"
    );
    c.query(&sql, &[ts(now), limit.into()])
        .await?
        .iter()
        .map(one)
        .collect()
}

/// Takes a due message until `until` (a conditional write: of two deliverers one wins).
pub async fn lease<C: Conn>(
    c: &mut C,
    id: &MessageId,
    now: Timestamp,
    until: Timestamp,
) -> Result<bool, StoreError> {
    let n = c
        .execute(
            "UPDATE messages SET due_at_us = $2
             WHERE id = $1 AND status = 'queued' AND due_at_us <= $3",
            &[id.as_str().into(), ts(until), ts(now)],
        )
        .await?;
    Ok(n == 1)
}

/// What a message says and where it goes, set when it is about to be sent. The content is
/// kept from the first attempt, so a retry sends the same message.
pub struct Delivery<'a> {
    pub channel: &'a str,
    pub address: &'a str,
    pub subject: &'a str,
    pub html: Option<&'a str>,
    pub text: &'a str,
}

pub async fn prepare<C: Conn>(
    c: &mut C,
    id: &MessageId,
    d: &Delivery<'_>,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE messages SET sent_channel = $2, address = $3, subject = COALESCE(subject, $4),
             html = COALESCE(html, $5), body_text = COALESCE(body_text, $6),
             attempts = attempts + 1
         WHERE id = $1",
        &[
            id.as_str().into(),
            d.channel.into(),
            d.address.into(),
            d.subject.into(),
            d.html.map(str::to_owned).into(),
            d.text.into(),
        ],
    )
    .await?;
    Ok(())
}

/// Ends a queued message: `sent`, `bounced`, `failed` or `suppressed`, with why.
pub async fn settle<C: Conn>(
    c: &mut C,
    id: &MessageId,
    status: &str,
    reason: Option<&str>,
    at: Timestamp,
) -> Result<bool, StoreError> {
    let n = c
        .execute(
            "UPDATE messages SET status = $2, reason = $3, settled_at_us = $4
             WHERE id = $1 AND status = 'queued'",
            &[
                id.as_str().into(),
                status.into(),
                reason.map(str::to_owned).into(),
                ts(at),
            ],
        )
        .await?;
    Ok(n == 1)
}

/// The messages of a campaign or journey (their `source_id`) by status, and how many were
/// opened, clicked and unsubscribed from.
pub async fn by_source<C: Conn>(
    c: &mut C,
    id: &str,
) -> Result<(Vec<(String, i64)>, [i64; 3]), StoreError> {
    let statuses = c
        .query(
            "SELECT status, CAST(COUNT(*) AS BIGINT) FROM messages WHERE source_id = $1
             GROUP BY status ORDER BY status",
            &[id.into()],
        )
        .await?
        .iter()
        .map(|r| Ok((r.text(0)?, r.int(1)?)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    let row = c
        .query_one(
            "SELECT CAST(COUNT(opened_at_us) AS BIGINT), CAST(COUNT(clicked_at_us) AS BIGINT),
                 CAST(COUNT(unsubscribed_at_us) AS BIGINT)
             FROM messages WHERE source_id = $1",
            &[id.into()],
        )
        .await?
        .ok_or_else(|| StoreError::Decode("no counts".into()))?;
    Ok((statuses, [row.int(0)?, row.int(1)?, row.int(2)?]))
}

/// Suppresses every queued message of a campaign or journey step; returns how many.
pub async fn suppress_source<C: Conn>(
    c: &mut C,
    source_id: &str,
    reason: &str,
    at: Timestamp,
) -> Result<u64, StoreError> {
    c.execute(
        "UPDATE messages SET status = 'suppressed', reason = $2, settled_at_us = $3
         WHERE source_id = $1 AND status = 'queued'",
        &[source_id.into(), reason.into(), ts(at)],
    )
    .await
}

/// Puts a queued message off until `due` (quiet hours, a relay that said "later").
pub async fn put_off<C: Conn>(
    c: &mut C,
    id: &MessageId,
    due: Timestamp,
    reason: &str,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE messages SET due_at_us = $2, reason = $3 WHERE id = $1 AND status = 'queued'",
        &[id.as_str().into(), ts(due), reason.into()],
    )
    .await?;
    Ok(())
}

/// Takes one of a member's `cap` messages on `channel` in `week`; false when none is left.
pub async fn take_weekly_place<C: Conn>(
    c: &mut C,
    member: &MemberId,
    channel: &str,
    week: &str,
    cap: i64,
) -> Result<bool, StoreError> {
    if cap <= 0 {
        return Ok(false);
    }
    let row = c
        .query_one(
            "INSERT INTO message_counts (member_id, channel, week, sent) VALUES ($1, $2, $3, 1)
             ON CONFLICT (member_id, channel, week)
             DO UPDATE SET sent = message_counts.sent + 1 WHERE message_counts.sent < $4
             RETURNING sent",
            &[
                member.as_str().into(),
                channel.into(),
                week.into(),
                cap.into(),
            ],
        )
        .await?;
    Ok(row.is_some())
}

/// A member's messages, newest first.
pub async fn for_member<C: Conn>(
    c: &mut C,
    member: &MemberId,
    before_seq: Option<i64>,
    limit: Option<i64>,
) -> Result<Page<MessageRow>, StoreError> {
    let sql = format!(
        "SELECT {COLS} FROM messages WHERE member_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3"
    );
    page_query(
        c,
        &sql,
        vec![
            member.as_str().into(),
            before_seq.unwrap_or(i64::MAX).into(),
        ],
        limit,
        decode,
    )
    .await
}

/// The member's in-app inbox: messages delivered in the app, newest first.
pub async fn inbox<C: Conn>(
    c: &mut C,
    member: &MemberId,
    before_seq: Option<i64>,
    limit: Option<i64>,
) -> Result<Page<MessageRow>, StoreError> {
    let sql = format!(
        "SELECT {COLS} FROM messages
         WHERE member_id = $1 AND sent_channel IN ('in_app', 'push') AND status = 'sent' AND seq < $2
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
        decode,
    )
    .await
}

/// What a member did with a message, the first time: `opened`, `clicked`, `unsubscribed`,
/// `read`. Says whether this was the first time.
pub async fn mark<C: Conn>(
    c: &mut C,
    id: &MessageId,
    what: Mark,
    at: Timestamp,
) -> Result<bool, StoreError> {
    let column = match what {
        Mark::Opened => "opened_at_us",
        Mark::Clicked => "clicked_at_us",
        Mark::Unsubscribed => "unsubscribed_at_us",
        Mark::Read => "read_at_us",
    };
    let sql = format!("UPDATE messages SET {column} = $2 WHERE id = $1 AND {column} IS NULL");
    Ok(c.execute(&sql, &[id.as_str().into(), ts(at)]).await? == 1)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    Opened,
    Clicked,
    Unsubscribed,
    Read,
}

/// A program's messaging settings (JSON), if set.
pub async fn settings<C: Conn>(
    c: &mut C,
    program: &ProgramId,
) -> Result<Option<String>, StoreError> {
    c.query_one(
        "SELECT settings FROM program_messaging WHERE program_id = $1",
        &[program.as_str().into()],
    )
    .await?
    .map(|r| r.text(0))
    .transpose()
}

pub async fn put_settings<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    settings: &str,
    at: Timestamp,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO program_messaging (program_id, settings, updated_at_us) VALUES ($1, $2, $3)
         ON CONFLICT (program_id) DO UPDATE SET settings = excluded.settings,
             updated_at_us = excluded.updated_at_us",
        &[program.as_str().into(), settings.into(), ts(at)],
    )
    .await?;
    Ok(())
}
