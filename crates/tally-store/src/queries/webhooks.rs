//! Webhooks (migration 0024): a program's endpoints, and the outbox of deliveries to them
//! with their lease, settlement and replay.

use super::{Page, page_query, to_opt_ts, to_ts, ts};
use crate::{Conn, Row, StoreError};
use tally_domain::Timestamp;
use tally_domain::ids::{ProgramId, TenantId, WebhookDeliveryId, WebhookId};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointRow {
    pub id: WebhookId,
    pub tenant_id: TenantId,
    pub program_id: ProgramId,
    pub url: String,
    pub description: String,
    /// The event types it hears; empty: all.
    pub event_types: Vec<String>,
    /// `whsec_` and the key in base64 (Standard Webhooks).
    pub secret: String,
    /// After a rotation, the secret before, which also signs until `previous_until`.
    pub previous_secret: Option<String>,
    pub previous_until: Option<Timestamp>,
    /// `active` or `disabled`.
    pub status: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const ENDPOINT_COLS: &str = "id, tenant_id, program_id, url, description, event_types, secret,
    status, created_at_us, updated_at_us, seq, previous_secret, previous_until_us";

fn endpoint(r: &Row) -> Result<(i64, EndpointRow), StoreError> {
    let types: Vec<String> = serde_json::from_str(&r.text(5)?)
        .map_err(|e| StoreError::Decode(format!("webhook event types: {e}")))?;
    Ok((
        r.int(10)?,
        EndpointRow {
            id: WebhookId::from_trusted(r.text(0)?),
            tenant_id: TenantId::from_trusted(r.text(1)?),
            program_id: ProgramId::from_trusted(r.text(2)?),
            url: r.text(3)?,
            description: r.text(4)?,
            event_types: types,
            secret: r.text(6)?,
            status: r.text(7)?,
            created_at: to_ts(r.int(8)?)?,
            updated_at: to_ts(r.int(9)?)?,
            previous_secret: r.opt_text(11)?,
            previous_until: to_opt_ts(r.opt_int(12)?)?,
        },
    ))
}

fn types_json(types: &[String]) -> String {
    serde_json::Value::from(types.to_vec()).to_string()
}

pub async fn insert_endpoint<C: Conn>(c: &mut C, e: &EndpointRow) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO webhook_endpoints (id, tenant_id, program_id, url, description, event_types,
             secret, status, created_at_us, updated_at_us)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &[
            e.id.as_str().into(),
            e.tenant_id.as_str().into(),
            e.program_id.as_str().into(),
            e.url.as_str().into(),
            e.description.as_str().into(),
            types_json(&e.event_types).into(),
            e.secret.as_str().into(),
            e.status.as_str().into(),
            ts(e.created_at),
            ts(e.updated_at),
        ],
    )
    .await?;
    Ok(())
}

/// Writes the endpoint's url, description, event types, secrets and status as given.
pub async fn update_endpoint<C: Conn>(c: &mut C, e: &EndpointRow) -> Result<(), StoreError> {
    c.execute(
        "UPDATE webhook_endpoints SET url = $2, description = $3, event_types = $4, secret = $5,
             status = $6, updated_at_us = $7, previous_secret = $8, previous_until_us = $9
         WHERE id = $1",
        &[
            e.id.as_str().into(),
            e.url.as_str().into(),
            e.description.as_str().into(),
            types_json(&e.event_types).into(),
            e.secret.as_str().into(),
            e.status.as_str().into(),
            ts(e.updated_at),
            e.previous_secret.clone().into(),
            super::opt_ts(e.previous_until),
        ],
    )
    .await?;
    Ok(())
}

pub async fn get_endpoint<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: &WebhookId,
) -> Result<Option<EndpointRow>, StoreError> {
    let sql =
        format!("SELECT {ENDPOINT_COLS} FROM webhook_endpoints WHERE id = $1 AND tenant_id = $2");
    c.query_one(&sql, &[id.as_str().into(), tenant.as_str().into()])
        .await?
        .map(|r| Ok(endpoint(&r)?.1))
        .transpose()
}

pub async fn endpoints<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    before_seq: Option<i64>,
    limit: Option<i64>,
) -> Result<Page<EndpointRow>, StoreError> {
    let sql = format!(
        "SELECT {ENDPOINT_COLS} FROM webhook_endpoints WHERE program_id = $1 AND seq < $2
         ORDER BY seq DESC LIMIT $3"
    );
    let params = vec![
        program.as_str().into(),
        before_seq.unwrap_or(i64::MAX).into(),
    ];
    page_query(c, &sql, params, limit, endpoint).await
}

/// The program's active endpoints (what events are published to).
pub async fn active_endpoints<C: Conn>(
    c: &mut C,
    program: &ProgramId,
) -> Result<Vec<EndpointRow>, StoreError> {
    let sql = format!(
        "SELECT {ENDPOINT_COLS} FROM webhook_endpoints WHERE program_id = $1 AND status = 'active'
         ORDER BY seq"
    );
    c.query(&sql, &[program.as_str().into()])
        .await?
        .iter()
        .map(|r| Ok(endpoint(r)?.1))
        .collect()
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryRow {
    pub id: WebhookDeliveryId,
    pub tenant_id: TenantId,
    pub program_id: ProgramId,
    pub endpoint_id: WebhookId,
    pub event_type: String,
    /// The exact body sent (and signed).
    pub payload: String,
    /// One delivery per cause per endpoint.
    pub dedupe_key: String,
    /// `pending`, `delivered` or `dead`.
    pub status: String,
    /// Sends tried.
    pub attempts: i64,
    pub due_at: Timestamp,
    /// The HTTP status of the last answer, if there was one.
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub settled_at: Option<Timestamp>,
    /// How often an operator replayed it.
    pub replays: i64,
}

const DELIVERY_COLS: &str = "id, tenant_id, program_id, endpoint_id, event_type, payload,
    dedupe_key, status, attempts, due_at_us, last_status, last_error, created_at_us,
    settled_at_us, replays, seq";

fn delivery(r: &Row) -> Result<(i64, DeliveryRow), StoreError> {
    Ok((
        r.int(15)?,
        DeliveryRow {
            id: WebhookDeliveryId::from_trusted(r.text(0)?),
            tenant_id: TenantId::from_trusted(r.text(1)?),
            program_id: ProgramId::from_trusted(r.text(2)?),
            endpoint_id: WebhookId::from_trusted(r.text(3)?),
            event_type: r.text(4)?,
            payload: r.text(5)?,
            dedupe_key: r.text(6)?,
            status: r.text(7)?,
            attempts: r.int(8)?,
            due_at: to_ts(r.int(9)?)?,
            last_status: r.opt_int(10)?,
            last_error: r.opt_text(11)?,
            created_at: to_ts(r.int(12)?)?,
            settled_at: to_opt_ts(r.opt_int(13)?)?,
            replays: r.int(14)?,
        },
    ))
}

/// Queues a delivery unless the endpoint already has one with this dedupe key.
pub async fn insert_delivery<C: Conn>(c: &mut C, d: &DeliveryRow) -> Result<bool, StoreError> {
    let inserted = c
        .query_one(
            "INSERT INTO webhook_deliveries (id, tenant_id, program_id, endpoint_id, event_type,
                 payload, dedupe_key, status, due_at_us, created_at_us)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (endpoint_id, dedupe_key) DO NOTHING
             RETURNING id",
            &[
                d.id.as_str().into(),
                d.tenant_id.as_str().into(),
                d.program_id.as_str().into(),
                d.endpoint_id.as_str().into(),
                d.event_type.as_str().into(),
                d.payload.as_str().into(),
                d.dedupe_key.as_str().into(),
                d.status.as_str().into(),
                ts(d.due_at),
                ts(d.created_at),
            ],
        )
        .await?;
    Ok(inserted.is_some())
}

pub async fn get_delivery<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: &WebhookDeliveryId,
) -> Result<Option<DeliveryRow>, StoreError> {
    let sql =
        format!("SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE id = $1 AND tenant_id = $2");
    c.query_one(&sql, &[id.as_str().into(), tenant.as_str().into()])
        .await?
        .map(|r| Ok(delivery(&r)?.1))
        .transpose()
}

/// A delivery by id, whatever its tenant (the deliverer's settlement).
pub async fn delivery_by_id<C: Conn>(
    c: &mut C,
    id: &WebhookDeliveryId,
) -> Result<Option<DeliveryRow>, StoreError> {
    let sql = format!("SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE id = $1");
    c.query_one(&sql, &[id.as_str().into()])
        .await?
        .map(|r| Ok(delivery(&r)?.1))
        .transpose()
}

/// An endpoint's deliveries, newest first, optionally of one status.
pub async fn deliveries<C: Conn>(
    c: &mut C,
    endpoint: &WebhookId,
    status: Option<&str>,
    before_seq: Option<i64>,
    limit: Option<i64>,
) -> Result<Page<DeliveryRow>, StoreError> {
    let sql = format!(
        "SELECT {DELIVERY_COLS} FROM webhook_deliveries
         WHERE endpoint_id = $1 AND seq < $2 AND (CAST($3 AS TEXT) IS NULL OR status = $3)
         ORDER BY seq DESC LIMIT $4"
    );
    let params = vec![
        endpoint.as_str().into(),
        before_seq.unwrap_or(i64::MAX).into(),
        status.map(str::to_owned).into(),
    ];
    page_query(c, &sql, params, limit, delivery).await
}

/// Deliveries due now, oldest first.
pub async fn due<C: Conn>(
    c: &mut C,
    now: Timestamp,
    limit: i64,
) -> Result<Vec<DeliveryRow>, StoreError> {
    let sql = format!(
        "SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE status = 'pending' AND due_at_us <= $1
         ORDER BY due_at_us LIMIT $2"
    );
    c.query(&sql, &[ts(now), limit.into()])
        .await?
        .iter()
        .map(|r| Ok(delivery(r)?.1))
        .collect()
}

/// Takes a due delivery until `until` and counts the attempt (a conditional write: of two
/// deliverers one wins).
pub async fn lease<C: Conn>(
    c: &mut C,
    id: &WebhookDeliveryId,
    now: Timestamp,
    until: Timestamp,
) -> Result<bool, StoreError> {
    let n = c
        .execute(
            "UPDATE webhook_deliveries SET due_at_us = $2, attempts = attempts + 1
             WHERE id = $1 AND status = 'pending' AND due_at_us <= $3",
            &[id.as_str().into(), ts(until), ts(now)],
        )
        .await?;
    Ok(n == 1)
}

/// What became of an attempt.
pub struct Settlement<'a> {
    /// `delivered`, `dead`, or `pending` (tried again at `due_at`).
    pub status: &'a str,
    pub due_at: Timestamp,
    pub http_status: Option<i64>,
    pub error: Option<&'a str>,
    pub at: Timestamp,
}

/// Records an attempt's outcome; false when the delivery was no longer pending.
pub async fn settle<C: Conn>(
    c: &mut C,
    id: &WebhookDeliveryId,
    s: &Settlement<'_>,
) -> Result<bool, StoreError> {
    let settled = (s.status != "pending").then_some(s.at);
    let n = c
        .execute(
            "UPDATE webhook_deliveries SET status = $2, due_at_us = $3, last_status = $4,
                 last_error = $5, settled_at_us = $6
             WHERE id = $1 AND status = 'pending'",
            &[
                id.as_str().into(),
                s.status.into(),
                ts(s.due_at),
                s.http_status.into(),
                s.error.map(str::to_owned).into(),
                super::opt_ts(settled),
            ],
        )
        .await?;
    Ok(n == 1)
}

/// Sends a dead delivery again from the first attempt, under the same id; false when it was
/// not dead.
pub async fn replay<C: Conn>(
    c: &mut C,
    id: &WebhookDeliveryId,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let n = c
        .execute(
            "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, due_at_us = $2,
                 settled_at_us = NULL, replays = replays + 1
             WHERE id = $1 AND status = 'dead'",
            &[id.as_str().into(), ts(now)],
        )
        .await?;
    Ok(n == 1)
}

/// The ids of an endpoint's dead deliveries, oldest first (at most `limit`).
pub async fn dead<C: Conn>(
    c: &mut C,
    endpoint: &WebhookId,
    limit: i64,
) -> Result<Vec<WebhookDeliveryId>, StoreError> {
    let rows = c
        .query(
            "SELECT id FROM webhook_deliveries WHERE endpoint_id = $1 AND status = 'dead'
             ORDER BY seq LIMIT $2",
            &[endpoint.as_str().into(), limit.into()],
        )
        .await?;
    rows.iter()
        .map(|r| Ok(WebhookDeliveryId::from_trusted(r.text(0)?)))
        .collect()
}

/// An endpoint's deliveries by status.
pub async fn counts<C: Conn>(
    c: &mut C,
    endpoint: &WebhookId,
) -> Result<Vec<(String, i64)>, StoreError> {
    let rows = c
        .query(
            "SELECT status, CAST(COUNT(*) AS BIGINT) FROM webhook_deliveries WHERE endpoint_id = $1
             GROUP BY status ORDER BY status",
            &[endpoint.as_str().into()],
        )
        .await?;
    rows.iter().map(|r| Ok((r.text(0)?, r.int(1)?))).collect()
}
