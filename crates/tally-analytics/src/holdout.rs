//! Calibration and holdout: does a model predict what customers did next?
//!
//! Split a purchase log at a day: the calibration period (up to and including that day) gives
//! each customer's summary and the model's fit; the holdout period (the days after, up to the
//! end of observation) gives what each customer then actually bought. The BTYD literature
//! compares the two grouped by calibration frequency — "customers who made 0, 1, …, 7+ repeat
//! purchases in calibration made on average so many purchases in the holdout; the model said so
//! many" — which shows whether the model gets both the light and the heavy buyers right.
//!
//! The cohort is the customers whose first purchase falls in the calibration period; customers
//! who start later are not in it. Holdout purchases are counted as purchase days (same-day
//! purchases merge, as in calibration).

use std::fmt;
use std::hash::Hash;

use crate::summary::{CustomerSummary, Purchase, TimeUnit, purchase_days, row_from_days};
use crate::{AnalyticsError, BgNbd, Compressed, Fit, ParetoNbd, PurchaseModel};

/// One customer of the cohort: their calibration summary and what they did in the holdout.
#[derive(Clone, Debug, PartialEq)]
pub struct HoldoutCustomer<K> {
    pub customer: K,
    pub calibration: CustomerSummary,
    /// Purchase days in the holdout period.
    pub holdout_purchases: u32,
    /// The holdout period's length in the chosen unit.
    pub holdout_periods: f64,
}

/// Split a purchase log: calibration up to `calibration_end_day` (inclusive), holdout after it up
/// to `observation_end_day` (inclusive). Customers in id order.
pub fn split<K: Ord + Hash + Clone>(
    purchases: &[Purchase<K>],
    calibration_end_day: i64,
    observation_end_day: i64,
    unit: TimeUnit,
) -> Result<Vec<HoldoutCustomer<K>>, AnalyticsError> {
    if observation_end_day <= calibration_end_day {
        return Err(AnalyticsError::invalid(
            "observation_end_day",
            format!(
                "must be after the calibration end (day {calibration_end_day}), got day {observation_end_day}"
            ),
        ));
    }
    let holdout_periods = (observation_end_day - calibration_end_day) as f64 / unit.days();
    let by_customer = purchase_days(purchases, observation_end_day)?;
    let mut cohort = Vec::new();
    for (customer, days) in by_customer {
        let in_calibration = days.partition_point(|d| d.0 <= calibration_end_day);
        if in_calibration == 0 {
            continue; // first purchase after the calibration period: not in the cohort
        }
        let row = row_from_days(customer, &days[..in_calibration], calibration_end_day, unit);
        cohort.push(HoldoutCustomer {
            customer: row.customer,
            calibration: row.summary,
            holdout_purchases: u32::try_from(days.len() - in_calibration).unwrap_or(u32::MAX),
            holdout_periods,
        });
    }
    if cohort.is_empty() {
        return Err(AnalyticsError::Empty {
            what: "customers in the calibration period",
        });
    }
    Ok(cohort)
}

/// Customers with the same calibration frequency (or at least `from`, in the last row).
#[derive(Clone, Debug, PartialEq)]
pub struct HoldoutRow {
    /// The calibration repeat purchases of this group (the lower bound in the open-ended row).
    pub calibration_repeat_purchases: u32,
    /// Whether this is the last, open-ended group ("7+").
    pub open_ended: bool,
    pub customers: usize,
    /// Purchases the group made in the holdout.
    pub actual_purchases: f64,
    /// Purchases the model predicted for the group in the holdout.
    pub predicted_purchases: f64,
}

impl HoldoutRow {
    /// Mean actual holdout purchases per customer.
    pub fn actual_mean(&self) -> f64 {
        self.actual_purchases / self.customers.max(1) as f64
    }

    /// Mean predicted holdout purchases per customer.
    pub fn predicted_mean(&self) -> f64 {
        self.predicted_purchases / self.customers.max(1) as f64
    }
}

/// Predicted against actual holdout purchases, grouped by calibration frequency.
#[derive(Clone, Debug, PartialEq)]
pub struct HoldoutTable {
    pub model: &'static str,
    pub rows: Vec<HoldoutRow>,
}

impl HoldoutTable {
    /// (customers, actual, predicted) over all rows.
    pub fn totals(&self) -> (usize, f64, f64) {
        self.rows.iter().fold((0, 0.0, 0.0), |(c, a, p), r| {
            (
                c + r.customers,
                a + r.actual_purchases,
                p + r.predicted_purchases,
            )
        })
    }
}

impl fmt::Display for HoldoutTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: repeat purchases in the holdout, by calibration frequency",
            self.model
        )?;
        writeln!(
            f,
            "{:>5} {:>9} {:>11} {:>11} {:>11} {:>11}",
            "x", "customers", "actual", "predicted", "actual/cust", "pred/cust"
        )?;
        for r in &self.rows {
            let label = if r.open_ended {
                format!("{}+", r.calibration_repeat_purchases)
            } else {
                r.calibration_repeat_purchases.to_string()
            };
            writeln!(
                f,
                "{label:>5} {:>9} {:>11.0} {:>11.1} {:>11.3} {:>11.3}",
                r.customers,
                r.actual_purchases,
                r.predicted_purchases,
                r.actual_mean(),
                r.predicted_mean()
            )?;
        }
        let (customers, actual, predicted) = self.totals();
        write!(
            f,
            "{:>5} {customers:>9} {actual:>11.0} {predicted:>11.1} {:>11.3} {:>11.3}",
            "all",
            actual / customers.max(1) as f64,
            predicted / customers.max(1) as f64
        )
    }
}

/// Each customer's predicted holdout purchases under `model`.
pub fn predict<K>(
    model: &impl PurchaseModel,
    cohort: &[HoldoutCustomer<K>],
) -> Result<Vec<f64>, AnalyticsError> {
    cohort
        .iter()
        .map(|c| model.expected_purchases(c.holdout_periods, &c.calibration))
        .collect()
}

/// Group the cohort by calibration repeat purchases 0, 1, …, `top_bucket − 1` and
/// `top_bucket`+, with actual and predicted holdout purchases (`predicted[i]` for `cohort[i]`).
pub fn table<K>(
    model: &'static str,
    cohort: &[HoldoutCustomer<K>],
    predicted: &[f64],
    top_bucket: u32,
) -> Result<HoldoutTable, AnalyticsError> {
    if predicted.len() != cohort.len() {
        return Err(AnalyticsError::invalid(
            "predicted",
            format!(
                "has {} values for {} customers",
                predicted.len(),
                cohort.len()
            ),
        ));
    }
    let mut rows: Vec<HoldoutRow> = (0..=top_bucket)
        .map(|x| HoldoutRow {
            calibration_repeat_purchases: x,
            open_ended: x == top_bucket,
            customers: 0,
            actual_purchases: 0.0,
            predicted_purchases: 0.0,
        })
        .collect();
    for (c, p) in cohort.iter().zip(predicted) {
        let bucket = c.calibration.repeat_purchases.min(top_bucket) as usize;
        let row = &mut rows[bucket];
        row.customers += 1;
        row.actual_purchases += f64::from(c.holdout_purchases);
        row.predicted_purchases += p;
    }
    Ok(HoldoutTable { model, rows })
}

/// Which model [`evaluate`] fits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelKind {
    BgNbd,
    ParetoNbd,
}

/// A fitted model of either kind.
#[derive(Clone, Debug, PartialEq)]
pub enum FittedModel {
    BgNbd(Fit<BgNbd>),
    ParetoNbd(Fit<ParetoNbd>),
}

/// Everything a calibration/holdout evaluation produced.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation<K> {
    pub fitted: FittedModel,
    pub cohort: Vec<HoldoutCustomer<K>>,
    /// Predicted holdout purchases, one per cohort customer.
    pub predicted: Vec<f64>,
    pub table: HoldoutTable,
}

/// Split the log, fit the model on the calibration period, predict every customer's holdout
/// purchases and tabulate them against what happened (groups 0 … `top_bucket`+).
pub fn evaluate<K: Ord + Hash + Clone>(
    purchases: &[Purchase<K>],
    calibration_end_day: i64,
    observation_end_day: i64,
    unit: TimeUnit,
    kind: ModelKind,
    top_bucket: u32,
) -> Result<Evaluation<K>, AnalyticsError> {
    let cohort = split(purchases, calibration_end_day, observation_end_day, unit)?;
    let summaries: Vec<CustomerSummary> = cohort.iter().map(|c| c.calibration).collect();
    let data = Compressed::new(&summaries)?;
    let (fitted, predicted) = match kind {
        ModelKind::BgNbd => {
            let fit = BgNbd::fit_compressed(&data)?;
            let predicted = predict(&fit.model, &cohort)?;
            (FittedModel::BgNbd(fit), predicted)
        }
        ModelKind::ParetoNbd => {
            let fit = ParetoNbd::fit_compressed(&data)?;
            let predicted = predict(&fit.model, &cohort)?;
            (FittedModel::ParetoNbd(fit), predicted)
        }
    };
    let name = match kind {
        ModelKind::BgNbd => "BG/NBD",
        ModelKind::ParetoNbd => "Pareto/NBD",
    };
    let table = table(name, &cohort, &predicted, top_bucket)?;
    Ok(Evaluation {
        fitted,
        cohort,
        predicted,
        table,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buy(customer: u32, day: i64) -> Purchase<u32> {
        Purchase {
            customer,
            day,
            amount: 1.0,
        }
    }

    #[test]
    fn the_split_counts_holdout_days_and_leaves_late_starters_out() {
        let log = vec![
            buy(1, 0),
            buy(1, 7),
            buy(1, 20), // holdout
            buy(1, 20), // same day: one purchase
            buy(1, 27), // holdout
            buy(2, 3),
            buy(3, 15), // starts after the calibration: not in the cohort
            buy(1, 40), // after the observation: ignored
        ];
        let cohort = split(&log, 14, 28, TimeUnit::Weeks).unwrap();
        assert_eq!(cohort.len(), 2);
        assert_eq!(cohort[0].customer, 1);
        assert_eq!(
            cohort[0].calibration,
            CustomerSummary::new(1, 1.0, 2.0).unwrap()
        );
        assert_eq!(cohort[0].holdout_purchases, 2);
        assert_eq!(cohort[0].holdout_periods, 2.0);
        assert_eq!(cohort[1].holdout_purchases, 0);
        assert!(split(&log, 14, 14, TimeUnit::Days).is_err());
        assert!(split(&[buy(1, 20)], 14, 28, TimeUnit::Days).is_err());
    }

    #[test]
    fn the_table_groups_the_heavy_buyers_together() {
        let s = |x: u32| CustomerSummary::new(x, if x > 0 { 1.0 } else { 0.0 }, 2.0).unwrap();
        let cohort: Vec<HoldoutCustomer<u32>> = [0, 0, 1, 3, 9]
            .iter()
            .enumerate()
            .map(|(i, &x)| HoldoutCustomer {
                customer: i as u32,
                calibration: s(x),
                holdout_purchases: x,
                holdout_periods: 2.0,
            })
            .collect();
        let t = table("test", &cohort, &[0.5, 0.5, 1.0, 2.0, 4.0], 3).unwrap();
        let summary: Vec<(u32, bool, usize, f64, f64)> = t
            .rows
            .iter()
            .map(|r| {
                (
                    r.calibration_repeat_purchases,
                    r.open_ended,
                    r.customers,
                    r.actual_purchases,
                    r.predicted_purchases,
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (0, false, 2, 0.0, 1.0),
                (1, false, 1, 1.0, 1.0),
                (2, false, 0, 0.0, 0.0),
                (3, true, 2, 12.0, 6.0),
            ]
        );
        assert_eq!(t.totals(), (5, 13.0, 8.0));
        assert!(table("test", &cohort, &[1.0], 3).is_err());
    }
}
