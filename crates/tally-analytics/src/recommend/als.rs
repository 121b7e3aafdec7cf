//! Implicit-feedback matrix factorisation by alternating least squares (Hu, Koren & Volinsky,
//! "Collaborative Filtering for Implicit Feedback Datasets", 2008).
//!
//! Every customer u gets a vector `x_u` and every item i a vector `y_i` of `factors` numbers.
//! Every (customer, item) cell counts, the empty ones too: the preference `p_ui` is 1 where the
//! customer interacted with the item and 0 elsewhere, and each cell is weighted by a confidence
//! `c_ui = 1 + α · r_ui` (`r_ui` the summed weight, 0 for an empty cell). The loss is
//!
//! ```text
//! Σ_ui c_ui (p_ui − x_u·y_i)² + λ (Σ_u |x_u|² + Σ_i |y_i|²)
//! ```
//!
//! With the items fixed it is a ridge regression per customer,
//! `(YᵀY + Yᵀ(C_u − I)Y + λI) x_u = Yᵀ C_u p_u`, where `YᵀY` is shared by all customers and
//! the correction only runs over the customer's own items; then the same for the items with the
//! customers fixed, and so on for `iterations` rounds. Each k × k system is solved either
//! exactly (Cholesky) or by a few conjugate-gradient steps started from the previous solution
//! (Takács, Pilászy & Tikk 2011; the default of the Python `implicit` library), which is much
//! cheaper for the same accuracy after a few rounds.
//!
//! The vectors are stored and solved in `f32` (half the memory of `f64`: a million customers
//! with 64 factors take 256 MB; twice the numbers per SIMD instruction), as `implicit` does;
//! the k × k Gram matrix is summed in `f64` and the Cholesky solver works in `f64`.
//!
//! A customer's score for an item is `x_u · y_i`. The factors start from a SplitMix64 stream
//! seeded by `seed`, uniform in [0, 0.01) as `implicit` does, so a fit is deterministic given
//! the seed, whatever the number of threads (each customer's and item's solve is independent).
//!
//! Note for comparisons: `implicit` takes the confidence itself (its `alpha` times the data),
//! without the `1 +`; with 0/1 data, our `alpha` α is its `alpha` 1 + α.

use crate::AnalyticsError;
use crate::recommend::{InteractionMatrix, ItemScorer};

/// How each k × k system is solved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlsSolver {
    /// `steps` conjugate-gradient steps from the previous solution (at least 1).
    ConjugateGradient { steps: usize },
    /// The exact solution by Cholesky decomposition.
    Cholesky,
}

/// ALS settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AlsParams {
    /// k, the length of each vector; 1 … 1024.
    pub factors: usize,
    /// λ, finite and > 0.
    pub regularization: f64,
    /// α in `c = 1 + α · r`; finite and ≥ 0.
    pub alpha: f64,
    /// Rounds (customers then items); at least 1.
    pub iterations: usize,
    pub solver: AlsSolver,
    pub seed: u64,
    /// Worker threads; 0 means as many as the machine has.
    pub threads: usize,
}

impl Default for AlsParams {
    /// 64 factors, λ 0.01, α 1, 15 rounds of 3 conjugate-gradient steps, one thread: the
    /// settings a validation split of MovieLens 100k chose from a small grid (see
    /// `bench/recommend.sh`); tune them on your own data the same way.
    fn default() -> Self {
        AlsParams {
            factors: 64,
            regularization: 0.01,
            alpha: 1.0,
            iterations: 15,
            solver: AlsSolver::ConjugateGradient { steps: 3 },
            seed: 0,
            threads: 1,
        }
    }
}

/// A fitted ALS model.
#[derive(Clone, Debug, PartialEq)]
pub struct Als {
    factors: usize,
    customers: usize,
    items: usize,
    customer_factors: Vec<f32>,
    item_factors: Vec<f32>,
}

/// SplitMix64 (Steele, Lea & Flood 2014): small, fast, good enough to start factors from.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn validate(params: &AlsParams) -> Result<(), AnalyticsError> {
    if !(1..=1024).contains(&params.factors) {
        return Err(AnalyticsError::invalid(
            "factors",
            format!("must be 1 … 1024, got {}", params.factors),
        ));
    }
    if !(params.regularization.is_finite() && params.regularization > 0.0) {
        return Err(AnalyticsError::invalid(
            "regularization",
            format!("must be a finite number > 0, got {}", params.regularization),
        ));
    }
    if !(params.alpha.is_finite() && params.alpha >= 0.0) {
        return Err(AnalyticsError::invalid(
            "alpha",
            format!("must be a finite number ≥ 0, got {}", params.alpha),
        ));
    }
    if params.iterations == 0 {
        return Err(AnalyticsError::invalid("iterations", "must be at least 1"));
    }
    if let AlsSolver::ConjugateGradient { steps: 0 } = params.solver {
        return Err(AnalyticsError::invalid("steps", "must be at least 1"));
    }
    Ok(())
}

/// One side of the matrix: for each row (a customer, or an item), its entries' columns and
/// weights.
struct Side<'a> {
    data: &'a InteractionMatrix,
    by_customer: bool,
}

impl Side<'_> {
    fn entries(&self, row: usize) -> (&[usize], &[f64]) {
        if self.by_customer {
            (self.data.items_of(row), self.data.weights_of(row))
        } else {
            (self.data.customers_of(row), self.data.item_weights_of(row))
        }
    }
}

/// Eight independent partial sums, so the compiler can keep them in SIMD registers (a single
/// running sum cannot be reordered). The order is fixed, so results are reproducible.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut lanes = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            lanes[l] += x[l] * y[l];
        }
    }
    ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5]))
        + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]))
        + tail
}

fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

/// `out = G v` for a symmetric k × k `G` stored by rows.
fn gemv(g: &[f32], v: &[f32], out: &mut [f32]) {
    let k = v.len();
    for (r, o) in out.iter_mut().enumerate() {
        *o = dot(&g[r * k..(r + 1) * k], v);
    }
}

/// `YᵀY + λI`, summed in f64.
fn gram(y: &[f32], k: usize, regularization: f64) -> Vec<f64> {
    let mut g = vec![0.0f64; k * k];
    let mut row64 = vec![0.0f64; k];
    for row in y.chunks_exact(k) {
        for (r, v) in row64.iter_mut().zip(row) {
            *r = f64::from(*v);
        }
        for a in 0..k {
            let ya = row64[a];
            if ya != 0.0 {
                for (gab, yb) in g[a * k + a..a * k + k].iter_mut().zip(&row64[a..]) {
                    *gab += ya * yb;
                }
            }
        }
    }
    for a in 0..k {
        g[a * k + a] += regularization;
        for b in 0..a {
            g[a * k + b] = g[b * k + a];
        }
    }
    g
}

/// Scratch space of one worker.
struct Scratch {
    r: Vec<f32>,
    p: Vec<f32>,
    ap: Vec<f32>,
    a: Vec<f64>,
    b: Vec<f64>,
}

impl Scratch {
    fn new(k: usize) -> Self {
        Scratch {
            r: vec![0.0; k],
            p: vec![0.0; k],
            ap: vec![0.0; k],
            a: Vec::new(),
            b: vec![0.0; k],
        }
    }
}

/// The Gram matrix in both precisions: f32 for the conjugate-gradient products, f64 for
/// Cholesky.
struct Gram {
    single: Vec<f32>,
    double: Vec<f64>,
}

/// Solve for one row's vector `x` (warm: holds the previous solution) given the other side's
/// vectors `y` and their Gram matrix `g = YᵀY + λI`.
fn solve_row(
    x: &mut [f32],
    columns: &[usize],
    weights: &[f64],
    y: &[f32],
    g: &Gram,
    params: &AlsParams,
    s: &mut Scratch,
) {
    let k = x.len();
    if columns.is_empty() {
        // No positives: the minimiser of xᵀ(YᵀY + λI)x is 0.
        x.fill(0.0);
        return;
    }
    match params.solver {
        AlsSolver::ConjugateGradient { steps } => {
            let alpha = params.alpha as f32;
            // r = b − A x, with b = Σ c_i y_i and A = G + Σ (c_i − 1) y_i y_iᵀ.
            gemv(&g.single, x, &mut s.ap);
            for (r, ax) in s.r.iter_mut().zip(&s.ap) {
                *r = -ax;
            }
            for (&j, &w) in columns.iter().zip(weights) {
                let yj = &y[j * k..(j + 1) * k];
                let extra = alpha * w as f32; // c − 1
                let coefficient = if extra > 0.0 {
                    1.0 + extra - extra * dot(yj, x)
                } else {
                    1.0
                };
                axpy(coefficient, yj, &mut s.r);
            }
            s.p.copy_from_slice(&s.r);
            let mut rs_old = dot(&s.r, &s.r);
            for _ in 0..steps {
                if rs_old < 1e-20 {
                    break;
                }
                gemv(&g.single, &s.p, &mut s.ap);
                if alpha > 0.0 {
                    // With α = 0 every confidence is 1 and A is G alone.
                    for (&j, &w) in columns.iter().zip(weights) {
                        let yj = &y[j * k..(j + 1) * k];
                        axpy(alpha * w as f32 * dot(yj, &s.p), yj, &mut s.ap);
                    }
                }
                let p_ap = dot(&s.p, &s.ap);
                if p_ap.is_nan() || p_ap <= 0.0 {
                    break; // converged to rounding: the direction has no curvature left
                }
                let step = rs_old / p_ap;
                axpy(step, &s.p, x);
                axpy(-step, &s.ap, &mut s.r);
                let rs_new = dot(&s.r, &s.r);
                for (p, r) in s.p.iter_mut().zip(&s.r) {
                    *p = r + (rs_new / rs_old) * *p;
                }
                rs_old = rs_new;
            }
        }
        AlsSolver::Cholesky => {
            s.a.clear();
            s.a.extend_from_slice(&g.double);
            s.b.fill(0.0);
            for (&j, &w) in columns.iter().zip(weights) {
                let yj = &y[j * k..(j + 1) * k];
                let extra = params.alpha * w;
                for a in 0..k {
                    let v = extra * f64::from(yj[a]);
                    for (sab, yb) in s.a[a * k..=a * k + a].iter_mut().zip(&yj[..=a]) {
                        *sab += v * f64::from(*yb);
                    }
                }
                for (b, yb) in s.b.iter_mut().zip(yj) {
                    *b += (1.0 + extra) * f64::from(*yb);
                }
            }
            // Lower triangle holds A; factor in place: A = L Lᵀ.
            for a in 0..k {
                for b in 0..=a {
                    let mut sum = s.a[a * k + b];
                    for m in 0..b {
                        sum -= s.a[a * k + m] * s.a[b * k + m];
                    }
                    if a == b {
                        // A is YᵀY + λI plus positive semi-definite terms: sum ≥ λ > 0 up to
                        // rounding.
                        s.a[a * k + a] = sum.max(f64::MIN_POSITIVE).sqrt();
                    } else {
                        s.a[a * k + b] = sum / s.a[b * k + b];
                    }
                }
            }
            // L z = b, then Lᵀ x = z (z kept in b).
            for a in 0..k {
                let earlier: f64 = (0..a).map(|m| s.a[a * k + m] * s.b[m]).sum();
                s.b[a] = (s.b[a] - earlier) / s.a[a * k + a];
            }
            for a in (0..k).rev() {
                let later: f64 = (a + 1..k).map(|m| s.a[m * k + a] * s.b[m]).sum();
                s.b[a] = (s.b[a] - later) / s.a[a * k + a];
            }
            for (xa, b) in x.iter_mut().zip(&s.b) {
                *xa = *b as f32;
            }
        }
    }
}

/// Solve every row of one side, in parallel over `threads` contiguous blocks.
fn solve_side(
    x: &mut [f32],
    side: &Side<'_>,
    y: &[f32],
    k: usize,
    params: &AlsParams,
    threads: usize,
) {
    let double = gram(y, k, params.regularization);
    let g = Gram {
        single: double.iter().map(|v| *v as f32).collect(),
        double,
    };
    let rows = x.len() / k;
    let per_thread = rows.div_ceil(threads.max(1)).max(1);
    let work = |first_row: usize, block: &mut [f32]| {
        let mut s = Scratch::new(k);
        for (offset, xr) in block.chunks_exact_mut(k).enumerate() {
            let (columns, weights) = side.entries(first_row + offset);
            solve_row(xr, columns, weights, y, &g, params, &mut s);
        }
    };
    if threads <= 1 {
        work(0, x);
        return;
    }
    std::thread::scope(|scope| {
        for (b, block) in x.chunks_mut(per_thread * k).enumerate() {
            let work = &work;
            scope.spawn(move || work(b * per_thread, block));
        }
    });
}

impl Als {
    /// Fit the model on the data.
    pub fn fit(data: &InteractionMatrix, params: &AlsParams) -> Result<Self, AnalyticsError> {
        validate(params)?;
        let k = params.factors;
        let threads = match params.threads {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            t => t,
        };
        let mut rng = SplitMix64(params.seed);
        let mut customer_factors: Vec<f32> = (0..data.customers() * k)
            .map(|_| (rng.uniform() * 0.01) as f32)
            .collect();
        let mut item_factors: Vec<f32> = (0..data.items() * k)
            .map(|_| (rng.uniform() * 0.01) as f32)
            .collect();
        let customers = Side {
            data,
            by_customer: true,
        };
        let items = Side {
            data,
            by_customer: false,
        };
        for _ in 0..params.iterations {
            solve_side(
                &mut customer_factors,
                &customers,
                &item_factors,
                k,
                params,
                threads,
            );
            solve_side(
                &mut item_factors,
                &items,
                &customer_factors,
                k,
                params,
                threads,
            );
        }
        if !customer_factors
            .iter()
            .chain(&item_factors)
            .all(|v| v.is_finite())
        {
            return Err(AnalyticsError::Numerical {
                what: "ALS factors",
            });
        }
        Ok(Als {
            factors: k,
            customers: data.customers(),
            items: data.items(),
            customer_factors,
            item_factors,
        })
    }

    pub fn factors(&self) -> usize {
        self.factors
    }

    /// A customer's vector; empty for an index out of range.
    pub fn customer_vector(&self, customer: usize) -> &[f32] {
        if customer < self.customers {
            &self.customer_factors[customer * self.factors..(customer + 1) * self.factors]
        } else {
            &[]
        }
    }

    /// An item's vector; empty for an index out of range.
    pub fn item_vector(&self, item: usize) -> &[f32] {
        if item < self.items {
            &self.item_factors[item * self.factors..(item + 1) * self.factors]
        } else {
            &[]
        }
    }

    /// The predicted preference of a customer for an item, `x_u · y_i`.
    pub fn score(&self, customer: usize, item: usize) -> Result<f64, AnalyticsError> {
        if customer >= self.customers {
            return Err(AnalyticsError::invalid(
                "customer",
                format!("must be below {}, got {customer}", self.customers),
            ));
        }
        if item >= self.items {
            return Err(AnalyticsError::invalid(
                "item",
                format!("must be below {}, got {item}", self.items),
            ));
        }
        Ok(f64::from(dot(
            self.customer_vector(customer),
            self.item_vector(item),
        )))
    }
}

impl ItemScorer for Als {
    fn name(&self) -> &'static str {
        "ALS"
    }

    fn items(&self) -> usize {
        self.items
    }

    fn score_items(
        &self,
        _data: &InteractionMatrix,
        customer: usize,
        scores: &mut [f64],
    ) -> Result<(), AnalyticsError> {
        if customer >= self.customers {
            return Err(AnalyticsError::invalid(
                "customer",
                format!("must be below {}, got {customer}", self.customers),
            ));
        }
        let x = self.customer_vector(customer);
        for (s, y) in scores
            .iter_mut()
            .zip(self.item_factors.chunks_exact(self.factors))
        {
            *s = f64::from(dot(x, y));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recommend::tests::two_clusters;
    use crate::recommend::{Interaction, Ranker, Source};

    fn params(solver: AlsSolver) -> AlsParams {
        AlsParams {
            // Two factors for two clusters; more would fit each customer's own items exactly.
            factors: 2,
            regularization: 1.0,
            alpha: 10.0,
            iterations: 20,
            solver,
            seed: 7,
            threads: 1,
        }
    }

    #[test]
    fn recommends_within_the_cluster() {
        let (m, _) = two_clusters();
        let ranker = Ranker::fit(&m, None, None).unwrap();
        for solver in [
            AlsSolver::ConjugateGradient { steps: 3 },
            AlsSolver::Cholesky,
        ] {
            let model = Als::fit(&m, &params(solver)).unwrap();
            for c in 0..10 {
                let cluster = if c < 5 { 0..4 } else { 4..8 };
                let missing = cluster.start + c % 4;
                let recs = ranker.recommend(&model, &m, c, 5).unwrap();
                assert_eq!(recs.len(), 5, "the other cluster's four items follow");
                assert_eq!(recs[0].item, missing, "{solver:?}, customer {c}");
                assert_eq!(recs[0].source, Source::Model);
                // The customer's own items are left out; the other cluster scores lower.
                for r in &recs[1..] {
                    assert!(!cluster.contains(&r.item));
                    assert!(r.score < recs[0].score);
                }
                // What they bought is predicted near 1, the other cluster near 0.
                let own = model.score(c, m.items_of(c)[0]).unwrap();
                let other = model.score(c, (cluster.start + 4) % 8).unwrap();
                assert!(own > 0.7 && other.abs() < 0.2, "{own} {other}");
            }
        }
    }

    #[test]
    fn conjugate_gradient_approaches_the_exact_solution() {
        let (m, _) = two_clusters();
        let exact = Als::fit(&m, &params(AlsSolver::Cholesky)).unwrap();
        let cg = Als::fit(&m, &params(AlsSolver::ConjugateGradient { steps: 4 })).unwrap();
        for c in 0..10 {
            for i in 0..8 {
                let (a, b) = (exact.score(c, i).unwrap(), cg.score(c, i).unwrap());
                assert!((a - b).abs() < 1e-3, "customer {c} item {i}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_model_with_any_number_of_threads() {
        let (m, _) = two_clusters();
        let p = params(AlsSolver::ConjugateGradient { steps: 3 });
        let a = Als::fit(&m, &p).unwrap();
        assert_eq!(a, Als::fit(&m, &p).unwrap());
        for threads in [2, 3, 16] {
            assert_eq!(a, Als::fit(&m, &AlsParams { threads, ..p }).unwrap());
        }
        let other = Als::fit(&m, &AlsParams { seed: 8, ..p }).unwrap();
        assert_ne!(a.customer_vector(0), other.customer_vector(0));
    }

    #[test]
    fn a_customer_without_history_has_a_zero_vector_and_gets_popularity() {
        let mut log = two_clusters().1;
        log.push(Interaction::new(0, 0, 99)); // item 0 now has 5 buyers: the most popular
        let m = InteractionMatrix::new(11, 8, &log).unwrap();
        let model = Als::fit(&m, &params(AlsSolver::Cholesky)).unwrap();
        assert!(model.customer_vector(10).iter().all(|v| *v == 0.0));
        assert!(model.customer_vector(11).is_empty());
        let ranker = Ranker::fit(&m, None, None).unwrap();
        let recs = ranker.recommend(&model, &m, 10, 2).unwrap();
        assert_eq!(recs[0].item, 0);
        assert!(recs.iter().all(|r| r.source == Source::GlobalPopularity));
    }

    #[test]
    fn weights_raise_confidence() {
        // Customer 0 bought items 0 and 1, item 0 with a large weight; with little data the
        // weighted item is fitted closer to 1.
        let log = [
            Interaction::new(0, 0, 0).with_weight(20.0),
            Interaction::new(0, 1, 0),
            Interaction::new(1, 1, 0),
            Interaction::new(1, 2, 0),
        ];
        let m = InteractionMatrix::new(2, 3, &log).unwrap();
        let p = AlsParams {
            factors: 1,
            regularization: 1.0,
            alpha: 1.0,
            ..params(AlsSolver::Cholesky)
        };
        let model = Als::fit(&m, &p).unwrap();
        assert!(model.score(0, 0).unwrap() > model.score(0, 1).unwrap());
    }

    #[test]
    fn bad_parameters_are_errors() {
        let (m, _) = two_clusters();
        let p = params(AlsSolver::Cholesky);
        for bad in [
            AlsParams { factors: 0, ..p },
            AlsParams { factors: 1025, ..p },
            AlsParams {
                regularization: 0.0,
                ..p
            },
            AlsParams {
                regularization: f64::NAN,
                ..p
            },
            AlsParams { alpha: -1.0, ..p },
            AlsParams {
                alpha: f64::INFINITY,
                ..p
            },
            AlsParams { iterations: 0, ..p },
            AlsParams {
                solver: AlsSolver::ConjugateGradient { steps: 0 },
                ..p
            },
        ] {
            assert!(
                matches!(Als::fit(&m, &bad), Err(AnalyticsError::InvalidInput { .. })),
                "{bad:?}"
            );
        }
        let model = Als::fit(&m, &p).unwrap();
        assert!(model.score(10, 0).is_err());
        assert!(model.score(0, 8).is_err());
    }
}
