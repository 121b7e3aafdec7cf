//! The console and the wallet over real HTTP: a real server on a free port, a real database
//! (SQLite, or PostgreSQL when `TALLY_TEST_DATABASE_URL` is set), one module per part.

#[path = "../common/mod.rs"]
mod common;

mod back_office;
mod cashback;
mod charities;
mod console;
mod fulfilment;
mod insights;
mod journey_builder;
mod message_links;
mod messages;
mod messaging_settings;
mod offers;
mod referrals;
mod rules;
mod stamps;
mod vouchers;
mod wallet;
mod wallet_people;
mod wallet_push;
mod webhooks;
