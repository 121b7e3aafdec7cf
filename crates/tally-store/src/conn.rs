//! The narrow interface each backend implements.

use crate::{Row, StoreError, Value};
use std::future::Future;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// Opens a write transaction. SQLite takes the write lock at once (`IMMEDIATE`) so two
    /// writers never deadlock upgrading a read lock; PostgreSQL relies on conditional writes.
    pub fn begin_write(self) -> &'static str {
        match self {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        }
    }
}

/// Leads a statement whose plan a backend may cache whatever its number of parameters (long
/// `IN` lists are otherwise planned per use, with their values). Only for statements whose
/// lists are of ids, unique on their own (so no generic plan can prefer another index as tables
/// grow), padded to a power of two so that they come in few shapes (`queries::padded`). What
/// they look up per row besides, by key, is planned as in any cached statement.
pub const PLAN_CACHED: &str = "/* plan cached */ ";

/// One database connection. Statements are prepared once per connection and cached.
pub trait Conn: Send + 'static {
    fn dialect(&self) -> Dialect;

    /// Runs one statement; returns the number of rows changed.
    fn execute(
        &mut self,
        sql: &str,
        params: &[Value],
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Runs one query; returns all rows.
    fn query(
        &mut self,
        sql: &str,
        params: &[Value],
    ) -> impl Future<Output = Result<Vec<Row>, StoreError>> + Send;

    /// Runs statements without parameters (transaction control, migrations).
    fn batch(&mut self, sql: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Runs a write whose answer the caller does not need: a backend may hold it back and send
    /// it together with the next statement (PostgreSQL pipelines them, saving a round trip
    /// each), so its error, if any, is reported by a later call, at the latest by [`flush`].
    /// Statements still run in the order they were given. For writes that must succeed for the
    /// transaction to be right (an insert whose unique violation fails the command, a
    /// savepoint), never for one whose row count decides anything.
    ///
    /// [`flush`]: Conn::flush
    fn execute_later(
        &mut self,
        sql: &str,
        params: &[Value],
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        async move { self.execute(sql, params).await.map(|_| ()) }
    }

    /// Inserts rows whose answer nobody reads, like [`execute_later`](Conn::execute_later):
    /// `values` holds `columns.len()` values per row. By default multi-row `INSERT`s, held;
    /// PostgreSQL copies large sets in (`COPY … FROM STDIN`), which spares it parsing and
    /// planning thousands of parameters; SQLite inserts row by row through one cached
    /// statement. After a failure the transaction (or savepoint) must be rolled back: rows
    /// before the failed one may have been written.
    fn insert_rows(
        &mut self,
        table: &str,
        columns: &[&str],
        values: &[Value],
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        insert_rows_held(self, table, columns, values)
    }

    /// Inserts rows like [`insert_rows`](Conn::insert_rows), and lets a backend gather them
    /// with the rows that the writes right after it gather (a run of purchases: their transfers,
    /// purchase rows and idempotency records), to send each table's rows as one statement.
    /// What is gathered goes in before the next statement or held write of another kind: first
    /// the [additions](Conn::gather_addition), then each table's rows, tables in the order they
    /// were first gathered. So gather a row that refers to another gathered row only when that
    /// row's table was gathered first (a purchase before its lines), and nothing that a trigger
    /// reads. On PostgreSQL a batch's purchases write four statements in all instead of four
    /// each; SQLite inserts at once (a statement costs it little).
    fn gather_rows(
        &mut self,
        table: &'static str,
        columns: &'static [&'static str],
        values: &[Value],
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.insert_rows(table, columns, values)
    }

    /// Adds `delta` to a number held in one row, like [`gather_rows`](Conn::gather_rows): a
    /// backend may gather additions to the same rows and send them as one statement, with the
    /// deltas of each row summed (which only its final value can tell). Never for a row whose
    /// new value decides anything before the transaction's next statement.
    fn gather_addition(
        &mut self,
        target: &'static Addition,
        key: &str,
        delta: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        async move {
            self.execute_later(&target.one_row(), &[key.into(), delta.into()])
                .await
        }
    }

    /// Sends what [`execute_later`](Conn::execute_later) held back and reports its first error.
    fn flush(&mut self) -> impl Future<Output = Result<(), StoreError>> + Send {
        async { Ok(()) }
    }

    /// Whether the connection has failed and must not go back to a pool.
    fn is_broken(&self) -> bool;

    fn query_one(
        &mut self,
        sql: &str,
        params: &[Value],
    ) -> impl Future<Output = Result<Option<Row>, StoreError>> + Send {
        async move { Ok(self.query(sql, params).await?.into_iter().next()) }
    }
}

/// A number in a table's rows that writes add to, each row found by a text key (a member
/// account's balance): see [`Conn::gather_addition`]. Rows whose number is null are left alone.
pub struct Addition {
    pub table: &'static str,
    pub key: &'static str,
    pub column: &'static str,
}

impl Addition {
    /// The statement that adds `$2` to the row whose key is `$1`.
    pub fn one_row(&self) -> String {
        let Addition { table, key, column } = self;
        format!(
            "UPDATE {table} SET {column} = {column} + $2 WHERE {key} = $1 AND {column} IS NOT NULL"
        )
    }
}

/// A database: hands out pooled connections for reads and fresh ones for the writers.
pub trait Database: Clone + Send + Sync + 'static {
    type Conn: Conn;
    /// A connection on loan from the read pool.
    type Reader: Conn;

    /// A connection from the read pool (also fine for small writes outside the batcher).
    fn reader(&self) -> impl Future<Output = Result<Self::Reader, StoreError>> + Send;

    /// A new connection owned by one writer for its whole life.
    fn connect_writer(&self) -> impl Future<Output = Result<Self::Conn, StoreError>> + Send;

    /// How many writer tasks suit this backend: one for SQLite (one writer at a time anyway),
    /// a few for PostgreSQL (row locks let them proceed in parallel).
    fn writer_count(&self) -> usize;

    /// Brings the schema up to date; safe to run on every start and from several nodes.
    fn migrate(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn dialect(&self) -> Dialect;
}

/// Rows per statement of [`Conn::insert_rows`]'s multi-row inserts.
const ROWS_PER_INSERT: usize = 200;

/// [`Conn::insert_rows`] as multi-row inserts, held (see [`Conn::execute_later`]).
pub async fn insert_rows_held<C: Conn + ?Sized>(
    c: &mut C,
    table: &str,
    columns: &[&str],
    values: &[Value],
) -> Result<(), StoreError> {
    for chunk in values.chunks(ROWS_PER_INSERT * columns.len()) {
        let sql = multi_row_insert(table, columns, chunk.len() / columns.len());
        c.execute_later(&sql, chunk).await?;
    }
    Ok(())
}

/// `INSERT INTO table (columns) VALUES ($1, …), (…)` for `rows` rows.
pub fn multi_row_insert(table: &str, columns: &[&str], rows: usize) -> String {
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        let first = row * columns.len() + 1;
        let marks: Vec<String> = (first..first + columns.len())
            .map(|i| format!("${i}"))
            .collect();
        sql.push_str(&marks.join(", "));
        sql.push(')');
    }
    sql
}
