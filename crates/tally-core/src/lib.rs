//! Tally's use cases, generic over the store.
//!
//! Writes are [`Command`]s: plain data, applied by the group-commit [`writer`] inside one
//! database transaction per batch (each command in its own savepoint), so a command can be
//! retried as a whole when the database reports a transient conflict. Reads go straight to a
//! pooled connection ([`Tally::read`]).
//!
//! A command's answer is JSON: the same bytes are the HTTP body, and the stored answer that an
//! idempotent retry gets back.

mod awards;
mod backtest;
pub mod bell;
pub mod beyond;
mod campaign_reads;
mod cashback_reads;
mod charity_reads;
pub mod commands;
pub mod console;
pub mod earning;
mod earning_reads;
mod error;
pub mod insights;
pub mod invariants;
mod journey_reads;
pub mod lots;
mod message_reads;
pub mod occasions;
mod offer_reads;
pub mod pending;
pub mod reads;
mod referral_reads;
pub mod referrals;
pub mod secrets;
mod segment_reads;
pub mod segments;
mod stamp_reads;
mod template_reads;
pub use message_reads::inbox_view;
pub use stamp_reads::StampCodeView;
pub use voucher_reads::Prober;
pub mod stamps;
pub mod tiers;
mod usecases;
mod voucher_reads;
mod webhook_reads;

/// Most purchases in one `Command::ImportPurchases`.
pub const MAX_IMPORT_CHUNK: usize = usecases::imports::MAX_IMPORT_CHUNK;
pub mod writer;

pub use usecases::journeys::STATUSES as JOURNEY_STATUSES;
pub use usecases::rules::STATUSES as RULE_STATUSES;
pub use usecases::segments::STATUSES as SEGMENT_STATUSES;
pub use usecases::stamps::STATUSES as STAMP_CARD_STATUSES;
pub use usecases::wallet::WALLET_TENANT;
/// What the deliverer and the links in messages work with.
pub mod messages {
    pub use crate::usecases::messages::{
        ClaimRequest, MAX_ATTEMPTS, Outcome, Outgoing, PushTarget, Reaction, backoff,
        unsubscribe_url,
    };
}

/// Webhook endpoints and deliveries: the commands, and what the deliverer works with.
pub mod webhooks {
    pub use crate::usecases::webhooks::{
        Attempt, MAX_ATTEMPTS, OutgoingWebhook, REPLAY_BATCH, ROTATION_GRACE, WebhookCommand,
        backoff,
    };
    pub use crate::webhook_reads::DELIVERY_STATUSES;
}

/// Web push subscriptions and the keys every node shares.
pub mod push {
    pub use crate::usecases::push::PushCommand;
    /// The name the VAPID key pair is kept under.
    pub const VAPID_KEY: &str = "vapid";
}

pub use commands::{Command, Ctx, IdempotencyKey, NewOperator, NewSession};
pub use error::{CoreError, StepError, StepResult};

use std::sync::Arc;
use tally_domain::Clock;
use tally_store::Database;
use writer::WriteQueue;

/// The running engine: a database, a clock, the writers, and the segment updater.
#[derive(Clone)]
pub struct Tally<D: Database> {
    pub db: D,
    pub clock: Arc<dyn Clock>,
    /// Rung when committed writes leave work for the journey runner or the deliverer.
    pub bell: Arc<bell::Bell>,
    writes: WriteQueue,
    /// None inside the updater itself.
    segments: Option<segments::Updater>,
}

impl<D: Database> Tally<D> {
    /// Finishes the writes already queued and ends the writers: for a server's shutdown, once it
    /// takes no more requests. Writes after it answer `Unavailable`.
    pub async fn close(&self) {
        self.writes.close().await;
    }

    /// Starts the writers and the segment updater. The database must already be migrated.
    pub fn start(db: D, clock: Arc<dyn Clock>) -> Tally<D> {
        let bell = Arc::new(bell::Bell::default());
        let writes = writer::spawn(db.clone(), clock.clone(), bell.clone());
        let mut tally = Tally {
            db,
            clock,
            bell,
            writes,
            segments: None,
        };
        tally.segments = Some(segments::spawn_updater(tally.clone()));
        tally
    }

    /// Applies a command through the group-commit writer and returns its JSON answer. A command
    /// that changed a member's facts queues the member for their segments.
    pub async fn write(
        &self,
        tenant: &tally_domain::ids::TenantId,
        actor: &str,
        idempotency: Option<IdempotencyKey>,
        command: Command,
    ) -> Result<serde_json::Value, CoreError> {
        let touches = command.touches_member().map(|p| p.cloned());
        let answer = self
            .writes
            .submit(tenant.clone(), actor.to_owned(), idempotency, command)
            .await?;
        if let (Some(updater), Some(program)) = (&self.segments, touches) {
            let member = answer["member_id"]
                .as_str()
                .or_else(|| answer["id"].as_str().filter(|id| id.starts_with("mem_")))
                .and_then(|m| tally_domain::ids::MemberId::parse(m).ok());
            let program = program.or_else(|| {
                answer["program_id"]
                    .as_str()
                    .and_then(|p| tally_domain::ids::ProgramId::parse(p).ok())
            });
            if let Some(member) = member {
                updater.touch(tenant.clone(), program, member);
            }
        }
        Ok(answer)
    }

    /// Waits (up to five seconds) until every member queued for their segments has been
    /// re-evaluated: for tests and the demo, which need to see the result at once.
    pub async fn segments_settled(&self) {
        if let Some(updater) = &self.segments {
            updater.settled().await;
        }
    }

    /// Like [`Tally::write`], and decodes the answer into the type the command returns.
    pub async fn write_as<T: serde::de::DeserializeOwned>(
        &self,
        tenant: &tally_domain::ids::TenantId,
        actor: &str,
        command: Command,
    ) -> Result<T, CoreError> {
        let value = self.write(tenant, actor, None, command).await?;
        serde_json::from_value(value)
            .map_err(|e| CoreError::Store(tally_store::StoreError::Decode(e.to_string())))
    }

    /// A pooled connection for reads.
    pub async fn read(&self) -> Result<D::Reader, CoreError> {
        Ok(self.db.reader().await?)
    }
}
