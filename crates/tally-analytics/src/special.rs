//! Special functions the models need: log-gamma, digamma, the Gauss hypergeometric function
//! 2F1, and log-space sums.
//!
//! Written here rather than taken from a crate so that the analytics crate has no dependencies
//! and so that the behaviour on the domains the models use is known and tested. These functions
//! return NaN outside their domain rather than an error: they sit in likelihood loops, and the
//! models validate their input first and turn a non-finite result into an
//! [`crate::AnalyticsError`]. `digamma` is not used by the fits (they use numeric gradients); it
//! is here for callers that want analytic gradients or the mean of a log-gamma variable.

use std::f64::consts::PI;

/// Lanczos approximation, g = 7, 9 coefficients: about 15 significant digits for x > 0.
const LANCZOS_G: f64 = 7.0;
const LANCZOS: [f64; 9] = [
    0.999_999_999_999_809_9,
    676.520_368_121_885_1,
    -1_259.139_216_722_402_8,
    771.323_428_777_653_1,
    -176.615_029_162_140_6,
    12.507_343_278_686_905,
    -0.138_571_095_265_720_12,
    9.984_369_578_019_572e-6,
    1.505_632_735_149_311_6e-7,
];

/// ln Γ(x) for x > 0 (NaN otherwise).
pub fn ln_gamma(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    if x == f64::INFINITY {
        return f64::INFINITY;
    }
    if x < 0.5 {
        // Reflection: Γ(x) Γ(1 − x) = π / sin(πx), with sin(πx) > 0 on (0, 0.5).
        return (PI / (PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = LANCZOS[0];
    for (i, c) in LANCZOS.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + LANCZOS_G + 0.5;
    0.5 * (2.0 * PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// ψ(x) = d/dx ln Γ(x), for x not a non-positive integer (NaN there).
pub fn digamma(x: f64) -> f64 {
    if x.is_nan() || (x <= 0.0 && x == x.floor()) {
        return f64::NAN;
    }
    if x < 0.0 {
        // Reflection: ψ(1 − x) − ψ(x) = π cot(πx).
        return digamma(1.0 - x) - PI / (PI * x).tan();
    }
    let mut x = x;
    let mut result = 0.0;
    // Recurrence ψ(x) = ψ(x + 1) − 1/x until the asymptotic series is accurate.
    while x < 12.0 {
        result -= 1.0 / x;
        x += 1.0;
    }
    let inv2 = 1.0 / (x * x);
    // ln x − 1/(2x) − Σ B_2k / (2k x^2k)
    let series = inv2
        * (1.0 / 12.0
            - inv2
                * (1.0 / 120.0
                    - inv2 * (1.0 / 252.0 - inv2 * (1.0 / 240.0 - inv2 * (1.0 / 132.0)))));
    result + x.ln() - 0.5 / x - series
}

/// The most terms the 2F1 series may take before it gives up. The terms shrink like z^n, so this
/// reaches full precision up to z ≈ 0.996; the models meet larger arguments only at parameters
/// far from any fit (e.g. alpha / beta > 250 in the Pareto/NBD likelihood), where giving up
/// quickly matters more than an answer.
const HYP2F1_MAX_TERMS: usize = 10_000;

/// The Gauss hypergeometric function 2F1(a, b; c; z) for real z < 1 and c not a non-positive
/// integer. NaN when the series does not converge within its term limit or the arguments are
/// outside that domain.
///
/// For 0 ≤ z < 1 the defining series is summed directly; for z < 0 the Pfaff transformation
/// 2F1(a, b; c; z) = (1 − z)^(−a) 2F1(a, c − b; c; z / (z − 1)) maps z into [0, 1) first, so
/// the series always has a non-negative argument.
pub fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    if !(a.is_finite() && b.is_finite() && c.is_finite() && z.is_finite()) || z >= 1.0 {
        return f64::NAN;
    }
    if c <= 0.0 && c == c.floor() {
        return f64::NAN;
    }
    if z < 0.0 {
        let w = z / (z - 1.0);
        return (1.0 - z).powf(-a) * hyp2f1_series(a, c - b, c, w);
    }
    hyp2f1_series(a, b, c, z)
}

fn hyp2f1_series(a: f64, b: f64, c: f64, z: f64) -> f64 {
    let mut term = 1.0_f64;
    let mut sum = 1.0_f64;
    if z == 0.0 {
        return 1.0;
    }
    for n in 0..HYP2F1_MAX_TERMS {
        let n = n as f64;
        term *= (a + n) * (b + n) / ((c + n) * (n + 1.0)) * z;
        sum += term;
        if term == 0.0 {
            return sum;
        }
        // Stop once a term no longer changes the sum and the terms are falling (the ratio of
        // consecutive terms tends to z < 1, so later terms are smaller still).
        let next_ratio = ((a + n + 1.0) * (b + n + 1.0) * z).abs();
        if term.abs() <= 1e-16 * sum.abs() && next_ratio <= ((c + n + 1.0) * (n + 2.0)).abs() {
            return sum;
        }
        if !sum.is_finite() {
            return f64::NAN;
        }
    }
    f64::NAN
}

/// ln(e^a + e^b) without overflow; −∞ arguments are allowed.
pub fn log_add_exp(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY {
        return b;
    }
    if b == f64::NEG_INFINITY {
        return a;
    }
    let m = a.max(b);
    m + ((a - m).exp() + (b - m).exp()).ln()
}

/// ln(e^a − e^b) for a ≥ b; −∞ when they are equal, NaN when a < b.
pub fn log_sub_exp(a: f64, b: f64) -> f64 {
    if b == f64::NEG_INFINITY {
        return a;
    }
    if a < b {
        return f64::NAN;
    }
    if a == b {
        return f64::NEG_INFINITY;
    }
    a + (-(b - a).exp()).ln_1p()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64, rel: f64) {
        let err = (actual - expected).abs() / expected.abs().max(1e-300);
        assert!(
            err <= rel,
            "{actual} is not within {rel} of {expected} (relative error {err})"
        );
    }

    #[test]
    fn ln_gamma_matches_known_values() {
        close(ln_gamma(0.5), 0.5 * PI.ln(), 1e-14);
        assert!(ln_gamma(1.0).abs() < 1e-14);
        assert!(ln_gamma(2.0).abs() < 1e-14);
        close(ln_gamma(10.0), 362_880f64.ln(), 1e-14);
        // Γ(0.1) = 9.513507698668731836…
        close(ln_gamma(0.1), 9.513_507_698_668_732f64.ln(), 1e-14);
        // ln Γ(100) = ln(99!) = 359.1342053695753987…
        close(ln_gamma(100.0), 359.134_205_369_575_4, 1e-14);
        // ln Γ(1e-5) ≈ −ln(1e-5) − γ·1e-5
        close(ln_gamma(1e-5), 11.512_919_692_895_828, 1e-12);
        // Stirling's region: ln Γ(1e6) = 12815504.569147612…
        close(ln_gamma(1e6), 12_815_504.569_147_61, 1e-14);
    }

    #[test]
    fn ln_gamma_refuses_its_poles_and_negative_numbers() {
        assert!(ln_gamma(0.0).is_nan());
        assert!(ln_gamma(-1.5).is_nan());
        assert!(ln_gamma(f64::NAN).is_nan());
    }

    #[test]
    fn ln_gamma_satisfies_the_recurrence() {
        for &x in &[0.243, 0.793, 2.426, 4.414, 17.3, 250.5] {
            close(ln_gamma(x + 1.0) - ln_gamma(x), x.ln(), 1e-12);
        }
    }

    #[test]
    fn digamma_matches_known_values() {
        let euler = 0.577_215_664_901_532_9;
        close(digamma(1.0), -euler, 1e-14);
        close(digamma(0.5), -euler - 2.0 * 2f64.ln(), 1e-14);
        // ψ(10) = H_9 − γ
        let h9: f64 = (1..=9).map(|k| 1.0 / k as f64).sum();
        close(digamma(10.0), h9 - euler, 1e-14);
        // ψ(−0.5) = ψ(0.5) + 2
        close(digamma(-0.5), -euler - 2.0 * 2f64.ln() + 2.0, 1e-13);
        assert!(digamma(0.0).is_nan());
        assert!(digamma(-3.0).is_nan());
    }

    #[test]
    fn digamma_is_the_derivative_of_ln_gamma() {
        for &x in &[0.3, 1.7, 6.25, 42.0] {
            let h = 1e-5 * x;
            let numeric = (ln_gamma(x + h) - ln_gamma(x - h)) / (2.0 * h);
            close(digamma(x), numeric, 1e-8);
        }
    }

    #[test]
    fn hyp2f1_matches_closed_forms() {
        // 2F1(1, 1; 2; z) = −ln(1 − z) / z
        for &z in &[0.1, 0.5, 0.9, 0.99, 0.995, -0.5, -3.0] {
            close(hyp2f1(1.0, 1.0, 2.0, z), -(1.0 - z).ln() / z, 1e-13);
        }
        // 2F1(a, b; b; z) = (1 − z)^(−a)
        for &z in &[0.3, 0.95, -0.7] {
            close(hyp2f1(2.5, 1.3, 1.3, z), (1.0 - z).powf(-2.5), 1e-13);
        }
        // 2F1(1/2, 1/2; 3/2; z²) = arcsin(z) / z
        for &z in &[0.2f64, 0.7, 0.99] {
            close(hyp2f1(0.5, 0.5, 1.5, z * z), z.asin() / z, 1e-13);
        }
        // 2F1(1/2, 1; 3/2; −z²) = arctan(z) / z
        for &z in &[0.5f64, 2.0, 10.0] {
            close(hyp2f1(0.5, 1.0, 1.5, -z * z), z.atan() / z, 1e-13);
        }
        assert_eq!(hyp2f1(3.0, 4.0, 5.0, 0.0), 1.0);
    }

    #[test]
    fn hyp2f1_refuses_its_domain_edges() {
        assert!(hyp2f1(1.0, 1.0, 2.0, 1.0).is_nan());
        // Too close to 1 for the series: NaN, quickly, rather than a wrong number.
        assert!(hyp2f1(1.0, 1.0, 2.0, 0.9999).is_nan());
        assert!(hyp2f1(1.0, 1.0, -2.0, 0.5).is_nan());
        assert!(hyp2f1(f64::NAN, 1.0, 2.0, 0.5).is_nan());
    }

    #[test]
    fn log_space_sums() {
        close(log_add_exp(1000.0, 1000.0), 1000.0 + 2f64.ln(), 1e-15);
        assert_eq!(log_add_exp(f64::NEG_INFINITY, 3.0), 3.0);
        assert!(log_sub_exp(2f64.ln(), 0.0).abs() < 1e-15);
        close(log_sub_exp(3f64.ln(), 1f64.ln()), 2f64.ln(), 1e-15);
        assert_eq!(log_sub_exp(1.0, 1.0), f64::NEG_INFINITY);
        assert!(log_sub_exp(1.0, 2.0).is_nan());
    }
}
