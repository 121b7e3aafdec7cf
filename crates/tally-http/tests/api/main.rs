//! The HTTP API end to end: a real server on a free port, a real database (SQLite, or
//! PostgreSQL when `TALLY_TEST_DATABASE_URL` is set), requests over TCP.
//!
//! Every endpoint of the route table has a happy path here; every kind of bad input is checked
//! for its status, `application/problem+json`, its `code`, the `errors[]` it names, a
//! `request_id`, and that nothing was written (a snapshot of every table before and after).
//! Tests that write end with [`TestApp::check_end_state`], which checks the ledger invariants
//! (and that every problem `type` met links to a page).

#[path = "../common/mod.rs"]
mod common;

mod auth_and_isolation;
mod balances;
mod campaigns;
mod cashback;
mod charities;
mod events;
mod expiry;
mod friend_deals;
mod fulfilment;
mod idempotency_and_paging;
mod insights;
mod journeys;
mod members_and_programs;
mod messages;
mod occasions;
mod offers;
mod orders;
mod pending;
mod protocol;
mod referrals;
mod rewards;
mod rules;
mod segments;
mod stamps;
mod system;
mod templates;
mod tiers;
mod vouchers;
mod webhooks;

use common::{TestApp, id};
use reqwest::Method;
use serde_json::{Value, json};
use tally_core::Command;
use tally_domain::card::{new_card_number, parse_card_number};
use tally_domain::ids::{ApiKeyId, LocationId, MemberId, PurchaseId, RedemptionId, RewardId};

pub(crate) fn purchase_body(member: &str, order_id: &str, amount_minor: i64) -> Value {
    json!({"order_id": order_id, "member": {"id": member}, "total": {"amount_minor": amount_minor, "currency": "USD"}})
}

/// A valid card number with its last (check) digit changed: a typo the check digit catches.
pub(crate) fn with_wrong_check_digit(card: &str) -> String {
    let mut digits = card.as_bytes().to_vec();
    let last = digits.len() - 1;
    digits[last] = if digits[last] == b'9' {
        b'0'
    } else {
        digits[last] + 1
    };
    String::from_utf8(digits).unwrap()
}

pub(crate) fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(id).collect()
}
