//! Every query Tally runs, grouped by what it is about. Each function takes the connection it
//! runs on, so the same function serves a read from the pool and a step inside a write batch.
//!
//! Tenant isolation is in the queries themselves: every lookup by a public id also matches the
//! tenant, so another tenant's id finds nothing (and the API answers 404).

pub mod audit;
pub mod campaigns;
pub mod cashback;
pub mod charities;
pub mod events;
pub mod flows;
pub mod idempotency;
pub mod insights;
pub mod journeys;
pub mod keys;
pub mod ledger;
pub mod locations;
pub mod lots;
pub mod member_states;
pub mod members;
pub mod messages;
pub mod occasions;
pub mod offer_groups;
pub mod offers;
pub mod operators;
pub mod pending;
pub mod programs;
pub mod purchases;
pub mod push;
pub mod referrals;
pub mod rewards;
pub mod rules;
pub mod segments;
pub mod stamps;
pub mod stats;
pub mod templates;
pub mod tiers;
pub mod vouchers;
pub mod wallet;
pub mod webhooks;

use crate::{StoreError, Value};
use tally_domain::Timestamp;

/// Page sizes are bounded everywhere; a client asking for more gets this many.
pub const MAX_PAGE: i64 = 200;

pub(crate) fn ts(t: Timestamp) -> Value {
    Value::Int(t.as_microsecond())
}

pub(crate) fn opt_ts(t: Option<Timestamp>) -> Value {
    t.map_or(Value::Null, ts)
}

pub(crate) fn to_ts(us: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_microsecond(us).map_err(|e| StoreError::Decode(format!("timestamp {us}: {e}")))
}

pub(crate) fn to_opt_ts(us: Option<i64>) -> Result<Option<Timestamp>, StoreError> {
    us.map(to_ts).transpose()
}

pub(crate) fn json<T: serde::de::DeserializeOwned>(raw: &str) -> Result<T, StoreError> {
    serde_json::from_str(raw).map_err(|e| StoreError::Decode(format!("json column: {e}")))
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Value {
    Value::Text(serde_json::to_string(value).expect("our types serialise"))
}

/// `$first, $first+1, …` for an `IN (…)` list of `count` values.
pub(crate) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `(VALUES (CAST($first AS TEXT)), …)` for `count` text parameters: a list of keys as rows,
/// for a lateral lookup per key (PostgreSQL).
pub(crate) fn text_rows(first: usize, count: usize) -> String {
    let rows: Vec<String> = (first..first + count)
        .map(|i| format!("(CAST(${i} AS TEXT))"))
        .collect();
    format!("(VALUES {})", rows.join(", "))
}

/// `values` with its last one repeated up to the next power of two (at least 4): a list for
/// an `IN (…)` that comes in a few lengths, so its statement in a few shapes.
pub(crate) fn padded<T: Clone>(mut values: Vec<T>) -> Vec<T> {
    if let Some(last) = values.last().cloned() {
        values.resize(values.len().next_power_of_two().max(4), last);
    }
    values
}

/// The rows of `table` whose `column` equals one of `count` parameters from `$first` (and
/// that meet `and`, if not empty), as a `FROM` item named `alias`, for lookups through a unique
/// index. On PostgreSQL one lookup per value, in a lateral subquery its planner cannot merge:
/// given a list, it scans the whole table when its statistics are older than the table's rows
/// (seen with the members and accounts of a program enrolled a minute before, and with a
/// program's purchases). SQLite filters by an `IN` list, which it always looks up by index.
/// A value listed twice finds its row twice on PostgreSQL.
pub fn rows_by_keys(
    dialect: crate::Dialect,
    table: &str,
    column: &str,
    (first, count): (usize, usize),
    and: &str,
    alias: &str,
) -> String {
    let and = if and.is_empty() {
        String::new()
    } else {
        format!(" AND {and}")
    };
    match dialect {
        crate::Dialect::Sqlite => format!(
            "(SELECT * FROM {table} WHERE {column} IN ({}){and}) {alias}",
            placeholders(first, count)
        ),
        crate::Dialect::Postgres => format!(
            "{} AS {alias}_key(v) CROSS JOIN LATERAL \
             (SELECT * FROM {table} WHERE {column} = {alias}_key.v{and} OFFSET 0) {alias}",
            text_rows(first, count)
        ),
    }
}

/// A page of results and the cursor for the next one (absent on the last page).
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<i64>,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` fetched rows: the extra row only says there is more.
    pub(crate) fn from_rows(mut rows: Vec<(i64, T)>, limit: i64) -> Page<T> {
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = if more {
            rows.last().map(|(seq, _)| *seq)
        } else {
            None
        };
        Page {
            items: rows.into_iter().map(|(_, item)| item).collect(),
            next_cursor,
        }
    }
}

/// Runs a page query. `sql` ends with `LIMIT $n`, `$n` being one past `params`: it is filled
/// with one more than the page size, and the extra row only says there is a next page.
pub(crate) async fn page_query<C: crate::Conn, T>(
    c: &mut C,
    sql: &str,
    mut params: Vec<Value>,
    limit: Option<i64>,
    decode: impl Fn(&crate::Row) -> Result<(i64, T), StoreError>,
) -> Result<Page<T>, StoreError> {
    let limit = page_limit(limit);
    params.push((limit + 1).into());
    let rows = c
        .query(sql, &params)
        .await?
        .iter()
        .map(decode)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(rows, limit))
}

pub(crate) fn page_limit(requested: Option<i64>) -> i64 {
    requested.unwrap_or(50).clamp(1, MAX_PAGE)
}

#[cfg(test)]
mod tests {
    use super::padded;

    #[test]
    fn padded_lists_come_in_powers_of_two_of_their_last_value() {
        assert_eq!(padded(vec![1]), [1, 1, 1, 1]);
        assert_eq!(padded(vec![1, 2, 3, 4, 5]), [1, 2, 3, 4, 5, 5, 5, 5]);
        assert_eq!(padded(vec![7; 16]).len(), 16);
        assert!(padded(Vec::<u8>::new()).is_empty());
    }
}
