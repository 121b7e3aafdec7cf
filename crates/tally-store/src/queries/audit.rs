//! The audit log: who changed what, for adjustments and every administrative change.

use super::{Page, page_limit, to_ts, ts};
use crate::{Conn, StoreError};
use tally_domain::Timestamp;
use tally_domain::ids::TenantId;

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    pub actor: String,
    pub action: String,
    pub entity_id: String,
    pub detail: serde_json::Value,
    pub at: Timestamp,
}

pub async fn record<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    entry: &AuditEntry,
) -> Result<(), StoreError> {
    c.execute("INSERT INTO audit_log (tenant_id, actor, action, entity_id, detail, at_us) VALUES ($1, $2, $3, $4, $5, $6)", &[
        tenant.as_str().into(),
        entry.actor.as_str().into(),
        entry.action.as_str().into(),
        entry.entity_id.as_str().into(),
        entry.detail.to_string().into(),
        ts(entry.at),
    ])
    .await?;
    Ok(())
}

pub async fn list<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    before_seq: Option<i64>,
    limit: Option<i64>,
) -> Result<Page<AuditEntry>, StoreError> {
    let limit = page_limit(limit);
    let rows = c
        .query(
            "SELECT seq, actor, action, entity_id, detail, at_us FROM audit_log WHERE tenant_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3",
            &[tenant.as_str().into(), before_seq.unwrap_or(i64::MAX).into(), (limit + 1).into()],
        )
        .await?
        .iter()
        .map(|r| {
            Ok((r.int(0)?, AuditEntry {
                actor: r.text(1)?,
                action: r.text(2)?,
                entity_id: r.text(3)?,
                detail: serde_json::from_str(&r.text(4)?).map_err(|e| StoreError::Decode(e.to_string()))?,
                at: to_ts(r.int(5)?)?,
            }))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Page::from_rows(rows, limit))
}
