//! Webhooks: a program's endpoints in the merchant's systems, the events published to them
//! (inside the transaction of the change they report: an outbox), and the deliverer's claim
//! and settlement, with a dead-letter list an operator replays.
//!
//! An event becomes one delivery per active endpoint that wants it, with a dedupe key per
//! cause, so a retried command publishes once. The deliverer leases due deliveries with a
//! conditional write (one node sends each), signs every attempt (Standard Webhooks, in
//! `tally-delivery`) and settles it: a 2xx answer delivers it; anything else is tried again
//! on the Standard Webhooks schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), and after
//! [`MAX_ATTEMPTS`] it is `dead`. A replay sends it again from the start under the same
//! `webhook-id`, so a receiver that saw it once can tell.

use super::load_program;
use crate::StepResult;
use crate::commands::Ctx;
use crate::usecases::admin::record;
use base64::Engine;
use jiff::SignedDuration;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use tally_domain::DomainError;
use tally_domain::ids::{ProgramId, WebhookDeliveryId, WebhookId};
use tally_domain::webhooks::{self as domain, WebhookInput, WebhookPatch, envelope, wants};
use tally_store::Conn;
use tally_store::queries::webhooks::{self as store, DeliveryRow, EndpointRow, Settlement};

/// Attempts before a delivery is dead: about a day and a half of trying.
pub const MAX_ATTEMPTS: i64 = 8;

/// The pause after the n-th failed attempt (Standard Webhooks' suggested schedule).
pub fn backoff(failed_attempts: i64) -> SignedDuration {
    const SCHEDULE: [i64; 7] = [5, 300, 1800, 7200, 18000, 36000, 36000];
    let i = (failed_attempts.max(1) - 1).min(SCHEDULE.len() as i64 - 1) as usize;
    SignedDuration::from_secs(SCHEDULE[i])
}

/// The most dead deliveries one "replay all" sends again.
pub const REPLAY_BATCH: i64 = 1000;

/// An active endpoint as the program's cached set-up knows it.
#[derive(Clone, Debug)]
pub struct ActiveEndpoint {
    pub id: WebhookId,
    pub event_types: Vec<String>,
}

impl ActiveEndpoint {
    pub fn from_row(row: &EndpointRow) -> ActiveEndpoint {
        ActiveEndpoint {
            id: row.id.clone(),
            event_types: row.event_types.clone(),
        }
    }
}

/// Every webhook write, as data.
#[derive(Clone, Debug)]
pub enum WebhookCommand {
    Create {
        program: ProgramId,
        input: WebhookInput,
    },
    Update {
        webhook: WebhookId,
        patch: WebhookPatch,
    },
    /// A new signing secret, in force at once.
    RotateSecret {
        webhook: WebhookId,
    },
    /// A `webhook.test` event to this endpoint only.
    SendTest {
        webhook: WebhookId,
    },
    Replay {
        delivery: WebhookDeliveryId,
    },
    /// Every dead delivery of an endpoint (up to [`REPLAY_BATCH`]).
    ReplayDead {
        webhook: WebhookId,
    },
    /// The deliverer takes up to `limit` due deliveries for `lease`.
    Claim {
        limit: i64,
        lease: SignedDuration,
    },
    Settle {
        delivery: WebhookDeliveryId,
        attempt: Attempt,
    },
}

impl WebhookCommand {
    pub async fn apply<C: Conn>(&self, c: &mut C, ctx: &Ctx) -> StepResult<Value> {
        match self {
            WebhookCommand::Create { program, input } => create(c, ctx, program, input).await,
            WebhookCommand::Update { webhook, patch } => update(c, ctx, webhook, patch).await,
            WebhookCommand::RotateSecret { webhook } => rotate(c, ctx, webhook).await,
            WebhookCommand::SendTest { webhook } => send_test(c, ctx, webhook).await,
            WebhookCommand::Replay { delivery } => replay(c, ctx, delivery).await,
            WebhookCommand::ReplayDead { webhook } => replay_dead(c, ctx, webhook).await,
            WebhookCommand::Claim { limit, lease } => claim(c, ctx, *limit, *lease).await,
            WebhookCommand::Settle { delivery, attempt } => settle(c, ctx, delivery, attempt).await,
        }
    }
}

/// How an endpoint is shown (never with its secret).
pub(crate) fn view(e: &EndpointRow) -> Value {
    json!({
        "id": e.id,
        "program_id": e.program_id,
        "url": e.url,
        "description": e.description,
        "event_types": e.event_types,
        "status": e.status,
        "created_at": e.created_at,
        "updated_at": e.updated_at,
    })
}

pub(crate) fn delivery_view(d: &DeliveryRow) -> Value {
    let payload: Value = serde_json::from_str(&d.payload).unwrap_or(Value::Null);
    json!({
        "id": d.id,
        "webhook_id": d.endpoint_id,
        "event_type": d.event_type,
        "status": d.status,
        "attempts": d.attempts,
        "next_attempt_at": (d.status == "pending").then_some(d.due_at),
        "last_status": d.last_status,
        "last_error": d.last_error,
        "created_at": d.created_at,
        "settled_at": d.settled_at,
        "replays": d.replays,
        "payload": payload,
    })
}

/// `whsec_` and 32 random bytes in base64, as Standard Webhooks writes secrets.
fn new_secret() -> String {
    let key: [u8; 32] = rand::random();
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

async fn load<C: Conn>(c: &mut C, ctx: &Ctx, id: &WebhookId) -> StepResult<EndpointRow> {
    store::get_endpoint(c, &ctx.tenant, id)
        .await?
        .ok_or_else(|| DomainError::not_found("webhook").into())
}

/// The program's cached set-up lists its active endpoints: a change reloads it.
async fn changed<C: Conn>(c: &mut C, program: &ProgramId) -> StepResult<()> {
    tally_store::queries::rules::bump_revision(c, program).await?;
    Ok(())
}

async fn create<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    input: &WebhookInput,
) -> StepResult<Value> {
    load_program(c, ctx, program).await?;
    let row = EndpointRow {
        id: WebhookId::generate(),
        tenant_id: ctx.tenant.clone(),
        program_id: program.clone(),
        url: input.url.clone(),
        description: input.description.clone(),
        event_types: input.event_types.clone(),
        secret: new_secret(),
        previous_secret: None,
        previous_until: None,
        status: "active".into(),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    store::insert_endpoint(c, &row).await?;
    changed(c, program).await?;
    let mut answer = view(&row);
    record(c, ctx, "webhook.created", row.id.as_str(), answer.clone()).await?;
    // Shown here and by `GET /webhooks/{id}/secret` (admin) only.
    answer["secret"] = json!(row.secret);
    Ok(answer)
}

async fn update<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    id: &WebhookId,
    patch: &WebhookPatch,
) -> StepResult<Value> {
    let mut row = load(c, ctx, id).await?;
    if let Some(url) = &patch.url {
        row.url = url.clone();
    }
    if let Some(d) = &patch.description {
        row.description = d.clone();
    }
    if let Some(types) = &patch.event_types {
        row.event_types = types.clone();
    }
    if let Some(status) = &patch.status {
        row.status = status.clone();
    }
    row.updated_at = ctx.now;
    store::update_endpoint(c, &row).await?;
    changed(c, &row.program_id).await?;
    let answer = view(&row);
    record(c, ctx, "webhook.updated", id.as_str(), answer.clone()).await?;
    Ok(answer)
}

/// How long a rotated secret keeps signing next to the new one.
pub const ROTATION_GRACE: SignedDuration = SignedDuration::from_hours(24);

async fn rotate<C: Conn>(c: &mut C, ctx: &Ctx, id: &WebhookId) -> StepResult<Value> {
    let mut row = load(c, ctx, id).await?;
    row.previous_secret = Some(std::mem::replace(&mut row.secret, new_secret()));
    row.previous_until = Some(ctx.now + ROTATION_GRACE);
    row.updated_at = ctx.now;
    store::update_endpoint(c, &row).await?;
    record(c, ctx, "webhook.secret_rotated", id.as_str(), json!({})).await?;
    Ok(json!({ "id": row.id, "secret": row.secret }))
}

/// Queues one delivery of an event to one endpoint, unless it has one for this cause.
async fn queue<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    endpoint: &WebhookId,
    event_type: &str,
    cause: &str,
    data: &Value,
) -> StepResult<Option<DeliveryRow>> {
    let row = DeliveryRow {
        id: WebhookDeliveryId::generate(),
        tenant_id: ctx.tenant.clone(),
        program_id: program.clone(),
        endpoint_id: endpoint.clone(),
        event_type: event_type.to_owned(),
        payload: envelope(event_type, ctx.now, data.clone()).to_string(),
        dedupe_key: format!("{event_type}:{cause}"),
        status: "pending".into(),
        attempts: 0,
        due_at: ctx.now,
        last_status: None,
        last_error: None,
        created_at: ctx.now,
        settled_at: None,
        replays: 0,
    };
    let queued = store::insert_delivery(c, &row).await?;
    if queued {
        ctx.marks.outbox();
    }
    Ok(queued.then_some(row))
}

/// Publishes an event of the program to every active endpoint that wants it; `cause` names
/// what happened (a purchase id, a member id), so publishing twice queues once. Returns how
/// many deliveries were queued.
pub(crate) async fn publish<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    endpoints: &[ActiveEndpoint],
    program: &ProgramId,
    event_type: &str,
    cause: &str,
    data: &Value,
) -> StepResult<usize> {
    debug_assert!(domain::is_event_type(event_type), "{event_type}");
    let mut queued = 0;
    for e in endpoints
        .iter()
        .filter(|e| wants(&e.event_types, event_type))
    {
        let done = queue(c, ctx, program, &e.id, event_type, cause, data).await?;
        queued += usize::from(done.is_some());
    }
    Ok(queued)
}

/// Publishes to one endpoint, whatever events it wants (a journey's webhook step).
pub(crate) async fn publish_to<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    endpoint: &WebhookId,
    event_type: &str,
    cause: &str,
    data: Value,
) -> StepResult<bool> {
    let Some(row) = store::get_endpoint(c, &ctx.tenant, endpoint).await? else {
        return Ok(false);
    };
    if row.status != "active" {
        return Ok(false);
    }
    let done = queue(c, ctx, &row.program_id, endpoint, event_type, cause, &data).await?;
    Ok(done.is_some())
}

async fn send_test<C: Conn>(c: &mut C, ctx: &Ctx, id: &WebhookId) -> StepResult<Value> {
    let row = load(c, ctx, id).await?;
    let cause = WebhookDeliveryId::generate();
    let data = json!({ "webhook_id": row.id, "message": "This is a test event from Tally." });
    let queued = queue(
        c,
        ctx,
        &row.program_id,
        id,
        "webhook.test",
        cause.as_str(),
        &data,
    )
    .await?
    .expect("a new cause is never a duplicate");
    Ok(delivery_view(&queued))
}

async fn replay<C: Conn>(c: &mut C, ctx: &Ctx, id: &WebhookDeliveryId) -> StepResult<Value> {
    let row = store::get_delivery(c, &ctx.tenant, id)
        .await?
        .ok_or_else(|| DomainError::not_found("webhook delivery"))?;
    if !store::replay(c, id, ctx.now).await? {
        return Err(DomainError::conflict(
            "delivery_not_dead",
            format!(
                "only a dead delivery is replayed; this one is {}",
                row.status
            ),
        )
        .into());
    }
    record(c, ctx, "webhook.replayed", id.as_str(), json!({})).await?;
    let row = store::get_delivery(c, &ctx.tenant, id)
        .await?
        .expect("just replayed");
    Ok(delivery_view(&row))
}

async fn replay_dead<C: Conn>(c: &mut C, ctx: &Ctx, id: &WebhookId) -> StepResult<Value> {
    load(c, ctx, id).await?;
    let mut replayed = 0;
    for delivery in store::dead(c, id, REPLAY_BATCH).await? {
        replayed += i64::from(store::replay(c, &delivery, ctx.now).await?);
    }
    record(
        c,
        ctx,
        "webhook.replayed_dead",
        id.as_str(),
        json!({ "replayed": replayed }),
    )
    .await?;
    Ok(json!({ "webhook_id": id, "replayed": replayed }))
}

/// A delivery the deliverer is to send now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingWebhook {
    pub id: WebhookDeliveryId,
    pub url: String,
    /// The secrets that sign it: the endpoint's, and for a day after a rotation the one before.
    pub secrets: Vec<String>,
    pub payload: String,
}

/// What an attempt got: an HTTP status, or an error before any answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub status: Option<u16>,
    pub error: Option<String>,
}

impl Attempt {
    pub fn delivered(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

async fn claim<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    limit: i64,
    lease: SignedDuration,
) -> StepResult<Value> {
    let mut endpoints: HashMap<WebhookId, Option<EndpointRow>> = HashMap::new();
    let mut outgoing = Vec::new();
    let mut disabled = 0;
    for row in store::due(c, ctx.now, limit).await? {
        if !store::lease(c, &row.id, ctx.now, ctx.now + lease).await? {
            continue; // another deliverer took it
        }
        if !endpoints.contains_key(&row.endpoint_id) {
            let e = store::get_endpoint(c, &row.tenant_id, &row.endpoint_id).await?;
            endpoints.insert(row.endpoint_id.clone(), e);
        }
        match &endpoints[&row.endpoint_id] {
            Some(e) if e.status == "active" => {
                let mut secrets = vec![e.secret.clone()];
                if let (Some(previous), Some(until)) = (&e.previous_secret, e.previous_until)
                    && until > ctx.now
                {
                    secrets.push(previous.clone());
                }
                outgoing.push(OutgoingWebhook {
                    id: row.id.clone(),
                    url: e.url.clone(),
                    secrets,
                    payload: row.payload.clone(),
                });
            }
            _ => {
                // Kept as a dead letter: replayed once the endpoint is active again.
                let s = Settlement {
                    status: "dead",
                    due_at: ctx.now,
                    http_status: None,
                    error: Some("the endpoint is disabled"),
                    at: ctx.now,
                };
                store::settle(c, &row.id, &s).await?;
                disabled += 1;
            }
        }
    }
    Ok(json!({ "deliveries": outgoing, "disabled": disabled }))
}

async fn settle<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    id: &WebhookDeliveryId,
    attempt: &Attempt,
) -> StepResult<Value> {
    let Some(row) = store::delivery_by_id(c, id).await? else {
        return Err(DomainError::not_found("webhook delivery").into());
    };
    let error = attempt.error.as_deref();
    let status = if attempt.delivered() {
        "delivered"
    } else if row.attempts >= MAX_ATTEMPTS {
        "dead"
    } else {
        "pending"
    };
    let s = Settlement {
        status,
        due_at: ctx.now + backoff(row.attempts),
        http_status: attempt.status.map(i64::from),
        error,
        at: ctx.now,
    };
    store::settle(c, id, &s).await?;
    Ok(json!({ "id": id, "status": status }))
}
