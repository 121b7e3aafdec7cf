//! A fresh, migrated database for each test: a temporary SQLite file by default, or a new
//! schema in the PostgreSQL database named by `TALLY_TEST_DATABASE_URL`. The same tests run on
//! both; CI runs them once per backend.

use crate::AnyDb;
use tally_store::Database;

pub const TEST_DATABASE_ENV: &str = "TALLY_TEST_DATABASE_URL";

/// Owns a test database and removes it when dropped.
pub struct TestDb {
    pub db: AnyDb,
    cleanup: Cleanup,
}

enum Cleanup {
    File(std::path::PathBuf),
    Schema { url: String, schema: String },
}

impl TestDb {
    /// A database on the backend the environment names (SQLite unless
    /// `TALLY_TEST_DATABASE_URL` is set).
    pub async fn new() -> TestDb {
        match std::env::var(TEST_DATABASE_ENV) {
            Ok(url) if !url.is_empty() => TestDb::postgres(&url).await,
            _ => TestDb::sqlite().await,
        }
    }

    /// A fresh schema on the PostgreSQL server at `url`.
    pub async fn postgres(url: &str) -> TestDb {
        let schema = format!("t_{}", tally_domain::ids::new_ulid().to_lowercase());
        let db = tally_store_postgres::with_fresh_schema(url, &schema)
            .await
            .expect("create a test schema");
        let db = AnyDb::Postgres(db);
        db.migrate().await.expect("migrate the test schema");
        TestDb {
            db,
            cleanup: Cleanup::Schema {
                url: url.to_owned(),
                schema,
            },
        }
    }

    /// A temporary SQLite file.
    pub async fn sqlite() -> TestDb {
        let unique = tally_domain::ids::new_ulid().to_lowercase();
        let path = std::env::temp_dir().join(format!("tally-test-{unique}.db"));
        let db =
            AnyDb::Sqlite(tally_store_sqlite::SqliteDb::open(&path).expect("open a test database"));
        db.migrate().await.expect("migrate the test database");
        TestDb {
            db,
            cleanup: Cleanup::File(path),
        }
    }

    /// A URL that opens this database from another process (the `tally` binary): the SQLite
    /// file, or the PostgreSQL database with the test's schema as its search path.
    pub fn url(&self) -> String {
        match &self.cleanup {
            Cleanup::File(path) => format!("sqlite://{}", path.display()),
            Cleanup::Schema { url, schema } => {
                let joiner = if url.contains('?') { '&' } else { '?' };
                format!("{url}{joiner}options=-c%20search_path%3D{schema}")
            }
        }
    }

    pub fn backend(&self) -> &'static str {
        match self.db {
            AnyDb::Sqlite(_) => "sqlite",
            AnyDb::Postgres(_) => "postgres",
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::Schema { url, schema } => {
                // Dropping happens outside any runtime guarantee, so use a small one of our own.
                let (url, schema) = (url.clone(), schema.clone());
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build();
                    if let Ok(rt) = rt {
                        let _ = rt.block_on(tally_store_postgres::drop_schema(&url, &schema));
                    }
                })
                .join();
            }
        }
    }
}
