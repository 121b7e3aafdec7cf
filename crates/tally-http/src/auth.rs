//! API-key authentication. Keys are `Authorization: Bearer tly_…`; only the SHA-256 of the
//! secret is stored. Each key belongs to one tenant and has a scope: `read` < `write` < `admin`.
//!
//! Verified keys are cached for a few seconds so a busy till does not cost a database read per
//! request; a revoked key therefore stops working within [`KEY_CACHE_TTL`].

use crate::AppState;
use crate::problem::ApiError;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tally_domain::ids::TenantId;
use tally_store::Database;

pub const KEY_CACHE_TTL: Duration = Duration::from_secs(5);
const KEY_CACHE_MAX: usize = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Read,
    Write,
    Admin,
}

impl Scope {
    pub fn parse(raw: &str) -> Option<Scope> {
        match raw {
            "read" => Some(Scope::Read),
            "write" => Some(Scope::Write),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }
}

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Caller {
    pub tenant: TenantId,
    /// The key id: recorded as the actor on transfers and in the audit log.
    pub actor: String,
    pub scope: Scope,
}

impl Caller {
    pub fn require(&self, needed: Scope) -> Result<(), ApiError> {
        if self.scope >= needed {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "this API key's scope does not allow this call",
            ))
        }
    }
}

pub use tally_core::secrets::{KEY_PREFIX, new_api_key as new_secret, sha256_hex as secret_sha256};

#[derive(Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<String, (Caller, Instant)>>,
}

impl<D: Database> FromRequestParts<AppState<D>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState<D>) -> Result<Caller, ApiError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or(ApiError::Unauthorized(
                "send Authorization: Bearer <API key>",
            ))?;
        let secret = header
            .to_str()
            .ok()
            // The scheme is case-insensitive (RFC 9110 §11.1): `bearer` and `BEARER` are `Bearer`.
            .and_then(|h| {
                h.split_once(' ')
                    .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                    .map(|(_, token)| token)
            })
            .map(str::trim)
            .filter(|s| s.starts_with(KEY_PREFIX))
            .ok_or(ApiError::Unauthorized(
                "the Authorization header must be `Bearer tly_…`",
            ))?;
        let hash = secret_sha256(secret);
        if let Some((caller, at)) = app.keys.entries.lock().expect("key cache").get(&hash)
            && at.elapsed() < KEY_CACHE_TTL
        {
            return Ok(caller.clone());
        }
        let key = app
            .tally
            .api_key_by_secret(&hash)
            .await?
            .filter(|k| k.revoked_at.is_none());
        let key = key.ok_or(ApiError::Unauthorized("this API key is unknown or revoked"))?;
        let caller = Caller {
            tenant: key.tenant_id,
            actor: key.id.to_string(),
            scope: Scope::parse(&key.scope).ok_or_else(|| {
                ApiError::Internal(format!("key {} has scope {}", key.id, key.scope))
            })?,
        };
        let mut entries = app.keys.entries.lock().expect("key cache");
        if entries.len() >= KEY_CACHE_MAX {
            entries.clear();
        }
        entries.insert(hash, (caller.clone(), Instant::now()));
        Ok(caller)
    }
}

/// The client's address as this server saw it (the TCP peer), when the server was started with
/// connection info (`tally serve` is). Behind a reverse proxy this is the proxy's address.
pub struct ClientAddress(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|info| info.0.ip().to_string()),
        ))
    }
}
