//! Charities (migration 0014): the partners, members' gifts and the program's payouts, with the
//! running totals members and operators see.

use super::{Page, page_query, to_ts, ts};
use crate::{Conn, Row, StoreError};
use tally_domain::Timestamp;
use tally_domain::ids::{CharityId, MemberId, ProgramId, TenantId};

/// A charity with its totals.
#[derive(Clone, Debug, PartialEq)]
pub struct CharityRow {
    pub id: CharityId,
    pub program_id: ProgramId,
    pub name: String,
    pub description: Option<String>,
    /// `active` or `archived`.
    pub status: String,
    pub created_at: Timestamp,
    pub donated_points: i64,
    pub donated_minor: i64,
    pub donors: i64,
    pub settled_minor: i64,
    /// Money the merchant gave for members' purchases (charity deals, `offer_uses`).
    pub merchant_minor: i64,
}

const COLS: &str = "c.id, c.program_id, c.name, c.description, c.status, c.created_at_us, c.seq,
    CAST(COALESCE((SELECT SUM(points) FROM donations d WHERE d.charity_id = c.id), 0) AS BIGINT),
    CAST(COALESCE((SELECT SUM(amount_minor) FROM donations d WHERE d.charity_id = c.id), 0)
         AS BIGINT),
    (SELECT COUNT(DISTINCT member_id) FROM donations d WHERE d.charity_id = c.id),
    CAST(COALESCE((SELECT SUM(amount_minor) FROM charity_settlements s
                   WHERE s.charity_id = c.id), 0) AS BIGINT),
    CAST(COALESCE((SELECT SUM(amount_minor) FROM offer_uses u WHERE u.charity_id = c.id), 0)
         AS BIGINT)";

fn decode(r: &Row) -> Result<(i64, CharityRow), StoreError> {
    Ok((
        r.int(6)?,
        CharityRow {
            id: CharityId::from_trusted(r.text(0)?),
            program_id: ProgramId::from_trusted(r.text(1)?),
            name: r.text(2)?,
            description: r.opt_text(3)?,
            status: r.text(4)?,
            created_at: to_ts(r.int(5)?)?,
            donated_points: r.int(7)?,
            donated_minor: r.int(8)?,
            donors: r.int(9)?,
            settled_minor: r.int(10)?,
            merchant_minor: r.int(11)?,
        },
    ))
}

pub async fn insert<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    row: &CharityRow,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO charities (id, tenant_id, program_id, name, description, status, created_at_us)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            row.id.as_str().into(),
            tenant.as_str().into(),
            row.program_id.as_str().into(),
            row.name.as_str().into(),
            row.description.clone().into(),
            row.status.as_str().into(),
            ts(row.created_at),
        ],
    )
    .await?;
    Ok(())
}

pub async fn set_status<C: Conn>(
    c: &mut C,
    id: &CharityId,
    status: &str,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE charities SET status = $2 WHERE id = $1",
        &[id.as_str().into(), status.into()],
    )
    .await?;
    Ok(())
}

pub async fn get<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: &CharityId,
) -> Result<Option<CharityRow>, StoreError> {
    let sql = format!("SELECT {COLS} FROM charities c WHERE c.id = $1 AND c.tenant_id = $2");
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
) -> Result<Page<CharityRow>, StoreError> {
    let sql = format!(
        "SELECT {COLS} FROM charities c WHERE c.program_id = $1 AND c.seq > $2
         ORDER BY c.seq LIMIT $3"
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

/// One gift, as recorded next to its transfer.
pub struct NewDonation<'a> {
    pub id: &'a str,
    pub charity: &'a CharityId,
    pub member: &'a MemberId,
    pub points: i64,
    pub amount_minor: i64,
    pub at: Timestamp,
}

pub async fn insert_donation<C: Conn>(c: &mut C, d: &NewDonation<'_>) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO donations (id, charity_id, member_id, points, amount_minor, created_at_us)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            d.id.into(),
            d.charity.as_str().into(),
            d.member.as_str().into(),
            d.points.into(),
            d.amount_minor.into(),
            ts(d.at),
        ],
    )
    .await?;
    Ok(())
}

/// A member's gifts per charity: `(charity id, charity name, points, amount_minor)`.
pub async fn given_by_member<C: Conn>(
    c: &mut C,
    member: &MemberId,
) -> Result<Vec<(String, String, i64, i64)>, StoreError> {
    c.query(
        "SELECT d.charity_id, c.name, CAST(SUM(d.points) AS BIGINT),
                CAST(SUM(d.amount_minor) AS BIGINT)
         FROM donations d JOIN charities c ON c.id = d.charity_id
         WHERE d.member_id = $1 GROUP BY d.charity_id, c.name ORDER BY c.name",
        &[member.as_str().into()],
    )
    .await?
    .iter()
    .map(|r| Ok((r.text(0)?, r.text(1)?, r.int(2)?, r.int(3)?)))
    .collect()
}

/// A payout to a charity.
pub struct NewSettlement<'a> {
    pub id: &'a str,
    pub charity: &'a CharityId,
    pub amount_minor: i64,
    pub reference: &'a str,
    pub settled_on: &'a str,
    pub actor: &'a str,
    pub at: Timestamp,
}

pub async fn insert_settlement<C: Conn>(
    c: &mut C,
    s: &NewSettlement<'_>,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO charity_settlements (id, charity_id, amount_minor, reference, settled_on,
             actor, created_at_us)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            s.id.into(),
            s.charity.as_str().into(),
            s.amount_minor.into(),
            s.reference.into(),
            s.settled_on.into(),
            s.actor.into(),
            ts(s.at),
        ],
    )
    .await?;
    Ok(())
}
