//! Operators of the console: accounts, one-time links, sessions. Passwords are hashed and checked
//! by the caller (argon2id is deliberately slow and must not hold the writer); these steps only
//! store the results, audited.

use super::admin::record;
use super::to_json;
use crate::StepResult;
use crate::commands::{Ctx, NewOperator, NewSession};
use serde_json::{Value, json};
use tally_domain::DomainError;
use tally_domain::ids::OperatorId;
use tally_domain::operators::Operator;
use tally_store::Conn;
use tally_store::queries::operators::{self as rows, LinkPurpose};

pub async fn create<C: Conn>(c: &mut C, ctx: &Ctx, new: &NewOperator) -> StepResult<Value> {
    if rows::find_by_email(c, &new.email).await?.is_some() {
        return Err(DomainError::conflict(
            "operator_exists",
            format!("an operator with the email {} exists", new.email),
        )
        .into());
    }
    let operator = Operator {
        id: OperatorId::generate(),
        tenant_id: ctx.tenant.clone(),
        email: new.email.clone(),
        name: new.name.clone(),
        role: new.role,
        locale: new.locale.clone(),
        active: true,
    };
    rows::insert_operator(c, &operator, new.password_hash.as_deref(), ctx.now).await?;
    record(
        c,
        ctx,
        "operator.created",
        operator.id.as_str(),
        json!({ "email": operator.email, "role": operator.role }),
    )
    .await?;
    Ok(to_json(&operator))
}

pub async fn issue_link<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    operator: &OperatorId,
    purpose: LinkPurpose,
    token_sha256: &str,
    ttl: jiff::SignedDuration,
) -> StepResult<Value> {
    rows::get_operator(c, &ctx.tenant, operator)
        .await?
        .ok_or_else(|| DomainError::not_found("operator"))?;
    let expires = ctx.now + ttl;
    rows::insert_link(c, token_sha256, operator, purpose, ctx.now, expires).await?;
    Ok(json!({ "operator_id": operator, "purpose": purpose.as_str(), "expires_at": expires }))
}

/// Starts a session, using up the one-time link it came with (if any) in the same transaction:
/// of two clicks on one link, exactly one signs in.
pub async fn start_session<C: Conn>(c: &mut C, ctx: &Ctx, s: &NewSession) -> StepResult<Value> {
    let operator = rows::get_operator(c, &ctx.tenant, &s.operator)
        .await?
        .filter(|o| o.active)
        .ok_or_else(|| DomainError::not_found("operator"))?;
    if let Some(link) = &s.link_sha256 {
        let used = rows::use_link(c, link, ctx.now).await?;
        match used {
            Some((id, purpose)) if id == operator.id => {
                if purpose == LinkPurpose::Invite && s.password_hash.is_none() {
                    return Err(DomainError::invalid("/password", "choose a password").into());
                }
            }
            _ => {
                return Err(DomainError::refused(
                    "link_used",
                    "this link was used already or has expired",
                )
                .into());
            }
        }
    }
    if let Some(hash) = &s.password_hash {
        rows::set_password(c, &operator.id, hash).await?;
        record(
            c,
            ctx,
            "operator.password_set",
            operator.id.as_str(),
            json!({}),
        )
        .await?;
    }
    let expires = ctx.now + s.ttl;
    rows::insert_session(
        c,
        &s.token_sha256,
        &operator.id,
        &s.csrf_token,
        ctx.now,
        expires,
    )
    .await?;
    Ok(json!({ "operator_id": operator.id, "expires_at": expires }))
}

pub async fn end_session<C: Conn>(c: &mut C, ctx: &Ctx, token_sha256: &str) -> StepResult<Value> {
    let ended = rows::end_session(c, token_sha256, ctx.now).await?;
    Ok(json!({ "ended": ended }))
}

pub async fn set_active<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    operator: &OperatorId,
    active: bool,
) -> StepResult<Value> {
    if !rows::set_active(c, &ctx.tenant, operator, active).await? {
        return Err(DomainError::not_found("operator").into());
    }
    if !active {
        rows::end_sessions_of(c, operator, ctx.now).await?;
    }
    let action = if active {
        "operator.activated"
    } else {
        "operator.deactivated"
    };
    record(c, ctx, action, operator.as_str(), json!({})).await?;
    Ok(json!({ "id": operator, "active": active }))
}
