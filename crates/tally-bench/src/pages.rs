//! Pages: how fast the console renders with the demo data (the CDNOW music shop: 23,570 members,
//! 69,659 purchases) loaded, on the embedded database.
//!
//! Each console page is requested one at a time over a keep-alive connection, as an operator's
//! browser does, and timed end to end (HTTP, session lookup, queries, template). The baseline is
//! the JSON API call that reads the same rows without rendering a page (members list → `GET
//! /members`, search → `GET /members?q=`, member page → `GET /members/{id}` and its history,
//! dashboard → `GET /totals`); the ratio is what the page costs on top of its data. The target
//! (issue 3) is p95 under 50 ms per page.

use crate::stats::{Run, machine, ms};
use std::time::Instant;
use tally_core::{Command, NewSession, Tally};
use tally_domain::SystemClock;
use tally_domain::text::Email;
use tally_http::AppState;

pub struct Options {
    pub requests: usize,
    /// Where the demo database is built (reused when complete).
    pub database: String,
}

/// Requests `path` `n` times one after the other; returns the latencies.
async fn time(client: &reqwest::Client, url: &str, headers: &[(&str, String)], n: usize) -> Run {
    let mut latencies = Vec::with_capacity(n);
    let started = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        let mut request = client.get(url);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.expect("the server answers");
        assert_eq!(response.status(), 200, "{url}");
        response.bytes().await.expect("a body");
        latencies.push(t.elapsed());
    }
    Run {
        name: url.to_owned(),
        events: n,
        elapsed: started.elapsed(),
        latencies,
    }
}

pub async fn run(options: Options) {
    println!("machine: {}", machine());
    tally_cli::demo::ensure_built(&options.database, false)
        .await
        .expect("the demo builds");
    let db = tally_cli::app::open_db(&options.database)
        .await
        .expect("the demo opens");
    let tally = Tally::start(db, std::sync::Arc::new(SystemClock));
    let tenant = tally
        .tenant(tally_cli::demo::DEMO_TENANT)
        .await
        .expect("the demo tenant")
        .id;
    let program = tally.programs(&tenant).await.expect("programs").remove(0);
    let owner = Email::parse(tally_cli::demo::DEMO_OWNER).expect("an email");
    let (owner, _) = tally
        .operator_by_email(&owner)
        .await
        .expect("read")
        .expect("the demo owner");

    // A console session and an API key, made directly.
    let token = tally_web::secrets::new_token();
    let session = NewSession {
        operator: owner.id.clone(),
        token_sha256: tally_web::secrets::sha256_hex(&token),
        csrf_token: tally_web::secrets::new_token(),
        ttl: jiff::SignedDuration::from_hours(1),
        link_sha256: None,
        password_hash: None,
    };
    tally
        .write(
            &tenant,
            "bench",
            None,
            Command::StartOperatorSession(session),
        )
        .await
        .expect("a session");
    let (key, _) = tally_cli::admin::create_key(&tally, &tenant, "bench", "read")
        .await
        .expect("a key");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let base = format!("http://{}", listener.local_addr().expect("an address"));
    let pages = tally_web::router(tally_web::WebState {
        tally: tally.clone(),
        secure_cookies: false,
        public_url: base.clone(),
        mailer: None,
    });
    let app = tally_http::router_with(AppState::new(tally.clone()), pages);
    let server = tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("a client");

    let p = &program.id;
    let member = tally
        .members(&tenant, p, &Default::default(), None, Some(1))
        .await
        .expect("members")
        .items
        .remove(0);
    let m = &member.id;
    let console = [("cookie", format!("tally_session={token}"))];
    let api = [("authorization", format!("Bearer {key}"))];
    let pairs: Vec<(&str, String, String)> = vec![
        (
            "dashboard, 12 months",
            format!("/console/{p}/dashboard"),
            format!("/api/v1/programs/{p}/totals"),
        ),
        (
            "dashboard, 30 days",
            format!("/console/{p}/dashboard?period=30d"),
            format!("/api/v1/programs/{p}/totals"),
        ),
        (
            "dashboard, 24 months",
            format!("/console/{p}/dashboard?period=24m"),
            format!("/api/v1/programs/{p}/totals"),
        ),
        (
            "members list",
            format!("/console/{p}/members"),
            format!("/api/v1/programs/{p}/members"),
        ),
        (
            "search `anna kow`",
            format!("/console/{p}/members?q=anna+kow"),
            format!("/api/v1/programs/{p}/members?q=anna+kow"),
        ),
        (
            "member page",
            format!("/console/{p}/members/{m}"),
            format!("/api/v1/members/{m}/history?limit=20"),
        ),
        (
            "cashier: find by card",
            format!("/console/{p}/cashier?find={}", member.card.number),
            format!(
                "/api/v1/programs/{p}/members/lookup?card_number={}",
                member.card.number
            ),
        ),
    ];
    println!(
        "requests per row: {} (one at a time, keep-alive)\n",
        options.requests
    );
    println!("| page | p50 ms | p95 ms | p99 ms | API p50 ms | API p95 ms | page ÷ API (p95) |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (name, page, baseline) in pairs {
        // One warm-up round each, so caches and prepared statements are not what is measured.
        time(&client, &format!("{base}{page}"), &console, 3).await;
        time(&client, &format!("{base}{baseline}"), &api, 3).await;
        let ours = time(
            &client,
            &format!("{base}{page}"),
            &console,
            options.requests,
        )
        .await;
        let theirs = time(
            &client,
            &format!("{base}{baseline}"),
            &api,
            options.requests,
        )
        .await;
        let ratio = ours.percentile_ms(95.0).unwrap_or(0.0)
            / theirs.percentile_ms(95.0).unwrap_or(1.0).max(1e-6);
        println!(
            "| {name} | {} | {} | {} | {} | {} | {ratio:.1}× |",
            ms(ours.percentile_ms(50.0)),
            ms(ours.percentile_ms(95.0)),
            ms(ours.percentile_ms(99.0)),
            ms(theirs.percentile_ms(50.0)),
            ms(theirs.percentile_ms(95.0)),
        );
    }
    server.abort();
}
