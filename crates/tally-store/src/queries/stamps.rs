//! Stamp cards: their documents, each member's progress, the log of stamps, and the store's
//! one-use QR codes (see migration 0006). Documents are JSON text here; tally-domain parses them.

use super::{Page, page_query, to_ts, ts};
use crate::{Conn, Row, StoreError};
use tally_domain::Timestamp;
use tally_domain::ids::{LocationId, MemberId, ProgramId, PurchaseId, StampCardId, TenantId};

/// A stamp card as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct CardRow {
    pub id: StampCardId,
    pub program_id: ProgramId,
    pub document: serde_json::Value,
    pub status: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const CARD_COLS: &str = "id, program_id, document, status, created_at_us, updated_at_us, seq";

fn decode(r: &Row) -> Result<(i64, CardRow), StoreError> {
    Ok((
        r.int(6)?,
        CardRow {
            id: StampCardId::from_trusted(r.text(0)?),
            program_id: ProgramId::from_trusted(r.text(1)?),
            document: super::json(&r.text(2)?)?,
            status: r.text(3)?,
            created_at: to_ts(r.int(4)?)?,
            updated_at: to_ts(r.int(5)?)?,
        },
    ))
}

pub async fn insert_card<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    card: &CardRow,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO stamp_cards (id, tenant_id, program_id, document, status, created_at_us, updated_at_us)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            card.id.as_str().into(),
            tenant.as_str().into(),
            card.program_id.as_str().into(),
            card.document.to_string().into(),
            card.status.as_str().into(),
            ts(card.created_at),
            ts(card.updated_at),
        ],
    )
    .await?;
    Ok(())
}

pub async fn update_card<C: Conn>(c: &mut C, card: &CardRow) -> Result<(), StoreError> {
    c.execute(
        "UPDATE stamp_cards SET document = $2, status = $3, updated_at_us = $4 WHERE id = $1",
        &[
            card.id.as_str().into(),
            card.document.to_string().into(),
            card.status.as_str().into(),
            ts(card.updated_at),
        ],
    )
    .await?;
    Ok(())
}

pub async fn get_card<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: &StampCardId,
) -> Result<Option<CardRow>, StoreError> {
    let sql = format!("SELECT {CARD_COLS} FROM stamp_cards WHERE id = $1 AND tenant_id = $2");
    c.query_one(&sql, &[id.as_str().into(), tenant.as_str().into()])
        .await?
        .map(|r| Ok(decode(&r)?.1))
        .transpose()
}

/// A page of the program's cards, oldest first.
pub async fn list_cards<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    after_seq: Option<i64>,
    limit: Option<i64>,
) -> Result<Page<CardRow>, StoreError> {
    let sql = format!(
        "SELECT {CARD_COLS} FROM stamp_cards WHERE program_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
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

/// The program's active cards (a program has a handful).
pub async fn active_cards<C: Conn>(
    c: &mut C,
    program: &ProgramId,
) -> Result<Vec<CardRow>, StoreError> {
    let sql = format!(
        "SELECT {CARD_COLS} FROM stamp_cards WHERE program_id = $1 AND status = 'active' ORDER BY seq"
    );
    c.query(&sql, &[program.as_str().into()])
        .await?
        .iter()
        .map(|r| Ok(decode(r)?.1))
        .collect()
}

/// A member's progress on a card: stamps toward the next completion, and completions so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub stamps: i64,
    pub completions: i64,
}

/// Locks the member's progress row on a card (creating it at zero) and reads it.
pub async fn lock_progress<C: Conn>(
    c: &mut C,
    card: &StampCardId,
    member: &MemberId,
    now: Timestamp,
) -> Result<Progress, StoreError> {
    c.execute(
        "INSERT INTO member_stamps (card_id, member_id, stamps, completions, updated_at_us) VALUES ($1, $2, 0, 0, $3)
         ON CONFLICT (card_id, member_id) DO NOTHING",
        &[card.as_str().into(), member.as_str().into(), ts(now)],
    )
    .await?;
    let row = c
        .query_one(
            "UPDATE member_stamps SET stamps = stamps WHERE card_id = $1 AND member_id = $2 RETURNING stamps, completions",
            &[card.as_str().into(), member.as_str().into()],
        )
        .await?
        .ok_or_else(|| StoreError::Decode("member_stamps row just written".into()))?;
    Ok(Progress {
        stamps: row.int(0)?,
        completions: row.int(1)?,
    })
}

pub async fn set_progress<C: Conn>(
    c: &mut C,
    card: &StampCardId,
    member: &MemberId,
    p: Progress,
    now: Timestamp,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE member_stamps SET stamps = $3, completions = $4, updated_at_us = $5 WHERE card_id = $1 AND member_id = $2",
        &[card.as_str().into(), member.as_str().into(), p.stamps.into(), p.completions.into(), ts(now)],
    )
    .await?;
    Ok(())
}

/// The member's progress on each card they have stamps on: `(card, progress)`.
pub async fn member_progress<C: Conn>(
    c: &mut C,
    member: &MemberId,
) -> Result<Vec<(StampCardId, Progress)>, StoreError> {
    c.query(
        "SELECT card_id, stamps, completions FROM member_stamps WHERE member_id = $1",
        &[member.as_str().into()],
    )
    .await?
    .iter()
    .map(|r| {
        Ok((
            StampCardId::from_trusted(r.text(0)?),
            Progress {
                stamps: r.int(1)?,
                completions: r.int(2)?,
            },
        ))
    })
    .collect()
}

/// Where a change of stamps came from.
pub struct StampEvent<'a> {
    pub card: &'a StampCardId,
    pub member: &'a MemberId,
    /// `purchase`, `cashier`, `qr` or `return`.
    pub source: &'static str,
    pub stamps: i64,
    pub completions: i64,
    pub purchase: Option<&'a PurchaseId>,
    pub location: Option<&'a LocationId>,
    pub code: Option<&'a str>,
    pub actor: &'a str,
    pub note: Option<&'a str>,
    pub occurred_at: Timestamp,
    pub recorded_at: Timestamp,
}

pub async fn insert_event<C: Conn>(c: &mut C, e: &StampEvent<'_>) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO stamp_events (card_id, member_id, source, stamps, completions, purchase_id, location_id, code, actor, note, occurred_at_us, recorded_at_us)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        &[
            e.card.as_str().into(),
            e.member.as_str().into(),
            e.source.into(),
            e.stamps.into(),
            e.completions.into(),
            e.purchase.map(|p| p.as_str()).into(),
            e.location.map(|l| l.as_str()).into(),
            e.code.into(),
            e.actor.into(),
            e.note.into(),
            ts(e.occurred_at),
            ts(e.recorded_at),
        ],
    )
    .await?;
    Ok(())
}

/// Stamps the member got on the card since `since` (taken-back stamps are not subtracted: a
/// return does not make room under the daily cap).
pub async fn given_since<C: Conn>(
    c: &mut C,
    card: &StampCardId,
    member: &MemberId,
    since: Timestamp,
) -> Result<i64, StoreError> {
    let row = c
        .query_one(
            "SELECT CAST(COALESCE(SUM(stamps), 0) AS BIGINT) FROM stamp_events
             WHERE member_id = $1 AND card_id = $2 AND occurred_at_us >= $3 AND stamps > 0",
            &[member.as_str().into(), card.as_str().into(), ts(since)],
        )
        .await?;
    Ok(row.map(|r| r.int(0)).transpose()?.unwrap_or(0))
}

/// The stamps a purchase gave, per card: `(card, stamps)` less what returns took back.
pub async fn stamps_of_purchase<C: Conn>(
    c: &mut C,
    purchase: &PurchaseId,
) -> Result<Vec<(StampCardId, i64)>, StoreError> {
    c.query(
        "SELECT card_id, CAST(SUM(stamps) AS BIGINT) FROM stamp_events WHERE purchase_id = $1 GROUP BY card_id ORDER BY card_id",
        &[purchase.as_str().into()],
    )
    .await?
    .iter()
    .map(|r| Ok((StampCardId::from_trusted(r.text(0)?), r.int(1)?)))
    .collect()
}

/// A QR code a store's display shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeRow {
    pub code: String,
    pub program_id: ProgramId,
    pub card_id: StampCardId,
    pub location_id: LocationId,
    pub expires_at: Timestamp,
    pub used: bool,
}

fn decode_code(r: &Row) -> Result<CodeRow, StoreError> {
    Ok(CodeRow {
        code: r.text(0)?,
        program_id: ProgramId::from_trusted(r.text(1)?),
        card_id: StampCardId::from_trusted(r.text(2)?),
        location_id: LocationId::from_trusted(r.text(3)?),
        expires_at: to_ts(r.int(4)?)?,
        used: r.opt_text(5)?.is_some(),
    })
}

const CODE_COLS: &str = "code, program_id, card_id, location_id, expires_at_us, used_by";

/// The display's current code: the newest one for the card and store.
pub async fn latest_code<C: Conn>(
    c: &mut C,
    card: &StampCardId,
    location: &LocationId,
) -> Result<Option<CodeRow>, StoreError> {
    let sql = format!(
        "SELECT {CODE_COLS} FROM stamp_codes WHERE card_id = $1 AND location_id = $2 ORDER BY issued_at_us DESC LIMIT 1"
    );
    c.query_one(&sql, &[card.as_str().into(), location.as_str().into()])
        .await?
        .map(|r| decode_code(&r))
        .transpose()
}

pub async fn get_code<C: Conn>(c: &mut C, code: &str) -> Result<Option<CodeRow>, StoreError> {
    let sql = format!("SELECT {CODE_COLS} FROM stamp_codes WHERE code = $1");
    c.query_one(&sql, &[code.into()])
        .await?
        .map(|r| decode_code(&r))
        .transpose()
}

pub async fn insert_code<C: Conn>(
    c: &mut C,
    code: &CodeRow,
    issued_at: Timestamp,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO stamp_codes (code, program_id, card_id, location_id, issued_at_us, expires_at_us) VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            code.code.as_str().into(),
            code.program_id.as_str().into(),
            code.card_id.as_str().into(),
            code.location_id.as_str().into(),
            ts(issued_at),
            ts(code.expires_at),
        ],
    )
    .await?;
    Ok(())
}

/// Uses a code for a member: true for exactly one caller, while the code is live.
pub async fn use_code<C: Conn>(
    c: &mut C,
    code: &str,
    member: &MemberId,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let changed = c
        .execute(
            "UPDATE stamp_codes SET used_by = $2, used_at_us = $3 WHERE code = $1 AND used_by IS NULL AND expires_at_us > $3",
            &[code.into(), member.as_str().into(), ts(now)],
        )
        .await?;
    Ok(changed == 1)
}
