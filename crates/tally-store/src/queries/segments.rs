//! Segments (migration 0011): their definitions, who is in each, entries and exits, sizes over
//! time, and the member facts a definition is evaluated against (for one member or a whole
//! program, with the same queries).

use super::{Page, json, page_query, to_opt_ts, to_ts, ts};
use crate::{Conn, Row, StoreError, Value};
use tally_domain::Timestamp;
use tally_domain::ids::{MemberId, ProgramId, SegmentId, TenantId};

/// A segment as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct SegmentRow {
    pub id: SegmentId,
    pub program_id: ProgramId,
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    /// `dynamic` or `static`.
    pub kind: String,
    /// The condition of a dynamic segment.
    pub definition: Option<serde_json::Value>,
    /// `active` or `archived`.
    pub status: String,
    pub size: i64,
    pub evaluated_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const COLS: &str = "id, program_id, key, name, description, kind, definition, status, size, \
                    evaluated_at_us, created_at_us, updated_at_us, seq";

fn decode(r: &Row) -> Result<(i64, SegmentRow), StoreError> {
    Ok((
        r.int(12)?,
        SegmentRow {
            id: SegmentId::from_trusted(r.text(0)?),
            program_id: ProgramId::from_trusted(r.text(1)?),
            key: r.text(2)?,
            name: r.text(3)?,
            description: r.opt_text(4)?,
            kind: r.text(5)?,
            definition: r.opt_text(6)?.map(|d| json(&d)).transpose()?,
            status: r.text(7)?,
            size: r.int(8)?,
            evaluated_at: to_opt_ts(r.opt_int(9)?)?,
            created_at: to_ts(r.int(10)?)?,
            updated_at: to_ts(r.int(11)?)?,
        },
    ))
}

pub async fn insert<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    s: &SegmentRow,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO segments (id, tenant_id, program_id, key, name, description, kind,
             definition, status, size, created_at_us, updated_at_us)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $10)",
        &[
            s.id.as_str().into(),
            tenant.as_str().into(),
            s.program_id.as_str().into(),
            s.key.as_str().into(),
            s.name.as_str().into(),
            s.description.clone().into(),
            s.kind.as_str().into(),
            s.definition.as_ref().map(|d| d.to_string()).into(),
            s.status.as_str().into(),
            ts(s.created_at),
        ],
    )
    .await?;
    Ok(())
}

/// Saves what an operator can change: name, description, definition and status.
pub async fn update<C: Conn>(c: &mut C, s: &SegmentRow) -> Result<(), StoreError> {
    c.execute(
        "UPDATE segments SET name = $2, description = $3, definition = $4, status = $5,
             updated_at_us = $6
         WHERE id = $1",
        &[
            s.id.as_str().into(),
            s.name.as_str().into(),
            s.description.clone().into(),
            s.definition.as_ref().map(|d| d.to_string()).into(),
            s.status.as_str().into(),
            ts(s.updated_at),
        ],
    )
    .await?;
    Ok(())
}

pub async fn get<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: &SegmentId,
) -> Result<Option<SegmentRow>, StoreError> {
    let sql = format!("SELECT {COLS} FROM segments WHERE id = $1 AND tenant_id = $2");
    c.query_one(&sql, &[id.as_str().into(), tenant.as_str().into()])
        .await?
        .map(|r| Ok(decode(&r)?.1))
        .transpose()
}

pub async fn get_by_key<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    key: &str,
) -> Result<Option<SegmentRow>, StoreError> {
    let sql = format!("SELECT {COLS} FROM segments WHERE program_id = $1 AND key = $2");
    c.query_one(&sql, &[program.as_str().into(), key.into()])
        .await?
        .map(|r| Ok(decode(&r)?.1))
        .transpose()
}

pub async fn list<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    after_seq: Option<i64>,
    limit: Option<i64>,
) -> Result<Page<SegmentRow>, StoreError> {
    let sql = format!(
        "SELECT {COLS} FROM segments WHERE program_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
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

/// The program's active segments (a program has dozens at most), oldest first.
pub async fn active<C: Conn>(
    c: &mut C,
    program: &ProgramId,
) -> Result<Vec<SegmentRow>, StoreError> {
    let sql = format!(
        "SELECT {COLS} FROM segments WHERE program_id = $1 AND status = 'active' ORDER BY seq"
    );
    c.query(&sql, &[program.as_str().into()])
        .await?
        .iter()
        .map(|r| Ok(decode(r)?.1))
        .collect()
}

/// The keys of the active segments the member is in.
pub async fn keys_of_member<C: Conn>(
    c: &mut C,
    member: &MemberId,
) -> Result<Vec<String>, StoreError> {
    c.query(
        "SELECT s.key FROM segment_members sm JOIN segments s ON s.id = sm.segment_id
         WHERE sm.member_id = $1 AND s.status = 'active' ORDER BY s.key",
        &[member.as_str().into()],
    )
    .await?
    .iter()
    .map(|r| r.text(0))
    .collect()
}

/// Who is in the segment now (member ids, in id order).
pub async fn member_ids<C: Conn>(
    c: &mut C,
    segment: &SegmentId,
) -> Result<Vec<String>, StoreError> {
    c.query(
        "SELECT member_id FROM segment_members WHERE segment_id = $1 ORDER BY member_id",
        &[segment.as_str().into()],
    )
    .await?
    .iter()
    .map(|r| r.text(0))
    .collect()
}

/// A member in a segment, for lists.
#[derive(Clone, Debug, PartialEq)]
pub struct SegmentMember {
    pub member_id: MemberId,
    pub name: Option<String>,
    pub external_id: Option<String>,
    pub entered_at: Timestamp,
}

pub async fn members_page<C: Conn>(
    c: &mut C,
    segment: &SegmentId,
    after_seq: Option<i64>,
    limit: Option<i64>,
) -> Result<Page<SegmentMember>, StoreError> {
    page_query(
        c,
        "SELECT m.id, m.name, m.external_id, sm.entered_at_us, m.seq
         FROM segment_members sm JOIN members m ON m.id = sm.member_id
         WHERE sm.segment_id = $1 AND m.seq > $2 ORDER BY m.seq LIMIT $3",
        vec![segment.as_str().into(), after_seq.unwrap_or(0).into()],
        limit,
        |r| {
            Ok((
                r.int(4)?,
                SegmentMember {
                    member_id: MemberId::from_trusted(r.text(0)?),
                    name: r.opt_text(1)?,
                    external_id: r.opt_text(2)?,
                    entered_at: to_ts(r.int(3)?)?,
                },
            ))
        },
    )
    .await
}

/// Puts the member in the segment and logs the entry; false when they were already in.
pub async fn enter<C: Conn>(
    c: &mut C,
    segment: &SegmentId,
    member: &MemberId,
    at: Timestamp,
) -> Result<bool, StoreError> {
    let inserted = c
        .execute(
            "INSERT INTO segment_members (segment_id, member_id, entered_at_us) VALUES ($1, $2, $3)
             ON CONFLICT (segment_id, member_id) DO NOTHING",
            &[segment.as_str().into(), member.as_str().into(), ts(at)],
        )
        .await?;
    if inserted == 1 {
        log_change(c, segment, member, "entered", at).await?;
    }
    Ok(inserted == 1)
}

/// Takes the member out of the segment and logs the exit; false when they were not in.
pub async fn leave<C: Conn>(
    c: &mut C,
    segment: &SegmentId,
    member: &MemberId,
    at: Timestamp,
) -> Result<bool, StoreError> {
    let deleted = c
        .execute(
            "DELETE FROM segment_members WHERE segment_id = $1 AND member_id = $2",
            &[segment.as_str().into(), member.as_str().into()],
        )
        .await?;
    if deleted == 1 {
        log_change(c, segment, member, "left", at).await?;
    }
    Ok(deleted == 1)
}

async fn log_change<C: Conn>(
    c: &mut C,
    segment: &SegmentId,
    member: &MemberId,
    change: &str,
    at: Timestamp,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO segment_changes (segment_id, member_id, change, at_us) VALUES ($1, $2, $3, $4)",
        &[
            segment.as_str().into(),
            member.as_str().into(),
            change.into(),
            ts(at),
        ],
    )
    .await?;
    Ok(())
}

/// Adds `delta` to the segment's size, records the new size as the day's, and answers it.
pub async fn resize<C: Conn>(
    c: &mut C,
    segment: &SegmentId,
    delta: i64,
    day: &str,
) -> Result<i64, StoreError> {
    let size = c
        .query_one(
            "UPDATE segments SET size = size + $2 WHERE id = $1 RETURNING size",
            &[segment.as_str().into(), delta.into()],
        )
        .await?
        .ok_or_else(|| StoreError::Decode(format!("segment {segment} is gone")))?
        .int(0)?;
    c.execute(
        "INSERT INTO segment_sizes (segment_id, day, size) VALUES ($1, $2, $3)
         ON CONFLICT (segment_id, day) DO UPDATE SET size = excluded.size",
        &[segment.as_str().into(), day.into(), size.into()],
    )
    .await?;
    Ok(size)
}

pub async fn set_evaluated<C: Conn>(
    c: &mut C,
    segment: &SegmentId,
    at: Timestamp,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE segments SET evaluated_at_us = $2 WHERE id = $1",
        &[segment.as_str().into(), ts(at)],
    )
    .await?;
    Ok(())
}

/// The size at the end of each day it changed, oldest first (at most the last `days` rows).
pub async fn sizes<C: Conn>(
    c: &mut C,
    segment: &SegmentId,
    days: i64,
) -> Result<Vec<(String, i64)>, StoreError> {
    let mut rows: Vec<(String, i64)> = c
        .query(
            "SELECT day, size FROM segment_sizes WHERE segment_id = $1 ORDER BY day DESC LIMIT $2",
            &[segment.as_str().into(), days.into()],
        )
        .await?
        .iter()
        .map(|r| Ok((r.text(0)?, r.int(1)?)))
        .collect::<Result<_, StoreError>>()?;
    rows.reverse();
    Ok(rows)
}

/// One entry or exit.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub member_id: MemberId,
    /// `entered` or `left`.
    pub change: String,
    pub at: Timestamp,
}

pub async fn changes<C: Conn>(
    c: &mut C,
    segment: &SegmentId,
    after_seq: Option<i64>,
    limit: Option<i64>,
) -> Result<Page<Change>, StoreError> {
    page_query(
        c,
        "SELECT member_id, change, at_us, seq FROM segment_changes
         WHERE segment_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        vec![segment.as_str().into(), after_seq.unwrap_or(0).into()],
        limit,
        |r| {
            Ok((
                r.int(3)?,
                Change {
                    member_id: MemberId::from_trusted(r.text(0)?),
                    change: r.text(1)?,
                    at: to_ts(r.int(2)?)?,
                },
            ))
        },
    )
    .await
}

// ---- the facts definitions are evaluated against -----------------------------------------

/// Whose facts to read: one member, or every member of a program.
#[derive(Clone, Copy, Debug)]
pub enum Who<'a> {
    Member(&'a MemberId),
    Program(&'a ProgramId),
}

impl Who<'_> {
    /// The filter on a table with `member_id`/`program_id` columns (or `id`/`program_id` for
    /// members), and its parameter.
    fn filter(&self, alias: &str, member_column: &str) -> (String, Value) {
        match self {
            Who::Member(m) => (format!("{alias}.{member_column} = $1"), m.as_str().into()),
            Who::Program(p) => (format!("{alias}.program_id = $1"), p.as_str().into()),
        }
    }
}

/// A member's profile as segments see it.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileFacts {
    pub member_id: String,
    pub birthday: Option<String>,
    pub locale: Option<String>,
    pub preferred_channel: Option<String>,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub tags: Vec<String>,
    pub status: String,
    pub enrolled_at_us: i64,
    pub tier: Option<String>,
    pub balance: i64,
}

pub async fn profiles<C: Conn>(c: &mut C, who: Who<'_>) -> Result<Vec<ProfileFacts>, StoreError> {
    let (filter, param) = who.filter("m", "id");
    let sql = format!(
        "SELECT m.id, m.birthday, m.locale, m.preferred_channel, m.attributes, m.tags, m.status,
             m.enrolled_at_us, t.tier, a.balance
         FROM members m
         LEFT JOIN member_tiers t ON t.member_id = m.id
         LEFT JOIN accounts a ON a.member_id = m.id AND a.kind = 'member_available'
         WHERE {filter}"
    );
    c.query(&sql, &[param])
        .await?
        .iter()
        .map(|r| {
            Ok(ProfileFacts {
                member_id: r.text(0)?,
                birthday: r.opt_text(1)?,
                locale: r.opt_text(2)?,
                preferred_channel: r.opt_text(3)?,
                attributes: json(&r.text(4)?)?,
                tags: json(&r.text(5)?)?,
                status: r.text(6)?,
                enrolled_at_us: r.int(7)?,
                tier: r.opt_text(8)?,
                balance: r.opt_int(9)?.unwrap_or(0),
            })
        })
        .collect()
}

/// `(member id, channel, granted)`.
pub async fn consents<C: Conn>(
    c: &mut C,
    who: Who<'_>,
) -> Result<Vec<(String, String, bool)>, StoreError> {
    let (filter, param) = who.filter("m", "id");
    let sql = format!(
        "SELECT c.member_id, c.channel, c.granted FROM consents c
         JOIN members m ON m.id = c.member_id WHERE {filter}"
    );
    c.query(&sql, &[param])
        .await?
        .iter()
        .map(|r| Ok((r.text(0)?, r.text(1)?, r.boolean(2)?)))
        .collect()
}

/// `(member id, insights details)` from the last insights run.
pub async fn insights<C: Conn>(
    c: &mut C,
    who: Who<'_>,
) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
    let (filter, param) = who.filter("i", "member_id");
    let sql = format!("SELECT i.member_id, i.details FROM member_insights i WHERE {filter}");
    c.query(&sql, &[param])
        .await?
        .iter()
        .map(|r| Ok((r.text(0)?, json(&r.text(1)?)?)))
        .collect()
}

/// One purchase line (or a purchase without lines) as segments see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PurchaseLineFacts {
    pub purchase_id: String,
    pub member_id: String,
    pub occurred_at_us: i64,
    pub net_minor: i64,
    pub location_id: Option<String>,
    pub sku: Option<String>,
    pub category: Option<String>,
    pub brand: Option<String>,
}

/// Purchases not returned in full, one row per line kept (one row without a line for a
/// purchase with none), grouped by purchase.
pub async fn purchase_lines<C: Conn>(
    c: &mut C,
    who: Who<'_>,
) -> Result<Vec<PurchaseLineFacts>, StoreError> {
    let (filter, param) = who.filter("p", "member_id");
    let sql = format!(
        "SELECT p.id, p.member_id, p.occurred_at_us, p.total_minor - p.returned_minor,
             p.location_id, l.sku, l.category, l.brand
         FROM purchases p
         LEFT JOIN purchase_lines l ON l.purchase_id = p.id AND l.quantity > l.returned_quantity
         WHERE {filter} AND (p.returned_minor < p.total_minor OR p.total_minor = 0)
         ORDER BY p.id"
    );
    c.query(&sql, &[param])
        .await?
        .iter()
        .map(|r| {
            Ok(PurchaseLineFacts {
                purchase_id: r.text(0)?,
                member_id: r.text(1)?,
                occurred_at_us: r.int(2)?,
                net_minor: r.int(3)?,
                location_id: r.opt_text(4)?,
                sku: r.opt_text(5)?,
                category: r.opt_text(6)?,
                brand: r.opt_text(7)?,
            })
        })
        .collect()
}
