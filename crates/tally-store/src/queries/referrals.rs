//! Referrals: a program's policy, members' codes, and the referrals (see migration 0007).

use super::{to_ts, ts};
use crate::{Conn, Row, StoreError};
use tally_domain::Timestamp;
use tally_domain::ids::{MemberId, ProgramId, PurchaseId, ReferralId};
use tally_domain::referrals::ReferralPolicy;

pub async fn get_policy<C: Conn>(
    c: &mut C,
    program: &ProgramId,
) -> Result<Option<ReferralPolicy>, StoreError> {
    c.query_one(
        "SELECT document FROM referral_policies WHERE program_id = $1",
        &[program.as_str().into()],
    )
    .await?
    .map(|r| {
        let value: serde_json::Value = super::json(&r.text(0)?)?;
        ReferralPolicy::parse(&value)
            .map_err(|e| StoreError::Decode(format!("stored referral policy: {e}")))
    })
    .transpose()
}

pub async fn set_policy<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    policy: &ReferralPolicy,
    at: Timestamp,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO referral_policies (program_id, document, updated_at_us) VALUES ($1, $2, $3)
         ON CONFLICT (program_id) DO UPDATE SET document = excluded.document, updated_at_us = excluded.updated_at_us",
        &[program.as_str().into(), policy.to_json().to_string().into(), ts(at)],
    )
    .await?;
    Ok(())
}

pub async fn insert_code<C: Conn>(
    c: &mut C,
    code: &str,
    member: &MemberId,
    program: &ProgramId,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO referral_codes (code, member_id, program_id) VALUES ($1, $2, $3)",
        &[code.into(), member.as_str().into(), program.as_str().into()],
    )
    .await?;
    Ok(())
}

pub async fn code_of<C: Conn>(c: &mut C, member: &MemberId) -> Result<Option<String>, StoreError> {
    c.query_one(
        "SELECT code FROM referral_codes WHERE member_id = $1",
        &[member.as_str().into()],
    )
    .await?
    .map(|r| r.text(0))
    .transpose()
}

/// The member of `program` whose code this is.
pub async fn member_of_code<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    code: &str,
) -> Result<Option<MemberId>, StoreError> {
    c.query_one(
        "SELECT member_id FROM referral_codes WHERE code = $1 AND program_id = $2",
        &[code.into(), program.as_str().into()],
    )
    .await?
    .map(|r| Ok(MemberId::from_trusted(r.text(0)?)))
    .transpose()
}

/// The program a code belongs to (for the public join page).
pub async fn program_of_code<C: Conn>(
    c: &mut C,
    code: &str,
) -> Result<Option<ProgramId>, StoreError> {
    c.query_one(
        "SELECT program_id FROM referral_codes WHERE code = $1",
        &[code.into()],
    )
    .await?
    .map(|r| Ok(ProgramId::from_trusted(r.text(0)?)))
    .transpose()
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Referral {
    pub id: ReferralId,
    pub program_id: ProgramId,
    pub referrer_id: MemberId,
    pub referred_id: MemberId,
    pub status: String,
    pub purchase_id: Option<PurchaseId>,
    pub note: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const COLS: &str = "id, program_id, referrer_id, referred_id, status, purchase_id, note, created_at_us, updated_at_us";

fn decode(r: &Row) -> Result<Referral, StoreError> {
    Ok(Referral {
        id: ReferralId::from_trusted(r.text(0)?),
        program_id: ProgramId::from_trusted(r.text(1)?),
        referrer_id: MemberId::from_trusted(r.text(2)?),
        referred_id: MemberId::from_trusted(r.text(3)?),
        status: r.text(4)?,
        purchase_id: r.opt_text(5)?.map(PurchaseId::from_trusted),
        note: r.opt_text(6)?,
        created_at: to_ts(r.int(7)?)?,
        updated_at: to_ts(r.int(8)?)?,
    })
}

pub async fn insert<C: Conn>(c: &mut C, r: &Referral) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO referrals (id, program_id, referrer_id, referred_id, status, purchase_id, note, created_at_us, updated_at_us)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            r.id.as_str().into(),
            r.program_id.as_str().into(),
            r.referrer_id.as_str().into(),
            r.referred_id.as_str().into(),
            r.status.as_str().into(),
            r.purchase_id.as_ref().map(|p| p.as_str()).into(),
            r.note.as_deref().into(),
            ts(r.created_at),
            ts(r.updated_at),
        ],
    )
    .await?;
    Ok(())
}

/// Moves a referral on, if it is still in `from` (a conditional write: two purchases or two
/// releases cannot both move it).
pub async fn advance<C: Conn>(
    c: &mut C,
    id: &ReferralId,
    from: &str,
    to: &str,
    purchase: Option<&PurchaseId>,
    note: Option<&str>,
    at: Timestamp,
) -> Result<bool, StoreError> {
    let changed = c
        .execute(
            "UPDATE referrals SET status = $3, purchase_id = $4, note = $5, updated_at_us = $6 WHERE id = $1 AND status = $2",
            &[id.as_str().into(), from.into(), to.into(), purchase.map(|p| p.as_str()).into(), note.into(), ts(at)],
        )
        .await?;
    Ok(changed == 1)
}

/// The referral that brought `member` in, if any.
pub async fn of_referred<C: Conn>(
    c: &mut C,
    member: &MemberId,
) -> Result<Option<Referral>, StoreError> {
    let sql = format!("SELECT {COLS} FROM referrals WHERE referred_id = $1");
    c.query_one(&sql, &[member.as_str().into()])
        .await?
        .map(|r| decode(&r))
        .transpose()
}

/// The referrals a purchase qualified.
pub async fn of_purchase<C: Conn>(
    c: &mut C,
    purchase: &PurchaseId,
) -> Result<Vec<Referral>, StoreError> {
    let sql = format!("SELECT {COLS} FROM referrals WHERE purchase_id = $1");
    c.query(&sql, &[purchase.as_str().into()])
        .await?
        .iter()
        .map(decode)
        .collect()
}

/// A referrer's referrals, newest first (at most 200), each with the referred member's name.
pub async fn of_referrer<C: Conn>(
    c: &mut C,
    member: &MemberId,
) -> Result<Vec<(Referral, Option<String>)>, StoreError> {
    let cols: Vec<String> = COLS.split(", ").map(|c| format!("r.{c}")).collect();
    let sql = format!(
        "SELECT {}, m.name FROM referrals r JOIN members m ON m.id = r.referred_id
         WHERE r.referrer_id = $1 ORDER BY r.seq DESC LIMIT 200",
        cols.join(", ")
    );
    c.query(&sql, &[member.as_str().into()])
        .await?
        .iter()
        .map(|r| Ok((decode(r)?, r.opt_text(9)?)))
        .collect()
}

/// How many of a referrer's referrals were rewarded.
pub async fn rewarded_count<C: Conn>(c: &mut C, member: &MemberId) -> Result<i64, StoreError> {
    let row = c
        .query_one(
            "SELECT COUNT(*) FROM referrals WHERE referrer_id = $1 AND status = 'rewarded'",
            &[member.as_str().into()],
        )
        .await?;
    Ok(row.map(|r| r.int(0)).transpose()?.unwrap_or(0))
}

/// The program's referrals per status, in the order they move.
pub async fn counts<C: Conn>(
    c: &mut C,
    program: &ProgramId,
) -> Result<Vec<(String, i64)>, StoreError> {
    let rows = c
        .query(
            "SELECT status, COUNT(*) FROM referrals WHERE program_id = $1 GROUP BY status",
            &[program.as_str().into()],
        )
        .await?;
    let mut out = Vec::new();
    for status in ["pending", "qualified", "rewarded", "void"] {
        for r in &rows {
            if r.text(0)? == status {
                out.push((status.to_owned(), r.int(1)?));
            }
        }
    }
    Ok(out)
}
