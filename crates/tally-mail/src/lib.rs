//! Tally's email: an SMTP [`Mailer`] and [`sink::SmtpSink`], a small real SMTP server for tests.
//!
//! The wallet signs members in with a one-time code sent by email, and campaigns send email.
//! Both hand an [`Email`] to a [`Mailer`], which speaks SMTP to the relay named by a
//! [`MailConfig`] URL (`smtp://`, `smtp+starttls://`, `smtps://`) over lettre's SMTP
//! connections, which the mailer pools itself (see `mailer.rs` for why). A send either succeeds, or fails with a [`MailError`] that says whether trying
//! again can help: a 5xx refusal is permanent (a bad address), a 4xx reply, a refused
//! connection or a timeout is transient.
//!
//! Tests do not mock the mailer: they start a [`sink::SmtpSink`] on `127.0.0.1:0`, point a
//! `Mailer` at `sink.url()`, and read what arrived over real SMTP. The sink is always compiled
//! (it needs nothing beyond tokio, which the mailer links anyway), so other crates' tests use
//! it through an ordinary dependency on this crate, with no feature to remember.
//!
//! Limits: every message, recipient list, header list, line and connection count is bounded
//! (see the constants in each module).

mod address;
mod config;
mod email;
mod mailer;
pub mod sink;

pub use address::{AddressError, Mailbox, MessageId, MessageIdError};
pub use config::{ConfigError, MailConfig, Security, SmtpUrl};
pub use email::{Email, HeaderError, MAX_EXTRA_HEADERS};
pub use mailer::{MailError, Mailer};
