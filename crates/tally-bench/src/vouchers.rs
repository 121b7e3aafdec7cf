//! Voucher codes (issue 6), on each backend:
//!
//! - **Generation**: a million codes into a pool in one request (target: under 10 s), next to
//!   the database alone writing as many random codes into the same table with one
//!   `INSERT … SELECT … ORDER BY code` (no CSPRNG in Rust, no uniqueness retries, no JSON; in
//!   index order, as ours are): the floor.
//! - **Validation over HTTP** at a fixed rate (default 1,000 requests per second, open loop:
//!   each request is timed from when it was due, so a slow answer cannot hide the queue behind
//!   it), real codes against a basket (target: p99 under 10 ms), next to the cheapest
//!   authenticated read (`GET /programs/{p}`) at the same rate in the same run.

use crate::ingest::{Setup, setup};
use crate::stats::{Run, machine, ms, thousands};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tally_core::Command;
use tally_domain::ids::VoucherPoolId;
use tally_domain::vouchers::{NewCodes, PoolInput};
use tally_store::{Conn, Database, Dialect};
use tally_store_any::testing::TestDb;

pub struct Options {
    pub codes: usize,
    pub rate: usize,
    pub seconds: usize,
    pub backends: String,
}

async fn new_pool(s: &Setup, name: &str) -> VoucherPoolId {
    let input = PoolInput::parse(&serde_json::json!({
        "name": name,
        "discount": {"kind": "percent", "percent": 10, "max_minor": 2000},
        "min_basket_minor": 1000
    }))
    .expect("a pool");
    let pool = s
        .tally
        .write(
            &s.tenant,
            "bench",
            None,
            Command::CreateVoucherPool {
                program: s.program.clone(),
                input,
            },
        )
        .await
        .expect("pool");
    VoucherPoolId::parse(pool["id"].as_str().expect("id")).expect("pool id")
}

/// Ours: `count` codes through the engine, in one command.
async fn generate(s: &Setup, count: usize) -> Duration {
    let pool = new_pool(s, "generated").await;
    let started = Instant::now();
    let answer = s
        .tally
        .write(
            &s.tenant,
            "bench",
            None,
            Command::AddVoucherCodes {
                pool,
                codes: NewCodes::Generate(count),
            },
        )
        .await
        .expect("codes");
    let elapsed = started.elapsed();
    assert_eq!(answer["added"], count as u64);
    elapsed
}

/// The floor: the database writes `count` random codes into the same table by itself.
async fn database_alone(db: &TestDb, s: &Setup, count: usize) -> Duration {
    let pool = new_pool(s, "floor").await;
    let mut c = db.db.connect_writer().await.expect("a connection");
    let sql = match c.dialect() {
        Dialect::Sqlite => {
            "INSERT INTO voucher_codes (program_id, code, shown, pool_id, status, created_at_us)
             SELECT $1, code, code, $2, 'available', 0
             FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $3)
                   SELECT hex(randomblob(8)) AS code FROM n)
             ORDER BY code"
        }
        Dialect::Postgres => {
            "INSERT INTO voucher_codes (program_id, code, shown, pool_id, status, created_at_us)
             SELECT CAST($1 AS TEXT), code, code, CAST($2 AS TEXT), 'available', 0
             FROM (SELECT md5(random()::text) AS code FROM generate_series(1, CAST($3 AS BIGINT)))
                  AS random_codes
             ORDER BY code"
        }
    };
    let started = Instant::now();
    c.batch(c.dialect().begin_write()).await.expect("begin");
    c.execute(
        sql,
        &[
            s.program.as_str().into(),
            pool.as_str().into(),
            (count as i64).into(),
        ],
    )
    .await
    .expect("insert");
    c.batch("COMMIT").await.expect("commit");
    started.elapsed()
}

/// `rate` requests per second for `seconds`, each timed from when it was due.
async fn open_loop(
    name: &str,
    rate: usize,
    seconds: usize,
    request: impl Fn(usize) -> reqwest::RequestBuilder,
) -> Run {
    let total = rate * seconds;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let started = Instant::now();
    let mut handles = Vec::with_capacity(total);
    for n in 0..total {
        let due = started + interval * n as u32;
        tokio::time::sleep_until(due.into()).await;
        let request = request(n);
        handles.push(tokio::spawn(async move {
            let response = request.send().await.expect("a response");
            assert_eq!(response.status(), 200, "{:?}", response.text().await);
            response.bytes().await.expect("a body");
            due.elapsed()
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    for h in handles {
        latencies.push(h.await.expect("a request"));
    }
    Run {
        name: name.into(),
        events: total,
        elapsed: started.elapsed(),
        latencies,
    }
}

async fn validation(s: &Setup, o: &Options) -> (Run, Run) {
    let pool = new_pool(s, "validated").await;
    s.tally
        .write(
            &s.tenant,
            "bench",
            None,
            Command::AddVoucherCodes {
                pool: pool.clone(),
                codes: NewCodes::Generate(10_000),
            },
        )
        .await
        .expect("codes");
    let codes: Vec<String> = s
        .tally
        .voucher_codes(&s.tenant, &pool, None, None, Some(200))
        .await
        .expect("codes")
        .items
        .iter()
        .map(|c| c["code"].as_str().expect("a code").to_owned())
        .collect();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let app = tally_http::router(tally_http::AppState::new(s.tally.clone()))
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
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
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(256)
        .build()
        .expect("client");
    let validate = format!(
        "http://{address}/api/v1/programs/{}/vouchers/validate",
        s.program
    );
    let read = format!("http://{address}/api/v1/programs/{}", s.program);
    let codes = Arc::new(codes);
    let mut runs = (None, None);
    // Alternate so both see the same machine; the first round warms connections and caches.
    for round in 0..2 {
        let baseline = open_loop("GET /programs/{p}", o.rate, o.seconds, |_| {
            client.get(&read).bearer_auth(&secret)
        })
        .await;
        let ours = open_loop("POST /vouchers/validate", o.rate, o.seconds, |n| {
            let body = serde_json::json!({
                "code": codes[n % codes.len()],
                "basket": {"total": {"amount_minor": 2599 + n as i64 % 5000, "currency": "USD"}},
            });
            client.post(&validate).bearer_auth(&secret).json(&body)
        })
        .await;
        if round == 1 {
            runs = (Some(baseline), Some(ours));
        }
    }
    server.abort();
    (runs.0.expect("a round"), runs.1.expect("a round"))
}

pub async fn run(o: Options) {
    println!("machine: {}", machine());
    println!(
        "codes generated: {}; validation: {} requests/s for {} s per scenario (second of two rounds)\n",
        thousands(o.codes as f64),
        o.rate,
        o.seconds
    );
    let wanted: Vec<&str> = o.backends.split(',').map(str::trim).collect();
    let mut rows = Vec::new();
    for (name, url) in [
        ("sqlite", None),
        ("postgres", std::env::var("TALLY_BENCH_POSTGRES_URL").ok()),
    ] {
        if !wanted.contains(&name) {
            continue;
        }
        let db = match (name, url) {
            ("sqlite", _) => TestDb::sqlite().await,
            (_, Some(url)) => TestDb::postgres(&url).await,
            (_, None) => {
                println!("(postgres skipped: set TALLY_BENCH_POSTGRES_URL)");
                continue;
            }
        };
        let s = setup(&db, 1).await;
        let floor = database_alone(&db, &s, o.codes).await;
        let ours = generate(&s, o.codes).await;
        let (baseline, validated) = validation(&s, &o).await;
        rows.push((name, ours, floor, baseline, validated));
    }
    println!("| backend | generate codes | Tally | database alone | Tally ÷ database |");
    println!("|---|---:|---:|---:|---:|");
    for (name, ours, floor, _, _) in &rows {
        println!(
            "| {name} | {} | {:.2} s | {:.2} s | {:.2}× |",
            thousands(o.codes as f64),
            ours.as_secs_f64(),
            floor.as_secs_f64(),
            ours.as_secs_f64() / floor.as_secs_f64()
        );
    }
    println!();
    println!("| backend | requests | p50 ms | p99 ms | p99 ÷ GET /programs/{{p}} |");
    println!("|---|---|---:|---:|---:|");
    for (name, _, _, baseline, validated) in &rows {
        for run in [baseline, validated] {
            println!(
                "| {name} | {} at {}/s | {} | {} | {:.2}× |",
                run.name,
                o.rate,
                ms(run.percentile_ms(50.0)),
                ms(run.percentile_ms(99.0)),
                run.percentile_ms(99.0).unwrap_or(0.0)
                    / baseline.percentile_ms(99.0).unwrap_or(1.0)
            );
        }
    }
}
