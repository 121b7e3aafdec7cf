//! The storage layer's own tests, on the backend the environment names (see
//! `tally_store_any::testing`).

mod bulk_inserts;
mod gathered_writes;
mod held_writes;
mod query_plans;
