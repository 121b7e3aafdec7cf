//! Offers and deals (migration 0016): definitions with their counters, members' activations,
//! uses, and the numbers of an offer's report.
//!
//! Limits are conditional writes, so they hold under concurrent purchases on both databases:
//! a use is counted only `WHERE uses < max_uses AND spent + cost <= budget`, and a member's use
//! only `WHERE uses < per_member`.

use super::{Page, opt_ts, page_query, placeholders, to_opt_ts, to_ts, ts};
use crate::{Conn, Row, StoreError, Value};
use tally_domain::Timestamp;
use tally_domain::ids::{CharityId, MemberId, OfferId, ProgramId, PurchaseId, TenantId};

/// An offer as stored: its definition is JSON (`tally_domain::offers::stored_doc` reads it).
#[derive(Clone, Debug, PartialEq)]
pub struct OfferRow {
    pub id: OfferId,
    pub program_id: ProgramId,
    pub name: String,
    pub description: Option<String>,
    pub definition: String,
    /// `active`, `paused` or `ended`.
    pub status: String,
    pub starts_at: Option<Timestamp>,
    pub ends_at: Option<Timestamp>,
    pub max_uses: Option<i64>,
    pub budget: Option<i64>,
    pub uses: i64,
    pub spent: i64,
    pub created_at: Timestamp,
}

const COLS: &str = "id, program_id, name, description, definition, status, starts_at_us,
    ends_at_us, max_uses, budget, uses, spent, created_at_us, seq";

fn decode(r: &Row) -> Result<(i64, OfferRow), StoreError> {
    Ok((
        r.int(13)?,
        OfferRow {
            id: OfferId::from_trusted(r.text(0)?),
            program_id: ProgramId::from_trusted(r.text(1)?),
            name: r.text(2)?,
            description: r.opt_text(3)?,
            definition: r.text(4)?,
            status: r.text(5)?,
            starts_at: to_opt_ts(r.opt_int(6)?)?,
            ends_at: to_opt_ts(r.opt_int(7)?)?,
            max_uses: r.opt_int(8)?,
            budget: r.opt_int(9)?,
            uses: r.int(10)?,
            spent: r.int(11)?,
            created_at: to_ts(r.int(12)?)?,
        },
    ))
}

pub async fn insert<C: Conn>(c: &mut C, tenant: &TenantId, o: &OfferRow) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO offers (id, tenant_id, program_id, name, description, definition, status,
             starts_at_us, ends_at_us, max_uses, budget, created_at_us)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        &[
            o.id.as_str().into(),
            tenant.as_str().into(),
            o.program_id.as_str().into(),
            o.name.as_str().into(),
            o.description.clone().into(),
            o.definition.as_str().into(),
            o.status.as_str().into(),
            opt_ts(o.starts_at),
            opt_ts(o.ends_at),
            o.max_uses.into(),
            o.budget.into(),
            ts(o.created_at),
        ],
    )
    .await?;
    Ok(())
}

pub async fn get<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: &OfferId,
) -> Result<Option<OfferRow>, StoreError> {
    let sql = format!("SELECT {COLS} FROM offers WHERE id = $1 AND tenant_id = $2");
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
) -> Result<Page<OfferRow>, StoreError> {
    let sql = format!(
        "SELECT {COLS} FROM offers WHERE program_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
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

/// The program's active offers (the earning setup keeps them), oldest first.
pub async fn active<C: Conn>(c: &mut C, program: &ProgramId) -> Result<Vec<OfferRow>, StoreError> {
    let sql = format!(
        "SELECT {COLS} FROM offers WHERE program_id = $1 AND status = 'active' ORDER BY seq"
    );
    c.query(&sql, &[program.as_str().into()])
        .await?
        .iter()
        .map(|r| Ok(decode(r)?.1))
        .collect()
}

pub async fn set_status<C: Conn>(c: &mut C, id: &OfferId, status: &str) -> Result<(), StoreError> {
    c.execute(
        "UPDATE offers SET status = $2 WHERE id = $1",
        &[id.as_str().into(), status.into()],
    )
    .await?;
    Ok(())
}

/// Counts one use against the offer's limits; `false` when they are reached.
pub async fn take_use<C: Conn>(c: &mut C, id: &OfferId, cost: i64) -> Result<bool, StoreError> {
    let changed = c
        .execute(
            "UPDATE offers SET uses = uses + 1, spent = spent + $2
             WHERE id = $1 AND status = 'active'
               AND (max_uses IS NULL OR uses < max_uses)
               AND (budget IS NULL OR spent + $2 <= budget)",
            &[id.as_str().into(), cost.into()],
        )
        .await?;
    Ok(changed == 1)
}

/// A member's activation of an offer.
#[derive(Clone, Debug, PartialEq)]
pub struct ActivationRow {
    pub offer_id: OfferId,
    pub activated_at: Timestamp,
    pub uses: i64,
    pub progress: i64,
    pub progress_since: Option<Timestamp>,
}

fn decode_activation(r: &Row) -> Result<ActivationRow, StoreError> {
    Ok(ActivationRow {
        offer_id: OfferId::from_trusted(r.text(0)?),
        activated_at: to_ts(r.int(1)?)?,
        uses: r.int(2)?,
        progress: r.int(3)?,
        progress_since: to_opt_ts(r.opt_int(4)?)?,
    })
}

const ACTIVATION_COLS: &str = "offer_id, activated_at_us, uses, progress, progress_since_us";

/// Activates an offer for a member; `false` when it already was.
pub async fn activate<C: Conn>(
    c: &mut C,
    offer: &OfferId,
    member: &MemberId,
    at: Timestamp,
) -> Result<bool, StoreError> {
    let changed = c
        .execute(
            "INSERT INTO offer_activations (offer_id, member_id, activated_at_us)
             VALUES ($1, $2, $3) ON CONFLICT (offer_id, member_id) DO NOTHING",
            &[offer.as_str().into(), member.as_str().into(), ts(at)],
        )
        .await?;
    Ok(changed == 1)
}

/// Every offer the member has activated or used.
pub async fn activations_of<C: Conn>(
    c: &mut C,
    member: &MemberId,
) -> Result<Vec<ActivationRow>, StoreError> {
    let sql = format!("SELECT {ACTIVATION_COLS} FROM offer_activations WHERE member_id = $1");
    c.query(&sql, &[member.as_str().into()])
        .await?
        .iter()
        .map(decode_activation)
        .collect()
}

/// Counts one of the member's uses (creating the row for an automatic offer); `false` when the
/// member has had `per_member` already. Starts a loyalty deal's count again.
pub async fn take_member_use<C: Conn>(
    c: &mut C,
    offer: &OfferId,
    member: &MemberId,
    per_member: i64,
    at: Timestamp,
) -> Result<bool, StoreError> {
    let changed = c
        .execute(
            "INSERT INTO offer_activations (offer_id, member_id, activated_at_us, uses)
             VALUES ($1, $2, $3, 1)
             ON CONFLICT (offer_id, member_id) DO UPDATE
             SET uses = offer_activations.uses + 1, progress = 0, progress_since_us = NULL
             WHERE offer_activations.uses < $4",
            &[
                offer.as_str().into(),
                member.as_str().into(),
                ts(at),
                per_member.into(),
            ],
        )
        .await?;
    Ok(changed == 1)
}

/// Undoes [`take_member_use`] when the offer's own limits refused the use.
pub async fn give_back_member_use<C: Conn>(
    c: &mut C,
    offer: &OfferId,
    member: &MemberId,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE offer_activations SET uses = uses - 1 WHERE offer_id = $1 AND member_id = $2",
        &[offer.as_str().into(), member.as_str().into()],
    )
    .await?;
    Ok(())
}

/// Sets a loyalty deal's count of qualifying purchases towards the next use.
pub async fn set_progress<C: Conn>(
    c: &mut C,
    offer: &OfferId,
    member: &MemberId,
    progress: i64,
    since: Timestamp,
    at: Timestamp,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO offer_activations (offer_id, member_id, activated_at_us, progress,
             progress_since_us)
         VALUES ($1, $2, $5, $3, $4)
         ON CONFLICT (offer_id, member_id) DO UPDATE
         SET progress = $3, progress_since_us = $4",
        &[
            offer.as_str().into(),
            member.as_str().into(),
            progress.into(),
            ts(since),
            ts(at),
        ],
    )
    .await?;
    Ok(())
}

/// One use, next to the purchase it came with.
pub struct NewUse<'a> {
    pub id: &'a str,
    pub offer: &'a OfferId,
    pub member: &'a MemberId,
    pub purchase: &'a PurchaseId,
    pub points: i64,
    pub amount_minor: i64,
    pub charity: Option<&'a CharityId>,
    pub at: Timestamp,
}

pub async fn insert_use<C: Conn>(c: &mut C, u: &NewUse<'_>) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO offer_uses (id, offer_id, member_id, purchase_id, points, amount_minor,
             charity_id, created_at_us)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            u.id.into(),
            u.offer.as_str().into(),
            u.member.as_str().into(),
            u.purchase.as_str().into(),
            u.points.into(),
            u.amount_minor.into(),
            u.charity.map(|c| c.as_str().to_owned()).into(),
            ts(u.at),
        ],
    )
    .await?;
    Ok(())
}

/// Who an offer's report compares: the members of its audience, split by whether they
/// activated (or used) it.
pub struct AudienceFilter<'a> {
    pub program: &'a ProgramId,
    pub offer: &'a OfferId,
    pub tiers: &'a [String],
    pub segments: &'a [String],
    pub members: &'a [MemberId],
    pub from: Timestamp,
    pub until: Timestamp,
}

/// One side of the comparison: members, their purchases and revenue in the window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupFigures {
    pub members: i64,
    pub purchases: i64,
    pub revenue_minor: i64,
}

/// Purchases in the offer's window of the audience's users (`.0`) and non-users (`.1`).
pub async fn compare_groups<C: Conn>(
    c: &mut C,
    a: &AudienceFilter<'_>,
) -> Result<(GroupFigures, GroupFigures), StoreError> {
    let mut params: Vec<Value> = vec![
        a.program.as_str().into(),
        a.offer.as_str().into(),
        ts(a.from),
        ts(a.until),
    ];
    let mut conditions = String::new();
    let in_list = |values: Vec<String>, params: &mut Vec<Value>| {
        let first = params.len() + 1;
        let count = values.len();
        params.extend(values.into_iter().map(Value::from));
        placeholders(first, count)
    };
    if !a.members.is_empty() {
        let list = in_list(
            a.members.iter().map(|m| m.to_string()).collect(),
            &mut params,
        );
        conditions.push_str(&format!(" AND m.id IN ({list})"));
    }
    if !a.tiers.is_empty() {
        let list = in_list(a.tiers.to_vec(), &mut params);
        conditions.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM member_tiers t WHERE t.member_id = m.id AND t.tier IN ({list}))"
        ));
    }
    if !a.segments.is_empty() {
        let list = in_list(a.segments.to_vec(), &mut params);
        conditions.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM segment_members sm JOIN segments s ON s.id = sm.segment_id
                          WHERE sm.member_id = m.id AND s.key IN ({list}))"
        ));
    }
    let sql = format!(
        "SELECT u.used, COUNT(*), CAST(COALESCE(SUM(u.purchases), 0) AS BIGINT),
                CAST(COALESCE(SUM(u.revenue), 0) AS BIGINT)
         FROM (SELECT CASE WHEN EXISTS (SELECT 1 FROM offer_activations oa
                                        WHERE oa.offer_id = $2 AND oa.member_id = m.id)
                      THEN 1 ELSE 0 END AS used,
                      (SELECT COUNT(*) FROM purchases p WHERE p.member_id = m.id
                          AND p.occurred_at_us >= $3 AND p.occurred_at_us <= $4) AS purchases,
                      (SELECT SUM(p.total_minor - p.returned_minor) FROM purchases p
                          WHERE p.member_id = m.id
                          AND p.occurred_at_us >= $3 AND p.occurred_at_us <= $4) AS revenue
               FROM members m WHERE m.program_id = $1{conditions}) u
         GROUP BY u.used"
    );
    let mut users = GroupFigures::default();
    let mut others = GroupFigures::default();
    for r in c.query(&sql, &params).await? {
        let figures = GroupFigures {
            members: r.int(1)?,
            purchases: r.int(2)?,
            revenue_minor: r.int(3)?,
        };
        if r.int(0)? == 1 {
            users = figures;
        } else {
            others = figures;
        }
    }
    Ok((users, others))
}

/// An offer's activations, and its uses with what they gave.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UseFigures {
    pub activations: i64,
    pub members_used: i64,
    pub points: i64,
    pub amount_minor: i64,
}

pub async fn use_figures<C: Conn>(c: &mut C, offer: &OfferId) -> Result<UseFigures, StoreError> {
    let r = c
        .query_one(
            "SELECT (SELECT COUNT(*) FROM offer_activations WHERE offer_id = $1),
                    (SELECT COUNT(DISTINCT member_id) FROM offer_uses WHERE offer_id = $1),
                    CAST(COALESCE((SELECT SUM(points) FROM offer_uses WHERE offer_id = $1), 0)
                         AS BIGINT),
                    CAST(COALESCE((SELECT SUM(amount_minor) FROM offer_uses WHERE offer_id = $1),
                         0) AS BIGINT)",
            &[offer.as_str().into()],
        )
        .await?
        .ok_or_else(|| StoreError::Decode("no row".into()))?;
    Ok(UseFigures {
        activations: r.int(0)?,
        members_used: r.int(1)?,
        points: r.int(2)?,
        amount_minor: r.int(3)?,
    })
}
