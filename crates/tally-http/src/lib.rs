//! Tally's HTTP interface: the JSON API under `/api/v1`, health and metrics.
//!
//! A request passes: the observe middleware (request id, span, access log, metrics) → the body
//! limit → routing → extractors (`Caller` authenticates the API key; `JsonBody` checks the
//! content type, parses JSON and takes the `Idempotency-Key`) → a handler, which parses the body
//! into a domain command (every invalid field named), and hands it to `tally-core`. Errors of
//! every kind become problem+json in `problem.rs`.

mod auth;
mod body;
mod observe;
mod params;
pub mod problem;
mod routes;

pub use auth::{KEY_PREFIX, Scope, new_secret, secret_sha256};
pub use body::MAX_BODY_BYTES;
pub use observe::Metrics;

use std::sync::Arc;
use tally_core::Tally;
use tally_store::Database;

/// What every handler can reach.
pub struct AppState<D: Database> {
    pub tally: Tally<D>,
    pub metrics: Arc<Metrics>,
    keys: Arc<auth::KeyCache>,
    /// Reverse proxies whose `X-Forwarded-For` is believed (see `auth::client_address`).
    pub trusted_proxies: Arc<Vec<std::net::IpAddr>>,
}

impl<D: Database> Clone for AppState<D> {
    fn clone(&self) -> Self {
        AppState {
            tally: self.tally.clone(),
            metrics: self.metrics.clone(),
            keys: self.keys.clone(),
            trusted_proxies: self.trusted_proxies.clone(),
        }
    }
}

impl<D: Database> AppState<D> {
    pub fn new(tally: Tally<D>) -> AppState<D> {
        AppState {
            tally,
            metrics: Arc::new(Metrics::default()),
            keys: Arc::new(auth::KeyCache::default()),
            trusted_proxies: Arc::new(Vec::new()),
        }
    }

    /// Believes `X-Forwarded-For` from these reverse proxies.
    pub fn with_trusted_proxies(mut self, proxies: Vec<std::net::IpAddr>) -> AppState<D> {
        self.trusted_proxies = Arc::new(proxies);
        self
    }
}

/// The JSON API on its own.
pub fn router<D: Database>(state: AppState<D>) -> axum::Router {
    routes::router(state, axum::Router::new())
}

/// The JSON API together with other routes (the console's pages), sharing request ids, the
/// access log, metrics and the body limit.
pub fn router_with<D: Database>(state: AppState<D>, pages: axum::Router) -> axum::Router {
    routes::router(state, pages)
}
