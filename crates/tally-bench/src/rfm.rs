//! RFM and segment evaluation over a large purchase log (default 10 million purchases of a million
//! members), timed here and, by `crates/tally-bench/duckdb/rfm.sh`, next to DuckDB on the same
//! rows. Both sides start from the purchases in memory and end with every member's RFM measures,
//! scores, named segment and membership of four dynamic segments; the script checks that the
//! two answers are identical member by member and prints the ratio.
//!
//! Ours is the engine's own code: `tally_analytics::rfm::rfm` for RFM and the segment language's
//! `Condition::matches` over each member's facts (what the segment updater evaluates), with the
//! facts built from the log grouped by member.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;
use tally_analytics::ByCustomer;
use tally_analytics::rfm::{RfmRow, rfm_of};
use tally_analytics::summary::Purchase;
use tally_domain::segments::{Condition, Facts, PurchaseFacts};

pub struct Options {
    pub members: usize,
    pub purchases: usize,
    pub runs: usize,
    /// Where to write `purchases.csv` (the input) and `ours.csv` (our answer) for the comparison.
    pub out: Option<PathBuf>,
}

/// The analysis day: purchases fall on days 0‥=729 (two years).
const AS_OF_DAY: i64 = 729;

/// The dynamic segments evaluated for every member, in the segment language (docs/segments.md).
/// The DuckDB side writes the same conditions in SQL (duckdb/rfm.py).
fn definitions() -> Vec<(&'static str, Condition)> {
    let parse = |v| Condition::parse(&v).expect("a valid definition");
    vec![
        (
            "regulars",
            parse(json!({"all": [
                {"field": "purchases", "op": "gte", "value": 3, "days": 90},
                {"field": "spend_minor", "op": "gte", "value": 20000, "days": 365}
            ]})),
        ),
        (
            "lapsed_big_spenders",
            parse(json!({"all": [
                {"field": "days_since_last_purchase", "op": "gt", "value": 180},
                {"field": "spend_minor", "op": "gte", "value": 50000}
            ]})),
        ),
        (
            "big_baskets",
            parse(json!({"field": "average_order_minor", "op": "gt", "value": 15000, "days": 180})),
        ),
        (
            "at_risk_valuable",
            parse(json!({"all": [
                {"field": "rfm_segment", "op": "in", "value": ["at_risk", "cant_lose_them"]},
                {"not": {"field": "purchases", "op": "gte", "value": 1, "days": 60}}
            ]})),
        ),
    ]
}

/// splitmix64: a small, dependency-free generator, so both sides read the same rows every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A purchase log in no particular order: half the purchases from members drawn uniformly, half
/// skewed towards a core of frequent buyers; amounts are whole minor units (so sums are exact on
/// both sides), and a member may buy more than once a day.
fn generate(members: usize, purchases: usize) -> Vec<Purchase<u64>> {
    let mut rng = Rng(7);
    let m = members as u64;
    (0..purchases)
        .map(|_| {
            let customer = if rng.below(2) == 0 {
                1 + rng.below(m)
            } else {
                let u = rng.below(1 << 20) as f64 / f64::from(1 << 20);
                1 + ((u * u * u) * m as f64) as u64
            };
            Purchase {
                customer,
                day: rng.below(AS_OF_DAY as u64 + 1) as i64,
                amount: (500 + rng.below(29_500)) as f64,
            }
        })
        .collect()
}

/// One member's answer.
struct Row {
    rfm: RfmRow<u64>,
    segments: Vec<bool>,
}

/// The log grouped by member, RFM for every member with a purchase, then each member's facts and
/// the segments they match.
fn evaluate(log: &[Purchase<u64>], definitions: &[(&str, Condition)]) -> Vec<Row> {
    let by_member = ByCustomer::new(log, AS_OF_DAY).expect("a valid log");
    let rfm = rfm_of(&by_member, AS_OF_DAY).expect("RFM over the log");
    let mut facts = Facts::default();
    rfm.into_iter()
        .enumerate()
        .map(|(i, rfm)| {
            facts.purchases.clear();
            facts
                .purchases
                .extend(
                    by_member
                        .purchases_of(i)
                        .iter()
                        .map(|&(day, minor)| PurchaseFacts {
                            days_ago: AS_OF_DAY - day,
                            net_minor: minor as i64,
                            ..PurchaseFacts::default()
                        }),
                );
            facts
                .texts
                .insert("rfm_segment", rfm.segment.as_str().to_string());
            let segments = definitions.iter().map(|(_, c)| c.matches(&facts)).collect();
            Row { rfm, segments }
        })
        .collect()
}

pub fn run(options: Options) {
    let started = Instant::now();
    let log = generate(options.members, options.purchases);
    eprintln!(
        "generated {} purchases of up to {} members in {:.1?}",
        log.len(),
        options.members,
        started.elapsed()
    );
    if let Some(dir) = &options.out {
        std::fs::create_dir_all(dir).expect("the output directory");
        write_purchases(&dir.join("purchases.csv"), &log);
    }
    let definitions = definitions();
    let mut best = Duration::MAX;
    let mut rows = Vec::new();
    for _ in 0..options.runs.max(1) {
        let started = Instant::now();
        rows = evaluate(&log, &definitions);
        best = best.min(started.elapsed());
    }
    let members_in: Vec<usize> = (0..definitions.len())
        .map(|i| rows.iter().filter(|r| r.segments[i]).count())
        .collect();
    println!(
        "tally: RFM + {} segments for {} members from {} purchases: best of {} {:.3} s",
        definitions.len(),
        rows.len(),
        log.len(),
        options.runs.max(1),
        best.as_secs_f64()
    );
    for ((name, _), n) in definitions.iter().zip(members_in) {
        println!("  {name}: {n} members");
    }
    println!("seconds {:.6}", best.as_secs_f64());
    if let Some(dir) = &options.out {
        write_answer(&dir.join("ours.csv"), &definitions, &rows);
    }
}

fn write_purchases(path: &std::path::Path, log: &[Purchase<u64>]) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("purchases.csv"));
    writeln!(out, "member,day,amount_minor").unwrap();
    for p in log {
        writeln!(out, "{},{},{}", p.customer, p.day, p.amount as i64).unwrap();
    }
}

fn write_answer(path: &std::path::Path, definitions: &[(&str, Condition)], rows: &[Row]) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("ours.csv"));
    let names: Vec<&str> = definitions.iter().map(|(n, _)| *n).collect();
    writeln!(
        out,
        "member,recency_days,frequency,monetary_minor,r,f,m,fm,segment,{}",
        names.join(",")
    )
    .unwrap();
    for Row { rfm: r, segments } in rows {
        let flags: Vec<&str> = segments
            .iter()
            .map(|&b| if b { "1" } else { "0" })
            .collect();
        writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{}",
            r.customer,
            r.recency_days,
            r.frequency_purchases,
            r.monetary_total as i64,
            r.recency_score,
            r.frequency_score,
            r.monetary_score,
            r.fm_score,
            r.segment.as_str(),
            flags.join(",")
        )
        .unwrap();
    }
}
