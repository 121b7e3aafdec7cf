//! Event-driven segment updates (issue 5: p99 under 50 ms per purchase): the time from sending a
//! purchase until the member's segments are up to date, with ten dynamic segments over a
//! program whose members have a purchase history, next to the purchase alone — the same
//! program with its segments archived — in the same run, on each backend. Purchases are sent
//! one at a time, so each latency is the whole path: the purchase's commit, the updater picking
//! the member up, reading their facts, evaluating ten definitions, and committing the changes.

use crate::ingest::{Setup, setup};
use crate::stats::{Run, machine, ms};
use std::time::{Duration, Instant};
use tally_core::Command;
use tally_domain::ids::SegmentId;
use tally_domain::inputs::NewPurchase;
use tally_domain::segments::SegmentInput;
use tally_store_any::testing::TestDb;

pub struct Options {
    pub members: usize,
    /// Purchases in the history, per member.
    pub history: usize,
    /// Purchases timed per scenario and round.
    pub purchases: usize,
    pub backends: String,
}

const CATEGORIES: [&str; 4] = ["jazz", "rock", "pop", "classical"];

/// A purchase of member `m` as an import row or a live purchase: `n` picks the order id, the
/// category and the amount, `days_ago` when it happened.
fn purchase(s: &Setup, n: usize, m: usize, days_ago: i64) -> NewPurchase {
    let category = CATEGORIES[n % CATEGORIES.len()];
    let amount = 1000 + (n * 7919 % 5000) as i64;
    let at = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * days_ago);
    NewPurchase::parse(&serde_json::json!({
        "order_id": format!("seg-{n}"),
        "member": {"id": s.members[m]},
        "total": {"amount_minor": amount, "currency": "USD"},
        "lines": [{"sku": format!("{category}-{}", n % 50), "category": category,
                   "brand": if n.is_multiple_of(3) { "blue-note" } else { "other" },
                   "quantity": 1, "unit_price_minor": amount}],
        "occurred_at": at.to_string(),
    }))
    .expect("a purchase")
}

/// Ten definitions of the kinds a program keeps: windows, spend, categories, recency, tags.
fn definitions() -> Vec<serde_json::Value> {
    use serde_json::json;
    vec![
        json!({"field": "purchases", "op": "gte", "value": 3, "days": 90}),
        json!({"field": "spend_minor", "op": "gte", "value": 10000, "days": 365}),
        json!({"field": "bought_category", "op": "has_any", "value": ["jazz"], "days": 30}),
        json!({"field": "average_order_minor", "op": "between", "value": [2000, 4000]}),
        json!({"field": "days_since_last_purchase", "op": "lte", "value": 7}),
        json!({"all": [{"not": {"field": "tags", "op": "has_any", "value": ["staff"]}},
                       {"field": "purchases", "op": "gte", "value": 1}]}),
        json!({"any": [{"field": "bought_sku", "op": "has_any", "value": ["jazz-1", "rock-2"]},
                       {"field": "bought_brand", "op": "has_any", "value": ["blue-note"], "days": 60}]}),
        json!({"field": "points_balance", "op": "gte", "value": 500}),
        json!({"field": "bought_category", "op": "has_all", "value": ["jazz", "rock"], "days": 365}),
        json!({"all": [{"field": "purchases", "op": "gte", "value": 10},
                       {"field": "spend_minor", "op": "gte", "value": 30000}]}),
    ]
}

async fn set_status(s: &Setup, segments: &[SegmentId], status: &str) {
    for id in segments {
        let command = Command::SetSegmentStatus {
            segment: id.clone(),
            status: status.into(),
        };
        s.tally
            .write(&s.tenant, "bench", None, command)
            .await
            .expect("a status");
        s.tally
            .evaluate_segment(&s.tenant, id)
            .await
            .expect("an evaluation");
    }
}

/// `count` purchases one at a time, each timed until the member's segments are settled.
async fn timed(s: &Setup, name: &str, first: usize, count: usize) -> Run {
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(count);
    for n in first..first + count {
        let m = n * 31 % s.members.len();
        let command = Command::RecordPurchase {
            program: s.program.clone(),
            purchase: purchase(s, n, m, 0),
        };
        let t0 = Instant::now();
        s.tally
            .write(&s.tenant, "bench", None, command)
            .await
            .expect("a purchase");
        s.tally.segments_settled().await;
        latencies.push(t0.elapsed());
    }
    Run {
        name: name.into(),
        events: count,
        elapsed: started.elapsed().max(Duration::from_micros(1)),
        latencies,
    }
}

pub async fn run(o: Options) {
    println!("machine: {}", machine());
    println!(
        "members: {}, history: {} purchases each, timed purchases: {} per scenario in 2 rounds\n",
        o.members, o.history, o.purchases
    );
    println!("| backend | scenario | purchases | p50 ms | p99 ms | p99 ÷ purchase alone |");
    println!("|---|---|---:|---:|---:|---:|");
    let wanted: Vec<&str> = o.backends.split(',').map(str::trim).collect();
    for (name, url) in [
        ("sqlite", None),
        ("postgres", std::env::var("TALLY_BENCH_POSTGRES_URL").ok()),
    ] {
        if !wanted.contains(&name) || (name == "postgres" && url.is_none()) {
            continue;
        }
        let db = match &url {
            Some(url) => TestDb::postgres(url).await,
            None => TestDb::sqlite().await,
        };
        let s = setup(&db, o.members).await;
        let rows: Vec<NewPurchase> = (0..o.members * o.history)
            .map(|n| purchase(&s, 1_000_000 + n, n % o.members, (n * 13 % 360) as i64))
            .collect();
        for chunk in rows.chunks(tally_core::MAX_IMPORT_CHUNK) {
            let command = Command::ImportPurchases {
                program: s.program.clone(),
                purchases: chunk.to_vec(),
            };
            s.tally
                .write(&s.tenant, "bench", None, command)
                .await
                .expect("an import");
        }
        let mut segments = Vec::new();
        for (i, definition) in definitions().into_iter().enumerate() {
            let input = SegmentInput::parse(&serde_json::json!({
                "key": format!("bench_{i}"), "name": format!("Bench {i}"), "definition": definition,
            }))
            .expect("a segment");
            let command = Command::CreateSegment {
                program: s.program.clone(),
                input,
            };
            let created = s
                .tally
                .write(&s.tenant, "bench", None, command)
                .await
                .expect("a segment");
            let id = SegmentId::parse(created["id"].as_str().expect("an id")).expect("an id");
            let started = Instant::now();
            s.tally
                .evaluate_segment(&s.tenant, &id)
                .await
                .expect("an evaluation");
            if i == 0 {
                println!(
                    "({name}: one definition evaluated over all {} members in {:.0} ms)",
                    o.members,
                    started.elapsed().as_secs_f64() * 1000.0
                );
            }
            segments.push(id);
        }
        // Alternate, so drift in the machine's speed hits both alike.
        let (mut alone, mut with) = (Vec::new(), Vec::new());
        for round in 0..2 {
            set_status(&s, &segments, "archived").await;
            let first = 2 * round * o.purchases;
            alone.push(timed(&s, "purchase alone (segments archived)", first, o.purchases).await);
            set_status(&s, &segments, "active").await;
            let first = first + o.purchases;
            with.push(timed(&s, "purchase + 10 segments updated", first, o.purchases).await);
        }
        let pool = |runs: Vec<Run>| Run {
            name: runs[0].name.clone(),
            events: runs.iter().map(|r| r.events).sum(),
            elapsed: runs.iter().map(|r| r.elapsed).sum(),
            latencies: runs.into_iter().flat_map(|r| r.latencies).collect(),
        };
        let (alone, with) = (pool(alone), pool(with));
        let base = alone.percentile_ms(99.0).unwrap_or(f64::NAN);
        for run in [&alone, &with] {
            let p99 = run.percentile_ms(99.0);
            println!(
                "| {name} | {} | {} | {} | {} | {:.2}× |",
                run.name,
                run.events,
                ms(run.percentile_ms(50.0)),
                ms(p99),
                p99.unwrap_or(f64::NAN) / base
            );
        }
    }
}
