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

/// The client's address: the TCP peer when the server was started with connection info
/// (`tally serve` is), or, when that peer is a trusted reverse proxy (`trusted_proxies`), the
/// address the proxies say they received the request from.
pub struct ClientAddress(pub Option<String>);

impl<D: Database> FromRequestParts<AppState<D>> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState<D>,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip());
        let forwarded = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok());
        Ok(ClientAddress(
            client_address(peer, forwarded, &app.trusted_proxies).map(|ip| ip.to_string()),
        ))
    }
}

/// The peer, unless it is a trusted proxy: then the rightmost address of `X-Forwarded-For` that
/// is not a trusted proxy (each proxy appends the address it received from, so entries left of
/// the last untrusted one may be forged by the client). A header that does not parse is ignored.
pub fn client_address(
    peer: Option<std::net::IpAddr>,
    forwarded: Option<&str>,
    trusted: &[std::net::IpAddr],
) -> Option<std::net::IpAddr> {
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let Some(list) = forwarded else {
        return Some(peer);
    };
    let hops: Option<Vec<std::net::IpAddr>> =
        list.split(',').map(|h| h.trim().parse().ok()).collect();
    match hops {
        Some(hops) => Some(
            hops.into_iter()
                .rev()
                .find(|ip| !trusted.contains(ip))
                .unwrap_or(peer),
        ),
        None => Some(peer),
    }
}

#[cfg(test)]
mod client_address_tests {
    use super::client_address;
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_a_trusted_proxy_is_believed() {
        let proxy = [ip("10.0.0.1")];
        // A client talking directly: its own address, whatever it claims.
        assert_eq!(
            client_address(Some(ip("203.0.113.7")), Some("1.2.3.4"), &proxy),
            Some(ip("203.0.113.7"))
        );
        // Through the proxy: the address the proxy saw.
        assert_eq!(
            client_address(Some(ip("10.0.0.1")), Some("203.0.113.7"), &proxy),
            Some(ip("203.0.113.7"))
        );
        // A forged entry left of it does not count.
        assert_eq!(
            client_address(Some(ip("10.0.0.1")), Some("1.2.3.4, 203.0.113.7"), &proxy),
            Some(ip("203.0.113.7"))
        );
        // Two proxies in a row.
        let both = [ip("10.0.0.1"), ip("10.0.0.2")];
        assert_eq!(
            client_address(Some(ip("10.0.0.1")), Some("203.0.113.7, 10.0.0.2"), &both),
            Some(ip("203.0.113.7"))
        );
        // No header, or one that does not parse: the proxy itself.
        assert_eq!(
            client_address(Some(ip("10.0.0.1")), None, &proxy),
            Some(ip("10.0.0.1"))
        );
        assert_eq!(
            client_address(Some(ip("10.0.0.1")), Some("nonsense"), &proxy),
            Some(ip("10.0.0.1"))
        );
        assert_eq!(client_address(None, Some("1.2.3.4"), &proxy), None);
    }
}
