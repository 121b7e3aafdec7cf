//! Leave-last-out HR@10 on MovieLens 100k, for the recommendation benchmark
//! (`crates/tally-analytics/bench/recommend.sh` fetches the data and runs this beside Python's
//! `implicit`):
//!
//! ```text
//! cargo run --release -p tally-analytics --example recommend_ml100k -- ml-100k.inter \
//!     [--factors 64] [--regularization 0.01] [--alpha 1] [--iterations 15] [--cg-steps 3]
//!     [--cholesky] [--seeds 5] [--threads 1] [--neighbours 20] [--lift-min-co 2] [--tune GRID]
//! ```
//!
//! The file is RecBole's `ml-100k.inter` (tab-separated `user_id`, `item_id`, `rating`,
//! `timestamp`, one header line). Every rating is one implicit interaction of weight 1; users
//! and items are numbered in order of first appearance; each user's last rating by timestamp
//! (ties: the later line) is their test item.
//!
//! `--tune factors=32,64,128;regularization=0.01,0.1,1;alpha=0,1,4` picks the ALS settings by
//! HR@10 on a validation split (each user's last *training* interaction), seed 0, then reports
//! the test HR@10 of the chosen settings. Output lines starting with `RESULT` are for the
//! script: name, HR@10 mean, HR@10 standard deviation over seeds, mean fit seconds, settings.

use std::collections::HashMap;
use std::time::Instant;

use tally_analytics::recommend::als::{Als, AlsParams, AlsSolver};
use tally_analytics::recommend::cooccurrence::{CoOccurrence, CoOccurrenceParams, Similarity};
use tally_analytics::recommend::evaluate::{hit_rate, leave_last_out};
use tally_analytics::recommend::{Interaction, InteractionMatrix, ItemScorer, Popularity, Ranker};

const K: usize = 10;

struct Args {
    path: String,
    als: AlsParams,
    seeds: u64,
    neighbours: usize,
    lift_min_co: u32,
    tune: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut path = None;
    let mut als = AlsParams::default();
    let mut seeds = 5;
    let mut neighbours = 20;
    let mut lift_min_co = 2;
    let mut tune = None;
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        let bad = |e: &dyn std::fmt::Display| e.to_string();
        match a.as_str() {
            "--factors" => als.factors = value(&a)?.parse().map_err(|e| bad(&e))?,
            "--regularization" => als.regularization = value(&a)?.parse().map_err(|e| bad(&e))?,
            "--alpha" => als.alpha = value(&a)?.parse().map_err(|e| bad(&e))?,
            "--iterations" => als.iterations = value(&a)?.parse().map_err(|e| bad(&e))?,
            "--cg-steps" => {
                als.solver = AlsSolver::ConjugateGradient {
                    steps: value(&a)?.parse().map_err(|e| bad(&e))?,
                }
            }
            "--cholesky" => als.solver = AlsSolver::Cholesky,
            "--threads" => als.threads = value(&a)?.parse().map_err(|e| bad(&e))?,
            "--seeds" => seeds = value(&a)?.parse().map_err(|e| bad(&e))?,
            "--neighbours" => neighbours = value(&a)?.parse().map_err(|e| bad(&e))?,
            "--lift-min-co" => lift_min_co = value(&a)?.parse().map_err(|e| bad(&e))?,
            "--tune" => tune = Some(value(&a)?),
            other if !other.starts_with("--") && path.is_none() => path = Some(other.to_string()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args {
        path: path.ok_or("usage: recommend_ml100k <ml-100k.inter> [options]")?,
        als,
        seeds: seeds.max(1),
        neighbours,
        lift_min_co,
        tune,
    })
}

/// The log, users and items numbered by first appearance: (interactions, users, items).
fn load(path: &str) -> Result<(Vec<Interaction>, usize, usize), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let mut users: HashMap<String, usize> = HashMap::new();
    let mut items: HashMap<String, usize> = HashMap::new();
    let mut log = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 4 {
            continue;
        }
        let next = users.len();
        let u = *users.entry(f[0].to_string()).or_insert(next);
        let next = items.len();
        let i = *items.entry(f[1].to_string()).or_insert(next);
        let time: f64 = f[3]
            .trim()
            .parse()
            .map_err(|e| format!("line {}: {e}", n + 1))?;
        log.push(Interaction::new(u, i, time as i64));
    }
    Ok((log, users.len(), items.len()))
}

fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, var.sqrt())
}

/// HR@10 of a scorer fitted by `fit` on `train`, evaluated on `test`: (HR, fit seconds).
fn measure<S: ItemScorer>(
    train: &[Interaction],
    test: &[Interaction],
    users: usize,
    items: usize,
    fit: impl FnOnce(&InteractionMatrix) -> S,
) -> Result<(f64, f64), String> {
    let matrix = InteractionMatrix::new(users, items, train).map_err(|e| e.to_string())?;
    let ranker = Ranker::fit(&matrix, None, None).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let scorer = fit(&matrix);
    let seconds = started.elapsed().as_secs_f64();
    let hr = hit_rate(&ranker, &scorer, &matrix, test, K).map_err(|e| e.to_string())?;
    Ok((hr.rate(), seconds))
}

fn describe(p: &AlsParams) -> String {
    let solver = match p.solver {
        AlsSolver::ConjugateGradient { steps } => format!("cg_steps={steps}"),
        AlsSolver::Cholesky => "cholesky".to_string(),
    };
    format!(
        "factors={} regularization={} alpha={} iterations={} {solver} threads={}",
        p.factors, p.regularization, p.alpha, p.iterations, p.threads
    )
}

/// `factors=32,64;regularization=0.01,0.1;alpha=0,1` → every combination.
fn grid(spec: &str, base: AlsParams) -> Result<Vec<AlsParams>, String> {
    let mut out = vec![base];
    for part in spec.split(';').filter(|p| !p.trim().is_empty()) {
        let (name, values) = part
            .split_once('=')
            .ok_or(format!("bad grid part {part}"))?;
        let values: Vec<f64> = values
            .split(',')
            .map(|v| v.trim().parse::<f64>().map_err(|e| format!("{part}: {e}")))
            .collect::<Result<_, _>>()?;
        out = out
            .into_iter()
            .flat_map(|p| {
                values.iter().map(move |&v| {
                    let mut q = p;
                    match name.trim() {
                        "factors" => q.factors = v as usize,
                        "regularization" => q.regularization = v,
                        "alpha" => q.alpha = v,
                        "iterations" => q.iterations = v as usize,
                        _ => {}
                    }
                    q
                })
            })
            .collect();
        if !["factors", "regularization", "alpha", "iterations"].contains(&name.trim()) {
            return Err(format!("unknown grid parameter {name}"));
        }
    }
    Ok(out)
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let (log, users, items) = load(&args.path)?;
    let split = leave_last_out(&log).map_err(|e| e.to_string())?;
    println!(
        "{} interactions, {users} users, {items} items; {} test users, {} training interactions",
        log.len(),
        split.test.len(),
        split.train.len()
    );
    let (train, test) = (&split.train, &split.test);

    let mut als = args.als;
    if let Some(spec) = &args.tune {
        let validation = leave_last_out(train).map_err(|e| e.to_string())?;
        let candidates = grid(spec, als)?;
        println!(
            "tuning on validation ({} users), {} settings",
            validation.test.len(),
            candidates.len()
        );
        let mut best = (f64::NEG_INFINITY, als);
        for p in candidates {
            let (hr, seconds) = measure(&validation.train, &validation.test, users, items, |m| {
                Als::fit(m, &p).expect("valid ALS settings")
            })?;
            println!("TUNE\t{hr:.4}\t{seconds:.3}\t{}", describe(&p));
            if hr > best.0 {
                best = (hr, p);
            }
        }
        println!(
            "chosen: {} (validation HR@10 {:.4})",
            describe(&best.1),
            best.0
        );
        als = best.1;
    }

    let (hr, seconds) = measure(train, test, users, items, Popularity::fit)?;
    println!("RESULT\tpopularity\t{hr:.4}\t0\t{seconds:.4}\t-");
    for (similarity, min_co_customers) in [
        (Similarity::Cosine, 1),
        (Similarity::Lift, args.lift_min_co),
    ] {
        let params = CoOccurrenceParams {
            similarity,
            neighbours: args.neighbours,
            min_co_customers,
        };
        let mut name = String::new();
        let (hr, seconds) = measure(train, test, users, items, |m| {
            let model = CoOccurrence::fit(m, &params).expect("valid co-occurrence settings");
            name = model.name().replace(' ', "_");
            model
        })?;
        println!(
            "RESULT\t{name}\t{hr:.4}\t0\t{seconds:.4}\tneighbours={} min_co_customers={min_co_customers}",
            args.neighbours
        );
    }
    let mut hrs = Vec::new();
    let mut times = Vec::new();
    for seed in 0..args.seeds {
        let p = AlsParams { seed, ..als };
        let (hr, seconds) = measure(train, test, users, items, |m| {
            Als::fit(m, &p).expect("valid ALS settings")
        })?;
        println!("SEED\t{seed}\t{hr:.4}\t{seconds:.4}");
        hrs.push(hr);
        times.push(seconds);
    }
    let (hr, sd) = mean_sd(&hrs);
    let (seconds, _) = mean_sd(&times);
    println!(
        "RESULT\ttally_ALS\t{hr:.4}\t{sd:.4}\t{seconds:.4}\t{} seeds={}",
        describe(&als),
        args.seeds
    );
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("{e}");
        std::process::exit(1);
    }
}
