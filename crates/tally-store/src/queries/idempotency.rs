//! Idempotency keys: the stored outcome of a request, written in the same transaction as its
//! effect, so a retry gets the same answer and never a second effect.

use super::{to_ts, ts};
use crate::{Conn, StoreError, Value};
use tally_domain::Timestamp;
use tally_domain::ids::TenantId;

/// A stored key: the hash of the request it came with, the outcome and when it was stored.
pub struct StoredKey {
    pub request_sha256: String,
    pub outcome: String,
    pub created_at: Timestamp,
}

/// The record of a key, whatever its age.
pub async fn find<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    key: &str,
) -> Result<Option<StoredKey>, StoreError> {
    let row = c
        .query_one(
            "SELECT request_sha256, outcome, created_at_us FROM idempotency_keys WHERE tenant_id = $1 AND key = $2",
            &[tenant.as_str().into(), key.into()],
        )
        .await?;
    row.map(|r| {
        Ok(StoredKey {
            request_sha256: r.text(0)?,
            outcome: r.text(1)?,
            created_at: to_ts(r.int(2)?)?,
        })
    })
    .transpose()
}

/// An outcome about to be stored under a key.
pub struct NewRecord<'a> {
    pub tenant: &'a TenantId,
    pub key: &'a str,
    pub request_sha256: &'a str,
    pub outcome: &'a str,
    pub at: Timestamp,
}

const COLUMNS: [&str; 5] = [
    "tenant_id",
    "key",
    "request_sha256",
    "outcome",
    "created_at_us",
];

impl NewRecord<'_> {
    fn params(&self) -> Vec<Value> {
        vec![
            self.tenant.as_str().into(),
            self.key.into(),
            self.request_sha256.into(),
            self.outcome.into(),
            ts(self.at),
        ]
    }
}

/// Stores the outcome of a key believed to have no record. Gathered with the command's other
/// writes (see `Conn::gather_rows`): when the key has a record after all (an earlier request,
/// or another writer's meanwhile) it fails with [`is_key_taken`].
pub async fn insert_new<C: Conn>(c: &mut C, record: &NewRecord<'_>) -> Result<(), StoreError> {
    c.gather_rows("idempotency_keys", &COLUMNS, &record.params())
        .await
}

/// Whether an error is [`insert_new`]'s when the key had a record: the unique violation of the
/// key's index (named by PostgreSQL's constraint or SQLite's columns).
pub fn is_key_taken(e: &StoreError) -> bool {
    matches!(e, StoreError::Unique(name) if name.contains("idempotency_keys"))
}

/// Stores an outcome in place of a record of the same key stored before `cutoff`. `false`: the
/// record is live after all (a concurrent request with the same key won).
pub async fn replace_expired<C: Conn>(
    c: &mut C,
    record: &NewRecord<'_>,
    cutoff: Timestamp,
) -> Result<bool, StoreError> {
    let insert = crate::multi_row_insert("idempotency_keys", &COLUMNS, 1);
    let sql = format!(
        "{insert} ON CONFLICT (tenant_id, key) DO UPDATE SET request_sha256 = excluded.request_sha256,
             outcome = excluded.outcome, created_at_us = excluded.created_at_us
         WHERE idempotency_keys.created_at_us <= $6"
    );
    let mut params = record.params();
    params.push(ts(cutoff));
    Ok(c.execute(&sql, &params).await? == 1)
}

/// Deletes keys older than `cutoff`; returns how many.
pub async fn purge<C: Conn>(c: &mut C, cutoff: Timestamp) -> Result<u64, StoreError> {
    c.execute(
        "DELETE FROM idempotency_keys WHERE created_at_us <= $1",
        &[ts(cutoff)],
    )
    .await
}
