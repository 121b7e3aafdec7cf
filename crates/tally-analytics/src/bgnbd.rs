//! The BG/NBD model (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way").
//!
//! While alive, a customer buys at a Poisson rate λ (gamma-distributed over customers: shape r,
//! rate alpha); after each purchase they drop out with probability p (beta-distributed: a, b).
//! From a customer's `(x, t_x, T)` the model gives the probability that they are still alive
//! and how many purchases to expect from them in a coming period. It is the cheaper cousin of
//! the Pareto/NBD model (no hypergeometric function in the likelihood) and fits the CDNOW data
//! about as well.
//!
//! Parameters are per time unit of the summaries they were fitted on (alpha is in that unit).

use crate::error::finite;
use crate::fit::{Fit, maximize};
use crate::special::{hyp2f1, ln_gamma, log_add_exp};
use crate::summary::{Compressed, CustomerSummary};
use crate::{AnalyticsError, PurchaseModel};

/// Fitted BG/NBD parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BgNbd {
    /// Shape of the purchase-rate distribution.
    pub r: f64,
    /// Rate of the purchase-rate distribution (per time unit).
    pub alpha: f64,
    /// Dropout-probability distribution: first beta parameter.
    pub a: f64,
    /// Dropout-probability distribution: second beta parameter.
    pub b: f64,
}

impl BgNbd {
    /// Checked parameters: all finite and > 0.
    pub fn new(r: f64, alpha: f64, a: f64, b: f64) -> Result<Self, AnalyticsError> {
        for (name, v) in [("r", r), ("alpha", alpha), ("a", a), ("b", b)] {
            if !(v.is_finite() && v > 0.0) {
                return Err(AnalyticsError::invalid(
                    name,
                    format!("must be a finite number > 0, got {v}"),
                ));
            }
        }
        Ok(BgNbd { r, alpha, a, b })
    }

    /// Maximum-likelihood fit on customer summaries.
    pub fn fit(summaries: &[CustomerSummary]) -> Result<Fit<BgNbd>, AnalyticsError> {
        Self::fit_compressed(&Compressed::new(summaries)?)
    }

    /// Maximum-likelihood fit on compressed summaries.
    pub fn fit_compressed(data: &Compressed) -> Result<Fit<BgNbd>, AnalyticsError> {
        if !data.has_repeat_buyer() {
            return Err(AnalyticsError::invalid(
                "summaries",
                "no customer has a repeat purchase: the purchase rhythm cannot be estimated",
            ));
        }
        let start = [1.0, data.mean_age().max(1e-3), 1.0, 1.0];
        let (p, log_likelihood, evaluations) = maximize("BG/NBD", &start, |p| {
            log_likelihood_compressed(p[0], p[1], p[2], p[3], data)
        })?;
        Ok(Fit {
            model: BgNbd {
                r: p[0],
                alpha: p[1],
                a: p[2],
                b: p[3],
            },
            log_likelihood,
            customers: data.customers(),
            distinct_rows: data.rows().len(),
            evaluations,
        })
    }

    /// The log-likelihood of the summaries under these parameters.
    pub fn log_likelihood(&self, summaries: &[CustomerSummary]) -> Result<f64, AnalyticsError> {
        let data = Compressed::new(summaries)?;
        finite(
            log_likelihood_compressed(self.r, self.alpha, self.a, self.b, &data),
            "the BG/NBD log-likelihood",
        )
    }

    /// E[X(t)]: purchases a new customer makes in their first `t` periods.
    pub fn expected_purchases_new_customer(&self, t: f64) -> Result<f64, AnalyticsError> {
        check_horizon(t)?;
        let BgNbd { r, alpha, a, b } = *self;
        let z = t / (alpha + t);
        let value = (a + b - 1.0) / (a - 1.0)
            * (1.0 - (alpha / (alpha + t)).powf(r) * hyp2f1(r, b, a + b - 1.0, z));
        finite(value, "the BG/NBD expected purchases")
    }
}

pub(crate) fn check_horizon(t: f64) -> Result<(), AnalyticsError> {
    if t.is_finite() && t >= 0.0 {
        Ok(())
    } else {
        Err(AnalyticsError::invalid(
            "horizon_periods",
            format!("must be a finite number ≥ 0, got {t}"),
        ))
    }
}

/// Σ over rows of count × ln L(r, α, a, b | x, t_x, T), in the form of Fader, Hardie & Lee (2005),
/// eq. (6). Terms that depend only on x are computed once per run of equal x (rows are sorted).
fn log_likelihood_compressed(r: f64, alpha: f64, a: f64, b: f64, data: &Compressed) -> f64 {
    let shared = r * alpha.ln() + ln_gamma(a + b) - ln_gamma(b) - ln_gamma(r);
    let ln_a = a.ln();
    let ln_alpha_t: Vec<f64> = data.times().iter().map(|t| (alpha + t).ln()).collect();
    let mut total = 0.0;
    let mut current_x = u32::MAX;
    let (mut per_x, mut ln_b_x_1) = (0.0, 0.0);
    for (row, index) in data.rows().iter().zip(data.index()) {
        let x = row.summary.repeat_purchases;
        let xf = f64::from(x);
        if x != current_x {
            current_x = x;
            per_x = ln_gamma(r + xf) + ln_gamma(b + xf) - ln_gamma(a + b + xf);
            ln_b_x_1 = if x > 0 { (b + xf - 1.0).ln() } else { 0.0 };
        }
        let a3 = -(r + xf) * ln_alpha_t[index.end_time as usize];
        let tail = if x > 0 {
            let a4 = ln_a - ln_b_x_1 - (r + xf) * ln_alpha_t[index.last_time as usize];
            log_add_exp(a3, a4)
        } else {
            a3
        };
        total += row.customers * (per_x + tail);
    }
    total + shared * data.customers() as f64
}

impl PurchaseModel for BgNbd {
    fn name(&self) -> &'static str {
        "BG/NBD"
    }

    /// 1 / (1 + [x > 0] · a / (b + x − 1) · ((α + T) / (α + t_x))^(r + x)).
    fn p_alive(&self, s: &CustomerSummary) -> Result<f64, AnalyticsError> {
        s.validate()?;
        if s.repeat_purchases == 0 {
            return Ok(1.0);
        }
        let BgNbd { r, alpha, a, b } = *self;
        let x = f64::from(s.repeat_purchases);
        let ln_odds = a.ln() - (b + x - 1.0).ln()
            + (r + x)
                * ((alpha + s.first_to_end_periods).ln() - (alpha + s.first_to_last_periods).ln());
        finite(1.0 / (1.0 + ln_odds.exp()), "the BG/NBD P(alive)")
    }

    /// Fader, Hardie & Lee (2005), eq. (10).
    fn expected_purchases(&self, t: f64, s: &CustomerSummary) -> Result<f64, AnalyticsError> {
        s.validate()?;
        check_horizon(t)?;
        let BgNbd { r, alpha, a, b } = *self;
        // The formula divides by a − 1; its limit at a = 1 is smooth, so step off the pole.
        let a = if (a - 1.0).abs() < 1e-9 {
            1.0 + 1e-9
        } else {
            a
        };
        let x = f64::from(s.repeat_purchases);
        let big_t = s.first_to_end_periods;
        let z = t / (alpha + big_t + t);
        let ln_ratio = (r + x) * ((alpha + big_t) / (alpha + big_t + t)).ln();
        let numerator = (a + b + x - 1.0) / (a - 1.0)
            * (1.0 - ln_ratio.exp() * hyp2f1(r + x, b + x, a + b + x - 1.0, z));
        let denominator = if s.repeat_purchases > 0 {
            1.0 + a / (b + x - 1.0)
                * ((r + x) * ((alpha + big_t).ln() - (alpha + s.first_to_last_periods).ln())).exp()
        } else {
            1.0
        };
        finite(numerator / denominator, "the BG/NBD expected purchases")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn published() -> BgNbd {
        BgNbd::new(0.243, 4.414, 0.793, 2.426).unwrap()
    }

    #[test]
    fn parameters_are_checked() {
        assert!(BgNbd::new(0.0, 1.0, 1.0, 1.0).is_err());
        assert!(BgNbd::new(1.0, f64::NAN, 1.0, 1.0).is_err());
        assert!(BgNbd::new(1.0, 1.0, -1.0, 1.0).is_err());
    }

    #[test]
    fn a_customer_without_repeats_is_certainly_alive() {
        // The BG/NBD model lets customers drop out only right after a purchase.
        let m = published();
        let s = CustomerSummary::new(0, 0.0, 38.86).unwrap();
        assert_eq!(m.p_alive(&s), Ok(1.0));
    }

    #[test]
    fn p_alive_falls_as_the_silence_since_the_last_purchase_grows() {
        let m = published();
        let mut last = 1.0;
        for t in [31.0, 35.0, 40.0, 60.0] {
            let p = m
                .p_alive(&CustomerSummary::new(3, 30.0, t).unwrap())
                .unwrap();
            assert!(p < last, "P(alive) at T={t} is {p}, not below {last}");
            last = p;
        }
    }

    #[test]
    fn expected_purchases_are_zero_over_no_time_and_grow_with_the_horizon() {
        let m = published();
        let s = CustomerSummary::new(2, 30.43, 38.86).unwrap();
        assert_eq!(m.expected_purchases(0.0, &s).unwrap(), 0.0);
        let a = m.expected_purchases(10.0, &s).unwrap();
        let b = m.expected_purchases(20.0, &s).unwrap();
        assert!(0.0 < a && a < b);
        assert!(m.expected_purchases(-1.0, &s).is_err());
        assert!(m.expected_purchases(f64::INFINITY, &s).is_err());
    }

    #[test]
    fn fitting_needs_a_repeat_buyer() {
        let s = CustomerSummary::new(0, 0.0, 10.0).unwrap();
        assert!(matches!(
            BgNbd::fit(&[s, s]),
            Err(AnalyticsError::InvalidInput { .. })
        ));
        assert_eq!(
            BgNbd::fit(&[]),
            Err(AnalyticsError::Empty { what: "customers" })
        );
    }

    #[test]
    fn the_new_customer_expectation_matches_the_conditional_one_at_zero_age() {
        // A customer observed for no time has x = 0, T = 0: the conditional expectation is the
        // unconditional one.
        let m = published();
        let s = CustomerSummary::new(0, 0.0, 0.0).unwrap();
        let conditional = m.expected_purchases(39.0, &s).unwrap();
        let new = m.expected_purchases_new_customer(39.0).unwrap();
        assert!((conditional - new).abs() < 1e-12, "{conditional} vs {new}");
    }
}
