//! Delivery end to end: the outbox, campaigns and journeys against a real SMTP server on
//! loopback and a real database (SQLite, or PostgreSQL when `TALLY_TEST_DATABASE_URL` is set).

#[path = "../common/mod.rs"]
mod common;

mod bell;
mod campaigns;
mod email;
mod journey_triggers;
mod journeys;
mod push;
mod sms;
mod webhooks;
