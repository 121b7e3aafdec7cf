//! Push subscriptions (migration 0025): a member's browsers, and keys the server shares
//! between its nodes.

use super::{to_opt_ts, to_ts, ts};
use crate::{Conn, Row, StoreError};
use tally_domain::Timestamp;
use tally_domain::ids::{MemberId, PushSubscriptionId, TenantId};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriptionRow {
    pub id: PushSubscriptionId,
    pub tenant_id: TenantId,
    pub member_id: MemberId,
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
    pub created_at: Timestamp,
    /// When its push service said it is gone.
    pub gone_at: Option<Timestamp>,
}

const COLS: &str = "id, tenant_id, member_id, endpoint, p256dh, auth, created_at_us, gone_at_us";

fn decode(r: &Row) -> Result<SubscriptionRow, StoreError> {
    Ok(SubscriptionRow {
        id: PushSubscriptionId::from_trusted(r.text(0)?),
        tenant_id: TenantId::from_trusted(r.text(1)?),
        member_id: MemberId::from_trusted(r.text(2)?),
        endpoint: r.text(3)?,
        p256dh: r.text(4)?,
        auth: r.text(5)?,
        created_at: to_ts(r.int(6)?)?,
        gone_at: to_opt_ts(r.opt_int(7)?)?,
    })
}

/// Keeps a subscription; the same browser subscribing again replaces its keys (and it is no
/// longer gone). Returns the stored row.
pub async fn upsert<C: Conn>(
    c: &mut C,
    s: &SubscriptionRow,
) -> Result<SubscriptionRow, StoreError> {
    let sql = format!(
        "INSERT INTO push_subscriptions (id, tenant_id, member_id, endpoint, p256dh, auth,
             created_at_us)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (member_id, endpoint)
         DO UPDATE SET p256dh = excluded.p256dh, auth = excluded.auth, gone_at_us = NULL
         RETURNING {COLS}"
    );
    let row = c
        .query_one(
            &sql,
            &[
                s.id.as_str().into(),
                s.tenant_id.as_str().into(),
                s.member_id.as_str().into(),
                s.endpoint.as_str().into(),
                s.p256dh.as_str().into(),
                s.auth.as_str().into(),
                ts(s.created_at),
            ],
        )
        .await?
        .ok_or_else(|| StoreError::Decode("an upsert returns its row".into()))?;
    decode(&row)
}

/// A member's subscriptions still in use, newest first.
pub async fn of_member<C: Conn>(
    c: &mut C,
    member: &MemberId,
) -> Result<Vec<SubscriptionRow>, StoreError> {
    let sql = format!(
        "SELECT {COLS} FROM push_subscriptions WHERE member_id = $1 AND gone_at_us IS NULL
         ORDER BY seq DESC"
    );
    c.query(&sql, &[member.as_str().into()])
        .await?
        .iter()
        .map(decode)
        .collect()
}

pub async fn get<C: Conn>(
    c: &mut C,
    id: &PushSubscriptionId,
) -> Result<Option<SubscriptionRow>, StoreError> {
    let sql = format!("SELECT {COLS} FROM push_subscriptions WHERE id = $1");
    c.query_one(&sql, &[id.as_str().into()])
        .await?
        .map(|r| decode(&r))
        .transpose()
}

/// The subscription is not used again (its push service dropped it, or the member left).
pub async fn set_gone<C: Conn>(
    c: &mut C,
    id: &PushSubscriptionId,
    at: Timestamp,
) -> Result<bool, StoreError> {
    let n = c
        .execute(
            "UPDATE push_subscriptions SET gone_at_us = $2 WHERE id = $1 AND gone_at_us IS NULL",
            &[id.as_str().into(), ts(at)],
        )
        .await?;
    Ok(n == 1)
}

/// Keeps `value` under `name` unless a value is kept already; answers the kept value.
pub async fn keep_server_key<C: Conn>(
    c: &mut C,
    name: &str,
    value: &str,
    at: Timestamp,
) -> Result<String, StoreError> {
    c.execute(
        "INSERT INTO server_keys (name, value, created_at_us) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO NOTHING",
        &[name.into(), value.into(), ts(at)],
    )
    .await?;
    server_key(c, name)
        .await?
        .ok_or_else(|| StoreError::Decode(format!("server key {name} was just kept")))
}

pub async fn server_key<C: Conn>(c: &mut C, name: &str) -> Result<Option<String>, StoreError> {
    let row = c
        .query_one(
            "SELECT value FROM server_keys WHERE name = $1",
            &[name.into()],
        )
        .await?;
    row.map(|r| r.text(0)).transpose()
}
