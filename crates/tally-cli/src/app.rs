//! Start-up shared by the commands: logging, opening and migrating the database, starting the
//! engine.

use crate::config::{Config, redact};
use std::sync::Arc;
use tally_core::Tally;
use tally_domain::SystemClock;
use tally_store::Database;
use tally_store_any::AnyDb;

pub type Result<T> = std::result::Result<T, String>;

pub fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&config.log_level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if config.log_format == "json" {
        builder.json().with_current_span(true).init();
    } else {
        builder.compact().init();
    }
}

/// Opens the database the URL names and brings its schema up to date.
pub async fn open_db(url: &str) -> Result<AnyDb> {
    let db = AnyDb::connect(url).map_err(|e| format!("{}: {e}", redact(url)))?;
    db.migrate()
        .await
        .map_err(|e| format!("migrating {}: {e}", redact(url)))?;
    Ok(db)
}

/// Opens the database and starts the engine.
pub async fn open(url: &str) -> Result<Tally<AnyDb>> {
    Ok(Tally::start(open_db(url).await?, Arc::new(SystemClock)))
}

pub fn core_err(e: tally_core::CoreError) -> String {
    e.to_string()
}
