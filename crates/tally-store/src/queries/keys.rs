//! Tenant API keys. Only a SHA-256 of the secret is stored: the keys are 256-bit random, so a
//! slow password hash would add nothing but latency on every request.

use super::{to_opt_ts, to_ts, ts};
use crate::{Conn, Row, StoreError};
use tally_domain::Timestamp;
use tally_domain::ids::{ApiKeyId, TenantId};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub tenant_id: TenantId,
    pub name: String,
    /// The first characters of the secret, to recognise a key in a list.
    pub prefix: String,
    pub scope: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

pub async fn insert_key<C: Conn>(
    c: &mut C,
    key: &ApiKey,
    secret_sha256: &str,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO api_keys (id, tenant_id, name, prefix, secret_sha256, scope, created_at_us) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            key.id.as_str().into(),
            key.tenant_id.as_str().into(),
            key.name.as_str().into(),
            key.prefix.as_str().into(),
            secret_sha256.into(),
            key.scope.as_str().into(),
            ts(key.created_at),
        ],
    )
    .await?;
    Ok(())
}

const COLS: &str = "id, tenant_id, name, prefix, scope, created_at_us, revoked_at_us";

fn decode(r: &Row) -> Result<ApiKey, StoreError> {
    Ok(ApiKey {
        id: ApiKeyId::from_trusted(r.text(0)?),
        tenant_id: TenantId::from_trusted(r.text(1)?),
        name: r.text(2)?,
        prefix: r.text(3)?,
        scope: r.text(4)?,
        created_at: to_ts(r.int(5)?)?,
        revoked_at: to_opt_ts(r.opt_int(6)?)?,
    })
}

pub async fn find_by_secret<C: Conn>(
    c: &mut C,
    secret_sha256: &str,
) -> Result<Option<ApiKey>, StoreError> {
    let sql = format!("SELECT {COLS} FROM api_keys WHERE secret_sha256 = $1");
    c.query_one(&sql, &[secret_sha256.into()])
        .await?
        .as_ref()
        .map(decode)
        .transpose()
}

pub async fn list_keys<C: Conn>(c: &mut C, tenant: &TenantId) -> Result<Vec<ApiKey>, StoreError> {
    let sql =
        format!("SELECT {COLS} FROM api_keys WHERE tenant_id = $1 ORDER BY created_at_us, id");
    c.query(&sql, &[tenant.as_str().into()])
        .await?
        .iter()
        .map(decode)
        .collect()
}

pub async fn revoke_key<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: &ApiKeyId,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let changed = c
        .execute("UPDATE api_keys SET revoked_at_us = $3 WHERE id = $1 AND tenant_id = $2 AND revoked_at_us IS NULL", &[
            id.as_str().into(),
            tenant.as_str().into(),
            ts(now),
        ])
        .await?;
    Ok(changed == 1)
}
