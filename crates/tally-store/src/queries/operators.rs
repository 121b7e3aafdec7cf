//! Operators of the console, their one-time links and their sessions. Secrets (link and session
//! tokens) are stored only as SHA-256 hashes: they are 256-bit random, so a slow hash would add
//! nothing; passwords are argon2id PHC strings, hashed and checked outside the database.

use super::{to_ts, ts};
use crate::{Conn, Row, StoreError};
use tally_domain::Timestamp;
use tally_domain::ids::{OperatorId, TenantId};
use tally_domain::operators::{Operator, Role};
use tally_domain::text::Email;

const COLS: &str = "o.id, o.tenant_id, o.email, o.name, o.role, o.locale, o.active";

fn decode(r: &Row) -> Result<Operator, StoreError> {
    Ok(Operator {
        id: OperatorId::from_trusted(r.text(0)?),
        tenant_id: TenantId::from_trusted(r.text(1)?),
        email: Email::from_trusted(r.text(2)?),
        name: r.text(3)?,
        role: Role::parse(&r.text(4)?).map_err(StoreError::Decode)?,
        locale: r.text(5)?,
        active: r.boolean(6)?,
    })
}

pub async fn insert_operator<C: Conn>(
    c: &mut C,
    op: &Operator,
    password_hash: Option<&str>,
    now: Timestamp,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO operators (id, tenant_id, email, name, role, password_hash, locale, active, created_at_us)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            op.id.as_str().into(),
            op.tenant_id.as_str().into(),
            op.email.as_str().into(),
            op.name.as_str().into(),
            op.role.as_str().into(),
            password_hash.into(),
            op.locale.as_str().into(),
            op.active.into(),
            ts(now),
        ],
    )
    .await?;
    Ok(())
}

/// An operator by email, with the password hash (for signing in).
pub async fn find_by_email<C: Conn>(
    c: &mut C,
    email: &Email,
) -> Result<Option<(Operator, Option<String>)>, StoreError> {
    let sql = format!("SELECT {COLS}, o.password_hash FROM operators o WHERE o.email = $1");
    match c.query_one(&sql, &[email.as_str().into()]).await? {
        Some(r) => Ok(Some((decode(&r)?, r.opt_text(7)?))),
        None => Ok(None),
    }
}

pub async fn get_operator<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: &OperatorId,
) -> Result<Option<Operator>, StoreError> {
    let sql = format!("SELECT {COLS} FROM operators o WHERE o.id = $1 AND o.tenant_id = $2");
    c.query_one(&sql, &[id.as_str().into(), tenant.as_str().into()])
        .await?
        .as_ref()
        .map(decode)
        .transpose()
}

pub async fn list_operators<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
) -> Result<Vec<Operator>, StoreError> {
    let sql = format!("SELECT {COLS} FROM operators o WHERE o.tenant_id = $1 ORDER BY o.email");
    c.query(&sql, &[tenant.as_str().into()])
        .await?
        .iter()
        .map(decode)
        .collect()
}

pub async fn set_password<C: Conn>(
    c: &mut C,
    id: &OperatorId,
    password_hash: &str,
) -> Result<bool, StoreError> {
    let n = c
        .execute(
            "UPDATE operators SET password_hash = $2 WHERE id = $1",
            &[id.as_str().into(), password_hash.into()],
        )
        .await?;
    Ok(n == 1)
}

pub async fn set_active<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: &OperatorId,
    active: bool,
) -> Result<bool, StoreError> {
    let n = c
        .execute(
            "UPDATE operators SET active = $3 WHERE id = $1 AND tenant_id = $2",
            &[id.as_str().into(), tenant.as_str().into(), active.into()],
        )
        .await?;
    Ok(n == 1)
}

/// What a one-time link is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkPurpose {
    /// Signs the operator in.
    SignIn,
    /// Lets a new operator choose a password, then signs them in.
    Invite,
}

impl LinkPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkPurpose::SignIn => "sign_in",
            LinkPurpose::Invite => "invite",
        }
    }

    fn parse(raw: &str) -> Result<LinkPurpose, StoreError> {
        match raw {
            "sign_in" => Ok(LinkPurpose::SignIn),
            "invite" => Ok(LinkPurpose::Invite),
            other => Err(StoreError::Decode(format!("link purpose `{other}`"))),
        }
    }
}

pub async fn insert_link<C: Conn>(
    c: &mut C,
    token_sha256: &str,
    operator: &OperatorId,
    purpose: LinkPurpose,
    now: Timestamp,
    expires: Timestamp,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO operator_links (token_sha256, operator_id, purpose, created_at_us, expires_at_us) VALUES ($1, $2, $3, $4, $5)",
        &[token_sha256.into(), operator.as_str().into(), purpose.as_str().into(), ts(now), ts(expires)],
    )
    .await?;
    Ok(())
}

/// An unused, unexpired link of an active operator, without using it up.
pub async fn peek_link<C: Conn>(
    c: &mut C,
    token_sha256: &str,
    now: Timestamp,
) -> Result<Option<(Operator, LinkPurpose)>, StoreError> {
    let sql = format!(
        "SELECT {COLS}, l.purpose FROM operator_links l JOIN operators o ON o.id = l.operator_id
         WHERE l.token_sha256 = $1 AND l.used_at_us IS NULL AND l.expires_at_us > $2 AND o.active = $3"
    );
    match c
        .query_one(&sql, &[token_sha256.into(), ts(now), true.into()])
        .await?
    {
        Some(r) => Ok(Some((decode(&r)?, LinkPurpose::parse(&r.text(7)?)?))),
        None => Ok(None),
    }
}

/// Uses a link up: a conditional write, so of two concurrent uses exactly one gets it.
pub async fn use_link<C: Conn>(
    c: &mut C,
    token_sha256: &str,
    now: Timestamp,
) -> Result<Option<(OperatorId, LinkPurpose)>, StoreError> {
    let row = c
        .query_one(
            "UPDATE operator_links SET used_at_us = $2 WHERE token_sha256 = $1 AND used_at_us IS NULL AND expires_at_us > $2
             RETURNING operator_id, purpose",
            &[token_sha256.into(), ts(now)],
        )
        .await?;
    match row {
        Some(r) => Ok(Some((
            OperatorId::from_trusted(r.text(0)?),
            LinkPurpose::parse(&r.text(1)?)?,
        ))),
        None => Ok(None),
    }
}

pub async fn insert_session<C: Conn>(
    c: &mut C,
    token_sha256: &str,
    operator: &OperatorId,
    csrf_token: &str,
    now: Timestamp,
    expires: Timestamp,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO operator_sessions (token_sha256, operator_id, csrf_token, created_at_us, expires_at_us) VALUES ($1, $2, $3, $4, $5)",
        &[token_sha256.into(), operator.as_str().into(), csrf_token.into(), ts(now), ts(expires)],
    )
    .await?;
    Ok(())
}

/// A live session: its operator (still active) and its CSRF token.
#[derive(Clone, Debug)]
pub struct Session {
    pub operator: Operator,
    pub csrf_token: String,
    pub expires_at: Timestamp,
}

pub async fn find_session<C: Conn>(
    c: &mut C,
    token_sha256: &str,
    now: Timestamp,
) -> Result<Option<Session>, StoreError> {
    let sql = format!(
        "SELECT {COLS}, s.csrf_token, s.expires_at_us FROM operator_sessions s JOIN operators o ON o.id = s.operator_id
         WHERE s.token_sha256 = $1 AND s.ended_at_us IS NULL AND s.expires_at_us > $2 AND o.active = $3"
    );
    match c
        .query_one(&sql, &[token_sha256.into(), ts(now), true.into()])
        .await?
    {
        Some(r) => Ok(Some(Session {
            operator: decode(&r)?,
            csrf_token: r.text(7)?,
            expires_at: to_ts(r.int(8)?)?,
        })),
        None => Ok(None),
    }
}

pub async fn end_session<C: Conn>(
    c: &mut C,
    token_sha256: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let n = c
        .execute(
            "UPDATE operator_sessions SET ended_at_us = $2 WHERE token_sha256 = $1 AND ended_at_us IS NULL",
            &[token_sha256.into(), ts(now)],
        )
        .await?;
    Ok(n == 1)
}

/// Ends every session of an operator (on deactivation or a password change).
pub async fn end_sessions_of<C: Conn>(
    c: &mut C,
    operator: &OperatorId,
    now: Timestamp,
) -> Result<u64, StoreError> {
    c.execute(
        "UPDATE operator_sessions SET ended_at_us = $2 WHERE operator_id = $1 AND ended_at_us IS NULL",
        &[operator.as_str().into(), ts(now)],
    )
    .await
}
