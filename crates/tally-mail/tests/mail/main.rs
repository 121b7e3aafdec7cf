//! Mail over real SMTP: the mailer against the sink on loopback.

mod mailer;
mod sink;
