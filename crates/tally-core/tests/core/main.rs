//! The use cases against a real database (SQLite, or PostgreSQL when `TALLY_TEST_DATABASE_URL`
//! is set): examples, races between concurrent requests, and property tests of the ledger.

#[path = "../common/mod.rs"]
mod common;

mod earning_properties;
mod earning_races;
mod ledger_properties;
mod member_reads;
mod races;
mod rule_limits;
mod totals;
mod usecases;
