//! The one place that links both backends. `AnyDb` is an enum, so everything above it stays
//! statically dispatched (one `match` per statement, nothing boxed), and the choice is made once
//! from the URL scheme: `sqlite://…` or `postgres://…`.

pub mod testing;

use tally_store::{Addition, Conn, Database, Dialect, Pooled, Row, StoreError, Value};
use tally_store_postgres::{PgConn, PgDb};
use tally_store_sqlite::{SqliteConn, SqliteDb};

// One per process (clones share its pools), so the size of the PostgreSQL variant costs nothing
// worth an indirection on every query.
#[derive(Clone)]
pub enum AnyDb {
    Sqlite(SqliteDb),
    Postgres(PgDb),
}

impl AnyDb {
    /// Opens the database a URL names: `sqlite://tally.db`, `postgres://user@host/db`.
    pub fn connect(url: &str) -> Result<AnyDb, StoreError> {
        if url.starts_with("sqlite:") {
            SqliteDb::from_url(url).map(AnyDb::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            PgDb::from_url(url, None).map(AnyDb::Postgres)
        } else {
            Err(StoreError::Other(format!(
                "`{url}`: the database URL must start with sqlite:// or postgres://"
            )))
        }
    }
}

pub enum AnyConn {
    Sqlite(SqliteConn),
    Postgres(PgConn),
}

/// A pooled connection of either backend.
pub enum AnyPooled {
    Sqlite(Pooled<SqliteConn>),
    Postgres(Pooled<PgConn>),
}

macro_rules! each {
    ($value:expr, $c:ident => $body:expr) => {
        match $value {
            Self::Sqlite($c) => $body,
            Self::Postgres($c) => $body,
        }
    };
}

/// `Conn` for an enum of both backends' connections, every method forwarded: one left out
/// would silently fall back to the trait's default (until session 14 `execute_later` did, and
/// PostgreSQL sent every held write alone).
macro_rules! forward_conn {
    ($any:ty) => {
        impl Conn for $any {
            fn dialect(&self) -> Dialect {
                each!(self, c => c.dialect())
            }

            async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
                each!(self, c => c.execute(sql, params).await)
            }

            async fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
                each!(self, c => c.query(sql, params).await)
            }

            async fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
                each!(self, c => c.batch(sql).await)
            }

            async fn execute_later(&mut self, sql: &str, params: &[Value]) -> Result<(), StoreError> {
                each!(self, c => c.execute_later(sql, params).await)
            }

            async fn insert_rows(
                &mut self,
                table: &str,
                columns: &[&str],
                values: &[Value],
            ) -> Result<(), StoreError> {
                each!(self, c => c.insert_rows(table, columns, values).await)
            }

            async fn gather_rows(
                &mut self,
                table: &'static str,
                columns: &'static [&'static str],
                values: &[Value],
            ) -> Result<(), StoreError> {
                each!(self, c => c.gather_rows(table, columns, values).await)
            }

            async fn gather_addition(
                &mut self,
                target: &'static Addition,
                key: &str,
                delta: i64,
            ) -> Result<(), StoreError> {
                each!(self, c => c.gather_addition(target, key, delta).await)
            }

            async fn flush(&mut self) -> Result<(), StoreError> {
                each!(self, c => c.flush().await)
            }

            fn is_broken(&self) -> bool {
                each!(self, c => c.is_broken())
            }
        }
    };
}

forward_conn!(AnyConn);
forward_conn!(AnyPooled);

impl Database for AnyDb {
    type Conn = AnyConn;
    type Reader = AnyPooled;

    async fn reader(&self) -> Result<AnyPooled, StoreError> {
        Ok(match self {
            AnyDb::Sqlite(db) => AnyPooled::Sqlite(db.reader().await?),
            AnyDb::Postgres(db) => AnyPooled::Postgres(db.reader().await?),
        })
    }

    async fn connect_writer(&self) -> Result<AnyConn, StoreError> {
        Ok(match self {
            AnyDb::Sqlite(db) => AnyConn::Sqlite(db.connect_writer().await?),
            AnyDb::Postgres(db) => AnyConn::Postgres(db.connect_writer().await?),
        })
    }

    fn writer_count(&self) -> usize {
        each!(self, db => db.writer_count())
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        each!(self, db => db.migrate().await)
    }

    fn dialect(&self) -> Dialect {
        each!(self, db => db.dialect())
    }
}
