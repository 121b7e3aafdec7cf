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
    /// planning thousands of parameters.
    fn insert_rows(
        &mut self,
        table: &str,
        columns: &[&str],
        values: &[Value],
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        insert_rows_held(self, table, columns, values)
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
fn multi_row_insert(table: &str, columns: &[&str], rows: usize) -> String {
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
