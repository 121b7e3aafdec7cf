//! Voucher pools and codes (migration 0012), and failed look-ups per subject.
//!
//! Codes are written in bulk: one statement inserts a chunk of thousands of codes passed as one
//! parameter (a JSON array for SQLite's `json_each`, tab-separated lines for PostgreSQL's
//! `string_to_array`), so a million codes are a few hundred statements, not a million.

use super::{Page, json, page_query, to_json, to_opt_ts, to_ts, ts};
use crate::conn::Dialect;
use crate::{Conn, Row, StoreError, Value};
use tally_domain::Timestamp;
use tally_domain::ids::{MemberId, ProgramId, TenantId, VoucherPoolId};
use tally_domain::vouchers::Terms;

/// Codes per insert statement.
const CHUNK: usize = 5_000;

/// A pool as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct PoolRow {
    pub id: VoucherPoolId,
    pub program_id: ProgramId,
    pub name: String,
    pub description: Option<String>,
    pub terms: Terms,
    pub prefix: String,
    /// `active` or `archived`.
    pub status: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const POOL_COLS: &str =
    "id, program_id, name, description, terms, prefix, status, created_at_us, updated_at_us, seq";

fn decode_pool(r: &Row) -> Result<(i64, PoolRow), StoreError> {
    Ok((
        r.int(9)?,
        PoolRow {
            id: VoucherPoolId::from_trusted(r.text(0)?),
            program_id: ProgramId::from_trusted(r.text(1)?),
            name: r.text(2)?,
            description: r.opt_text(3)?,
            terms: json(&r.text(4)?)?,
            prefix: r.text(5)?,
            status: r.text(6)?,
            created_at: to_ts(r.int(7)?)?,
            updated_at: to_ts(r.int(8)?)?,
        },
    ))
}

pub async fn insert_pool<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    p: &PoolRow,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO voucher_pools (id, tenant_id, program_id, name, description, terms, prefix,
             status, created_at_us, updated_at_us)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        &[
            p.id.as_str().into(),
            tenant.as_str().into(),
            p.program_id.as_str().into(),
            p.name.as_str().into(),
            p.description.clone().into(),
            to_json(&p.terms),
            p.prefix.as_str().into(),
            p.status.as_str().into(),
            ts(p.created_at),
        ],
    )
    .await?;
    Ok(())
}

/// Saves what an operator can change: name, description, terms and status.
pub async fn update_pool<C: Conn>(c: &mut C, p: &PoolRow) -> Result<(), StoreError> {
    c.execute(
        "UPDATE voucher_pools SET name = $2, description = $3, terms = $4, status = $5,
             updated_at_us = $6
         WHERE id = $1",
        &[
            p.id.as_str().into(),
            p.name.as_str().into(),
            p.description.clone().into(),
            to_json(&p.terms),
            p.status.as_str().into(),
            ts(p.updated_at),
        ],
    )
    .await?;
    Ok(())
}

pub async fn get_pool<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: &VoucherPoolId,
) -> Result<Option<PoolRow>, StoreError> {
    let sql = format!("SELECT {POOL_COLS} FROM voucher_pools WHERE id = $1 AND tenant_id = $2");
    c.query_one(&sql, &[id.as_str().into(), tenant.as_str().into()])
        .await?
        .map(|r| Ok(decode_pool(&r)?.1))
        .transpose()
}

pub async fn list_pools<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    after_seq: Option<i64>,
    limit: Option<i64>,
) -> Result<Page<PoolRow>, StoreError> {
    let sql = format!(
        "SELECT {POOL_COLS} FROM voucher_pools WHERE program_id = $1 AND seq > $2
         ORDER BY seq LIMIT $3"
    );
    page_query(
        c,
        &sql,
        vec![program.as_str().into(), after_seq.unwrap_or(0).into()],
        limit,
        decode_pool,
    )
    .await
}

/// How many codes a pool has: `(all, redeemed, handed to members)`.
pub async fn pool_counts<C: Conn>(
    c: &mut C,
    pool: &VoucherPoolId,
) -> Result<(i64, i64, i64), StoreError> {
    let row = c
        .query_one(
            "SELECT COUNT(*),
                    COALESCE(SUM(CASE WHEN status = 'redeemed' THEN 1 ELSE 0 END), 0),
                    COUNT(member_id)
             FROM voucher_codes WHERE pool_id = $1",
            &[pool.as_str().into()],
        )
        .await?
        .ok_or_else(|| StoreError::Decode("COUNT returned no row".into()))?;
    Ok((row.int(0)?, row.int(1)?, row.int(2)?))
}

/// `SELECT code, shown` unpacking the pairs packed by [`pack_pairs`] into parameter `$n`.
fn unpack_pairs(dialect: Dialect, n: usize) -> String {
    match dialect {
        Dialect::Sqlite => format!(
            "SELECT json_extract(value, '$[0]') AS code, json_extract(value, '$[1]') AS shown
             FROM json_each(${n})"
        ),
        Dialect::Postgres => format!(
            "SELECT split_part(line, E'\\t', 1) AS code, split_part(line, E'\\t', 2) AS shown
             FROM unnest(string_to_array(${n}, E'\\n')) AS line"
        ),
    }
}

/// Pairs `(code, shown)` as one parameter: a JSON array of pairs for SQLite (`json_each`),
/// tab-separated lines for PostgreSQL, which splits them faster than it parses JSON. (Neither
/// part ever holds a tab or a line break: codes are letters and digits, and imports refuse
/// control characters.)
fn pack_pairs(dialect: Dialect, pairs: &[(String, String)]) -> String {
    match dialect {
        Dialect::Sqlite => serde_json::to_string(pairs).expect("strings serialise"),
        Dialect::Postgres => {
            let mut packed = String::with_capacity(pairs.len() * 40);
            for (i, (code, shown)) in pairs.iter().enumerate() {
                if i > 0 {
                    packed.push('\n');
                }
                packed.push_str(code);
                packed.push('\t');
                packed.push_str(shown);
            }
            packed
        }
    }
}

/// Inserts codes `(canonical, shown)` into a pool; a code already in the program is skipped.
/// (`WHERE true` keeps SQLite from reading `ON CONFLICT` as a join's `ON`.)
/// Answers how many were inserted.
pub async fn insert_codes<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    pool: &VoucherPoolId,
    member: Option<&MemberId>,
    codes: &[(String, String)],
    now: Timestamp,
) -> Result<u64, StoreError> {
    let sql = format!(
        "INSERT INTO voucher_codes (program_id, code, shown, pool_id, member_id, status,
             created_at_us)
         SELECT CAST($1 AS TEXT), code, shown, CAST($2 AS TEXT), CAST($3 AS TEXT), 'available',
                CAST($4 AS BIGINT)
         FROM ({}) AS new_codes WHERE true
         ON CONFLICT (program_id, code) DO NOTHING",
        unpack_pairs(c.dialect(), 5)
    );
    let mut inserted = 0;
    for chunk in codes.chunks(CHUNK) {
        let pairs = pack_pairs(c.dialect(), chunk);
        inserted += c
            .execute(
                &sql,
                &[
                    program.as_str().into(),
                    pool.as_str().into(),
                    member.map(MemberId::as_str).into(),
                    ts(now),
                    pairs.into(),
                ],
            )
            .await?;
    }
    Ok(inserted)
}

/// Which of these canonical codes the program already has.
pub async fn existing_codes<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    codes: &[String],
) -> Result<Vec<String>, StoreError> {
    let elements = match c.dialect() {
        Dialect::Sqlite => "SELECT value FROM json_each($2)",
        Dialect::Postgres => "SELECT json_array_elements_text($2::json)",
    };
    let sql = format!(
        "SELECT code FROM voucher_codes WHERE program_id = $1 AND code IN ({elements})
         ORDER BY code"
    );
    let mut found = Vec::new();
    for chunk in codes.chunks(CHUNK) {
        let list = serde_json::to_string(chunk).expect("strings serialise");
        for row in c
            .query(&sql, &[program.as_str().into(), list.into()])
            .await?
        {
            found.push(row.text(0)?);
        }
    }
    Ok(found)
}

/// One code as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct CodeRow {
    pub code: String,
    pub shown: String,
    pub pool_id: VoucherPoolId,
    pub member_id: Option<MemberId>,
    /// `available` or `redeemed`.
    pub status: String,
    pub order_id: Option<String>,
    pub discount_minor: Option<i64>,
    pub redeemed_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

const CODE_COLS: &str = "code, shown, pool_id, member_id, status, order_id, discount_minor, \
                         redeemed_at_us, created_at_us, seq";

fn decode_code(r: &Row) -> Result<(i64, CodeRow), StoreError> {
    Ok((
        r.int(9)?,
        CodeRow {
            code: r.text(0)?,
            shown: r.text(1)?,
            pool_id: VoucherPoolId::from_trusted(r.text(2)?),
            member_id: r.opt_text(3)?.map(MemberId::from_trusted),
            status: r.text(4)?,
            order_id: r.opt_text(5)?,
            discount_minor: r.opt_int(6)?,
            redeemed_at: to_opt_ts(r.opt_int(7)?)?,
            created_at: to_ts(r.int(8)?)?,
        },
    ))
}

pub async fn find_code<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    code: &str,
) -> Result<Option<CodeRow>, StoreError> {
    let sql = format!("SELECT {CODE_COLS} FROM voucher_codes WHERE program_id = $1 AND code = $2");
    c.query_one(&sql, &[program.as_str().into(), code.into()])
        .await?
        .map(|r| Ok(decode_code(&r)?.1))
        .transpose()
}

/// A pool's codes in the order they were made, optionally only those with a status.
pub async fn codes_page<C: Conn>(
    c: &mut C,
    pool: &VoucherPoolId,
    status: Option<&str>,
    after_seq: Option<i64>,
    limit: Option<i64>,
) -> Result<Page<CodeRow>, StoreError> {
    let sql = format!(
        "SELECT {CODE_COLS} FROM voucher_codes
         WHERE pool_id = $1 AND seq > $2 AND ($3 = '' OR status = $3)
         ORDER BY seq LIMIT $4"
    );
    page_query(
        c,
        &sql,
        vec![
            pool.as_str().into(),
            after_seq.unwrap_or(0).into(),
            status.unwrap_or("").into(),
        ],
        limit,
        decode_code,
    )
    .await
}

/// Up to `limit` of a pool's codes after `after_seq`, with their seq: for exporting a whole
/// pool in large steps (pages for clients stay at [`super::MAX_PAGE`]).
pub async fn codes_after<C: Conn>(
    c: &mut C,
    pool: &VoucherPoolId,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<(i64, CodeRow)>, StoreError> {
    let sql = format!(
        "SELECT {CODE_COLS} FROM voucher_codes WHERE pool_id = $1 AND seq > $2
         ORDER BY seq LIMIT $3"
    );
    c.query(
        &sql,
        &[pool.as_str().into(), after_seq.into(), limit.into()],
    )
    .await?
    .iter()
    .map(decode_code)
    .collect()
}

/// A member's personal codes, newest first.
pub async fn codes_of_member<C: Conn>(
    c: &mut C,
    member: &MemberId,
) -> Result<Vec<CodeRow>, StoreError> {
    let sql = format!(
        "SELECT {CODE_COLS} FROM voucher_codes WHERE member_id = $1 ORDER BY seq DESC LIMIT 200"
    );
    c.query(&sql, &[member.as_str().into()])
        .await?
        .iter()
        .map(|r| Ok(decode_code(r)?.1))
        .collect()
}

/// Takes a code for an order, only if it is still available (the conditional write that makes
/// a code single-use under concurrent attempts). Answers whether it was taken.
pub async fn take_code<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    code: &str,
    order_id: &str,
    discount_minor: i64,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let changed = c
        .execute(
            "UPDATE voucher_codes SET status = 'redeemed', order_id = $3, discount_minor = $4,
                 redeemed_at_us = $5
             WHERE program_id = $1 AND code = $2 AND status = 'available'",
            &[
                program.as_str().into(),
                code.into(),
                order_id.into(),
                discount_minor.into(),
                ts(now),
            ],
        )
        .await?;
    Ok(changed == 1)
}

/// Gives a code back when its order is cancelled, only if that order took it.
pub async fn release_code<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    code: &str,
    order_id: &str,
) -> Result<bool, StoreError> {
    let changed = c
        .execute(
            "UPDATE voucher_codes SET status = 'available', order_id = NULL,
                 discount_minor = NULL, redeemed_at_us = NULL
             WHERE program_id = $1 AND code = $2 AND status = 'redeemed' AND order_id = $3",
            &[program.as_str().into(), code.into(), order_id.into()],
        )
        .await?;
    Ok(changed == 1)
}

/// Hands the pool's first free code to a member (a personal code). `None` when none is left.
pub async fn assign_code<C: Conn>(
    c: &mut C,
    pool: &VoucherPoolId,
    member: &MemberId,
) -> Result<Option<CodeRow>, StoreError> {
    // The outer condition re-checks the row, so two writers racing for one code cannot both
    // get it: the loser changes nothing and tries the next code.
    for _ in 0..10 {
        let sql = format!(
            "UPDATE voucher_codes SET member_id = $2
             WHERE seq = (SELECT seq FROM voucher_codes
                          WHERE pool_id = $1 AND member_id IS NULL AND status = 'available'
                          ORDER BY seq LIMIT 1)
               AND member_id IS NULL AND status = 'available'
             RETURNING {CODE_COLS}"
        );
        let rows = c
            .query(&sql, &[pool.as_str().into(), member.as_str().into()])
            .await?;
        if let Some(row) = rows.first() {
            return Ok(Some(decode_code(row)?.1));
        }
        let left = c
            .query_one(
                "SELECT 1 FROM voucher_codes
                 WHERE pool_id = $1 AND member_id IS NULL AND status = 'available' LIMIT 1",
                &[pool.as_str().into()],
            )
            .await?;
        if left.is_none() {
            return Ok(None);
        }
    }
    Ok(None)
}

/// Takes a personal code (canonical) back from its member (a cancelled reward redemption), only
/// while it is unused. Answers whether it was taken back.
pub async fn unassign_code<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    code: &str,
    member: &MemberId,
) -> Result<bool, StoreError> {
    let changed = c
        .execute(
            "UPDATE voucher_codes SET member_id = NULL
             WHERE program_id = $1 AND code = $2 AND member_id = $3 AND status = 'available'",
            &[program.as_str().into(), code.into(), member.as_str().into()],
        )
        .await?;
    Ok(changed == 1)
}

/// Failed look-ups of each subject in the window starting at `window_start`; the largest count.
pub async fn failures<C: Conn>(
    c: &mut C,
    subjects: &[String],
    window_start: Timestamp,
) -> Result<i64, StoreError> {
    let mut most = 0;
    for subject in subjects {
        if let Some(row) = c
            .query_one(
                "SELECT failures FROM voucher_failures
                 WHERE subject = $1 AND window_start_us = $2",
                &[subject.as_str().into(), ts(window_start)],
            )
            .await?
        {
            most = most.max(row.int(0)?);
        }
    }
    Ok(most)
}

/// Counts one failed look-up for each subject in the window; old windows are dropped.
pub async fn add_failure<C: Conn>(
    c: &mut C,
    subjects: &[String],
    window_start: Timestamp,
) -> Result<(), StoreError> {
    for subject in subjects {
        c.execute(
            "INSERT INTO voucher_failures (subject, window_start_us, failures) VALUES ($1, $2, 1)
             ON CONFLICT (subject, window_start_us)
             DO UPDATE SET failures = voucher_failures.failures + 1",
            &[subject.as_str().into(), ts(window_start)],
        )
        .await?;
    }
    c.execute(
        "DELETE FROM voucher_failures WHERE window_start_us < $1",
        &[Value::Int(window_start.as_microsecond())],
    )
    .await?;
    Ok(())
}
