//! RFM: recency, frequency and monetary value per customer, scored 1–5 against the other
//! customers, and the classic named segments.
//!
//! What is measured, as of a day (purchases after it are ignored):
//! - **recency_days**: days since the last purchase (0 = bought that day);
//! - **frequency_purchases**: purchase days (several orders on one day count once, as in the
//!   BTYD models of this crate);
//! - **monetary_total**: everything spent.
//!
//! ## Scores
//!
//! Each measure is scored 1–5 by its mid-rank among all customers, so that equal values always
//! get equal scores and the result does not depend on the order of the input. For a customer,
//! let `worse` be the number of customers with a strictly worse value (a larger recency, a lower
//! frequency or total), `equal` the number with the same value (themselves included), `n` all
//! customers. Then
//!
//! ```text
//! score = 1 + ⌊5 · (2·worse + equal) / (2·n)⌋        (integer arithmetic)
//! ```
//!
//! that is, the quintile in which the middle of the customer's tie group falls. With distinct
//! values this is the usual split into five equal groups (n = 10: two customers per score); a
//! value shared by everybody scores 3. A large tie group is not split by customer id or any
//! other arbitrary order, so the five groups can be of unequal size (with many one-time buyers,
//! frequency 1 covers the lower scores at once).
//!
//! The combined **FM score** is the mean of F and M rounded half up: `(F + M + 1) / 2`.
//!
//! ## Segments
//!
//! From R (rows) and FM (columns):
//!
//! | R \ FM | 1            | 2                 | 3                 | 4          | 5               |
//! |--------|--------------|-------------------|-------------------|------------|-----------------|
//! | 5      | new          | potential loyalist| potential loyalist| champions  | champions       |
//! | 4      | promising    | potential loyalist| potential loyalist| loyal      | loyal           |
//! | 3      | about to sleep| about to sleep   | need attention    | loyal      | loyal           |
//! | 2      | hibernating  | hibernating       | at risk           | at risk    | can't lose them |
//! | 1      | lost         | lost              | at risk           | at risk    | can't lose them |
//!
//! Read it as: recent and valuable are champions; valuable but long gone are at risk, and the
//! most valuable of those are the ones the program can't lose; recent but of little value yet
//! are new or promising; neither recent nor valuable are hibernating or lost.

use std::hash::Hash;

use crate::AnalyticsError;
use crate::by_customer::ByCustomer;
use crate::summary::Purchase;

/// The named RFM segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Segment {
    Champions,
    Loyal,
    PotentialLoyalist,
    New,
    Promising,
    NeedAttention,
    AboutToSleep,
    AtRisk,
    CantLoseThem,
    Hibernating,
    Lost,
}

impl Segment {
    pub const ALL: [Segment; 11] = [
        Segment::Champions,
        Segment::Loyal,
        Segment::PotentialLoyalist,
        Segment::New,
        Segment::Promising,
        Segment::NeedAttention,
        Segment::AboutToSleep,
        Segment::AtRisk,
        Segment::CantLoseThem,
        Segment::Hibernating,
        Segment::Lost,
    ];

    /// A stable identifier, e.g. `cant_lose_them`.
    pub fn as_str(self) -> &'static str {
        match self {
            Segment::Champions => "champions",
            Segment::Loyal => "loyal",
            Segment::PotentialLoyalist => "potential_loyalist",
            Segment::New => "new",
            Segment::Promising => "promising",
            Segment::NeedAttention => "need_attention",
            Segment::AboutToSleep => "about_to_sleep",
            Segment::AtRisk => "at_risk",
            Segment::CantLoseThem => "cant_lose_them",
            Segment::Hibernating => "hibernating",
            Segment::Lost => "lost",
        }
    }

    /// The name shown to an operator, e.g. `can't lose them`.
    pub fn label(self) -> &'static str {
        match self {
            Segment::Champions => "champions",
            Segment::Loyal => "loyal",
            Segment::PotentialLoyalist => "potential loyalist",
            Segment::New => "new",
            Segment::Promising => "promising",
            Segment::NeedAttention => "need attention",
            Segment::AboutToSleep => "about to sleep",
            Segment::AtRisk => "at risk",
            Segment::CantLoseThem => "can't lose them",
            Segment::Hibernating => "hibernating",
            Segment::Lost => "lost",
        }
    }
}

/// The segment of a recency score and an FM score (both 1–5), by the table in the module docs.
pub fn segment(recency_score: u8, fm_score: u8) -> Result<Segment, AnalyticsError> {
    use Segment::*;
    const TABLE: [[Segment; 5]; 5] = [
        // R = 1
        [Lost, Lost, AtRisk, AtRisk, CantLoseThem],
        // R = 2
        [Hibernating, Hibernating, AtRisk, AtRisk, CantLoseThem],
        // R = 3
        [AboutToSleep, AboutToSleep, NeedAttention, Loyal, Loyal],
        // R = 4
        [
            Promising,
            PotentialLoyalist,
            PotentialLoyalist,
            Loyal,
            Loyal,
        ],
        // R = 5
        [
            New,
            PotentialLoyalist,
            PotentialLoyalist,
            Champions,
            Champions,
        ],
    ];
    for (name, score) in [("recency_score", recency_score), ("fm_score", fm_score)] {
        if !(1..=5).contains(&score) {
            return Err(AnalyticsError::invalid(
                name,
                format!("must be 1..=5, got {score}"),
            ));
        }
    }
    Ok(TABLE[usize::from(recency_score - 1)][usize::from(fm_score - 1)])
}

/// Which way a measure is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

/// Scores 1–5 by mid-rank (see the module docs), one per value, in input order. Errors on an
/// empty input or a non-finite value.
pub fn quintile_scores(values: &[f64], better: Better) -> Result<Vec<u8>, AnalyticsError> {
    if values.is_empty() {
        return Err(AnalyticsError::Empty { what: "values" });
    }
    if let Some(v) = values.iter().find(|v| !v.is_finite()) {
        return Err(AnalyticsError::invalid(
            "values",
            format!("must be finite, got {v}"),
        ));
    }
    // Sort once, then score each run of equal values together.
    let mut sorted: Vec<(f64, u32)> = values.iter().zip(0u32..).map(|(&v, i)| (v, i)).collect();
    sorted.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let n = sorted.len() as u64;
    let mut scores = vec![0u8; values.len()];
    let mut lower = 0;
    while lower < sorted.len() {
        let value = sorted[lower].0;
        let not_higher = lower + sorted[lower..].partition_point(|s| s.0 == value);
        let equal = (not_higher - lower) as u64;
        let worse = match better {
            Better::Higher => lower as u64,
            Better::Lower => n - not_higher as u64,
        };
        // 2·worse + equal ≤ 2n − equal < 2n, so the score is at most 5.
        let score = (1 + 5 * (2 * worse + equal) / (2 * n)) as u8;
        for &(_, i) in &sorted[lower..not_higher] {
            scores[i as usize] = score;
        }
        lower = not_higher;
    }
    Ok(scores)
}

/// One customer's RFM measures, scores and segment.
#[derive(Clone, Debug, PartialEq)]
pub struct RfmRow<K> {
    pub customer: K,
    /// Days from the last purchase to the day of the analysis.
    pub recency_days: i64,
    /// Purchase days.
    pub frequency_purchases: u32,
    /// Total spent.
    pub monetary_total: f64,
    pub recency_score: u8,
    pub frequency_score: u8,
    pub monetary_score: u8,
    /// (F + M + 1) / 2.
    pub fm_score: u8,
    pub segment: Segment,
}

/// RFM for every customer with a purchase on or before `as_of_day`, in customer id order.
pub fn rfm<K: Ord + Hash + Clone>(
    purchases: &[Purchase<K>],
    as_of_day: i64,
) -> Result<Vec<RfmRow<K>>, AnalyticsError> {
    rfm_of(&ByCustomer::new(purchases, as_of_day)?, as_of_day)
}

/// RFM for every customer of a log already grouped (up to `as_of_day`), in customer id order.
pub fn rfm_of<K: Clone>(
    by_customer: &ByCustomer<K>,
    as_of_day: i64,
) -> Result<Vec<RfmRow<K>>, AnalyticsError> {
    if by_customer.is_empty() {
        return Err(AnalyticsError::Empty { what: "purchases" });
    }
    let mut recency = Vec::with_capacity(by_customer.len());
    let mut frequency = Vec::with_capacity(by_customer.len());
    let mut monetary = Vec::with_capacity(by_customer.len());
    let mut days = Vec::new();
    for i in 0..by_customer.len() {
        by_customer.days_of(i, &mut days);
        recency.push((as_of_day - days[days.len() - 1].0) as f64);
        frequency.push(days.len() as f64);
        monetary.push(days.iter().map(|d| d.1).sum::<f64>());
    }
    let r = quintile_scores(&recency, Better::Lower)?;
    let f = quintile_scores(&frequency, Better::Higher)?;
    let m = quintile_scores(&monetary, Better::Higher)?;
    by_customer
        .customers()
        .iter()
        .enumerate()
        .map(|(i, customer)| {
            let fm_score = (f[i] + m[i]).div_ceil(2);
            Ok(RfmRow {
                customer: customer.clone(),
                recency_days: recency[i] as i64,
                frequency_purchases: frequency[i] as u32,
                monetary_total: monetary[i],
                recency_score: r[i],
                frequency_score: f[i],
                monetary_score: m[i],
                fm_score,
                segment: segment(r[i], fm_score)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_values_split_into_five_equal_groups() {
        let values: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(
            quintile_scores(&values, Better::Higher).unwrap(),
            vec![1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
        );
        assert_eq!(
            quintile_scores(&values, Better::Lower).unwrap(),
            vec![5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
        );
        let five = [50.0, 10.0, 40.0, 20.0, 30.0];
        assert_eq!(
            quintile_scores(&five, Better::Higher).unwrap(),
            vec![5, 1, 4, 2, 3]
        );
    }

    #[test]
    fn ties_share_a_score_whatever_the_order() {
        // The tie group {2, 2, 2, 2} holds ranks 2–5 of 10; its middle, (2·1 + 4) / 20 = 30%,
        // is in the second quintile: score 2 for all four (ranks 2 and 3 alone would score 1).
        let values = [1.0, 2.0, 2.0, 2.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];
        let scores = quintile_scores(&values, Better::Higher).unwrap();
        assert_eq!(scores, vec![1, 2, 2, 2, 2, 3, 4, 4, 5, 5]);
        let mut reversed = values;
        reversed.reverse();
        let mut again = quintile_scores(&reversed, Better::Higher).unwrap();
        again.reverse();
        assert_eq!(again, scores);
        // Everybody equal: everybody in the middle.
        assert_eq!(
            quintile_scores(&[4.0; 7], Better::Higher).unwrap(),
            vec![3; 7]
        );
        assert_eq!(quintile_scores(&[4.0], Better::Lower).unwrap(), vec![3]);
    }

    #[test]
    fn scores_refuse_empty_and_non_finite_input() {
        assert!(quintile_scores(&[], Better::Higher).is_err());
        assert!(quintile_scores(&[1.0, f64::NAN], Better::Higher).is_err());
        assert!(quintile_scores(&[f64::INFINITY], Better::Lower).is_err());
    }

    #[test]
    fn the_segment_table_reads_as_documented() {
        assert_eq!(segment(5, 5), Ok(Segment::Champions));
        assert_eq!(segment(5, 1), Ok(Segment::New));
        assert_eq!(segment(4, 1), Ok(Segment::Promising));
        assert_eq!(segment(4, 3), Ok(Segment::PotentialLoyalist));
        assert_eq!(segment(3, 4), Ok(Segment::Loyal));
        assert_eq!(segment(3, 3), Ok(Segment::NeedAttention));
        assert_eq!(segment(3, 2), Ok(Segment::AboutToSleep));
        assert_eq!(segment(2, 4), Ok(Segment::AtRisk));
        assert_eq!(segment(1, 5), Ok(Segment::CantLoseThem));
        assert_eq!(segment(2, 1), Ok(Segment::Hibernating));
        assert_eq!(segment(1, 2), Ok(Segment::Lost));
        assert!(segment(0, 3).is_err());
        assert!(segment(3, 6).is_err());
        // Every segment is reachable.
        let mut seen: Vec<Segment> = (1..=5)
            .flat_map(|r| (1..=5).map(move |fm| segment(r, fm).unwrap()))
            .collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen, Segment::ALL.to_vec());
    }

    #[test]
    fn rfm_measures_a_log_as_of_a_day() {
        let buy = |customer: &'static str, day, amount| Purchase {
            customer,
            day,
            amount,
        };
        let log = vec![
            buy("ann", 100, 50.0),
            buy("ann", 100, 25.0), // same day: one purchase day, amounts add up
            buy("ann", 90, 40.0),
            buy("bob", 20, 5.0),
            buy("cat", 60, 30.0),
            buy("cat", 95, 30.0),
            buy("dan", 99, 10.0),
            buy("eve", 10, 200.0),
            buy("eve", 120, 1.0), // after the day of the analysis
        ];
        let rows = rfm(&log, 100).unwrap();
        let ids: Vec<&str> = rows.iter().map(|r| r.customer).collect();
        assert_eq!(ids, vec!["ann", "bob", "cat", "dan", "eve"]);
        let ann = &rows[0];
        assert_eq!(
            (
                ann.recency_days,
                ann.frequency_purchases,
                ann.monetary_total
            ),
            (0, 2, 115.0)
        );
        // ann: most recent (R 5), tied with cat on frequency (F 5), highest total but eve (M 4).
        assert_eq!(
            (ann.recency_score, ann.frequency_score, ann.monetary_score),
            (5, 5, 4)
        );
        assert_eq!(ann.fm_score, 5);
        assert_eq!(ann.segment, Segment::Champions);
        // bob: one small purchase 80 days ago (only eve's is older): hibernating.
        let bob = &rows[1];
        assert_eq!(
            (bob.recency_score, bob.frequency_score, bob.monetary_score),
            (2, 2, 1)
        );
        assert_eq!(bob.segment, Segment::Hibernating);
        // eve: spent the most, but 90 days ago (her day-120 purchase does not count yet).
        let eve = &rows[4];
        assert_eq!((eve.recency_days, eve.frequency_purchases), (90, 1));
        assert_eq!(
            (eve.recency_score, eve.frequency_score, eve.monetary_score),
            (1, 2, 5)
        );
        assert_eq!(eve.fm_score, 4);
        assert_eq!(eve.segment, Segment::AtRisk);
        assert!(rfm::<&str>(&[], 100).is_err());
    }
}
