//! The deliverer: takes due messages from the outbox and sends them.
//!
//! A round is one `ClaimMessages` command (which decides channel, consent, quiet hours and caps
//! and fills in the content, see `tally_core::usecases::messages`), the sends of what it
//! handed out, all at once up to the mailer's connections, then one `SettleMessages` for them all.
//! A deliverer that dies between claim and settle loses nothing: the claim's lease runs out and
//! the message falls due again, to go out under the same `Message-ID` (at least once). Any
//! number of deliverers may run, on one node or several: a message is leased by one of them.

mod http;
pub mod push;
pub mod sms;
pub mod webhooks;

pub use sms::{SmsFormat, SmsGateway};
pub use webhooks::WebhookRound;

use jiff::SignedDuration;
use std::time::Duration;
use tally_core::messages::{ClaimRequest, Outcome, Outgoing};
use tally_core::{Command, CoreError, Tally};
use tally_domain::ids::TenantId;
use tally_domain::model::Channel;
use tally_mail::{Email, Mailbox, Mailer};
use tally_store::Database;
use tokio::task::JoinSet;

/// Who the deliverer's commands run as (they work across tenants, like housekeeping).
pub(crate) const SYSTEM: &str = "ten_system";

/// How a deliverer works.
#[derive(Clone, Debug)]
pub struct DeliveryConfig {
    /// Where members' browsers reach this server: unsubscribe and tracking links start here.
    pub public_url: String,
    /// Most messages claimed in one round.
    pub batch: i64,
    /// How long a claimed message is ours before another deliverer may take it.
    pub lease: SignedDuration,
    /// The pause after a round that found less than a full batch.
    pub idle: Duration,
}

impl DeliveryConfig {
    pub fn new(public_url: &str) -> DeliveryConfig {
        DeliveryConfig {
            public_url: public_url.trim_end_matches('/').to_owned(),
            batch: 200,
            lease: SignedDuration::from_secs(120),
            idle: Duration::from_secs(1),
        }
    }
}

/// What one round did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Round {
    /// Messages handed to a relay and accepted.
    pub sent: usize,
    /// Refused for good by the relay.
    pub bounced: usize,
    /// Not accepted now; tried again later.
    pub deferred: usize,
    /// No channel could carry them (consent, address, cap).
    pub suppressed: usize,
    /// Held back until the member's quiet hours end.
    pub put_off: usize,
    /// Delivered to the in-app inbox.
    pub in_app: usize,
}

impl Round {
    /// Messages the round took from the outbox.
    pub fn claimed(&self) -> usize {
        self.sent + self.bounced + self.deferred + self.suppressed + self.put_off + self.in_app
    }
}

/// Sends what the outbox holds, through the channels this server has.
#[derive(Clone)]
pub struct Deliverer<D: Database> {
    tally: Tally<D>,
    mailer: Option<Mailer>,
    sms: Option<SmsGateway>,
    push: Option<push::Vapid>,
    /// For webhooks and push services.
    http: reqwest::Client,
    config: DeliveryConfig,
}

impl<D: Database> Deliverer<D> {
    pub fn new(tally: Tally<D>, mailer: Option<Mailer>, config: DeliveryConfig) -> Deliverer<D> {
        Deliverer {
            tally,
            mailer,
            sms: None,
            push: None,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .build()
                .expect("a client with a timeout builds"),
            config,
        }
    }

    /// Text messages go through this gateway.
    pub fn with_sms(mut self, gateway: SmsGateway) -> Deliverer<D> {
        self.sms = Some(gateway);
        self
    }

    /// Push notifications go out signed with this key pair (see [`push::server_vapid`]).
    pub fn with_push(mut self, vapid: push::Vapid) -> Deliverer<D> {
        self.push = Some(vapid);
        self
    }

    /// The channels this deliverer can send on: email with an SMTP relay, SMS with a gateway,
    /// push with a VAPID key, and the in-app inbox.
    pub fn usable(&self) -> Vec<Channel> {
        let mut usable = vec![Channel::InApp];
        if self.mailer.is_some() {
            usable.push(Channel::Email);
        }
        if self.sms.is_some() {
            usable.push(Channel::Sms);
        }
        if self.push.is_some() {
            usable.push(Channel::Push);
        }
        usable
    }

    /// Runs rounds of messages and of webhooks for ever: at once again after a full batch,
    /// else when this node's writes put something in the outbox (the bell), or after a short
    /// pause.
    pub async fn run(self) {
        loop {
            let messages = match self.round().await {
                Ok(r) => r.claimed(),
                Err(e) => {
                    tracing::warn!(error = %e, "delivering messages failed");
                    0
                }
            };
            let webhooks = match self.webhook_round().await {
                Ok(r) => r.claimed(),
                Err(e) => {
                    tracing::warn!(error = %e, "delivering webhooks failed");
                    0
                }
            };
            if messages.max(webhooks) as i64 >= self.config.batch {
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep(self.config.idle) => {}
                () = self.tally.bell.outbox() => {}
            }
        }
    }

    /// Runs rounds until one finds nothing due; adds up what they did.
    pub async fn drain(&self) -> Result<Round, CoreError> {
        let mut total = Round::default();
        loop {
            let r = self.round().await?;
            if r.claimed() == 0 {
                return Ok(total);
            }
            total.sent += r.sent;
            total.bounced += r.bounced;
            total.deferred += r.deferred;
            total.suppressed += r.suppressed;
            total.put_off += r.put_off;
            total.in_app += r.in_app;
        }
    }

    /// One round: claim, send, settle.
    pub async fn round(&self) -> Result<Round, CoreError> {
        let system = TenantId::from_trusted(SYSTEM.into());
        let claim = Command::ClaimMessages(ClaimRequest {
            usable: self.usable(),
            limit: self.config.batch,
            lease: self.config.lease,
            public_url: self.config.public_url.clone(),
        });
        let answer = self.tally.write(&system, "deliverer", None, claim).await?;
        let count = |key: &str| answer[key].as_u64().unwrap_or(0) as usize;
        let mut round = Round {
            suppressed: count("suppressed"),
            put_off: count("put_off"),
            in_app: count("in_app"),
            ..Round::default()
        };
        let outgoing: Vec<Outgoing> = serde_json::from_value(answer["messages"].clone())
            .map_err(|e| CoreError::Store(tally_store::StoreError::Decode(e.to_string())))?;
        let mut sends = JoinSet::new();
        for message in outgoing {
            let sender = self.clone();
            sends.spawn(async move {
                let outcome = sender.send(&message).await;
                (message.id, outcome)
            });
        }
        let mut outcomes = Vec::new();
        while let Some(done) = sends.join_next().await {
            let Ok((id, outcome)) = done else { continue };
            match &outcome {
                Outcome::Sent => round.sent += 1,
                Outcome::Rejected(_) => round.bounced += 1,
                Outcome::Deferred(_) => round.deferred += 1,
            }
            outcomes.push((id, outcome));
        }
        // Unsettled, the messages fall due again after their lease: sent twice, never lost.
        if !outcomes.is_empty() {
            let settle = Command::SettleMessages(outcomes);
            if let Err(e) = self.tally.write(&system, "deliverer", None, settle).await {
                tracing::warn!(error = %e, "settling messages failed");
            }
        }
        Ok(round)
    }

    async fn send(&self, message: &Outgoing) -> Outcome {
        match message.channel {
            Channel::Email => match &self.mailer {
                Some(mailer) => send_email(mailer, message).await,
                None => Outcome::Deferred("no SMTP relay is configured".into()),
            },
            Channel::Sms => match &self.sms {
                Some(gateway) => {
                    let id = message.id.as_str();
                    gateway.send(id, &message.to, &message.text).await
                }
                None => Outcome::Deferred("no SMS gateway is configured".into()),
            },
            Channel::Push => match &self.push {
                Some(vapid) => self.send_push(vapid, message).await,
                None => Outcome::Deferred("no VAPID key is set up".into()),
            },
            other => Outcome::Deferred(format!("{} cannot be sent yet", other.as_str())),
        }
    }
}

/// The email for a message: its id as `Message-ID` (so a resend is recognisably the same
/// message), and `List-Unsubscribe` (one-click, RFC 8058, when the link is HTTPS).
pub fn email(from: &Mailbox, message: &Outgoing) -> Result<Email, String> {
    let to = Mailbox::parse(&message.to).map_err(|e| e.to_string())?;
    let domain = from.domain().to_owned();
    let id = tally_mail::MessageId::parse(&format!("<{}@{domain}>", message.id))
        .map_err(|e| e.to_string())?;
    let mut email = Email::new(to, &message.subject, &message.text).with_message_id(id);
    if let Some(html) = &message.html {
        email = email.with_html(html);
    }
    let url = &message.unsubscribe_url;
    let email = if url.starts_with("https://") {
        email.with_one_click_unsubscribe(url)
    } else {
        email.with_header("List-Unsubscribe", format!("<{url}>"))
    };
    email.map_err(|e| e.to_string())
}

async fn send_email(mailer: &Mailer, message: &Outgoing) -> Outcome {
    let email = match email(mailer.from(), message) {
        Ok(email) => email,
        Err(why) => return Outcome::Rejected(why),
    };
    match mailer.send(&email).await {
        Ok(()) => Outcome::Sent,
        Err(e) if e.is_permanent() => Outcome::Rejected(e.to_string()),
        Err(e) => Outcome::Deferred(e.to_string()),
    }
}
