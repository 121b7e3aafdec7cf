//! The Gamma-Gamma model of monetary value (Fader, Hardie & Lee 2005, "RFM and CLV"; Fader &
//! Hardie's note "The Gamma-Gamma Model of Monetary Value", 2013).
//!
//! A customer's purchase amounts vary around their own mean, which itself varies across
//! customers. From a customer's number of repeat purchases x and the mean of their amounts, the
//! model gives the expected amount of their next purchase: a weighted average of the program's
//! mean and their own, weighted by how much evidence (x) there is. A customer with one repeat
//! purchase of 500 is not assumed to spend 500 every time.
//!
//! Only customers with repeat purchases carry information; the model assumes amounts are
//! independent of the purchase rhythm (check that before combining it with a BTYD model).

use crate::AnalyticsError;
use crate::error::finite;
use crate::fit::{Fit, maximize};
use crate::special::ln_gamma;

/// Fitted Gamma-Gamma parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GammaGamma {
    /// Shape of each purchase amount's gamma distribution.
    pub p: f64,
    /// Shape of the distribution of customers' scale parameters.
    pub q: f64,
    /// Scale of the distribution of customers' scale parameters (in currency units).
    pub gamma: f64,
}

/// One repeat buyer: repeat purchases and the mean amount of those purchases.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MonetaryRow {
    /// x > 0.
    pub repeat_purchases: u32,
    /// The mean amount of the repeat purchases, > 0.
    pub mean_amount: f64,
}

impl MonetaryRow {
    fn validate(&self) -> Result<(), AnalyticsError> {
        if self.repeat_purchases == 0 {
            return Err(AnalyticsError::invalid(
                "repeat_purchases",
                "the Gamma-Gamma model takes repeat buyers only (x > 0)",
            ));
        }
        if !(self.mean_amount.is_finite() && self.mean_amount > 0.0) {
            return Err(AnalyticsError::invalid(
                "mean_amount",
                format!("must be a finite amount > 0, got {}", self.mean_amount),
            ));
        }
        Ok(())
    }
}

impl GammaGamma {
    /// Checked parameters: all finite and > 0.
    pub fn new(p: f64, q: f64, gamma: f64) -> Result<Self, AnalyticsError> {
        for (name, v) in [("p", p), ("q", q), ("gamma", gamma)] {
            if !(v.is_finite() && v > 0.0) {
                return Err(AnalyticsError::invalid(
                    name,
                    format!("must be a finite number > 0, got {v}"),
                ));
            }
        }
        Ok(GammaGamma { p, q, gamma })
    }

    /// Maximum-likelihood fit on repeat buyers (rows with x = 0 are refused: leave them out).
    pub fn fit(rows: &[MonetaryRow]) -> Result<Fit<GammaGamma>, AnalyticsError> {
        let distinct = fold(rows)?;
        let n = rows.len() as f64;
        let mean = distinct.iter().map(|d| d.1 * d.2).sum::<f64>() / n;
        let (params, log_likelihood, evaluations) =
            maximize("Gamma-Gamma", &[1.0, 2.0, mean], |p| {
                log_likelihood(p[0], p[1], p[2], &distinct)
            })?;
        Ok(Fit {
            model: GammaGamma {
                p: params[0],
                q: params[1],
                gamma: params[2],
            },
            log_likelihood,
            customers: rows.len(),
            distinct_rows: distinct.len(),
            evaluations,
        })
    }

    /// The log-likelihood of the repeat buyers' mean amounts under these parameters.
    pub fn log_likelihood(&self, rows: &[MonetaryRow]) -> Result<f64, AnalyticsError> {
        let distinct = fold(rows)?;
        finite(
            log_likelihood(self.p, self.q, self.gamma, &distinct),
            "the Gamma-Gamma log-likelihood",
        )
    }

    /// E[M | x, mean]: the expected amount of this customer's future purchases,
    /// (p (γ + x · mean)) / (p x + q − 1). With x = 0 (pass `mean_amount` 0) it is the
    /// program-wide mean p γ / (q − 1). Needs q > 1 (otherwise the mean does not exist).
    pub fn expected_amount(
        &self,
        repeat_purchases: u32,
        mean_amount: f64,
    ) -> Result<f64, AnalyticsError> {
        if self.q <= 1.0 {
            return Err(AnalyticsError::invalid(
                "q",
                format!("the expected amount needs q > 1, got {}", self.q),
            ));
        }
        if repeat_purchases > 0 {
            MonetaryRow {
                repeat_purchases,
                mean_amount,
            }
            .validate()?;
        }
        let x = f64::from(repeat_purchases);
        let m = if repeat_purchases > 0 {
            mean_amount
        } else {
            0.0
        };
        let GammaGamma { p, q, gamma } = *self;
        finite(
            p * (gamma + x * m) / (p * x + q - 1.0),
            "the Gamma-Gamma expected amount",
        )
    }
}

/// Validate and fold identical (x, mean) rows into (x, mean, count).
fn fold(rows: &[MonetaryRow]) -> Result<Vec<(f64, f64, f64)>, AnalyticsError> {
    if rows.is_empty() {
        return Err(AnalyticsError::Empty {
            what: "repeat buyers",
        });
    }
    let mut sorted = Vec::with_capacity(rows.len());
    for r in rows {
        r.validate()?;
        sorted.push((r.repeat_purchases, r.mean_amount.to_bits()));
    }
    // Valid means are finite and > 0, so their bit patterns sort as the numbers do.
    sorted.sort_unstable();
    let mut distinct: Vec<(f64, f64, f64)> = Vec::new();
    let mut previous = None;
    for key in sorted {
        match distinct.last_mut() {
            Some(last) if previous == Some(key) => last.2 += 1.0,
            _ => {
                distinct.push((f64::from(key.0), f64::from_bits(key.1), 1.0));
                previous = Some(key);
            }
        }
    }
    Ok(distinct)
}

/// Σ count × ln f(mean | x; p, q, γ), the density of a customer's mean amount (the note, eq. 3).
/// Rows are sorted by x: the gamma functions are computed once per x.
fn log_likelihood(p: f64, q: f64, gamma: f64, rows: &[(f64, f64, f64)]) -> f64 {
    let shared = -ln_gamma(q) + q * gamma.ln();
    let mut total = 0.0;
    let mut count = 0.0;
    let (mut current_x, mut per_x) = (f64::NAN, 0.0);
    for &(x, m, c) in rows {
        let px = p * x;
        if x != current_x {
            current_x = x;
            per_x = ln_gamma(px + q) - ln_gamma(px) + px * x.ln();
        }
        total += c * (per_x + (px - 1.0) * m.ln() - (px + q) * (gamma + x * m).ln());
        count += c;
    }
    total + shared * count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_expected_amount_shrinks_a_customer_mean_towards_the_program_mean() {
        let m = GammaGamma::new(6.25, 3.74, 15.44).unwrap();
        let program = m.expected_amount(0, 0.0).unwrap();
        assert!((program - 6.25 * 15.44 / 2.74).abs() < 1e-12);
        // One purchase of 100 says less than ten purchases averaging 100.
        let one = m.expected_amount(1, 100.0).unwrap();
        let ten = m.expected_amount(10, 100.0).unwrap();
        assert!(
            program < one && one < ten && ten < 100.0,
            "{program} {one} {ten}"
        );
    }

    #[test]
    fn bad_rows_and_parameters_are_refused() {
        let m = GammaGamma::new(6.25, 3.74, 15.44).unwrap();
        assert!(m.expected_amount(2, -1.0).is_err());
        assert!(m.expected_amount(2, f64::NAN).is_err());
        assert!(
            GammaGamma::new(6.25, 0.9, 15.0)
                .unwrap()
                .expected_amount(1, 5.0)
                .is_err()
        );
        assert!(GammaGamma::new(0.0, 1.0, 1.0).is_err());
        assert_eq!(
            GammaGamma::fit(&[]),
            Err(AnalyticsError::Empty {
                what: "repeat buyers"
            })
        );
        let no_repeat = MonetaryRow {
            repeat_purchases: 0,
            mean_amount: 10.0,
        };
        assert!(GammaGamma::fit(&[no_repeat]).is_err());
    }
}
