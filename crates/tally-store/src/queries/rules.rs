//! Earning rules: the current document of each rule, its immutable versions, and the awards
//! that per-member limits and budgets count. Documents are JSON text here; `tally-rules`
//! parses them.

use super::{Page, page_query, placeholders, to_ts, ts};
use crate::{Conn, Dialect, Row, StoreError, Value};
use tally_domain::Timestamp;
use tally_domain::ids::{MemberId, ProgramId, RuleId, TenantId};

/// A rule as stored: its current version and document.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleRow {
    pub id: RuleId,
    pub program_id: ProgramId,
    pub version: i64,
    pub status: String,
    pub document: serde_json::Value,
    /// Points awarded so far; counted only for rules with a budget.
    pub awarded_total: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const RULE_COLS: &str =
    "id, program_id, version, status, document, awarded_total, created_at_us, updated_at_us, seq";

fn decode(r: &Row) -> Result<(i64, RuleRow), StoreError> {
    Ok((
        r.int(8)?,
        RuleRow {
            id: RuleId::from_trusted(r.text(0)?),
            program_id: ProgramId::from_trusted(r.text(1)?),
            version: r.int(2)?,
            status: r.text(3)?,
            document: super::json(&r.text(4)?)?,
            awarded_total: r.int(5)?,
            created_at: to_ts(r.int(6)?)?,
            updated_at: to_ts(r.int(7)?)?,
        },
    ))
}

/// Inserts a new rule (version 1) and its first version row.
pub async fn insert_rule<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    rule: &RuleRow,
    budget: Option<i64>,
    actor: &str,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO rules (id, tenant_id, program_id, version, status, document, budget, awarded_total, created_at_us, updated_at_us)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9)",
        &[
            rule.id.as_str().into(),
            tenant.as_str().into(),
            rule.program_id.as_str().into(),
            rule.version.into(),
            rule.status.as_str().into(),
            rule.document.to_string().into(),
            budget.into(),
            ts(rule.created_at),
            ts(rule.updated_at),
        ],
    )
    .await?;
    insert_version(c, rule, actor).await
}

/// Writes back a rule's current version, document, status and budget, and records the version
/// if it is new. A budget lower than what was already awarded is refused by the table's check.
pub async fn update_rule<C: Conn>(
    c: &mut C,
    rule: &RuleRow,
    budget: Option<i64>,
    new_version: bool,
    actor: &str,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE rules SET version = $2, status = $3, document = $4, budget = $5, updated_at_us = $6 WHERE id = $1",
        &[
            rule.id.as_str().into(),
            rule.version.into(),
            rule.status.as_str().into(),
            rule.document.to_string().into(),
            budget.into(),
            ts(rule.updated_at),
        ],
    )
    .await?;
    if new_version {
        insert_version(c, rule, actor).await?;
    }
    Ok(())
}

async fn insert_version<C: Conn>(c: &mut C, rule: &RuleRow, actor: &str) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO rule_versions (rule_id, version, document, actor, created_at_us) VALUES ($1, $2, $3, $4, $5)",
        &[
            rule.id.as_str().into(),
            rule.version.into(),
            rule.document.to_string().into(),
            actor.into(),
            ts(rule.updated_at),
        ],
    )
    .await?;
    Ok(())
}

pub async fn get_rule<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: &RuleId,
) -> Result<Option<RuleRow>, StoreError> {
    let sql = format!("SELECT {RULE_COLS} FROM rules WHERE id = $1 AND tenant_id = $2");
    c.query_one(&sql, &[id.as_str().into(), tenant.as_str().into()])
        .await?
        .map(|r| Ok(decode(&r)?.1))
        .transpose()
}

pub async fn list_rules<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    program: &ProgramId,
    after_seq: Option<i64>,
    limit: Option<i64>,
) -> Result<Page<RuleRow>, StoreError> {
    let sql = format!(
        "SELECT {RULE_COLS} FROM rules WHERE tenant_id = $1 AND program_id = $2 AND seq > $3 ORDER BY seq LIMIT $4"
    );
    page_query(
        c,
        &sql,
        vec![
            tenant.as_str().into(),
            program.as_str().into(),
            after_seq.unwrap_or(0).into(),
        ],
        limit,
        decode,
    )
    .await
}

/// The program's active rules, all of them (a program has tens, not thousands).
pub async fn active_rules<C: Conn>(
    c: &mut C,
    program: &ProgramId,
) -> Result<Vec<RuleRow>, StoreError> {
    let sql = format!(
        "SELECT {RULE_COLS} FROM rules WHERE program_id = $1 AND status = 'active' ORDER BY seq"
    );
    c.query(&sql, &[program.as_str().into()])
        .await?
        .iter()
        .map(|r| Ok(decode(r)?.1))
        .collect()
}

/// One version of a rule, as it was saved.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RuleVersion {
    pub version: i64,
    pub document: serde_json::Value,
    pub actor: String,
    pub created_at: Timestamp,
}

pub async fn versions<C: Conn>(c: &mut C, rule: &RuleId) -> Result<Vec<RuleVersion>, StoreError> {
    c.query(
        "SELECT version, document, actor, created_at_us FROM rule_versions WHERE rule_id = $1 ORDER BY version",
        &[rule.as_str().into()],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(RuleVersion {
            version: r.int(0)?,
            document: super::json(&r.text(1)?)?,
            actor: r.text(2)?,
            created_at: to_ts(r.int(3)?)?,
        })
    })
    .collect()
}

/// Marks the program's rules as changed (compiled copies elsewhere are stale from now on).
pub async fn bump_revision<C: Conn>(c: &mut C, program: &ProgramId) -> Result<(), StoreError> {
    c.execute(
        "UPDATE programs SET rules_revision = rules_revision + 1 WHERE id = $1",
        &[program.as_str().into()],
    )
    .await?;
    Ok(())
}

/// Points a rule has given a member since each of `since` (one sum per entry, in order).
pub async fn member_usage<C: Conn>(
    c: &mut C,
    rule: &str,
    member: &MemberId,
    since: &[Timestamp],
) -> Result<Vec<i64>, StoreError> {
    // One statement: a sum per window, by filtering the member's rows once.
    let sums: Vec<String> = (0..since.len())
        .map(|i| {
            format!(
                "CAST(COALESCE(SUM(CASE WHEN occurred_at_us >= ${} THEN points ELSE 0 END), 0) AS BIGINT)",
                i + 3
            )
        })
        .collect();
    let sql = format!(
        "SELECT {} FROM rule_awards WHERE rule_id = $1 AND member_id = $2",
        sums.join(", ")
    );
    let mut params: Vec<Value> = vec![rule.into(), member.as_str().into()];
    params.extend(since.iter().map(|t| ts(*t)));
    let row = c
        .query_one(&sql, &params)
        .await?
        .ok_or_else(|| StoreError::Decode("an aggregate returns a row".into()))?;
    (0..since.len()).map(|i| row.int(i)).collect()
}

/// Copies into `rule_awards` the point awards a rule gave in `versions` (from the ledger's
/// `earn` transfers naming the rule and version): versions that recorded none because nothing
/// counted them, when a later version adds a limit or a budget. Answers the rows copied.
pub async fn copy_awards_from_ledger<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    rule: &RuleId,
    versions: std::ops::RangeInclusive<i64>,
) -> Result<u64, StoreError> {
    let (rule_of, version_of) = match c.dialect() {
        Dialect::Sqlite => (
            "json_extract(reason, '$.rule')",
            "json_extract(reason, '$.rule_version')",
        ),
        Dialect::Postgres => (
            "CAST(reason AS jsonb) ->> 'rule'",
            "CAST(CAST(reason AS jsonb) ->> 'rule_version' AS BIGINT)",
        ),
    };
    let sql = format!(
        "INSERT INTO rule_awards (rule_id, member_id, points, occurred_at_us)
         SELECT $2, member_id, amount, occurred_at_us FROM transfers
         WHERE program_id = $1 AND kind = 'earn' AND {rule_of} = $2
           AND {version_of} BETWEEN $3 AND $4"
    );
    c.execute(
        &sql,
        &[
            program.as_str().into(),
            rule.as_str().into(),
            (*versions.start()).into(),
            (*versions.end()).into(),
        ],
    )
    .await
}

/// Records awards: those of rules with a limit per member or a budget, and grants.
pub async fn insert_awards<C: Conn>(
    c: &mut C,
    member: &MemberId,
    awards: &[(&str, i64)],
    occurred_at: Timestamp,
) -> Result<(), StoreError> {
    if awards.is_empty() {
        return Ok(());
    }
    let rows: Vec<String> = (0..awards.len())
        .map(|i| format!("({})", placeholders(4 * i + 1, 4)))
        .collect();
    let sql = format!(
        "INSERT INTO rule_awards (rule_id, member_id, points, occurred_at_us) VALUES {}",
        rows.join(", ")
    );
    let mut params: Vec<Value> = Vec::with_capacity(4 * awards.len());
    for (rule, points) in awards {
        params.extend([
            (*rule).into(),
            member.as_str().into(),
            (*points).into(),
            ts(occurred_at),
        ]);
    }
    c.execute_later(&sql, &params).await
}

/// Takes `points` from a budgeted rule's budget if it still covers them; false when not.
pub async fn spend_budget<C: Conn>(c: &mut C, rule: &str, points: i64) -> Result<bool, StoreError> {
    let changed = c
        .execute(
            "UPDATE rules SET awarded_total = awarded_total + $2 WHERE id = $1 AND budget IS NOT NULL AND awarded_total + $2 <= budget",
            &[rule.into(), points.into()],
        )
        .await?;
    Ok(changed == 1)
}

/// What a budgeted rule has awarded so far, read with the row locked until the transaction
/// ends (a no-op update), so two writers cannot both spend the last of a budget.
pub async fn lock_budget<C: Conn>(c: &mut C, rule: &str) -> Result<i64, StoreError> {
    let row = c
        .query_one(
            "UPDATE rules SET awarded_total = awarded_total WHERE id = $1 RETURNING awarded_total",
            &[rule.into()],
        )
        .await?
        .ok_or_else(|| StoreError::Decode(format!("rule {rule} is gone")))?;
    row.int(0)
}

/// What a budgeted rule has awarded so far (a plain read, for simulations).
pub async fn awarded_total<C: Conn>(c: &mut C, rule: &str) -> Result<i64, StoreError> {
    c.query_one(
        "SELECT awarded_total FROM rules WHERE id = $1",
        &[rule.into()],
    )
    .await?
    .map_or(Ok(0), |r| r.int(0))
}

/// Sets a rule's running total to everything it ever gave (from its awards) and answers it.
pub async fn recount_awarded<C: Conn>(c: &mut C, rule: &RuleId) -> Result<i64, StoreError> {
    let row = c
        .query_one(
            "UPDATE rules SET awarded_total = (SELECT CAST(COALESCE(SUM(points), 0) AS BIGINT) FROM rule_awards WHERE rule_id = $1)
             WHERE id = $1 RETURNING awarded_total",
            &[rule.as_str().into()],
        )
        .await?
        .ok_or_else(|| StoreError::Decode(format!("rule {rule} is gone")))?;
    row.int(0)
}
