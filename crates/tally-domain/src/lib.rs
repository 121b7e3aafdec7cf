//! Pure domain types of Tally: what a program, a member, a purchase or a reward *is*, and the
//! rules for parsing them from untrusted input. No IO lives here, so every other crate can
//! depend on it and tests can exercise it without a database.
//!
//! Parse, don't validate: every value that arrives from outside goes through a `parse`
//! constructor that returns a [`FieldError`] naming what is wrong, and the rest of the system
//! only ever sees the parsed type.

pub mod campaigns;
pub mod card;
pub mod cashback;
pub mod charities;
pub mod clock;
pub mod display;
pub mod error;
pub mod events;
pub mod expiry;
pub mod fulfilment;
pub mod ids;
pub mod inputs;
pub mod journeys;
pub mod messaging;
pub mod model;
pub mod money;
pub mod offers;
pub mod operators;
pub mod playbooks;
pub mod points;
pub mod program;
pub mod push;
pub mod referrals;
pub mod search;
pub mod segments;
pub mod stamps;
pub mod templates;
pub mod text;
pub mod tiers;
pub mod tracking;
pub mod vouchers;
pub mod webhooks;

pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use error::{DomainError, FieldError};
pub use money::{Currency, Money};
pub use points::Points;
