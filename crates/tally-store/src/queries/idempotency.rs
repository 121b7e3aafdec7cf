//! Idempotency keys: the stored outcome of a request, written in the same transaction as its
//! effect, so a retry gets the same answer and never a second effect.

use super::ts;
use crate::{Conn, StoreError};
use tally_domain::Timestamp;
use tally_domain::ids::TenantId;

/// The request hash and stored outcome of a key younger than `cutoff`.
pub async fn find<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    key: &str,
    cutoff: Timestamp,
) -> Result<Option<(String, String)>, StoreError> {
    let row = c
        .query_one("SELECT request_sha256, outcome FROM idempotency_keys WHERE tenant_id = $1 AND key = $2 AND created_at_us > $3", &[
            tenant.as_str().into(),
            key.into(),
            ts(cutoff),
        ])
        .await?;
    row.map(|r| Ok((r.text(0)?, r.text(1)?))).transpose()
}

/// Stores an outcome; replaces an expired record of the same key. `false`: a live record exists
/// (a concurrent request with the same key won).
pub async fn insert<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    key: &str,
    request_sha256: &str,
    outcome: &str,
    now: Timestamp,
    cutoff: Timestamp,
) -> Result<bool, StoreError> {
    let changed = c
        .execute(
            "INSERT INTO idempotency_keys (tenant_id, key, request_sha256, outcome, created_at_us) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (tenant_id, key) DO UPDATE SET request_sha256 = excluded.request_sha256, outcome = excluded.outcome,
                 created_at_us = excluded.created_at_us
             WHERE idempotency_keys.created_at_us <= $6",
            &[tenant.as_str().into(), key.into(), request_sha256.into(), outcome.into(), ts(now), ts(cutoff)],
        )
        .await?;
    Ok(changed == 1)
}

/// Deletes keys older than `cutoff`; returns how many.
pub async fn purge<C: Conn>(c: &mut C, cutoff: Timestamp) -> Result<u64, StoreError> {
    c.execute(
        "DELETE FROM idempotency_keys WHERE created_at_us <= $1",
        &[ts(cutoff)],
    )
    .await
}
