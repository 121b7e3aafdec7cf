//! Fit times of the models, for the benchmark and the report:
//! `cargo run --release -p tally-analytics --example fit_timing [customers]`
//!
//! Fits BG/NBD, Pareto/NBD and Gamma-Gamma on the CDNOW summary (2,357 customers; best of 5),
//! then on a synthetic cohort (default 1,000,000 customers) drawn from the BG/NBD model with the
//! CDNOW parameters, with CDNOW's shape: first purchases over 12 weeks, 39 weeks of
//! observation, times in whole days, amounts from the Gamma-Gamma model.

use std::time::{Duration, Instant};

use tally_analytics::{BgNbd, Compressed, CustomerSummary, GammaGamma, MonetaryRow, ParetoNbd};

const SUMMARY: &str = include_str!("../../../data/cdnow/cdnow_customers_summary.csv");
const WITH_VALUES: &str =
    include_str!("../../../data/cdnow/cdnow_customers_summary_with_transactions.csv");

/// splitmix64: a small, good, dependency-free generator.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        (-2.0 * self.uniform().ln()).sqrt() * (std::f64::consts::TAU * self.uniform()).cos()
    }

    /// Gamma(shape, scale 1): Marsaglia & Tsang, boosted for shape < 1.
    fn gamma(&mut self, shape: f64) -> f64 {
        if shape < 1.0 {
            return self.gamma(shape + 1.0) * self.uniform().powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v > 0.0 && self.uniform().ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v;
            }
        }
    }
}

fn cdnow() -> (Vec<CustomerSummary>, Vec<MonetaryRow>) {
    let summaries = SUMMARY
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            CustomerSummary::new(
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
            )
            .unwrap()
        })
        .collect();
    let monetary = WITH_VALUES
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .filter_map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let x: u32 = f[1].parse().unwrap();
            (x > 0).then(|| MonetaryRow {
                repeat_purchases: x,
                mean_amount: f[4].parse().unwrap(),
            })
        })
        .collect();
    (summaries, monetary)
}

/// A cohort drawn from BG/NBD (r 0.243, alpha 4.414 per week, a 0.793, b 2.426) and
/// Gamma-Gamma (p 6.25, q 3.74, gamma 15.44).
fn synthetic(customers: usize) -> (Vec<CustomerSummary>, Vec<MonetaryRow>) {
    let mut rng = Rng(42);
    let mut summaries = Vec::with_capacity(customers);
    let mut monetary = Vec::new();
    for _ in 0..customers {
        let first_day = (rng.uniform() * 84.0) as i64;
        let end_days = 272 - first_day;
        let rate_per_day = rng.gamma(0.243) / 4.414 / 7.0;
        let ga = rng.gamma(0.793);
        let dropout = ga / (ga + rng.gamma(2.426));
        let (mut t, mut x, mut last_day) = (0.0, 0u32, 0i64);
        loop {
            t += -rng.uniform().ln() / rate_per_day;
            let day = t.floor() as i64;
            if day > end_days {
                break;
            }
            if day > last_day {
                x += 1;
                last_day = day;
            }
            if rng.uniform() < dropout {
                break;
            }
        }
        summaries
            .push(CustomerSummary::new(x, last_day as f64 / 7.0, end_days as f64 / 7.0).unwrap());
        if x > 0 {
            let nu = rng.gamma(3.74) / 15.44;
            let mean = (0..x).map(|_| rng.gamma(6.25) / nu).sum::<f64>() / f64::from(x);
            monetary.push(MonetaryRow {
                repeat_purchases: x,
                mean_amount: (mean * 100.0).round().max(1.0) / 100.0,
            });
        }
    }
    (summaries, monetary)
}

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..runs {
        let started = Instant::now();
        let value = f();
        best = best.min(started.elapsed());
        last = Some(value);
    }
    (best, last.expect("at least one run"))
}

fn report(label: &str, summaries: &[CustomerSummary], monetary: &[MonetaryRow], runs: usize) {
    println!(
        "{label}: {} customers, {} repeat buyers",
        summaries.len(),
        monetary.len()
    );
    let (t, compressed) = best_of(runs, || Compressed::new(summaries).unwrap());
    println!(
        "  compress     {:>10.1?}  ({} distinct rows)",
        t,
        compressed.rows().len()
    );
    let (t, fit) = best_of(runs, || BgNbd::fit(summaries).unwrap());
    println!(
        "  BG/NBD       {:>10.1?}  {:?} LL {:.1} ({} evaluations)",
        t, fit.model, fit.log_likelihood, fit.evaluations
    );
    let (t, fit) = best_of(runs, || ParetoNbd::fit(summaries).unwrap());
    println!(
        "  Pareto/NBD   {:>10.1?}  {:?} LL {:.1} ({} evaluations)",
        t, fit.model, fit.log_likelihood, fit.evaluations
    );
    let (t, fit) = best_of(runs, || GammaGamma::fit(monetary).unwrap());
    println!(
        "  Gamma-Gamma  {:>10.1?}  {:?} LL {:.1} ({} evaluations)",
        t, fit.model, fit.log_likelihood, fit.evaluations
    );
}

fn main() {
    let customers = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("customers: a whole number"))
        .unwrap_or(1_000_000);
    let (summaries, monetary) = cdnow();
    report("CDNOW 1/10 sample (weeks)", &summaries, &monetary, 5);
    let started = Instant::now();
    let (summaries, monetary) = synthetic(customers);
    println!("(drew the synthetic cohort in {:.1?})", started.elapsed());
    report(
        "synthetic cohort (weeks, whole days)",
        &summaries,
        &monetary,
        1,
    );
}
