//! Tally's storage interface.
//!
//! Two backends (SQLite embedded, PostgreSQL for production) must behave the same. Rather than
//! write every query twice behind a wide trait, the backends implement a narrow one — run a
//! statement with [`Value`] parameters, return [`Row`]s — and every query is written **once**
//! here, in the SQL both databases share (`$1` parameters, `RETURNING`, `ON CONFLICT`, partial
//! indexes). Values are only integers, text, booleans and null: timestamps are integer
//! microseconds (`*_at_us`), money is integer minor units, JSON is text. That sidesteps the
//! decoding differences that make generic SQL drivers painful, and keeps the one behaviour
//! visible in one place. What does differ — DDL, `BEGIN IMMEDIATE`, error codes — lives in each
//! backend crate.
//!
//! No SQL outside the store crates.

mod conn;
mod error;
mod pool;
pub mod queries;
mod value;

pub use conn::{
    Addition, Conn, Database, Dialect, PLAN_CACHED, insert_rows_held, multi_row_insert,
};
pub use error::StoreError;
pub use pool::{Pool, Pooled};
pub use value::{Row, Value};
