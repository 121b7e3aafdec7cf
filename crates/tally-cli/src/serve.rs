//! `tally serve`: the HTTP server, with graceful shutdown and housekeeping.

use crate::app::{self, Result};
use crate::config::Config;
use std::time::Duration;
use tally_core::Command;
use tally_http::AppState;
use tally_store_any::AnyDb;

pub async fn run(config: &Config) -> Result<()> {
    let tally = app::open(&config.database_url).await?;
    serve(tally, &config.listen, config.secure_cookies).await
}

/// Serves the API and the console; `secure_cookies` marks session cookies `Secure` (HTTPS).
pub async fn serve(
    tally: tally_core::Tally<AnyDb>,
    listen: &str,
    secure_cookies: bool,
) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    tokio::spawn(purge_idempotency_keys(tally.clone()));
    tracing::info!(address = %listen, "serving");
    let pages = tally_web::router(tally_web::WebState {
        tally: tally.clone(),
        secure_cookies,
    });
    axum::serve(
        listener,
        tally_http::router_with(AppState::new(tally), pages),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .map_err(|e| format!("server: {e}"))
}

/// Idempotency keys are kept 24 hours; older ones are deleted every 10 minutes. A purge is one
/// command like any other, so it is safe on several nodes at once.
async fn purge_idempotency_keys(tally: tally_core::Tally<AnyDb>) {
    let system = tally_domain::ids::TenantId::from_trusted("ten_system".into());
    loop {
        let older_than = tally.clock.now() - tally_core::writer::IDEMPOTENCY_TTL;
        if let Err(e) = tally
            .write(
                &system,
                "housekeeping",
                None,
                Command::PurgeIdempotencyKeys { older_than },
            )
            .await
        {
            tracing::warn!(error = %e, "purging idempotency keys failed");
        }
        tokio::time::sleep(Duration::from_secs(600)).await;
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
