//! Tally's rule engine next to GoRules' `zen-engine`, on GoRules' own airline loyalty points
//! decision (data/airline-loyalty-points-calculations.json, MIT, from gorules/zen's test data).
//!
//! 1. The graph's embedded test case (expected totalPoints 9000) in both engines.
//! 2. A few thousand generated bookings (fixed seed, every row of every table reached): both
//!    engines, and a plain reading of the graph, must give the same totalPoints for each.
//! 3. Evaluations per second of each engine on the same inputs in the same run, one thread,
//!    warm-up first, best of 5 interleaved rounds; parsing and compilation excluded.
//!
//! Tally runs the decision written two ways (rules/table.json, seven rules with first-hit order
//! by priority and `stop_further`; rules/formula.json, one rule with the whole decision in one
//! CEL formula); the mapping of the graph's input onto Tally's context is in `inputs.rs`.
//! Not part of the main workspace or CI: zen-engine takes about 15 minutes to compile here.
//!
//! Usage: `run.sh [--inputs 5000] [--passes 20] [--seed 42]`

mod engines;
mod inputs;

use engines::{Tally, Zen, whole};
use inputs::{FARES, ROUTES, Rng, STATUSES};
use rust_decimal::Decimal;
use serde_json::Value;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use zen_engine::Variable;

const GRAPH: &str = include_str!("../data/airline-loyalty-points-calculations.json");
const RULES_TABLE: &str = include_str!("../rules/table.json");
const RULES_FORMULA: &str = include_str!("../rules/formula.json");
const ROUNDS: usize = 5;
/// At most this many mismatches are printed in full.
const SHOW_MISMATCHES: usize = 20;

struct Args {
    inputs: usize,
    passes: usize,
    seed: u64,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        inputs: 5_000,
        passes: 20,
        seed: 42,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |e: std::num::ParseIntError| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--inputs" => a.inputs = value.parse().map_err(bad)?,
            "--passes" => a.passes = value.parse().map_err(bad)?,
            "--seed" => a.seed = value.parse().map_err(bad)?,
            _ => {
                return Err(format!(
                    "unknown option {flag}; known: --inputs, --passes, --seed"
                ));
            }
        }
    }
    if a.inputs == 0 || a.inputs > 1_000_000 || a.passes == 0 || a.passes > 10_000 {
        return Err("--inputs must be 1..=1000000 and --passes 1..=10000".into());
    }
    Ok(a)
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `Ok(false)` when the engines disagree somewhere (printed).
fn run() -> Result<bool, String> {
    let args = args()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| e.to_string())?;
    let zen = Zen::load(GRAPH)?;
    let table = Tally::load(RULES_TABLE)?;
    let formula = Tally::load(RULES_FORMULA)?;
    let tallies = [("tally, 7 rules", &table), ("tally, 1 rule", &formula)];

    // 1. The graph's own test.
    let graph: Value = serde_json::from_str(GRAPH).map_err(|e| e.to_string())?;
    let test = &graph["tests"][0];
    let expected = test["output"]["totalPoints"]
        .as_i64()
        .ok_or("the graph's test has no totalPoints")?;
    let theirs = whole(rt.block_on(zen.total_points(test["input"].clone().into()))?);
    let input = inputs::to_tally(&test["input"]);
    let mut ok = theirs == Some(expected);
    print!("graph's own test (expects {expected}): zen {theirs:?}");
    for (name, tally) in tallies {
        let ours = tally.total_points(&input);
        ok &= ours == expected;
        print!(", {name} {ours}");
    }
    println!("{}", if ok { "  ok" } else { "  MISMATCH" });
    if !ok {
        return Ok(false);
    }

    // 2. Generated inputs: the same answer from every engine, every branch reached.
    let mut rng = Rng::new(args.seed);
    let bookings: Vec<Value> = (0..args.inputs)
        .map(|n| inputs::generate(&mut rng, n))
        .collect();
    let facts: Vec<_> = bookings.iter().map(inputs::to_tally).collect();
    let mut fare_rows = [0usize; 5];
    let mut route_rows = [0usize; 7];
    let mut status_rows = [0usize; 4];
    let mut seasonal = [0usize; 2];
    let mut mismatches = 0usize;
    let mut expected_sum = 0i64;
    for (booking, fact) in bookings.iter().zip(&facts) {
        let reading = inputs::read(booking);
        fare_rows[reading.fare_row] += 1;
        route_rows[reading.route_row] += 1;
        status_rows[reading.status_row] += 1;
        seasonal[usize::from(reading.seasonal)] += 1;
        // A fresh Variable per input here: nothing a previous evaluation did can leak in.
        let theirs = rt
            .block_on(zen.total_points(booking.clone().into()))
            .map(whole);
        let ours: Vec<i64> = tallies.iter().map(|(_, t)| t.total_points(fact)).collect();
        let agree = theirs == Ok(Some(reading.points)) && ours.iter().all(|p| *p == reading.points);
        if !agree {
            mismatches += 1;
            if mismatches <= SHOW_MISMATCHES {
                println!(
                    "MISMATCH {}: zen {theirs:?}, tally (7 rules, 1 rule) {ours:?}, graph read by hand {}",
                    booking, reading.points
                );
            }
        }
        expected_sum += reading.points;
    }
    println!(
        "{} generated inputs (seed {}): rows reached: fare {fare_rows:?}, route {route_rows:?}, status {status_rows:?}, seasonal no/yes {seasonal:?}",
        args.inputs, args.seed
    );
    let uncovered = [&fare_rows[..], &route_rows, &status_rows, &seasonal]
        .iter()
        .any(|rows| rows.contains(&0));
    if uncovered {
        println!("some row of a table was never reached: use more inputs");
        return Ok(false);
    }
    if mismatches > 0 {
        println!("{mismatches} of {} inputs MISMATCH", args.inputs);
        return Ok(false);
    }
    println!(
        "identical totalPoints on all {} inputs (zen = tally 7 rules = tally 1 rule = the graph read by hand; sum {expected_sum})",
        args.inputs
    );
    println!(
        "(fares {FARES:?}, routes {ROUTES:?}, statuses {STATUSES:?}; the last of each falls to the table's catch-all row)"
    );

    // 3. Speed: same inputs, inputs built before timing, best of ROUNDS interleaved rounds.
    let variables: Vec<Variable> = bookings.iter().map(|b| b.clone().into()).collect();
    let evaluations = args.inputs * args.passes;
    let want = i128::from(expected_sum) * args.passes as i128;
    let time_tally = |tally: &Tally, passes: usize| -> (Duration, i128) {
        let start = Instant::now();
        let mut sum = 0i128;
        for _ in 0..passes {
            for fact in &facts {
                sum += i128::from(tally.total_points(fact));
            }
        }
        (start.elapsed(), sum)
    };
    let time_zen = |passes: usize| -> Result<(Duration, i128), String> {
        rt.block_on(async {
            let start = Instant::now();
            let mut sum = Decimal::ZERO;
            for _ in 0..passes {
                for v in &variables {
                    // A shallow clone per evaluation, as GoRules' own benchmarks do.
                    sum += zen.total_points(v.clone()).await?;
                }
            }
            let elapsed = start.elapsed();
            let sum = whole(sum).ok_or("zen's sum has a fraction")?;
            Ok((elapsed, i128::from(sum)))
        })
    };
    // Warm-up: one pass each.
    for (_, t) in tallies {
        time_tally(t, 1);
    }
    time_zen(1)?;
    let mut best = [Duration::MAX; 3];
    for round in 0..ROUNDS {
        let mut times = [Duration::ZERO; 3];
        for (i, (name, t)) in tallies.iter().enumerate() {
            let (elapsed, sum) = time_tally(t, args.passes);
            if sum != want {
                println!("{name}: sum {sum} in round {round}, expected {want}");
                return Ok(false);
            }
            times[i] = elapsed;
        }
        let (elapsed, sum) = time_zen(args.passes)?;
        if sum != want {
            println!("zen: sum {sum} in round {round}, expected {want}");
            return Ok(false);
        }
        times[2] = elapsed;
        for (b, t) in best.iter_mut().zip(times) {
            *b = (*b).min(t);
        }
    }
    let rate = |d: Duration| evaluations as f64 / d.as_secs_f64();
    let theirs = rate(best[2]);
    println!(
        "\n{evaluations} evaluations per engine per round ({} inputs × {} passes), one thread, best of {ROUNDS}:",
        args.inputs, args.passes
    );
    println!("| engine | evaluations/s | µs/evaluation | ours ÷ theirs |");
    println!("|---|---:|---:|---:|");
    for (i, name) in [
        "tally-rules, 7 rules (rules/table.json)",
        "tally-rules, 1 rule (rules/formula.json)",
        "zen-engine 2, pre-compiled decision",
    ]
    .iter()
    .enumerate()
    {
        let r = rate(best[i]);
        let ratio = if i == 2 {
            "1.00".to_owned()
        } else {
            format!("{:.2}", r / theirs)
        };
        println!("| {name} | {:.0} | {:.2} | {ratio} |", r, 1e6 / r);
    }
    Ok(true)
}
