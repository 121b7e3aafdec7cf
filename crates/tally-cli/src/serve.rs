//! `tally serve`: the HTTP server, with graceful shutdown and housekeeping.

use crate::app::{self, Result};
use crate::config::Config;
use std::time::Duration;
use tally_core::Command;
use tally_http::AppState;
use tally_store_any::AnyDb;

pub async fn run(config: &Config) -> Result<()> {
    let tally = app::open(&config.database_url).await?;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.listen));
    let senders = Senders {
        mailer: mailer(config)?,
        sms: sms_gateway(config)?,
        push_contact: push_contact(&config.mail_from),
    };
    let proxies = config.trusted_proxies()?;
    serve(
        tally,
        &config.listen,
        config.secure_cookies,
        &public_url,
        senders,
        proxies,
    )
    .await
}

/// What this server sends through: an SMTP relay, an SMS gateway (either may be missing),
/// and push services, to which it names `push_contact` (a `mailto:` URL).
#[derive(Clone)]
pub struct Senders {
    pub mailer: Option<tally_mail::Mailer>,
    pub sms: Option<tally_delivery::SmsGateway>,
    pub push_contact: String,
}

impl Default for Senders {
    fn default() -> Senders {
        Senders {
            mailer: None,
            sms: None,
            push_contact: "mailto:tally@localhost".into(),
        }
    }
}

/// `Corner Café <loyalty@example.com>` → `mailto:loyalty@example.com`: who push services may
/// contact about this server's notifications (VAPID's `sub`).
fn push_contact(mail_from: &str) -> String {
    let address = match (mail_from.rfind('<'), mail_from.rfind('>')) {
        (Some(open), Some(close)) if open < close => &mail_from[open + 1..close],
        _ => mail_from.trim(),
    };
    format!("mailto:{address}")
}

/// The HTTP gateway text messages go out through, if `sms_url` is set.
pub fn sms_gateway(config: &Config) -> Result<Option<tally_delivery::SmsGateway>> {
    let Some(url) = &config.sms_url else {
        return Ok(None);
    };
    let format = tally_delivery::SmsFormat::parse(&config.sms_format)
        .map_err(|e| format!("sms_format: {e}"))?;
    let token = config.sms_token.as_deref();
    let gateway = tally_delivery::SmsGateway::new(url, token, &config.sms_from, format)
        .map_err(|e| format!("sms_url: {e}"))?;
    Ok(Some(gateway))
}

/// The SMTP relay wallet codes and messages go out through, if `smtp_url` is set.
pub fn mailer(config: &Config) -> Result<Option<tally_mail::Mailer>> {
    let Some(url) = &config.smtp_url else {
        return Ok(None);
    };
    let settings = tally_mail::MailConfig::parse(url, &config.mail_from)
        .map_err(|e| format!("smtp_url or mail_from: {e}"))?;
    let mailer = tally_mail::Mailer::new(&settings).map_err(|e| format!("smtp_url: {e}"))?;
    Ok(Some(mailer))
}

/// Serves the API and the console. `secure_cookies` marks session cookies `Secure` (HTTPS);
/// `public_url` is where browsers reach the server (for links made in the console).
pub async fn serve(
    tally: tally_core::Tally<AnyDb>,
    listen: &str,
    secure_cookies: bool,
    public_url: &str,
    senders: Senders,
    trusted_proxies: Vec<std::net::IpAddr>,
) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    tokio::spawn(purge_idempotency_keys(tally.clone()));
    tokio::spawn(per_program_housekeeping(tally.clone()));
    tokio::spawn(nightly_insights(tally.clone()));
    // Messages go out from every node; each message is leased by one deliverer at a time.
    let mailer = senders.mailer;
    let mut deliverer = tally_delivery::Deliverer::new(
        tally.clone(),
        mailer.clone(),
        tally_delivery::DeliveryConfig::new(public_url),
    );
    if let Some(gateway) = senders.sms {
        deliverer = deliverer.with_sms(gateway);
    }
    // Every node shares one VAPID key pair: browsers subscribe against its public key.
    match tally_delivery::push::server_vapid(&tally, &senders.push_contact).await {
        Ok(vapid) => deliverer = deliverer.with_push(vapid),
        Err(e) => tracing::warn!(error = %e, "no VAPID key: push notifications are off"),
    }
    tokio::spawn(deliverer.run());
    tokio::spawn(fan_out_campaigns(tally.clone()));
    tokio::spawn(run_journeys(tally.clone()));
    tracing::info!(address = %listen, "serving");
    let pages = tally_web::router(tally_web::WebState {
        tally: tally.clone(),
        secure_cookies,
        public_url: public_url.trim_end_matches('/').to_owned(),
        mailer,
    });
    // With each connection's peer address: the voucher lock-out counts failures per client.
    let served = axum::serve(
        listener,
        tally_http::router_with(
            AppState::new(tally.clone()).with_trusted_proxies(trusted_proxies),
            pages,
        )
        .into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .map_err(|e| format!("server: {e}"));
    // The requests are answered; what background work has queued is committed before the
    // process ends (its later writes are turned away).
    tracing::info!("finishing queued writes");
    tally.close().await;
    served
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

/// Every five seconds, the campaigns whose time has come are queued, a chunk of members per
/// command; on several nodes each chunk is done once.
async fn fan_out_campaigns(tally: tally_core::Tally<AnyDb>) {
    loop {
        match tally.run_campaigns().await {
            Ok(0) => {}
            Ok(members) => tracing::info!(members, "campaign messages queued"),
            Err(e) => tracing::warn!(error = %e, "queuing campaign messages failed"),
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

/// The journey steps that are due run at once when this node's writes entered members on
/// journeys (the bell), else every five seconds; every ten minutes, birthdays, expiring points,
/// lifecycle stages and lapses enter their journeys. On several nodes each run's steps run
/// once, and each entry is made once.
pub async fn run_journeys(tally: tally_core::Tally<AnyDb>) {
    const SCHEDULED_EVERY: Duration = Duration::from_secs(600);
    let mut scheduled_at: Option<std::time::Instant> = None;
    loop {
        if scheduled_at.is_none_or(|at| at.elapsed() >= SCHEDULED_EVERY) {
            scheduled_at = Some(std::time::Instant::now());
            if let Err(e) = tally.enter_scheduled_journeys().await {
                tracing::warn!(error = %e, "entering scheduled journeys failed");
            }
        }
        match tally.advance_journeys().await {
            Ok(0) => {}
            Ok(runs) => tracing::debug!(runs, "journey steps run"),
            Err(e) => tracing::warn!(error = %e, "running journeys failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(5)) => {}
            () = tally.bell.journeys() => {}
        }
    }
}

/// How long after a transfer is recorded it may go into a program's totals snapshot: by then its
/// transaction has long committed (batches commit in milliseconds).
pub const TOTALS_MARGIN: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

/// Every minute, for each program: folds older transfers into its totals snapshot, so reading the
/// totals (the dashboard, `/totals`) sums at most a few minutes of transfers; then runs the
/// [`program_jobs`]. Commands like any other write, so it is safe on several nodes at once.
async fn per_program_housekeeping(tally: tally_core::Tally<AnyDb>) {
    for minute in 0u64.. {
        tokio::time::sleep(Duration::from_secs(60)).await;
        // Birthdays and anniversaries look back a week, so once an hour is plenty.
        let occasions = minute % 60 == 0;
        let Ok(tenants) = tally.tenants().await else {
            continue;
        };
        for tenant in tenants {
            let Ok(programs) = tally.programs(&tenant.id).await else {
                continue;
            };
            for program in programs {
                let command = Command::AdvanceProgramTotals {
                    program: program.id.clone(),
                    margin: TOTALS_MARGIN,
                };
                if let Err(e) = tally.write(&tenant.id, "housekeeping", None, command).await {
                    tracing::warn!(error = %e, "advancing program totals failed");
                }
                program_jobs(&tally, &tenant.id, &program.id).await;
                if occasions {
                    let command = Command::AwardOccasions {
                        program: program.id.clone(),
                    };
                    if let Err(e) = tally.write(&tenant.id, "housekeeping", None, command).await {
                        tracing::warn!(error = %e, "birthday and anniversary bonuses failed");
                    }
                }
            }
        }
    }
}

/// Every ten minutes, each program whose insights are due (never computed, or not since 03:00
/// its time) gets a run. A run claims its program, so on several nodes one of them does it.
async fn nightly_insights(tally: tally_core::Tally<AnyDb>) {
    loop {
        tokio::time::sleep(Duration::from_secs(600)).await;
        let Ok(tenants) = tally.tenants().await else {
            continue;
        };
        for tenant in tenants {
            let Ok(programs) = tally.programs(&tenant.id).await else {
                continue;
            };
            for program in programs {
                if !matches!(tally.insights_due(&tenant.id, &program.id).await, Ok(true)) {
                    continue;
                }
                match tally
                    .run_insights(&tenant.id, "housekeeping", &program.id, None)
                    .await
                {
                    Ok(Some(summary)) => tracing::info!(
                        program = %program.id,
                        members = %summary["members"],
                        duration_ms = %summary["duration_ms"],
                        "customer insights computed"
                    ),
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "customer insights failed"),
                }
            }
        }
    }
}

/// Runs one housekeeping job over a program a thousand members per command until a command
/// handles fewer (nothing more is due): the command says how many members it handled in
/// `counted`.
async fn in_chunks(
    tally: &tally_core::Tally<AnyDb>,
    tenant: &tally_domain::ids::TenantId,
    what: &str,
    counted: &str,
    command: impl Fn(i64) -> Command,
) {
    const CHUNK: i64 = 1000;
    loop {
        match tally
            .write(tenant, "housekeeping", None, command(CHUNK))
            .await
        {
            Ok(answer) if answer[counted].as_i64() == Some(CHUNK) => continue,
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(error = %e, "{what} failed");
                return;
            }
        }
    }
}

/// The jobs every program needs every minute, in order: tier reviews, pending points that have
/// cleared their return window, and points that expire.
pub async fn program_jobs(
    tally: &tally_core::Tally<AnyDb>,
    tenant: &tally_domain::ids::TenantId,
    program: &tally_domain::ids::ProgramId,
) {
    let reviews = |limit| Command::ReviewTiers {
        program: program.clone(),
        limit,
    };
    in_chunks(tally, tenant, "reviewing tiers", "reviewed", reviews).await;
    let releases = |limit| Command::ReleasePending {
        program: program.clone(),
        limit,
    };
    in_chunks(
        tally,
        tenant,
        "releasing pending points",
        "members",
        releases,
    )
    .await;
    let expiries = |limit| Command::ExpirePoints {
        program: program.clone(),
        limit,
    };
    in_chunks(tally, tenant, "expiring points", "members", expiries).await;
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
