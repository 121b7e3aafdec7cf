//! Unconstrained minimisation for the maximum-likelihood fits.
//!
//! The models' parameters are all positive, so the fits minimise the negative log-likelihood over
//! their logarithms (no constraints, and steps are relative). Nelder–Mead needs no gradient and
//! is robust far from the optimum, so a coarse run brings the search near it; BFGS with
//! central-difference gradients then converges quadratically from there. When BFGS cannot settle
//! (a single Nelder–Mead run can stall on a degenerate simplex far away), Nelder–Mead restarts
//! from its best point until a restart no longer improves, and BFGS polishes again. Either way the
//! parameters come out accurate to many more digits than the published three.
//!
//! The objective may return a non-finite value for points where it cannot be evaluated (a series
//! that does not converge, an overflow): those points count as infinitely bad.

/// Where a minimisation ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Minimum {
    /// The best point found.
    pub point: Vec<f64>,
    /// The objective there.
    pub value: f64,
    /// Objective evaluations used.
    pub evaluations: usize,
    /// Whether the tolerances were met within the evaluation budget.
    pub converged: bool,
}

/// Tolerances and budget.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Nelder–Mead stops when the simplex's values differ by less than this, relative to
    /// 1 + |best value| (a log-likelihood over a million customers is in the millions).
    pub f_tol: f64,
    /// … and its vertices by less than this (in each coordinate). Loose on purpose: BFGS takes
    /// over from there and converges much faster than Nelder–Mead's linear rate.
    pub x_tol: f64,
    /// At most this many evaluations in all.
    pub max_evaluations: usize,
    /// The initial simplex's step along each axis.
    pub initial_step: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            f_tol: 1e-10,
            x_tol: 1e-4,
            max_evaluations: 5_000,
            initial_step: 0.5,
        }
    }
}

fn eval<F: FnMut(&[f64]) -> f64>(f: &mut F, x: &[f64], count: &mut usize) -> f64 {
    *count += 1;
    let v = f(x);
    if v.is_finite() { v } else { f64::INFINITY }
}

/// Minimise `f` from `start`: a coarse Nelder–Mead run, then a BFGS polish. Only when the polish
/// cannot settle (a stalled simplex left it far from the optimum) does Nelder–Mead restart from
/// its best point with smaller simplices before polishing again; most fits never need it.
pub fn minimize<F: FnMut(&[f64]) -> f64>(mut f: F, start: &[f64], options: Options) -> Minimum {
    let mut evaluations = 0;
    let coarse = Options {
        f_tol: options.f_tol.max(COARSE_F_TOL),
        x_tol: options.x_tol.max(COARSE_X_TOL),
        ..options
    };
    let mut best = nelder_mead(&mut f, start, coarse, &mut evaluations);
    let polished = bfgs(&mut f, &best.point, best.value, options, &mut evaluations);
    if polished.converged && polished.value <= best.value && polished.value.is_finite() {
        return Minimum {
            evaluations,
            ..polished
        };
    }
    // Restart from the best point with a fresh, smaller simplex until nothing improves.
    if polished.value <= best.value {
        best.point = polished.point;
        best.value = polished.value;
    }
    let mut step = options.initial_step;
    for _ in 0..4 {
        if evaluations >= options.max_evaluations {
            break;
        }
        step = (step * 0.5).max(1e-3);
        let again = nelder_mead(
            &mut f,
            &best.point,
            Options {
                initial_step: step,
                ..options
            },
            &mut evaluations,
        );
        let improved = best.value - again.value;
        let done = improved.abs() <= options.f_tol * (1.0 + again.value.abs()) && again.converged;
        if again.value <= best.value {
            best = again;
        }
        if done {
            break;
        }
    }
    let polished = bfgs(&mut f, &best.point, best.value, options, &mut evaluations);
    if polished.value <= best.value {
        best.point = polished.point;
        best.value = polished.value;
    }
    best.evaluations = evaluations;
    best.converged = best.converged && polished.converged && best.value.is_finite();
    best
}

/// The first Nelder–Mead run only has to bring the search near the optimum: BFGS, which
/// converges much faster there, does the rest.
const COARSE_F_TOL: f64 = 1e-5;
const COARSE_X_TOL: f64 = 5e-2;

/// One Nelder–Mead run (standard coefficients: reflect 1, expand 2, contract ½, shrink ½).
fn nelder_mead<F: FnMut(&[f64]) -> f64>(
    f: &mut F,
    start: &[f64],
    options: Options,
    evaluations: &mut usize,
) -> Minimum {
    let n = start.len();
    let mut simplex: Vec<Vec<f64>> = Vec::with_capacity(n + 1);
    simplex.push(start.to_vec());
    for i in 0..n {
        let mut v = start.to_vec();
        v[i] += options.initial_step;
        simplex.push(v);
    }
    let mut values: Vec<f64> = simplex.iter().map(|v| eval(f, v, evaluations)).collect();
    let mut converged = false;
    let mut centroid = vec![0.0; n];
    let mut trial = vec![0.0; n];
    let mut trial2 = vec![0.0; n];
    while *evaluations < options.max_evaluations {
        // Order: best first.
        let mut order: Vec<usize> = (0..=n).collect();
        order.sort_by(|&i, &j| values[i].total_cmp(&values[j]));
        simplex = order.iter().map(|&i| simplex[i].clone()).collect();
        values = order.iter().map(|&i| values[i]).collect();

        let f_spread = (values[n] - values[0]).abs();
        let x_spread = simplex[1..]
            .iter()
            .flat_map(|v| v.iter().zip(&simplex[0]).map(|(a, b)| (a - b).abs()))
            .fold(0.0_f64, f64::max);
        if f_spread <= options.f_tol * (1.0 + values[0].abs()) && x_spread <= options.x_tol {
            converged = true;
            break;
        }

        centroid.iter_mut().for_each(|c| *c = 0.0);
        for v in &simplex[..n] {
            for (c, x) in centroid.iter_mut().zip(v) {
                *c += x / n as f64;
            }
        }
        let worst = simplex[n].clone();
        let along = |t: &mut Vec<f64>, coef: f64| {
            for ((t, c), w) in t.iter_mut().zip(&centroid).zip(&worst) {
                *t = c + coef * (c - w);
            }
        };
        along(&mut trial, 1.0);
        let f_reflect = eval(f, &trial, evaluations);
        if f_reflect < values[0] {
            along(&mut trial2, 2.0);
            let f_expand = eval(f, &trial2, evaluations);
            if f_expand < f_reflect {
                simplex[n].clone_from(&trial2);
                values[n] = f_expand;
            } else {
                simplex[n].clone_from(&trial);
                values[n] = f_reflect;
            }
            continue;
        }
        if f_reflect < values[n - 1] {
            simplex[n].clone_from(&trial);
            values[n] = f_reflect;
            continue;
        }
        // Contract: outside if the reflection beat the worst, inside otherwise.
        let (coef, against) = if f_reflect < values[n] {
            (0.5, f_reflect)
        } else {
            (-0.5, values[n])
        };
        along(&mut trial2, coef);
        let f_contract = eval(f, &trial2, evaluations);
        if f_contract < against {
            simplex[n].clone_from(&trial2);
            values[n] = f_contract;
            continue;
        }
        // Shrink towards the best vertex.
        let best = simplex[0].clone();
        for i in 1..=n {
            for (x, b) in simplex[i].iter_mut().zip(&best) {
                *x = b + 0.5 * (*x - b);
            }
            values[i] = eval(f, &simplex[i], evaluations);
        }
    }
    let best = (0..=n)
        .min_by(|&i, &j| values[i].total_cmp(&values[j]))
        .unwrap_or(0);
    Minimum {
        point: simplex[best].clone(),
        value: values[best],
        evaluations: *evaluations,
        converged,
    }
}

/// Central-difference gradient with a step relative to each coordinate.
fn gradient<F: FnMut(&[f64]) -> f64>(f: &mut F, x: &[f64], evaluations: &mut usize) -> Vec<f64> {
    let mut g = vec![0.0; x.len()];
    let mut probe = x.to_vec();
    for i in 0..x.len() {
        let h = 1e-5 * x[i].abs().max(1.0);
        probe[i] = x[i] + h;
        let up = eval(f, &probe, evaluations);
        probe[i] = x[i] - h;
        let down = eval(f, &probe, evaluations);
        probe[i] = x[i];
        g[i] = (up - down) / (2.0 * h);
    }
    g
}

/// BFGS with numeric gradients and a backtracking (Armijo) line search, from a point that is
/// already close to the minimum.
fn bfgs<F: FnMut(&[f64]) -> f64>(
    f: &mut F,
    start: &[f64],
    start_value: f64,
    options: Options,
    evaluations: &mut usize,
) -> Minimum {
    let n = start.len();
    let mut x = start.to_vec();
    let mut fx = start_value;
    let mut g = gradient(f, &x, evaluations);
    // Inverse Hessian approximation, starting from the identity.
    let mut h = vec![vec![0.0; n]; n];
    for (i, row) in h.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    let mut converged = false;
    for _ in 0..200 {
        if *evaluations >= options.max_evaluations || g.iter().any(|v| !v.is_finite()) {
            break;
        }
        // The gradient's own noise (central differences of a sum of many terms) is about
        // 1e-11 relative to the value: below that there is nothing left to follow.
        if g.iter().map(|v| v.abs()).fold(0.0, f64::max) < 1e-9 * (1.0 + fx.abs()) {
            converged = true;
            break;
        }
        let direction: Vec<f64> = h
            .iter()
            .map(|row| -row.iter().zip(&g).map(|(a, b)| a * b).sum::<f64>())
            .collect();
        let slope: f64 = direction.iter().zip(&g).map(|(d, g)| d * g).sum();
        if slope >= 0.0 {
            // Not a descent direction: reset the curvature estimate.
            for (i, row) in h.iter_mut().enumerate() {
                row.iter_mut().for_each(|v| *v = 0.0);
                row[i] = 1.0;
            }
            continue;
        }
        let mut step = 1.0;
        let mut next = x.clone();
        let mut f_next = f64::INFINITY;
        for _ in 0..40 {
            if *evaluations >= options.max_evaluations {
                break;
            }
            for ((n, x), d) in next.iter_mut().zip(&x).zip(&direction) {
                *n = x + step * d;
            }
            f_next = eval(f, &next, evaluations);
            if f_next <= fx + 1e-4 * step * slope {
                break;
            }
            step *= 0.5;
        }
        // (f_next is never NaN: eval turns it into +∞.)
        if f_next >= fx {
            converged = true; // no further progress possible at this precision
            break;
        }
        let g_next = gradient(f, &next, evaluations);
        let s: Vec<f64> = next.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = g_next.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy: f64 = s.iter().zip(&y).map(|(a, b)| a * b).sum();
        let improvement = fx - f_next;
        x = next;
        fx = f_next;
        g = g_next;
        if sy > 1e-12 {
            // H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ
            let rho = 1.0 / sy;
            let hy: Vec<f64> = h
                .iter()
                .map(|row| row.iter().zip(&y).map(|(a, b)| a * b).sum())
                .collect();
            let yhy: f64 = y.iter().zip(&hy).map(|(a, b)| a * b).sum();
            for i in 0..n {
                for j in 0..n {
                    h[i][j] += -rho * (hy[i] * s[j] + s[i] * hy[j])
                        + (rho * rho * yhy + rho) * s[i] * s[j];
                }
            }
        }
        if improvement < 1e-13 * fx.abs().max(1.0) {
            converged = true;
            break;
        }
    }
    Minimum {
        point: x,
        value: fx,
        evaluations: *evaluations,
        converged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_minimum_of_rosenbrock() {
        let rosenbrock = |p: &[f64]| (1.0 - p[0]).powi(2) + 100.0 * (p[1] - p[0] * p[0]).powi(2);
        let m = minimize(rosenbrock, &[-1.2, 1.0], Options::default());
        assert!(m.converged);
        assert!((m.point[0] - 1.0).abs() < 1e-6, "{:?}", m.point);
        assert!((m.point[1] - 1.0).abs() < 1e-6, "{:?}", m.point);
    }

    #[test]
    fn finds_the_minimum_of_a_shifted_quadratic_in_four_dimensions() {
        let target = [0.3, -2.0, 5.0, 1e-3];
        let f = |p: &[f64]| {
            p.iter()
                .zip(&target)
                .enumerate()
                .map(|(i, (x, t))| (i + 1) as f64 * (x - t).powi(2))
                .sum::<f64>()
        };
        let m = minimize(f, &[0.0; 4], Options::default());
        for (x, t) in m.point.iter().zip(&target) {
            assert!((x - t).abs() < 1e-6, "{:?}", m.point);
        }
    }

    #[test]
    fn treats_points_it_cannot_evaluate_as_infinitely_bad() {
        // Undefined left of 0.5; the minimum of (x − 1)² lies inside.
        let f = |p: &[f64]| {
            if p[0] < 0.5 {
                f64::NAN
            } else {
                (p[0] - 1.0).powi(2)
            }
        };
        let m = minimize(f, &[3.0], Options::default());
        assert!((m.point[0] - 1.0).abs() < 1e-6);
        assert!(m.value.is_finite());
    }

    #[test]
    fn respects_the_evaluation_budget() {
        let options = Options {
            max_evaluations: 50,
            ..Options::default()
        };
        let mut count = 0;
        let m = minimize(
            |p: &[f64]| {
                count += 1;
                (1.0 - p[0]).powi(2) + 100.0 * (p[1] - p[0] * p[0]).powi(2)
            },
            &[-1.2, 1.0],
            options,
        );
        // The BFGS polish may finish its current gradient (2n evaluations) past the budget.
        assert!(m.evaluations <= 50 + 8, "{}", m.evaluations);
        assert_eq!(count, m.evaluations);
    }
}
