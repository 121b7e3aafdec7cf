//! Ingest: how many purchases per second reach the ledger, durably.
//!
//! On each backend, in one run:
//! (a) **baseline** — the SQL writes one purchase causes (credit the member's balance, insert the
//!     transfer, insert the purchase with its content hash and answer, store the answer under
//!     the request's idempotency key), each purchase its own transaction, from N concurrent
//!     connections, without Tally: what a straightforward service would do;
//! (b) **Tally over HTTP** — N keep-alive clients on loopback POSTing purchases (with an
//!     `Idempotency-Key`, as production clients do) to an in-process server, each client one
//!     connection of a lean HTTP/1.1 client (`loopback.rs`), so the load costs little of the
//!     cores the server is measured on; at the flat rate, and with a busy earning engine
//!     (rules, tiers, pending points);
//! (c) **Tally import** — `tally import purchases` of a CSV (the command's own code).
//! The four take turns for `--rounds` rounds, each on a fresh database; the table shows each
//! one's median round, and the ratios compare medians.
//! Commits are durable throughout (SQLite `synchronous = FULL`, PostgreSQL `fsync` as set).

use crate::loopback::Connection;
use crate::stats::{Run, machine, ms, thousands};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tally_core::{Command, Tally};
use tally_domain::ids::{MemberId, ProgramId, PurchaseId, TenantId, TransferId};
use tally_domain::inputs::{NewMember, NewProgram};
use tally_domain::model::{Purchase, SalesChannel, TransferKind, TransferReason};
use tally_domain::{Currency, Points, SystemClock};
use tally_ledger::AccountKind;
use tally_store::queries::{idempotency, ledger, programs, purchases};
use tally_store::{Conn, Database};
use tally_store_any::AnyDb;
use tally_store_any::testing::TestDb;

pub struct Options {
    pub purchases: usize,
    pub import_rows: usize,
    pub clients: usize,
    pub members: usize,
    /// Comma-separated: `sqlite`, `postgres` (the latter needs TALLY_BENCH_POSTGRES_URL).
    pub backends: String,
    /// Rounds of the flat-rate and the rules scenario, alternating.
    pub rounds: usize,
    /// `flat`, `rules` or `import`: run only that scenario, once (to profile it).
    pub only: Option<String>,
}

/// One row of the results table.
fn print_row(backend: &str, run: &Run, ratio: &str) {
    println!(
        "| {backend} | {} | {} | {} | {} | {} | {ratio} |",
        run.name,
        thousands(run.events as f64),
        thousands(run.per_second()),
        ms(run.percentile_ms(50.0)),
        ms(run.percentile_ms(99.0)),
    );
}

/// The run with the median rate.
fn median(runs: &[Run]) -> &Run {
    let mut sorted: Vec<&Run> = runs.iter().collect();
    sorted.sort_by(|a, b| a.per_second().total_cmp(&b.per_second()));
    sorted[sorted.len() / 2]
}

/// A program with enrolled members, on a fresh database.
pub(crate) struct Setup {
    pub tally: Tally<AnyDb>,
    pub tenant: TenantId,
    pub program: ProgramId,
    pub members: Vec<MemberId>,
}

pub async fn run(options: Options) {
    println!("machine: {}", machine());
    println!(
        "purchases per scenario: {}, import rows: {}, clients/connections: {}, members: {}\n",
        options.purchases, options.import_rows, options.clients, options.members
    );
    let wanted: Vec<&str> = options.backends.split(',').map(str::trim).collect();
    let mut backends = Vec::new();
    if wanted.contains(&"sqlite") {
        backends.push(("sqlite", None));
    }
    if wanted.contains(&"postgres") {
        match std::env::var("TALLY_BENCH_POSTGRES_URL") {
            Ok(url) => backends.push(("postgres", Some(url))),
            Err(_) => eprintln!("(set TALLY_BENCH_POSTGRES_URL to include PostgreSQL)"),
        }
    }
    println!("| backend | scenario | events | events/s | p50 ms | p99 ms | ours ÷ baseline |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    for (name, url) in backends {
        let fresh = || async {
            match &url {
                Some(url) => TestDb::postgres(url).await,
                None => TestDb::sqlite().await,
            }
        };
        if let Some(only) = options.only.as_deref() {
            // One scenario alone, to profile it.
            let db = fresh().await;
            let mut run = match only {
                "rules" => run_http(&setup_with_rules(&db, &options).await, &options).await,
                "import" => run_import(&setup(&db, options.members).await, &options).await,
                _ => run_http(&setup(&db, options.members).await, &options).await,
            };
            run.name = format!("{} ({only})", run.name);
            print_row(name, &run, "");
            continue;
        }
        // Every scenario runs once per round, each on a fresh database, and the medians are
        // compared: the machine's speed (disk flushes above all) drifts between runs by more
        // than the difference being measured, so a baseline measured once, minutes before
        // or after, would compare different machines.
        let mut rounds: [Vec<Run>; 4] = Default::default();
        let round_count = options.rounds.max(1);
        for _ in 0..round_count {
            let [baselines, flats, with_rules, imports] = &mut rounds;
            let db = fresh().await;
            baselines.push(run_baseline(&setup(&db, options.members).await, &options).await);
            drop(db);
            let db = fresh().await;
            flats.push(run_http(&setup(&db, options.members).await, &options).await);
            drop(db);
            let db = fresh().await;
            let mut run = run_http(&setup_with_rules(&db, &options).await, &options).await;
            run.name = format!("{}, 10 rules + tiers + pending", run.name);
            with_rules.push(run);
            drop(db);
            let db = fresh().await;
            imports.push(run_import(&setup(&db, options.members).await, &options).await);
            drop(db);
        }
        let [baseline, http, with_rules, import] = rounds.each_ref().map(|runs| median(runs));
        let base = baseline.per_second();
        for run in [baseline, http, with_rules, import] {
            let ratio = if std::ptr::eq(run, baseline) {
                "1.0×".to_owned()
            } else {
                format!("{:.1}×", run.per_second() / base)
            };
            print_row(name, run, &ratio);
        }
        println!(
            "| {name} | 10 rules + tiers + pending ÷ flat rate (HTTP, medians of {} rounds) | | {:.2}× | | | |",
            round_count,
            with_rules.per_second() / http.per_second()
        );
        let each: Vec<String> = (0..round_count)
            .map(|n| {
                let rates = rounds
                    .each_ref()
                    .map(|runs| thousands(runs[n].per_second()));
                rates.join(" / ")
            })
            .collect();
        println!(
            "\n{name}: each round, baseline / flat / rules / import (events/s): {}\n",
            each.join("; ")
        );
        let _ = std::io::stdout().flush();
    }
}

/// The same set-up with the earning engine busy, as the issue defines it: the ten rules of
/// `tally-bench rules`, a three-level tier plan on points earned, and pending points (a 14-day
/// return window).
async fn setup_with_rules(db: &TestDb, options: &Options) -> Setup {
    let s = setup(db, options.members).await;
    let patch = tally_domain::inputs::ProgramPatch::parse(
        &serde_json::json!({"earning": {"pending_days": 14}}),
    )
    .expect("a patch");
    let command = Command::UpdateProgram {
        program: s.program.clone(),
        patch,
    };
    s.tally
        .write(&s.tenant, "bench", None, command)
        .await
        .expect("a return window");
    for document in crate::rules::ten_rules() {
        let command = Command::CreateRule {
            program: s.program.clone(),
            document,
            status: "active".into(),
        };
        s.tally
            .write(&s.tenant, "bench", None, command)
            .await
            .expect("a rule");
    }
    let plan = tally_domain::tiers::TierPlan::parse(&serde_json::json!({
        "metric": "points_earned", "window": "calendar_year", "levels": [
            {"name": "Silver", "threshold": 0},
            {"name": "Gold", "threshold": 500, "multiplier": 1.5},
            {"name": "Platinum", "threshold": 2000, "multiplier": 2}]}))
    .expect("a plan");
    let command = Command::SetTierPlan {
        program: s.program.clone(),
        plan,
    };
    s.tally
        .write(&s.tenant, "bench", None, command)
        .await
        .expect("a tier plan");
    s
}

pub(crate) async fn setup(db: &TestDb, members: usize) -> Setup {
    let tally = Tally::start(db.db.clone(), Arc::new(SystemClock));
    let placeholder = TenantId::generate();
    let tenant = tally
        .write(
            &placeholder,
            "bench",
            None,
            Command::CreateTenant {
                name: format!("bench-{placeholder}"),
            },
        )
        .await
        .expect("tenant");
    let tenant = TenantId::parse(tenant["id"].as_str().expect("id")).expect("tenant id");
    let program = NewProgram::parse(&serde_json::json!({"name": "Bench", "currency": "USD"}))
        .expect("program");
    let program = tally
        .write(&tenant, "bench", None, Command::CreateProgram(program))
        .await
        .expect("program");
    let program = ProgramId::parse(program["id"].as_str().expect("id")).expect("program id");
    // In waves: requests beyond what the write queue holds would be turned away.
    let wave = tally_core::writer::QUEUE_CAPACITY / 2;
    let mut enrolled = Vec::with_capacity(members);
    for first in (0..members).step_by(wave) {
        enrolled.extend(enrol(&tally, &tenant, &program, first..members.min(first + wave)).await);
    }
    Setup {
        tally,
        tenant,
        program,
        members: enrolled,
    }
}

/// Enrols members `m-{i}` for every i of `range`, all at once.
async fn enrol(
    tally: &Tally<AnyDb>,
    tenant: &TenantId,
    program: &ProgramId,
    range: std::ops::Range<usize>,
) -> Vec<MemberId> {
    let mut handles = Vec::new();
    for i in range {
        let (tally, tenant, program) = (tally.clone(), tenant.clone(), program.clone());
        handles.push(tokio::spawn(async move {
            let member = NewMember::parse(&serde_json::json!({ "external_id": format!("m-{i}") }))
                .expect("member");
            let out = tally
                .write(
                    &tenant,
                    "bench",
                    None,
                    Command::Enroll {
                        program,
                        member,
                        source: "bench".into(),
                    },
                )
                .await
                .expect("enrol");
            MemberId::parse(out["id"].as_str().expect("id")).expect("member id")
        }));
    }
    let mut members = Vec::new();
    for h in handles {
        members.push(h.await.expect("enrol task"));
    }
    members
}

/// (a) The same writes, one transaction per purchase, N connections, no Tally in between.
async fn run_baseline(s: &Setup, o: &Options) -> Run {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..o.clients {
        let (db, next, members, program, tenant) = (
            s.tally.db.clone(),
            next.clone(),
            s.members.clone(),
            s.program.clone(),
            s.tenant.clone(),
        );
        let total = o.purchases;
        handles.push(tokio::spawn(async move {
            let mut conn = db.connect_writer().await.expect("a connection");
            let issuance = programs::program_account(&program, AccountKind::Issuance);
            let usd = Currency::parse("USD").expect("usd");
            let mut latencies = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    return latencies;
                }
                let member = &members[n % members.len()];
                let t0 = Instant::now();
                loop {
                    match baseline_purchase(&mut conn, &tenant, &program, member, &issuance, usd, n)
                        .await
                    {
                        Ok(()) => break,
                        Err(e) if e.is_retryable() => continue,
                        Err(e) => panic!("baseline write failed: {e}"),
                    }
                }
                latencies.push(t0.elapsed());
            }
        }));
    }
    let mut latencies = Vec::new();
    for h in handles {
        latencies.extend(h.await.expect("baseline task"));
    }
    Run {
        name: format!("baseline: SQL writes, 1 tx/purchase, {} conns", o.clients),
        events: o.purchases,
        elapsed: started.elapsed(),
        latencies,
    }
}

async fn baseline_purchase(
    c: &mut tally_store_any::AnyConn,
    tenant: &TenantId,
    program: &ProgramId,
    member: &MemberId,
    issuance: &str,
    usd: Currency,
    n: usize,
) -> Result<(), tally_store::StoreError> {
    let now = tally_domain::Timestamp::now();
    let account = tally_ledger::account_id(member.as_str(), AccountKind::MemberAvailable);
    let points = Points(25);
    let purchase = Purchase {
        id: PurchaseId::generate(),
        program_id: program.clone(),
        member_id: member.clone(),
        order_id: format!("base-{n}"),
        total_minor: 2599,
        currency: usd,
        channel: SalesChannel::Pos,
        location_id: None,
        lines: Vec::new(),
        points_earned: points,
        points_reversed: Points::ZERO,
        returned_minor: 0,
        occurred_at: now,
        recorded_at: now,
    };
    let reason = TransferReason {
        order_id: Some(purchase.order_id.clone()),
        purchase_id: Some(purchase.id.clone()),
        rule: Some("base".into()),
        rule_version: Some(1),
        actor: Some("key:bench".into()),
        ..TransferReason::default()
    };
    let content = tally_core::secrets::sha256_hex(&purchase.order_id);
    c.batch(c.dialect().begin_write()).await?;
    let result = async {
        let balance = ledger::change_balance(c, &account, points.value()).await?;
        // The answer a purchase keeps, twice: with the order and under its idempotency key.
        let answer = serde_json::json!({
            "purchase_id": purchase.id,
            "order_id": purchase.order_id,
            "member_id": member,
            "points_earned": points,
            "base_points": points,
            "rule_awards": [],
            "stamps": [],
            "granted": [],
            "balance": { "available": balance, "pending": Points::ZERO },
        });
        let outcome = serde_json::json!({ "ok": answer }).to_string();
        ledger::insert_transfer(
            c,
            &ledger::NewTransfer {
                id: TransferId::generate(),
                program_id: program,
                member_id: member,
                kind: TransferKind::Earn,
                debit_account_id: issuance,
                credit_account_id: &account,
                amount: points,
                balance_after: balance,
                reason: &reason,
                occurred_at: now,
                recorded_at: now,
            },
        )
        .await?;
        purchases::insert_purchase(c, tenant, &purchase, &content, &answer.to_string(), None)
            .await?;
        let record = idempotency::NewRecord {
            tenant,
            key: &purchase.order_id,
            request_sha256: &content,
            outcome: &outcome,
            at: now,
        };
        idempotency::insert_new(c, &record).await
    }
    .await;
    match result {
        Ok(()) => c.batch("COMMIT").await,
        Err(e) => {
            let _ = c.batch("ROLLBACK").await;
            Err(e)
        }
    }
}

/// When the `n`th of `total` purchases happened: the run replays the week before `now` in
/// order, so the rules that depend on the day and the hour (double weekends, happy hours) apply
/// to the share of purchases they would in a real week, whatever the day the benchmark runs on.
fn occurred_at(now: jiff::Timestamp, n: usize, total: usize) -> String {
    const WEEK_SECONDS: i64 = 7 * 24 * 60 * 60;
    let into_week = WEEK_SECONDS * n as i64 / total.max(1) as i64;
    (now - jiff::SignedDuration::from_secs(WEEK_SECONDS - into_week)).to_string()
}

/// (b) Tally over HTTP on loopback.
async fn run_http(s: &Setup, o: &Options) -> Run {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let app = tally_http::router(tally_http::AppState::new(s.tally.clone()));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let (secret, prefix) = tally_http::new_secret();
    let key = Command::CreateApiKey {
        name: "bench".into(),
        scope: "write".into(),
        secret_sha256: tally_http::secret_sha256(&secret),
        prefix,
    };
    s.tally
        .write(&s.tenant, "bench", None, key)
        .await
        .expect("api key");
    let path = format!("/api/v1/programs/{}/purchases", s.program);
    let authorization = format!("Bearer {secret}");
    let mut connections = Vec::with_capacity(o.clients);
    for _ in 0..o.clients {
        connections.push(Connection::open(address).await.expect("connect"));
    }
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let now = jiff::Timestamp::now();
    let mut handles = Vec::new();
    for mut connection in connections {
        let (path, next, members, authorization) = (
            path.clone(),
            next.clone(),
            s.members.clone(),
            authorization.clone(),
        );
        let total = o.purchases;
        handles.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    return latencies;
                }
                let key = format!("http-{n}");
                // Every value is plain ASCII (ids, digits, a timestamp): nothing to escape.
                let body = format!(
                    r#"{{"order_id":"{key}","member":{{"id":"{}"}},"total":{{"amount_minor":2599,"currency":"USD"}},"occurred_at":"{}"}}"#,
                    members[n % members.len()],
                    occurred_at(now, n, total),
                );
                let t0 = Instant::now();
                let headers = [
                    ("authorization", authorization.as_str()),
                    ("idempotency-key", key.as_str()),
                ];
                let answer = connection
                    .post_json(&path, &headers, body.as_bytes())
                    .await
                    .expect("request");
                assert_eq!(
                    answer.status,
                    201,
                    "{}",
                    String::from_utf8_lossy(&answer.body)
                );
                latencies.push(t0.elapsed());
            }
        }));
    }
    let mut latencies = Vec::new();
    for h in handles {
        latencies.extend(h.await.expect("client task"));
    }
    let elapsed = started.elapsed();
    server.abort();
    Run {
        name: format!("Tally HTTP, {} keep-alive clients", o.clients),
        events: o.purchases,
        elapsed,
        latencies,
    }
}

/// (c) `tally import purchases` of a CSV, through the command's own code.
async fn run_import(s: &Setup, o: &Options) -> Run {
    let dir = std::env::temp_dir().join(format!("tally-bench-{}", tally_domain::ids::new_ulid()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("purchases.csv");
    let mut csv = String::from("order_id,member_external_id,total,currency,occurred_at\n");
    for n in 0..o.import_rows {
        csv.push_str(&format!(
            "imp-{n},m-{},25.99,USD,2026-05-01T12:00:00Z\n",
            n % o.members
        ));
    }
    std::fs::write(&path, csv).expect("write the CSV");
    let program = s
        .tally
        .program(&s.tenant, &s.program)
        .await
        .expect("program");
    let started = Instant::now();
    let rows = tally_cli::import::read_file(&path, &program).expect("a valid file");
    let report = tally_cli::import::import(&s.tally, &s.tenant, &s.program, rows, None)
        .await
        .expect("import");
    let elapsed = started.elapsed();
    assert_eq!(report.recorded, o.import_rows, "every row recorded");
    let _ = std::fs::remove_dir_all(&dir);
    Run {
        name: "Tally import (CSV → ledger)".into(),
        events: o.import_rows,
        elapsed: elapsed.max(Duration::from_micros(1)),
        latencies: Vec::new(),
    }
}
