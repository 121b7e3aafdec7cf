//! From a purchase log to the per-customer summaries the models use.
//!
//! The input is plain rows: who bought, on which day, for how much. Days are integer day
//! numbers (see [`day_number`]); the caller converts timestamps to days in the program's time
//! zone, so "the same day" means the same local day.
//!
//! The BTYD models (BG/NBD, Pareto/NBD) see each customer as three numbers, measured from the
//! customer's first purchase in a chosen [`TimeUnit`]:
//! - `x`, repeat purchases: purchase days after the first one;
//! - `t_x`, when the last purchase happened;
//! - `T`, how long the customer has been observed.
//!
//! Several purchases on one day count as one (their amounts add up), as in the Python
//! `lifetimes` package: the models describe a purchase *rhythm*, and two orders at one visit are
//! not two visits. The monetary value of a customer is the mean of their repeat purchase days'
//! amounts (the first purchase is left out, as the Gamma-Gamma model expects), 0 without repeats.
//!
//! [`Compressed`] folds identical `(x, t_x, T)` rows into one row with a count. Real logs have
//! far fewer distinct rows than customers (T takes one value per first-purchase day), so a
//! likelihood evaluated over compressed rows costs a fraction of one over customers; every fit
//! in this crate works on compressed rows.

use std::collections::BTreeMap;
use std::hash::Hash;

use crate::AnalyticsError;
use crate::by_customer::ByCustomer;

/// One purchase: the plain row the analytics start from.
#[derive(Clone, Debug, PartialEq)]
pub struct Purchase<K> {
    /// The customer (member) who bought.
    pub customer: K,
    /// The day of the purchase, as a day number (days since 1970-01-01, see [`day_number`]).
    pub day: i64,
    /// The amount spent, in any currency unit (the models only compare amounts). Finite, ≥ 0.
    pub amount: f64,
}

/// The time unit in which the BTYD models measure `t_x` and `T`. The fitted rate parameters
/// (alpha, beta, gamma is unit-free) are per unit, so the same data in days and in weeks gives
/// alpha in days = 7 × alpha in weeks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUnit {
    Days,
    Weeks,
}

impl TimeUnit {
    /// Days in one unit.
    pub fn days(self) -> f64 {
        match self {
            TimeUnit::Days => 1.0,
            TimeUnit::Weeks => 7.0,
        }
    }

    /// Units in one month, as the `lifetimes` package counts them for CLV (30 days, 4.345 weeks).
    pub fn per_month(self) -> f64 {
        match self {
            TimeUnit::Days => 30.0,
            TimeUnit::Weeks => 4.345,
        }
    }
}

/// A customer as the BTYD models see them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CustomerSummary {
    /// `x`: purchase days after the first one.
    pub repeat_purchases: u32,
    /// `t_x`: time from the first to the last purchase, in the chosen unit (0 without repeats).
    pub first_to_last_periods: f64,
    /// `T`: time from the first purchase to the end of observation, in the chosen unit.
    pub first_to_end_periods: f64,
}

impl CustomerSummary {
    /// A checked summary: times finite, 0 ≤ t_x ≤ T, t_x = 0 without repeats, and T > 0 when there
    /// are repeats (a repeat purchase takes time).
    pub fn new(
        repeat_purchases: u32,
        first_to_last_periods: f64,
        first_to_end_periods: f64,
    ) -> Result<Self, AnalyticsError> {
        let s = CustomerSummary {
            repeat_purchases,
            first_to_last_periods,
            first_to_end_periods,
        };
        s.validate()?;
        Ok(s)
    }

    pub(crate) fn validate(&self) -> Result<(), AnalyticsError> {
        let (x, t_x, t) = (
            self.repeat_purchases,
            self.first_to_last_periods,
            self.first_to_end_periods,
        );
        if !t.is_finite() || t < 0.0 {
            return Err(AnalyticsError::invalid(
                "first_to_end_periods",
                format!("must be a finite number ≥ 0, got {t}"),
            ));
        }
        if !t_x.is_finite() || t_x < 0.0 || t_x > t {
            return Err(AnalyticsError::invalid(
                "first_to_last_periods",
                format!("must be between 0 and first_to_end_periods ({t}), got {t_x}"),
            ));
        }
        if x == 0 && t_x != 0.0 {
            return Err(AnalyticsError::invalid(
                "first_to_last_periods",
                format!("must be 0 for a customer without repeat purchases, got {t_x}"),
            ));
        }
        if x > 0 && t_x == 0.0 {
            return Err(AnalyticsError::invalid(
                "first_to_last_periods",
                "must be > 0 for a customer with repeat purchases",
            ));
        }
        Ok(())
    }
}

/// A customer's summary with the monetary value the Gamma-Gamma model uses.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomerRow<K> {
    pub customer: K,
    pub summary: CustomerSummary,
    /// Mean amount of the repeat purchase days (first purchase excluded); 0 without repeats.
    pub mean_repeat_amount: f64,
    /// The first purchase's day number.
    pub first_day: i64,
    /// The last purchase's day number.
    pub last_day: i64,
}

/// The day number (days since 1970-01-01) of a proleptic Gregorian date. Errors on a date that
/// does not exist (e.g. 2023-02-29).
pub fn day_number(year: i32, month: u32, day: u32) -> Result<i64, AnalyticsError> {
    if !(1..=12).contains(&month) {
        return Err(AnalyticsError::invalid(
            "month",
            format!("must be 1..=12, got {month}"),
        ));
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if day == 0 || day > month_days[month as usize - 1] {
        return Err(AnalyticsError::invalid(
            "day",
            format!("{year:04}-{month:02} has no day {day}"),
        ));
    }
    // Howard Hinnant's days_from_civil.
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Ok(era * 146_097 + doe - 719_468)
}

pub(crate) fn check_purchase<K>(p: &Purchase<K>) -> Result<(), AnalyticsError> {
    if !p.amount.is_finite() || p.amount < 0.0 {
        return Err(AnalyticsError::invalid(
            "amount",
            format!("must be a finite amount ≥ 0, got {}", p.amount),
        ));
    }
    Ok(())
}

/// Each customer's purchase days up to `end_day` (inclusive), same-day amounts added up, in day
/// order; customers in id order.
pub(crate) fn purchase_days<K: Ord + Hash + Clone>(
    purchases: &[Purchase<K>],
    end_day: i64,
) -> Result<BTreeMap<K, Vec<(i64, f64)>>, AnalyticsError> {
    let grouped = ByCustomer::new(purchases, end_day)?;
    Ok(grouped
        .customers()
        .iter()
        .enumerate()
        .map(|(i, customer)| {
            let mut days = Vec::new();
            grouped.days_of(i, &mut days);
            (customer.clone(), days)
        })
        .collect())
}

/// Summarise a purchase log as of `observation_end_day` (inclusive; later purchases are ignored).
/// Customers come out in id order. Errors when no purchase falls on or before the end.
pub fn summarize<K: Ord + Hash + Clone>(
    purchases: &[Purchase<K>],
    observation_end_day: i64,
    unit: TimeUnit,
) -> Result<Vec<CustomerRow<K>>, AnalyticsError> {
    let by_customer = purchase_days(purchases, observation_end_day)?;
    if by_customer.is_empty() {
        return Err(AnalyticsError::Empty { what: "purchases" });
    }
    Ok(by_customer
        .into_iter()
        .map(|(customer, days)| row_from_days(customer, &days, observation_end_day, unit))
        .collect())
}

/// Summary of one customer's merged purchase days (non-empty, sorted, up to `end_day`).
pub(crate) fn row_from_days<K>(
    customer: K,
    days: &[(i64, f64)],
    end_day: i64,
    unit: TimeUnit,
) -> CustomerRow<K> {
    let first_day = days[0].0;
    let last_day = days[days.len() - 1].0;
    let repeats = &days[1..];
    let mean_repeat_amount = if repeats.is_empty() {
        0.0
    } else {
        repeats.iter().map(|d| d.1).sum::<f64>() / repeats.len() as f64
    };
    CustomerRow {
        customer,
        summary: CustomerSummary {
            repeat_purchases: u32::try_from(repeats.len()).unwrap_or(u32::MAX),
            first_to_last_periods: (last_day - first_day) as f64 / unit.days(),
            first_to_end_periods: (end_day - first_day) as f64 / unit.days(),
        },
        mean_repeat_amount,
        first_day,
        last_day,
    }
}

/// One distinct `(x, t_x, T)` with the number of customers who have it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WeightedSummary {
    pub summary: CustomerSummary,
    /// How many customers share this summary.
    pub customers: f64,
}

/// Customer summaries folded into distinct rows with counts, sorted by `x`, then `t_x`, then `T`
/// (so per-`x` terms of a likelihood can be computed once per run of equal `x`).
#[derive(Clone, Debug, PartialEq)]
pub struct Compressed {
    rows: Vec<WeightedSummary>,
    customers: usize,
    /// The distinct times (every row's t_x and T), ascending. Far fewer than rows: a likelihood
    /// computes ln(alpha + t) once per time, not once per row.
    times: Vec<f64>,
    /// The distinct (x, time index) pairs of every row's (x, t_x) and (x, T), ascending: the
    /// Pareto/NBD likelihood evaluates its hypergeometric terms once per pair.
    pairs: Vec<(u32, u32)>,
    /// Per row, where its times and pairs are in the two lists above.
    index: Vec<RowIndex>,
}

/// Where a compressed row's t_x and T sit in [`Compressed`]'s lists of times and pairs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RowIndex {
    pub last_time: u32,
    pub end_time: u32,
    pub last_pair: u32,
    pub end_pair: u32,
}

impl Compressed {
    /// Validate and fold summaries. Errors on an empty input or an invalid summary.
    pub fn new(summaries: &[CustomerSummary]) -> Result<Self, AnalyticsError> {
        if summaries.is_empty() {
            return Err(AnalyticsError::Empty { what: "customers" });
        }
        let mut sorted = Vec::with_capacity(summaries.len());
        for s in summaries {
            s.validate()?;
            sorted.push(*s);
        }
        // Valid times are finite and ≥ 0 (and −0.0 is turned into 0.0 below), so their bit
        // patterns sort as the numbers do.
        let key = |s: &CustomerSummary| {
            (
                s.repeat_purchases,
                (s.first_to_last_periods + 0.0).to_bits(),
                (s.first_to_end_periods + 0.0).to_bits(),
            )
        };
        sorted.sort_unstable_by_key(key);
        let mut rows: Vec<WeightedSummary> = Vec::new();
        for s in sorted {
            match rows.last_mut() {
                Some(last) if key(&last.summary) == key(&s) => last.customers += 1.0,
                _ => rows.push(WeightedSummary {
                    summary: s,
                    customers: 1.0,
                }),
            }
        }
        let bits = |v: f64| (v + 0.0).to_bits();
        let mut time_bits: Vec<u64> = rows
            .iter()
            .flat_map(|r| {
                [
                    bits(r.summary.first_to_last_periods),
                    bits(r.summary.first_to_end_periods),
                ]
            })
            .collect();
        time_bits.sort_unstable();
        time_bits.dedup();
        // Every lookup below is of a value that was just inserted, so it is always found; the
        // fallback 0 is never taken.
        let time_of = |v: f64| time_bits.binary_search(&bits(v)).unwrap_or(0) as u32;
        let mut pairs: Vec<(u32, u32)> = rows
            .iter()
            .flat_map(|r| {
                let x = r.summary.repeat_purchases;
                [
                    (x, time_of(r.summary.first_to_last_periods)),
                    (x, time_of(r.summary.first_to_end_periods)),
                ]
            })
            .collect();
        pairs.sort_unstable();
        pairs.dedup();
        let index = rows
            .iter()
            .map(|r| {
                let x = r.summary.repeat_purchases;
                let last_time = time_of(r.summary.first_to_last_periods);
                let end_time = time_of(r.summary.first_to_end_periods);
                let pair_of = |t| pairs.binary_search(&(x, t)).unwrap_or(0) as u32;
                RowIndex {
                    last_time,
                    end_time,
                    last_pair: pair_of(last_time),
                    end_pair: pair_of(end_time),
                }
            })
            .collect();
        Ok(Compressed {
            rows,
            customers: summaries.len(),
            times: time_bits.into_iter().map(f64::from_bits).collect(),
            pairs,
            index,
        })
    }

    /// The distinct times of the rows, ascending.
    pub(crate) fn times(&self) -> &[f64] {
        &self.times
    }

    /// The distinct (x, time index) pairs.
    pub(crate) fn pairs(&self) -> &[(u32, u32)] {
        &self.pairs
    }

    /// Per row, its indices into times and pairs.
    pub(crate) fn index(&self) -> &[RowIndex] {
        &self.index
    }

    /// The distinct rows.
    pub fn rows(&self) -> &[WeightedSummary] {
        &self.rows
    }

    /// How many customers were folded in.
    pub fn customers(&self) -> usize {
        self.customers
    }

    pub(crate) fn has_repeat_buyer(&self) -> bool {
        self.rows
            .iter()
            .any(|r| r.summary.repeat_purchases > 0 && r.summary.first_to_end_periods > 0.0)
    }

    pub(crate) fn mean_age(&self) -> f64 {
        let total: f64 = self
            .rows
            .iter()
            .map(|r| r.summary.first_to_end_periods * r.customers)
            .sum();
        total / self.customers as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buy(customer: u32, day: i64, amount: f64) -> Purchase<u32> {
        Purchase {
            customer,
            day,
            amount,
        }
    }

    #[test]
    fn day_numbers_match_the_calendar() {
        assert_eq!(day_number(1970, 1, 1), Ok(0));
        assert_eq!(day_number(1997, 1, 1), Ok(9862));
        assert_eq!(
            day_number(2000, 3, 1).unwrap() - day_number(2000, 2, 28).unwrap(),
            2
        );
        assert_eq!(
            day_number(1900, 3, 1).unwrap() - day_number(1900, 2, 28).unwrap(),
            1
        );
        assert_eq!(day_number(1969, 12, 31), Ok(-1));
        // CDNOW's calibration period: 1997-01-01 .. 1997-09-30 is 39 weeks less a day.
        assert_eq!(
            day_number(1997, 9, 30).unwrap() - day_number(1997, 1, 1).unwrap(),
            272
        );
        assert!(day_number(2023, 2, 29).is_err());
        assert!(day_number(2024, 13, 1).is_err());
        assert!(day_number(2024, 4, 0).is_err());
    }

    #[test]
    fn same_day_purchases_merge_and_the_first_purchase_is_not_a_repeat() {
        let log = vec![
            buy(1, 10, 5.0),
            buy(1, 3, 20.0),
            buy(1, 3, 7.0),
            buy(1, 17, 9.0),
            buy(2, 5, 4.0),
            buy(3, 40, 1.0), // after the end: ignored
        ];
        let rows = summarize(&log, 31, TimeUnit::Weeks).unwrap();
        assert_eq!(rows.len(), 2);
        let c1 = &rows[0];
        assert_eq!(c1.customer, 1);
        assert_eq!(c1.summary.repeat_purchases, 2);
        assert_eq!(c1.summary.first_to_last_periods, 2.0); // day 3 → day 17
        assert_eq!(c1.summary.first_to_end_periods, 4.0); // day 3 → day 31
        assert_eq!(c1.mean_repeat_amount, 7.0); // (5 + 9) / 2; the 27 of the first day is left out
        let c2 = &rows[1];
        assert_eq!(c2.summary.repeat_purchases, 0);
        assert_eq!(c2.summary.first_to_last_periods, 0.0);
        assert_eq!(c2.mean_repeat_amount, 0.0);
    }

    #[test]
    fn summarize_refuses_empty_logs_and_bad_amounts() {
        assert_eq!(
            summarize::<u32>(&[], 10, TimeUnit::Days),
            Err(AnalyticsError::Empty { what: "purchases" })
        );
        assert_eq!(
            summarize(&[buy(1, 20, 1.0)], 10, TimeUnit::Days),
            Err(AnalyticsError::Empty { what: "purchases" })
        );
        assert!(summarize(&[buy(1, 1, f64::NAN)], 10, TimeUnit::Days).is_err());
        assert!(summarize(&[buy(1, 1, -3.0)], 10, TimeUnit::Days).is_err());
    }

    #[test]
    fn summaries_are_checked() {
        assert!(CustomerSummary::new(2, 3.0, 5.0).is_ok());
        assert!(CustomerSummary::new(0, 0.0, 0.0).is_ok());
        assert!(CustomerSummary::new(2, 6.0, 5.0).is_err());
        assert!(CustomerSummary::new(0, 1.0, 5.0).is_err());
        assert!(CustomerSummary::new(1, 0.0, 5.0).is_err());
        assert!(CustomerSummary::new(1, 1.0, f64::NAN).is_err());
        assert!(CustomerSummary::new(1, -1.0, 5.0).is_err());
    }

    #[test]
    fn compression_folds_identical_rows_and_sorts_by_x() {
        let s = |x, tx, t| CustomerSummary::new(x, tx, t).unwrap();
        let c = Compressed::new(&[
            s(2, 1.0, 5.0),
            s(0, 0.0, 5.0),
            s(2, 1.0, 5.0),
            s(0, 0.0, 5.0),
            s(0, 0.0, 4.0),
        ])
        .unwrap();
        assert_eq!(c.customers(), 5);
        let rows: Vec<(u32, f64, f64, f64)> = c
            .rows()
            .iter()
            .map(|r| {
                (
                    r.summary.repeat_purchases,
                    r.summary.first_to_last_periods,
                    r.summary.first_to_end_periods,
                    r.customers,
                )
            })
            .collect();
        assert_eq!(
            rows,
            vec![(0, 0.0, 4.0, 1.0), (0, 0.0, 5.0, 2.0), (2, 1.0, 5.0, 2.0)]
        );
        assert_eq!(
            Compressed::new(&[]),
            Err(AnalyticsError::Empty { what: "customers" })
        );
    }
}
