//! The Pareto/NBD model (Schmittlein, Morrison & Colombo 1987), in the formulation of Fader &
//! Hardie's note "A Note on Deriving the Pareto/NBD Model and Related Expressions" (2005).
//!
//! While alive, a customer buys at a Poisson rate λ (gamma: shape r, rate alpha); their lifetime
//! is exponential with rate μ (gamma: shape s, rate beta), so they can drop out at any time,
//! not only after a purchase as in BG/NBD. The likelihood needs the Gauss hypergeometric
//! function; it is evaluated in log space, with the argument of 2F1 always in [0, 1): when
//! alpha ≥ beta the series runs in (alpha − beta) / (alpha + t), otherwise in
//! (beta − alpha) / (beta + t) with the other second parameter, as the note prescribes.
//!
//! Parameters are per time unit of the summaries they were fitted on (alpha and beta).

use crate::bgnbd::check_horizon;
use crate::error::finite;
use crate::fit::{Fit, maximize};
use crate::special::{hyp2f1, ln_gamma, log_add_exp, log_sub_exp};
use crate::summary::{Compressed, CustomerSummary};
use crate::{AnalyticsError, PurchaseModel};

/// Fitted Pareto/NBD parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParetoNbd {
    /// Shape of the purchase-rate distribution.
    pub r: f64,
    /// Rate of the purchase-rate distribution (per time unit).
    pub alpha: f64,
    /// Shape of the dropout-rate distribution.
    pub s: f64,
    /// Rate of the dropout-rate distribution (per time unit).
    pub beta: f64,
}

impl ParetoNbd {
    /// Checked parameters: all finite and > 0.
    pub fn new(r: f64, alpha: f64, s: f64, beta: f64) -> Result<Self, AnalyticsError> {
        for (name, v) in [("r", r), ("alpha", alpha), ("s", s), ("beta", beta)] {
            if !(v.is_finite() && v > 0.0) {
                return Err(AnalyticsError::invalid(
                    name,
                    format!("must be a finite number > 0, got {v}"),
                ));
            }
        }
        Ok(ParetoNbd { r, alpha, s, beta })
    }

    /// Maximum-likelihood fit on customer summaries.
    pub fn fit(summaries: &[CustomerSummary]) -> Result<Fit<ParetoNbd>, AnalyticsError> {
        Self::fit_compressed(&Compressed::new(summaries)?)
    }

    /// Maximum-likelihood fit on compressed summaries.
    pub fn fit_compressed(data: &Compressed) -> Result<Fit<ParetoNbd>, AnalyticsError> {
        if !data.has_repeat_buyer() {
            return Err(AnalyticsError::invalid(
                "summaries",
                "no customer has a repeat purchase: the purchase rhythm cannot be estimated",
            ));
        }
        let age = data.mean_age().max(1e-3);
        let start = [1.0, age, 1.0, age];
        let (p, log_likelihood, evaluations) = maximize("Pareto/NBD", &start, |p| {
            log_likelihood_compressed(
                &ParetoNbd {
                    r: p[0],
                    alpha: p[1],
                    s: p[2],
                    beta: p[3],
                },
                data,
            )
        })?;
        Ok(Fit {
            model: ParetoNbd {
                r: p[0],
                alpha: p[1],
                s: p[2],
                beta: p[3],
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
            log_likelihood_compressed(self, &data),
            "the Pareto/NBD log-likelihood",
        )
    }

    /// E[X(t)]: purchases a new customer makes in their first `t` periods.
    pub fn expected_purchases_new_customer(&self, t: f64) -> Result<f64, AnalyticsError> {
        check_horizon(t)?;
        let ParetoNbd { r, alpha, s, beta } = *self;
        let value = r * beta / alpha * lifetime_factor(s, beta, t);
        finite(value, "the Pareto/NBD expected purchases")
    }

    /// ln A0 of the note: ln of the integral over the possible dropout times between the last
    /// purchase and the end of observation. −∞ when t_x = T.
    fn ln_a0(&self, x: f64, t_x: f64, big_t: f64) -> f64 {
        let (first, second) = (self.ln_a0_term(x, t_x), self.ln_a0_term(x, big_t));
        if first <= second {
            // t_x = T (or equal up to rounding): the integral is empty.
            return f64::NEG_INFINITY;
        }
        log_sub_exp(first, second)
    }

    /// ln[2F1(r+s+x, b'; r+s+x+1; |α−β| / (max(α,β) + t)) / (max(α,β) + t)^(r+s+x)].
    fn ln_a0_term(&self, x: f64, t: f64) -> f64 {
        let ParetoNbd { r, alpha, s, beta } = *self;
        let rsx = r + s + x;
        let (larger, second) = if alpha >= beta {
            (alpha, s + 1.0)
        } else {
            (beta, r + x)
        };
        let q = larger + t;
        hyp2f1(rsx, second, rsx + 1.0, (alpha - beta).abs() / q).ln() - rsx * q.ln()
    }
}

/// [1 − (b / (b + t))^(s − 1)] / (s − 1): the expected time alive within the next t periods, up
/// to a factor. Exact at s = 1 too, where it is its limit ln((b + t) / b).
fn lifetime_factor(s: f64, b: f64, t: f64) -> f64 {
    let ln_ratio = (b / (b + t)).ln();
    let e = s - 1.0;
    if e.abs() < 1e-10 {
        -ln_ratio
    } else {
        -(e * ln_ratio).exp_m1() / e
    }
}

/// Σ over rows of count × ln L(r, α, s, β | x, t_x, T) (Fader & Hardie's note, eq. (18)–(22)).
/// The hypergeometric terms depend on (x, t) only, and logarithms of α + t and β + t on t only:
/// both are computed once per distinct value, not once per row.
fn log_likelihood_compressed(m: &ParetoNbd, data: &Compressed) -> f64 {
    let ParetoNbd { r, alpha, s, beta } = *m;
    let shared = -ln_gamma(r) + r * alpha.ln() + s * beta.ln();
    let ln_s = s.ln();
    let times = data.times();
    let mut a0_terms = Vec::with_capacity(data.pairs().len());
    for &(x, t) in data.pairs() {
        let term = m.ln_a0_term(f64::from(x), times[t as usize]);
        if term.is_nan() {
            // A series that did not converge (parameters far off, argument near 1): this point
            // cannot be evaluated, and the rest of the pairs would cost as much again.
            return f64::NAN;
        }
        a0_terms.push(term);
    }
    let ln_alpha_t: Vec<f64> = times.iter().map(|t| (alpha + t).ln()).collect();
    let ln_beta_t: Vec<f64> = times.iter().map(|t| (beta + t).ln()).collect();
    let mut total = 0.0;
    let mut current_x = u32::MAX;
    let (mut ln_gamma_r_x, mut ln_r_s_x) = (0.0, 0.0);
    for (row, index) in data.rows().iter().zip(data.index()) {
        let x = f64::from(row.summary.repeat_purchases);
        if row.summary.repeat_purchases != current_x {
            current_x = row.summary.repeat_purchases;
            ln_gamma_r_x = ln_gamma(r + x);
            ln_r_s_x = (r + s + x).ln();
        }
        let first = a0_terms[index.last_pair as usize];
        let second = a0_terms[index.end_pair as usize];
        // t_x = T (or equal up to rounding): the integral A0 is empty.
        let ln_a0 = if first <= second {
            f64::NEG_INFINITY
        } else {
            log_sub_exp(first, second)
        };
        let end = index.end_time as usize;
        let alive_through = -(r + x) * ln_alpha_t[end] - s * ln_beta_t[end];
        let died = ln_s - ln_r_s_x + ln_a0;
        total += row.customers * (ln_gamma_r_x + log_add_exp(alive_through, died));
    }
    total + shared * data.customers() as f64
}

impl PurchaseModel for ParetoNbd {
    fn name(&self) -> &'static str {
        "Pareto/NBD"
    }

    /// 1 / (1 + s / (r + s + x) · (α + T)^(r + x) · (β + T)^s · A0).
    fn p_alive(&self, summary: &CustomerSummary) -> Result<f64, AnalyticsError> {
        summary.validate()?;
        let ParetoNbd { r, alpha, s, beta } = *self;
        let x = f64::from(summary.repeat_purchases);
        let big_t = summary.first_to_end_periods;
        let ln_a0 = self.ln_a0(x, summary.first_to_last_periods, big_t);
        let ln_odds = s.ln() - (r + s + x).ln()
            + (r + x) * (alpha + big_t).ln()
            + s * (beta + big_t).ln()
            + ln_a0;
        finite(1.0 / (1.0 + ln_odds.exp()), "the Pareto/NBD P(alive)")
    }

    /// (r + x)(β + T) / ((α + T)(s − 1)) · [1 − ((β + T) / (β + T + t))^(s − 1)] · P(alive).
    fn expected_purchases(&self, t: f64, summary: &CustomerSummary) -> Result<f64, AnalyticsError> {
        check_horizon(t)?;
        let p_alive = self.p_alive(summary)?;
        let ParetoNbd { r, alpha, s, beta } = *self;
        let x = f64::from(summary.repeat_purchases);
        let big_t = summary.first_to_end_periods;
        let value = (r + x) * (beta + big_t) / (alpha + big_t)
            * lifetime_factor(s, beta + big_t, t)
            * p_alive;
        finite(value, "the Pareto/NBD expected purchases")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn published() -> ParetoNbd {
        ParetoNbd::new(0.553, 10.578, 0.606, 11.669).unwrap()
    }

    #[test]
    fn a_silent_customer_looks_less_alive_the_longer_they_have_been_silent() {
        let m = published();
        let mut last = 1.0;
        for t in [0.5, 5.0, 20.0, 39.0, 78.0] {
            let p = m
                .p_alive(&CustomerSummary::new(0, 0.0, t).unwrap())
                .unwrap();
            assert!(p < last && p > 0.0, "P(alive | x=0, T={t}) = {p}");
            last = p;
        }
        // Nobody has had time to leave yet.
        let fresh = m
            .p_alive(&CustomerSummary::new(0, 0.0, 0.0).unwrap())
            .unwrap();
        assert_eq!(fresh, 1.0);
    }

    #[test]
    fn a_customer_who_bought_at_the_end_is_certainly_alive() {
        let m = published();
        let p = m
            .p_alive(&CustomerSummary::new(4, 30.0, 30.0).unwrap())
            .unwrap();
        assert_eq!(p, 1.0);
    }

    #[test]
    fn more_purchases_at_the_same_recency_mean_less_alive_when_the_silence_is_long() {
        // A frequent buyer who stopped long ago is more surely gone than an infrequent one.
        let m = published();
        let rare = m
            .p_alive(&CustomerSummary::new(1, 5.0, 39.0).unwrap())
            .unwrap();
        let frequent = m
            .p_alive(&CustomerSummary::new(10, 5.0, 39.0).unwrap())
            .unwrap();
        assert!(frequent < rare, "{frequent} vs {rare}");
    }

    #[test]
    fn both_orderings_of_alpha_and_beta_agree_at_the_crossing() {
        // The two forms of A0 are the same function: just above and just below alpha = beta they
        // must give (almost) the same P(alive).
        let s = CustomerSummary::new(3, 12.0, 39.0).unwrap();
        let above = ParetoNbd::new(0.55, 10.0 + 1e-7, 0.6, 10.0).unwrap();
        let below = ParetoNbd::new(0.55, 10.0 - 1e-7, 0.6, 10.0).unwrap();
        let (pa, pb) = (above.p_alive(&s).unwrap(), below.p_alive(&s).unwrap());
        assert!((pa - pb).abs() < 1e-6, "{pa} vs {pb}");
        // And far apart both ways the likelihood stays finite.
        for m in [
            ParetoNbd::new(0.5, 200.0, 0.6, 2.0).unwrap(),
            ParetoNbd::new(0.5, 2.0, 0.6, 200.0).unwrap(),
        ] {
            assert!(m.log_likelihood(&[s]).unwrap().is_finite());
        }
    }

    #[test]
    fn the_expectation_at_s_equal_one_is_the_limit_of_its_neighbours() {
        let s = CustomerSummary::new(2, 20.0, 39.0).unwrap();
        let at = ParetoNbd::new(0.55, 10.0, 1.0, 12.0).unwrap();
        let near = ParetoNbd::new(0.55, 10.0, 1.0 + 1e-6, 12.0).unwrap();
        let (a, b) = (
            at.expected_purchases(39.0, &s).unwrap(),
            near.expected_purchases(39.0, &s).unwrap(),
        );
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }

    #[test]
    fn expected_purchases_grow_with_the_horizon_and_start_at_zero() {
        let m = published();
        let s = CustomerSummary::new(2, 30.43, 38.86).unwrap();
        assert_eq!(m.expected_purchases(0.0, &s).unwrap(), 0.0);
        let a = m.expected_purchases(13.0, &s).unwrap();
        let b = m.expected_purchases(39.0, &s).unwrap();
        assert!(0.0 < a && a < b);
        let new = m.expected_purchases_new_customer(39.0).unwrap();
        let zero_age = m
            .expected_purchases(39.0, &CustomerSummary::new(0, 0.0, 0.0).unwrap())
            .unwrap();
        assert!((new - zero_age).abs() < 1e-12, "{new} vs {zero_age}");
    }
}
