//! SQLite backend: one file, nothing to install.
//!
//! A new database gets 8 KiB pages ([`PAGE_SIZE`]); one made earlier keeps the size it has.
//! WAL mode lets readers run beside the single writer; `synchronous = FULL` makes every commit
//! durable (the group-commit batcher in `tally-core` is what makes that affordable). The
//! savepoint journal lives in memory (`temp_store = MEMORY`): when a batch runs again with a
//! savepoint per command (after a refusal), a file-backed sub-journal would cost a write per
//! touched page. Write
//! transactions begin `IMMEDIATE`, taking the write lock up front, so concurrent writers queue
//! on the busy timeout instead of failing to upgrade a read lock.
//!
//! rusqlite is synchronous. Statements run in place: on a multi-threaded runtime inside
//! `block_in_place`, so other tasks move to another worker while SQLite works; the writers run
//! on their own threads (see `tally-core`'s batcher).

mod checkpoint;
mod migrations;

use checkpoint::{Checkpointer, WRITER_CHECKPOINT_PAGES};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{ErrorCode, OpenFlags};
use std::path::{Path, PathBuf};
use tally_store::{Conn, Database, Dialect, Pool, Pooled, Row, StoreError, Value};

const READ_POOL_SIZE: usize = 8;

/// The page size of a new database: twice SQLite's default. An import inserts into b-trees at
/// random places (members' indexes); larger pages split less often and keep the trees shallower,
/// which made it 13–20 % faster. Live purchases lose a little (a commit writes every page it
/// changed whole): 3–7 %, far less than with 16 KiB pages (docs/benchmarks.md, sessions 17, 19).
pub const PAGE_SIZE: u32 = 8192;

#[derive(Clone)]
pub struct SqliteDb {
    path: PathBuf,
    readers: Pool<SqliteConn>,
    _checkpointer: std::sync::Arc<Checkpointer>,
}

impl SqliteDb {
    /// Opens (creating if needed) the database file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteDb, StoreError> {
        let path = path.as_ref().to_path_buf();
        // Open once now so a bad path fails here, with the path in the message.
        SqliteConn::open(&path)?;
        let for_pool = path.clone();
        let readers = Pool::new(READ_POOL_SIZE, move || {
            let path = for_pool.clone();
            async move { SqliteConn::open(&path) }
        });
        let checkpointer = std::sync::Arc::new(Checkpointer::start(&path)?);
        Ok(SqliteDb {
            path,
            readers,
            _checkpointer: checkpointer,
        })
    }

    /// Parses `sqlite://path/to/file.db` or `sqlite:file.db`.
    pub fn from_url(url: &str) -> Result<SqliteDb, StoreError> {
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .filter(|p| !p.is_empty())
            .ok_or_else(|| StoreError::Other(format!("`{url}` is not a sqlite:// URL")))?;
        SqliteDb::open(path)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

pub struct SqliteConn {
    conn: rusqlite::Connection,
    broken: bool,
}

impl SqliteConn {
    fn open(path: &Path) -> Result<SqliteConn, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = rusqlite::Connection::open_with_flags(path, flags)
            .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
        // The page size takes effect only while the file is new, so it comes before the log
        // mode, which writes the header.
        conn.execute_batch(&format!(
            "PRAGMA page_size = {PAGE_SIZE}; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA temp_store = MEMORY;
             PRAGMA cache_size = -65536;"
        ))
        .map_err(map_err)?;
        conn.set_prepared_statement_cache_capacity(256);
        Ok(SqliteConn {
            conn,
            broken: false,
        })
    }

    fn run<T>(
        &mut self,
        f: impl FnOnce(&rusqlite::Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<T, StoreError> {
        let conn = &self.conn;
        let result = in_place(|| f(conn)).map_err(map_err);
        if let Err(StoreError::Unavailable(_)) = &result {
            self.broken = true;
        }
        result
    }
}

/// Runs blocking work without starving other tasks on a multi-threaded runtime.
fn in_place<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

struct Param<'a>(&'a Value);

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self.0 {
            Value::Null => ValueRef::Null,
            Value::Int(v) => ValueRef::Integer(*v),
            Value::Bool(v) => ValueRef::Integer(i64::from(*v)),
            Value::Text(v) => ValueRef::Text(v.as_bytes()),
        }))
    }
}

/// Our SQL writes parameters `$1, $2, …` (PostgreSQL's syntax). SQLite would read `$1` as a
/// *named* parameter numbered by first appearance; its `?1` means exactly what `$1` means to
/// PostgreSQL, so the text is rewritten once before it is prepared and parameters bind by number.
fn sqlite_sql(sql: &str) -> std::borrow::Cow<'_, str> {
    if !sql.contains('$') {
        return std::borrow::Cow::Borrowed(sql);
    }
    // Runs before every statement: copies the text between dollars in slices.
    let mut out = String::with_capacity(sql.len());
    let mut copied = 0;
    for (at, _) in sql.match_indices('$') {
        if sql.as_bytes().get(at + 1).is_some_and(u8::is_ascii_digit) {
            out.push_str(&sql[copied..at]);
            out.push('?');
            copied = at + 1;
        }
    }
    out.push_str(&sql[copied..]);
    std::borrow::Cow::Owned(out)
}

fn prepare<'c>(
    conn: &'c rusqlite::Connection,
    sql: &str,
    params: &[Value],
) -> rusqlite::Result<rusqlite::CachedStatement<'c>> {
    let mut stmt = conn.prepare_cached(&sqlite_sql(sql))?;
    let count = stmt.parameter_count();
    if count != params.len() {
        return Err(rusqlite::Error::InvalidParameterCount(params.len(), count));
    }
    bind(&mut stmt, params)?;
    Ok(stmt)
}

/// Binds `params` to `$1`, `$2`, … (`?1`, `?2`, … once rewritten).
fn bind(stmt: &mut rusqlite::Statement<'_>, params: &[Value]) -> rusqlite::Result<()> {
    for (i, p) in params.iter().enumerate() {
        stmt.raw_bind_parameter(i + 1, Param(p))?;
    }
    Ok(())
}

fn decode_row(row: &rusqlite::Row<'_>, columns: usize) -> rusqlite::Result<Row> {
    let mut values = Vec::with_capacity(columns);
    for i in 0..columns {
        values.push(match row.get_ref(i)? {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(v) => Value::Int(v),
            ValueRef::Real(v) => Value::Int(v as i64),
            ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(_) => {
                return Err(rusqlite::Error::InvalidColumnType(
                    i,
                    "blob".into(),
                    rusqlite::types::Type::Blob,
                ));
            }
        });
    }
    Ok(Row(values))
}

fn map_err(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, msg) => match f.code {
            ErrorCode::ConstraintViolation
                if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
            {
                StoreError::Unique(msg.clone().unwrap_or_default())
            }
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                StoreError::Retryable(e.to_string())
            }
            ErrorCode::CannotOpen
            | ErrorCode::NotADatabase
            | ErrorCode::DiskFull
            | ErrorCode::SystemIoFailure => StoreError::Unavailable(e.to_string()),
            _ => StoreError::Other(e.to_string()),
        },
        _ => StoreError::Other(e.to_string()),
    }
}

impl Conn for SqliteConn {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        self.run(|conn| prepare(conn, sql, params)?.raw_execute().map(|n| n as u64))
    }

    async fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        self.run(|conn| {
            let mut stmt = prepare(conn, sql, params)?;
            let columns = stmt.column_count();
            let mut rows = stmt.raw_query();
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(decode_row(row, columns)?);
            }
            Ok(out)
        })
    }

    async fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        self.run(|conn| conn.execute_batch(sql))
    }

    /// Row by row through one cached single-row statement. A multi-row `INSERT` is no faster
    /// here (SQLite loops over its rows anyway), is parsed anew for each number of rows, and
    /// copies every page it touches into a statement journal first, to undo its earlier rows
    /// should a later one fail. A failed row leaves the rows before it: the caller's
    /// transaction or savepoint is rolled back after a failed write, as on PostgreSQL.
    async fn insert_rows(
        &mut self,
        table: &str,
        columns: &[&str],
        values: &[Value],
    ) -> Result<(), StoreError> {
        let sql = tally_store::multi_row_insert(table, columns, 1);
        self.run(|conn| {
            let mut stmt = conn.prepare_cached(&sqlite_sql(&sql))?;
            for row in values.chunks(columns.len()) {
                bind(&mut stmt, row)?;
                stmt.raw_execute()?;
            }
            Ok(())
        })
    }

    fn is_broken(&self) -> bool {
        self.broken
    }
}

impl Database for SqliteDb {
    type Conn = SqliteConn;
    type Reader = Pooled<SqliteConn>;

    async fn reader(&self) -> Result<Pooled<SqliteConn>, StoreError> {
        self.readers.get().await
    }

    async fn connect_writer(&self) -> Result<SqliteConn, StoreError> {
        let conn = SqliteConn::open(&self.path)?;
        // The checkpointer thread copies the log back (see `checkpoint.rs`).
        let pragma = format!("PRAGMA wal_autocheckpoint = {WRITER_CHECKPOINT_PAGES}");
        conn.conn
            .query_row(&pragma, [], |_| Ok(()))
            .map_err(map_err)?;
        Ok(conn)
    }

    fn writer_count(&self) -> usize {
        1
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = SqliteConn::open(&self.path)?;
        migrations::run(&mut conn, migrations::MIGRATIONS).await
    }

    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }
}

#[cfg(test)]
mod tests {
    use super::{PAGE_SIZE, SqliteConn, sqlite_sql};
    use std::path::PathBuf;

    /// A file name in the temporary directory no other test uses.
    pub(crate) fn temp_db(name: &str) -> PathBuf {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        let unique = now.unwrap().as_nanos();
        std::env::temp_dir().join(format!("tally-{name}-{unique}.db"))
    }

    pub(crate) fn remove_db(path: &std::path::Path) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }

    fn page_size(path: &std::path::Path) -> u32 {
        let conn = SqliteConn::open(path).unwrap();
        conn.conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_new_database_gets_the_larger_pages_and_an_older_one_keeps_its_own() {
        let new = temp_db("pages-new");
        SqliteConn::open(&new).unwrap();
        let new_size = page_size(&new);

        // A database made before (SQLite's default 4 KiB pages, in WAL mode), with a row in it.
        let old = temp_db("pages-old");
        let made = rusqlite::Connection::open(&old).unwrap();
        made.execute_batch(
            "PRAGMA page_size = 4096; PRAGMA journal_mode = WAL;
             CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('kept');",
        )
        .unwrap();
        drop(made);
        let old_size = page_size(&old);
        let conn = SqliteConn::open(&old).unwrap();
        let kept: String = conn
            .conn
            .query_row("SELECT x FROM t", [], |r| r.get(0))
            .unwrap();
        drop(conn);
        remove_db(&new);
        remove_db(&old);

        assert_eq!(new_size, PAGE_SIZE);
        assert_eq!(old_size, 4096, "a page size cannot change in WAL mode");
        assert_eq!(kept, "kept");
    }

    #[test]
    fn dollar_parameters_become_numbered_question_marks() {
        assert_eq!(
            sqlite_sql("UPDATE t SET a = $2 WHERE id = $1 AND b >= $2"),
            "UPDATE t SET a = ?2 WHERE id = ?1 AND b >= ?2"
        );
        assert_eq!(sqlite_sql("SELECT 1"), "SELECT 1");
        assert_eq!(
            sqlite_sql("SELECT '$', 'zł' || $10 FROM t WHERE x = $3$"),
            "SELECT '$', 'zł' || ?10 FROM t WHERE x = ?3$",
            "a dollar not followed by a digit stays, and so does the text around it"
        );
    }
}
