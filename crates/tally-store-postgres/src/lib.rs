//! PostgreSQL backend, for production and for many `tally` nodes behind a load balancer.
//!
//! Transactions run at READ COMMITTED; correctness under concurrency comes from conditional
//! writes (`… WHERE balance >= $2`), unique constraints and row locks, which several nodes share
//! through the database. Deadlocks and serialisation failures are reported as retryable and the
//! batcher retries the whole transaction.

mod held;

use bytes::BytesMut;
use held::{Gathered, Held, Params, after_held, send_held};
use std::collections::HashMap;
use std::error::Error as StdError;
use std::str::FromStr;
use tally_store::{Addition, Conn, Database, Dialect, Pool, Pooled, Row, StoreError, Value};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, NoTls, Statement};

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_core.sql")),
    (2, include_str!("../migrations/0002_console.sql")),
    (3, include_str!("../migrations/0003_earning.sql")),
    (4, include_str!("../migrations/0004_pending.sql")),
    (5, include_str!("../migrations/0005_events.sql")),
    (6, include_str!("../migrations/0006_stamps.sql")),
    (7, include_str!("../migrations/0007_referrals.sql")),
    (8, include_str!("../migrations/0008_reward_tiers.sql")),
    (
        9,
        include_str!("../migrations/0009_pending_on_purchases.sql"),
    ),
    (10, include_str!("../migrations/0010_insights.sql")),
    (11, include_str!("../migrations/0011_segments.sql")),
    (12, include_str!("../migrations/0012_vouchers.sql")),
    (13, include_str!("../migrations/0013_reward_vouchers.sql")),
    (14, include_str!("../migrations/0014_charities.sql")),
    (15, include_str!("../migrations/0015_reward_segments.sql")),
    (16, include_str!("../migrations/0016_offers.sql")),
    (17, include_str!("../migrations/0017_cashback.sql")),
    (18, include_str!("../migrations/0018_fulfilment.sql")),
    (19, include_str!("../migrations/0019_offer_groups.sql")),
    (20, include_str!("../migrations/0020_templates.sql")),
    (21, include_str!("../migrations/0021_messages.sql")),
    (22, include_str!("../migrations/0022_campaigns.sql")),
    (23, include_str!("../migrations/0023_journeys.sql")),
    (24, include_str!("../migrations/0024_webhooks.sql")),
    (25, include_str!("../migrations/0025_push.sql")),
    (26, include_str!("../migrations/0026_journey_holdouts.sql")),
    (
        27,
        include_str!("../migrations/0027_webhook_secret_rotation.sql"),
    ),
    (
        28,
        include_str!("../migrations/0028_transfers_member_covering.sql"),
    ),
    (29, include_str!("../migrations/0029_pending_by_member.sql")),
    (
        30,
        include_str!("../migrations/0030_ledger_without_foreign_keys.sql"),
    ),
];
const READ_POOL_SIZE: usize = 16;
/// Statements with more parameters than this are bulk statements: planned per use.
const MAX_CACHED_PARAMETERS: usize = 16;
/// Inserts of a few rows (a purchase's two or three transfers) are cached up to this many
/// parameters: an `INSERT … VALUES` has no plan to get wrong, and parsing one per purchase was
/// 3 % of PostgreSQL's time with rules on.
const MAX_CACHED_INSERT_PARAMETERS: usize = 64;
/// Any fixed number: the key of the advisory lock that keeps two nodes from migrating at once.
const MIGRATION_LOCK: i64 = 0x7a11_7a11;

#[derive(Clone)]
pub struct PgDb {
    config: std::sync::Arc<tokio_postgres::Config>,
    readers: Pool<PgConn>,
}

impl PgDb {
    /// Connects lazily to `postgres://…`. `schema`, when given, becomes the search path: each
    /// test gets its own schema in one database.
    pub fn from_url(url: &str, schema: Option<&str>) -> Result<PgDb, StoreError> {
        let mut config = tokio_postgres::Config::from_str(url)
            .map_err(|e| StoreError::Other(format!("bad PostgreSQL URL: {e}")))?;
        if let Some(schema) = schema {
            config.options(format!("-c search_path={schema}"));
        }
        let for_pool = config.clone();
        let readers = Pool::new(READ_POOL_SIZE, move || {
            let config = for_pool.clone();
            async move { PgConn::connect(&config).await }
        });
        Ok(PgDb {
            config: std::sync::Arc::new(config),
            readers,
        })
    }
}

pub struct PgConn {
    client: Client,
    /// Prepared statements: each with how many times it was used since it was prepared and how
    /// many times it was prepared.
    statements: HashMap<String, (Statement, u32, u32)>,
    /// Writes held back by `execute_later`, sent ahead of the next statement.
    held: Held,
    /// Writes gathered by `gather_rows` and `gather_addition`, held as a few statements when
    /// something else comes.
    gathered: Gathered,
    broken: bool,
}

/// A cached statement is prepared again after this many uses, so its plan follows the tables as
/// they grow: PostgreSQL settles on a generic plan after a few executions, and one chosen while
/// a table was nearly empty can pick the wrong index for good (measured: with a second index
/// led by `program_id` on purchases, the order-id lookup of every purchase kept reading that
/// index, and HTTP purchases fell from about 1,400/s to 400/s). One extra prepare per thousand
/// executions costs nothing measurable. The first plans are the likeliest to be wrong (made
/// while tables were emptiest, which with tied costs can pick an index that walks a program's
/// purchases for one order: a member lookup went from 0.05 ms to 0.9 ms within a run), so a
/// statement is prepared again sooner the first times: after 10 uses, then after 100.
const REPREPARE_AFTER_USES: u32 = 1000;

/// Uses of a statement prepared `times` times before it is prepared again.
fn uses_before_preparing_again(times: u32) -> u32 {
    match times {
        1 => 10,
        2 => 100,
        _ => REPREPARE_AFTER_USES,
    }
}

impl PgConn {
    async fn connect(config: &tokio_postgres::Config) -> Result<PgConn, StoreError> {
        let (client, connection) = config
            .connect(NoTls)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        tokio::spawn(async move {
            // Ends when the client is dropped or the server goes away; the client then reports
            // the error on its next use.
            let _ = connection.await;
        });
        Ok(PgConn {
            client,
            statements: HashMap::new(),
            held: Vec::new(),
            gathered: Gathered::default(),
            broken: false,
        })
    }

    /// Small statements are prepared once per connection (again every
    /// [`REPREPARE_AFTER_USES`] uses) and their plans cached, and so are those marked
    /// [`tally_store::PLAN_CACHED`]. Other bulk statements
    /// (long `IN` lists, inserts of many rows) are prepared per use, so each is planned with its
    /// values: a generic plan cached while a table was small kept scanning it as it grew
    /// (measured: an order-id lookup went from 1 ms to 700 ms within one import).
    async fn statement(&mut self, sql: &str, parameters: usize) -> Result<Statement, StoreError> {
        let limit = if sql.starts_with("INSERT") {
            MAX_CACHED_INSERT_PARAMETERS
        } else {
            MAX_CACHED_PARAMETERS
        };
        if parameters > limit && !sql.starts_with(tally_store::PLAN_CACHED) {
            let prepared = self.client.prepare(sql).await;
            return prepared.map_err(|e| self.map_err(e));
        }
        let mut times = 1;
        if let Some((stmt, uses, prepared)) = self.statements.get_mut(sql) {
            if *uses < uses_before_preparing_again(*prepared) {
                *uses += 1;
                return Ok(stmt.clone());
            }
            times = prepared.saturating_add(1);
        }
        let stmt = self
            .client
            .prepare(sql)
            .await
            .map_err(|e| self.map_err(e))?;
        // Bounded: queries are built from a fixed set of shapes, but a cap keeps it certain.
        if self.statements.len() >= 512 {
            self.statements.clear();
        }
        self.statements
            .insert(sql.to_owned(), (stmt.clone(), 0, times));
        Ok(stmt)
    }

    /// Turns what was gathered into held statements: each addition's and each table's rows one.
    async fn hold_gathered(&mut self) -> Result<(), StoreError> {
        if self.gathered.is_empty() {
            return Ok(());
        }
        let (additions, inserts) = self.gathered.take();
        for (target, deltas) in additions {
            let (sql, params) = if let [(key, delta)] = deltas.as_slice() {
                let params = vec![key.as_str().into(), (*delta).into()];
                (target.one_row(), Params::Values(params))
            } else {
                let (keys, deltas) = deltas
                    .into_iter()
                    .map(|(key, delta)| (Value::Text(key), Value::Int(delta)))
                    .unzip();
                (
                    held::unnest_addition(target),
                    Params::Arrays(vec![keys, deltas]),
                )
            };
            let stmt = self.statement(&sql, 2).await?;
            self.held.push((stmt, params));
        }
        for rows in inserts {
            let width = rows.columns.len();
            let one = tally_store::multi_row_insert(rows.table, rows.columns, 1);
            let single = self.statement(&one, width).await?;
            if rows.values.len() == width {
                self.held.push((single, Params::Values(rows.values)));
                continue;
            }
            let sql = held::unnest_insert(rows.table, rows.columns, single.params());
            let stmt = self.statement(&sql, width).await?;
            let arrays = held::by_column(width, rows.values);
            self.held.push((stmt, Params::Arrays(arrays)));
        }
        Ok(())
    }

    fn map_err(&mut self, e: tokio_postgres::Error) -> StoreError {
        if e.is_closed() {
            self.broken = true;
            return StoreError::Unavailable(e.to_string());
        }
        match e.code() {
            Some(code) if *code == SqlState::UNIQUE_VIOLATION => StoreError::Unique(
                e.as_db_error()
                    .and_then(|d| d.constraint())
                    .unwrap_or_default()
                    .to_owned(),
            ),
            Some(code)
                if *code == SqlState::T_R_SERIALIZATION_FAILURE
                    || *code == SqlState::T_R_DEADLOCK_DETECTED =>
            {
                StoreError::Retryable(e.to_string())
            }
            Some(code)
                if *code == SqlState::ADMIN_SHUTDOWN || *code == SqlState::CANNOT_CONNECT_NOW =>
            {
                self.broken = true;
                StoreError::Unavailable(e.to_string())
            }
            _ => StoreError::Other(e.as_db_error().map_or_else(
                || e.to_string(),
                |d| format!("{}: {}", d.code().code(), d.message()),
            )),
        }
    }
}

/// Binds one of our values to whatever type PostgreSQL inferred for the parameter.
#[derive(Debug)]
struct Param<'a>(&'a Value);

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match (self.0, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::Int(v), &Type::INT8) => v.to_sql(ty, out),
            (Value::Int(v), &Type::INT4) => i32::try_from(*v)?.to_sql(ty, out),
            (Value::Int(v), &Type::INT2) => i16::try_from(*v)?.to_sql(ty, out),
            (Value::Int(v), &Type::BOOL) => (*v != 0).to_sql(ty, out),
            (Value::Bool(v), &Type::BOOL) => v.to_sql(ty, out),
            (Value::Text(v), _) => v.as_str().to_sql(ty, out),
            (v, ty) => Err(format!("cannot bind {v:?} to a parameter of type {ty}").into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// The values of one statement, as `tokio_postgres` takes them.
fn bind(params: &[Value]) -> Vec<Param<'_>> {
    params.iter().map(Param).collect()
}

fn refs<'a>(params: &'a [Param<'_>]) -> Vec<&'a (dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

/// Rows from which [`Conn::insert_rows`] copies instead of inserting.
const COPY_FROM_ROWS: usize = 64;

/// Rows in `COPY`'s text format: tab between values, newline after each row, `\N` for null,
/// and backslash escapes for the characters that would break that shape.
fn copy_text(columns: usize, values: &[Value]) -> String {
    use std::fmt::Write;
    let mut text = String::with_capacity(values.len() * 24);
    for row in values.chunks(columns) {
        for (i, value) in row.iter().enumerate() {
            if i > 0 {
                text.push('\t');
            }
            match value {
                Value::Null => text.push_str("\\N"),
                Value::Int(n) => write!(text, "{n}").expect("a String takes any write"),
                Value::Bool(b) => text.push(if *b { 't' } else { 'f' }),
                Value::Text(s) => {
                    let mut rest = s.as_str();
                    while let Some(at) = rest.find(['\\', '\t', '\n', '\r']) {
                        text.push_str(&rest[..at]);
                        text.push_str(match rest.as_bytes()[at] {
                            b'\\' => "\\\\",
                            b'\t' => "\\t",
                            b'\n' => "\\n",
                            _ => "\\r",
                        });
                        rest = &rest[at + 1..];
                    }
                    text.push_str(rest);
                }
            }
        }
        text.push('\n');
    }
    text
}

fn decode_row(row: &tokio_postgres::Row) -> Result<Row, StoreError> {
    let decode = |e: tokio_postgres::Error| StoreError::Decode(e.to_string());
    let mut values = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let value = match *column.type_() {
            Type::INT8 => row
                .try_get::<_, Option<i64>>(i)
                .map_err(decode)?
                .map(Value::Int),
            Type::INT4 => row
                .try_get::<_, Option<i32>>(i)
                .map_err(decode)?
                .map(|v| Value::Int(i64::from(v))),
            Type::INT2 => row
                .try_get::<_, Option<i16>>(i)
                .map_err(decode)?
                .map(|v| Value::Int(i64::from(v))),
            Type::BOOL => row
                .try_get::<_, Option<bool>>(i)
                .map_err(decode)?
                .map(Value::Bool),
            Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR => row
                .try_get::<_, Option<String>>(i)
                .map_err(decode)?
                .map(Value::Text),
            ref other => {
                return Err(StoreError::Decode(format!(
                    "column {} has unsupported type {other}",
                    column.name()
                )));
            }
        };
        values.push(value.unwrap_or(Value::Null));
    }
    Ok(Row(values))
}

impl Conn for PgConn {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        self.hold_gathered().await?;
        let stmt = self.statement(sql, params.len()).await?;
        let held = std::mem::take(&mut self.held);
        let params = bind(params);
        let refs = refs(&params);
        let run = self.client.execute(&stmt, &refs);
        let result = after_held(&self.client, &held, run).await;
        result.map_err(|e| self.map_err(e))
    }

    async fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        self.hold_gathered().await?;
        let stmt = self.statement(sql, params.len()).await?;
        let held = std::mem::take(&mut self.held);
        let params = bind(params);
        let refs = refs(&params);
        let run = self.client.query(&stmt, &refs);
        let result = after_held(&self.client, &held, run).await;
        result
            .map_err(|e| self.map_err(e))?
            .iter()
            .map(decode_row)
            .collect()
    }

    async fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        self.hold_gathered().await?;
        let held = std::mem::take(&mut self.held);
        let result = after_held(&self.client, &held, self.client.batch_execute(sql)).await;
        result.map_err(|e| self.map_err(e))
    }

    async fn execute_later(&mut self, sql: &str, params: &[Value]) -> Result<(), StoreError> {
        self.hold_gathered().await?;
        let stmt = self.statement(sql, params.len()).await?;
        self.held.push((stmt, Params::Values(params.to_vec())));
        Ok(())
    }

    /// Small sets are held like any write; large ones are copied in, after what is held (a
    /// `COPY` is a round trip of its own, but PostgreSQL neither parses nor plans its rows).
    async fn insert_rows(
        &mut self,
        table: &str,
        columns: &[&str],
        values: &[Value],
    ) -> Result<(), StoreError> {
        if values.len() < COPY_FROM_ROWS * columns.len() {
            self.hold_gathered().await?;
            return tally_store::insert_rows_held(self, table, columns, values).await;
        }
        use futures_util::SinkExt;
        self.flush().await?;
        let sql = format!("COPY {table} ({}) FROM STDIN", columns.join(", "));
        let text = copy_text(columns.len(), values);
        let client = &self.client;
        let copied = async move {
            let sink = client.copy_in::<_, bytes::Bytes>(sql.as_str()).await?;
            futures_util::pin_mut!(sink);
            sink.send(bytes::Bytes::from(text)).await?;
            sink.finish().await
        }
        .await;
        copied.map(|_| ()).map_err(|e| self.map_err(e))
    }

    /// Gathered unless there are enough rows to copy.
    async fn gather_rows(
        &mut self,
        table: &'static str,
        columns: &'static [&'static str],
        values: &[Value],
    ) -> Result<(), StoreError> {
        if values.len() >= COPY_FROM_ROWS * columns.len() {
            return self.insert_rows(table, columns, values).await;
        }
        self.gathered.rows(table, columns, values);
        Ok(())
    }

    async fn gather_addition(
        &mut self,
        target: &'static Addition,
        key: &str,
        delta: i64,
    ) -> Result<(), StoreError> {
        self.gathered.addition(target, key, delta);
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), StoreError> {
        self.hold_gathered().await?;
        let held = std::mem::take(&mut self.held);
        let result = send_held(&self.client, &held).await;
        result.map_err(|e| self.map_err(e))
    }

    /// Also broken while writes are held: whoever held them has not finished its work.
    fn is_broken(&self) -> bool {
        self.broken || self.client.is_closed() || !self.held.is_empty() || !self.gathered.is_empty()
    }
}

impl Database for PgDb {
    type Conn = PgConn;
    type Reader = Pooled<PgConn>;

    async fn reader(&self) -> Result<Pooled<PgConn>, StoreError> {
        self.readers.get().await
    }

    async fn connect_writer(&self) -> Result<PgConn, StoreError> {
        PgConn::connect(&self.config).await
    }

    /// One writer per core of this machine, from 2 to 8. Each writer's batches share one commit,
    /// so more writers than cores only add contention: on a 2-core machine, HTTP purchases ran
    /// at about 4,000/s with p99 19–24 ms with 2 writers, 3,100–3,600/s with p99 33–48 ms with 3
    /// or 4, and less with 8 (session 14, `docs/benchmarks.md`).
    fn writer_count(&self) -> usize {
        std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8))
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = PgConn::connect(&self.config).await?;
        conn.execute("SELECT pg_advisory_lock($1)", &[Value::Int(MIGRATION_LOCK)])
            .await?;
        let result = apply_migrations(&mut conn).await;
        conn.execute(
            "SELECT pg_advisory_unlock($1)",
            &[Value::Int(MIGRATION_LOCK)],
        )
        .await?;
        result
    }

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
}

async fn apply_migrations(conn: &mut PgConn) -> Result<(), StoreError> {
    // Warnings only on the migrating connection: the table exists on every run but the first,
    // and PostgreSQL's notice saying so would be logged by every `tally` command.
    conn.batch(
        "SET client_min_messages = warning;
         CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .await?;
    for (version, sql) in MIGRATIONS {
        if conn
            .query_one(
                "SELECT 1 FROM schema_migrations WHERE version = $1",
                &[Value::Int(*version)],
            )
            .await?
            .is_some()
        {
            continue;
        }
        conn.batch("BEGIN").await?;
        let applied = match conn.batch(sql).await {
            Ok(()) => conn
                .execute(
                    "INSERT INTO schema_migrations (version) VALUES ($1)",
                    &[Value::Int(*version)],
                )
                .await
                .map(|_| ()),
            Err(e) => Err(e),
        };
        match applied {
            Ok(()) => conn.batch("COMMIT").await?,
            Err(e) => {
                conn.batch("ROLLBACK").await?;
                return Err(e);
            }
        }
    }
    Ok(())
}

/// Creates a schema (for a test) and returns a database that uses it.
pub async fn with_fresh_schema(url: &str, schema: &str) -> Result<PgDb, StoreError> {
    let admin = PgDb::from_url(url, None)?;
    let mut conn = admin.connect_writer().await?;
    conn.batch(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
    ))
    .await?;
    PgDb::from_url(url, Some(schema))
}

/// Drops a test schema.
pub async fn drop_schema(url: &str, schema: &str) -> Result<(), StoreError> {
    let admin = PgDb::from_url(url, None)?;
    let mut conn = admin.connect_writer().await?;
    conn.batch(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_what_would_break_a_row() {
        let values = [
            Value::Text("a\tb\nc\\d\re ż".into()),
            Value::Int(-42),
            Value::Null,
            Value::Bool(true),
            Value::Text(String::new()),
            Value::Bool(false),
        ];
        assert_eq!(
            copy_text(3, &values),
            "a\\tb\\nc\\\\d\\re ż\t-42\t\\N\nt\t\tf\n"
        );
    }
}
