//! Lifecycle stages — new, active, at risk, lapsed, lost — measured against each member's own
//! purchase rhythm, and a VIP flag by value.
//!
//! A fixed "no purchase in 90 days" rule calls a weekly shopper who skipped a month active and a
//! once-a-quarter shopper lost on schedule. Here the silence since the last purchase is measured
//! in the member's own mean interval between purchases, and a fitted model's P(alive), when
//! given, can only make the stage worse (it sees patterns the ratio alone misses, e.g. that a
//! frequent buyer's long silence means more than an occasional buyer's).
//!
//! ## Definition
//!
//! Given, as of a day: the member's purchase days `n`, first and last purchase days, and
//! optionally P(alive):
//!
//! - `interval` = (last − first) / (n − 1) days when n ≥ 2; otherwise the program's typical
//!   interval, [`LifecycleRules::default_interval_days`] (e.g. [`median_interval_days`] of the
//!   members with repeats);
//! - `silence` = (as of − last) / interval, in intervals.
//!
//! The stage is the first that applies:
//!
//! 1. **new**: the first purchase is at most `new_within_days` days old;
//! 2. **lost**: silence > `lost_after_intervals`, or P(alive) < `lost_below_p_alive`;
//! 3. **lapsed**: silence > `lapsed_after_intervals`, or P(alive) < `lapsed_below_p_alive`;
//! 4. **at risk**: silence > `at_risk_after_intervals`, or P(alive) < `at_risk_below_p_alive`;
//! 5. **active** otherwise.
//!
//! Every comparison is strict: a value exactly at a threshold gets the milder stage. Defaults:
//! new within 30 days; at risk after 1.5 intervals or below P(alive) 0.5; lapsed after 2.5 or
//! below 0.25; lost after 4 or below 0.1.
//!
//! ## VIP
//!
//! A member is a VIP when their value is > 0 and fewer than `top_share × n` members have a
//! strictly higher value ([`vip_flags`]). Ties are never split: everyone tied at the edge is in,
//! so the VIP group can exceed the share when many members have the same value.

use std::hash::Hash;

use crate::AnalyticsError;
use crate::summary::{Purchase, purchase_days};

/// The lifecycle stages, from best to worst.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    New,
    Active,
    AtRisk,
    Lapsed,
    Lost,
}

impl Stage {
    /// A stable identifier, e.g. `at_risk`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::New => "new",
            Stage::Active => "active",
            Stage::AtRisk => "at_risk",
            Stage::Lapsed => "lapsed",
            Stage::Lost => "lost",
        }
    }

    /// The name shown to people, e.g. `at risk`.
    pub fn label(self) -> &'static str {
        match self {
            Stage::AtRisk => "at risk",
            other => other.as_str(),
        }
    }
}

/// The thresholds of the stages (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LifecycleRules {
    pub new_within_days: i64,
    /// The interval assumed for members with a single purchase day.
    pub default_interval_days: f64,
    pub at_risk_after_intervals: f64,
    pub lapsed_after_intervals: f64,
    pub lost_after_intervals: f64,
    pub at_risk_below_p_alive: f64,
    pub lapsed_below_p_alive: f64,
    pub lost_below_p_alive: f64,
}

impl Default for LifecycleRules {
    fn default() -> Self {
        LifecycleRules {
            new_within_days: 30,
            default_interval_days: 30.0,
            at_risk_after_intervals: 1.5,
            lapsed_after_intervals: 2.5,
            lost_after_intervals: 4.0,
            at_risk_below_p_alive: 0.5,
            lapsed_below_p_alive: 0.25,
            lost_below_p_alive: 0.1,
        }
    }
}

impl LifecycleRules {
    fn validate(&self) -> Result<(), AnalyticsError> {
        if self.new_within_days < 0 {
            return Err(AnalyticsError::invalid(
                "new_within_days",
                format!("must be ≥ 0, got {}", self.new_within_days),
            ));
        }
        if !(self.default_interval_days.is_finite() && self.default_interval_days >= 1.0) {
            return Err(AnalyticsError::invalid(
                "default_interval_days",
                format!(
                    "must be a finite number ≥ 1, got {}",
                    self.default_interval_days
                ),
            ));
        }
        let after = [
            self.at_risk_after_intervals,
            self.lapsed_after_intervals,
            self.lost_after_intervals,
        ];
        if !(after.iter().all(|v| v.is_finite() && *v > 0.0)
            && after[0] <= after[1]
            && after[1] <= after[2])
        {
            return Err(AnalyticsError::invalid(
                "after_intervals",
                format!("must be finite, > 0 and at_risk ≤ lapsed ≤ lost, got {after:?}"),
            ));
        }
        let below = [
            self.at_risk_below_p_alive,
            self.lapsed_below_p_alive,
            self.lost_below_p_alive,
        ];
        if !(below.iter().all(|v| (0.0..=1.0).contains(v))
            && below[0] >= below[1]
            && below[1] >= below[2])
        {
            return Err(AnalyticsError::invalid(
                "below_p_alive",
                format!("must be in [0, 1] and at_risk ≥ lapsed ≥ lost, got {below:?}"),
            ));
        }
        Ok(())
    }
}

/// What the stage of one member is computed from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MemberActivity {
    /// Purchase days (same-day purchases count once), ≥ 1.
    pub purchase_days: u32,
    pub first_day: i64,
    pub last_day: i64,
    /// The day of the analysis, ≥ last_day.
    pub as_of_day: i64,
    /// From a fitted BTYD model, when there is one.
    pub p_alive: Option<f64>,
}

impl MemberActivity {
    fn validate(&self) -> Result<(), AnalyticsError> {
        if self.purchase_days == 0 {
            return Err(AnalyticsError::invalid(
                "purchase_days",
                "a member without purchases has no lifecycle stage",
            ));
        }
        if self.last_day < self.first_day || self.as_of_day < self.last_day {
            return Err(AnalyticsError::invalid(
                "last_day",
                format!(
                    "must satisfy first_day ≤ last_day ≤ as_of_day, got {} ≤ {} ≤ {}",
                    self.first_day, self.last_day, self.as_of_day
                ),
            ));
        }
        if (self.purchase_days == 1) != (self.first_day == self.last_day) {
            return Err(AnalyticsError::invalid(
                "purchase_days",
                "one purchase day means first_day = last_day, and more mean first_day < last_day",
            ));
        }
        if let Some(p) = self.p_alive.filter(|p| !(0.0..=1.0).contains(p)) {
            return Err(AnalyticsError::invalid(
                "p_alive",
                format!("must be a probability in [0, 1], got {p}"),
            ));
        }
        Ok(())
    }

    /// Days since the last purchase.
    pub fn days_since_last(&self) -> i64 {
        self.as_of_day - self.last_day
    }

    /// The member's own mean interval between purchase days; None with a single purchase day.
    pub fn mean_interval_days(&self) -> Option<f64> {
        (self.purchase_days >= 2)
            .then(|| (self.last_day - self.first_day) as f64 / f64::from(self.purchase_days - 1))
    }
}

/// The member's stage under `rules` (see the module docs).
pub fn stage(activity: &MemberActivity, rules: &LifecycleRules) -> Result<Stage, AnalyticsError> {
    activity.validate()?;
    rules.validate()?;
    if activity.as_of_day - activity.first_day <= rules.new_within_days {
        return Ok(Stage::New);
    }
    let interval = activity
        .mean_interval_days()
        .unwrap_or(rules.default_interval_days);
    let silence = activity.days_since_last() as f64 / interval;
    let p = activity.p_alive.unwrap_or(1.0);
    Ok(
        if silence > rules.lost_after_intervals || p < rules.lost_below_p_alive {
            Stage::Lost
        } else if silence > rules.lapsed_after_intervals || p < rules.lapsed_below_p_alive {
            Stage::Lapsed
        } else if silence > rules.at_risk_after_intervals || p < rules.at_risk_below_p_alive {
            Stage::AtRisk
        } else {
            Stage::Active
        },
    )
}

/// Each customer's activity as of a day, from a purchase log, in customer id order (P(alive)
/// left empty: fill it in from a fitted model).
pub fn activities<K: Ord + Hash + Clone>(
    purchases: &[Purchase<K>],
    as_of_day: i64,
) -> Result<Vec<(K, MemberActivity)>, AnalyticsError> {
    let by_customer = purchase_days(purchases, as_of_day)?;
    Ok(by_customer
        .into_iter()
        .map(|(customer, days)| {
            let activity = MemberActivity {
                purchase_days: u32::try_from(days.len()).unwrap_or(u32::MAX),
                first_day: days[0].0,
                last_day: days[days.len() - 1].0,
                as_of_day,
                p_alive: None,
            };
            (customer, activity)
        })
        .collect())
}

/// The median of the members' mean intervals (members with a single purchase day are left out):
/// a program's typical rhythm, for [`LifecycleRules::default_interval_days`]. None when nobody
/// has bought twice.
pub fn median_interval_days(activities: &[MemberActivity]) -> Option<f64> {
    let mut intervals: Vec<f64> = activities
        .iter()
        .filter_map(MemberActivity::mean_interval_days)
        .filter(|v| v.is_finite())
        .collect();
    if intervals.is_empty() {
        return None;
    }
    intervals.sort_by(f64::total_cmp);
    let mid = intervals.len() / 2;
    Some(if intervals.len() % 2 == 1 {
        intervals[mid]
    } else {
        (intervals[mid - 1] + intervals[mid]) / 2.0
    })
}

/// VIP flags, one per value, in input order: value > 0 and fewer than `top_share × n` values
/// strictly higher. `top_share` in (0, 1], e.g. 0.1 for the top 10%.
pub fn vip_flags(values: &[f64], top_share: f64) -> Result<Vec<bool>, AnalyticsError> {
    if !(top_share > 0.0 && top_share <= 1.0) {
        return Err(AnalyticsError::invalid(
            "top_share",
            format!("must be in (0, 1], got {top_share}"),
        ));
    }
    if let Some(v) = values.iter().find(|v| !v.is_finite()) {
        return Err(AnalyticsError::invalid(
            "values",
            format!("must be finite, got {v}"),
        ));
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    // Rounded to a whole number of members first, so 0.1 × 100 is exactly 10.
    let allowed_above = (top_share * values.len() as f64 * 1e9).round() / 1e9;
    Ok(values
        .iter()
        .map(|&v| {
            let above = (sorted.len() - sorted.partition_point(|&s| s <= v)) as f64;
            v > 0.0 && above < allowed_above
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A member who bought `n` days, every `every` days, the last `silent` days ago.
    fn member(n: u32, every: i64, silent: i64, p_alive: Option<f64>) -> MemberActivity {
        let first_day = 1000;
        let last_day = first_day + every * i64::from(n - 1);
        MemberActivity {
            purchase_days: n,
            first_day,
            last_day,
            as_of_day: last_day + silent,
            p_alive,
        }
    }

    fn stage_of(m: MemberActivity) -> Stage {
        stage(&m, &LifecycleRules::default()).unwrap()
    }

    #[test]
    fn silence_is_measured_in_the_members_own_intervals() {
        // Every 20 days: at risk after 30 days of silence, lapsed after 50, lost after 80.
        assert_eq!(stage_of(member(5, 20, 30, None)), Stage::Active);
        assert_eq!(stage_of(member(5, 20, 31, None)), Stage::AtRisk);
        assert_eq!(stage_of(member(5, 20, 50, None)), Stage::AtRisk);
        assert_eq!(stage_of(member(5, 20, 51, None)), Stage::Lapsed);
        assert_eq!(stage_of(member(5, 20, 80, None)), Stage::Lapsed);
        assert_eq!(stage_of(member(5, 20, 81, None)), Stage::Lost);
        // The same 31 days are nothing for a member who buys every 60 days.
        assert_eq!(stage_of(member(5, 60, 31, None)), Stage::Active);
    }

    #[test]
    fn a_first_purchase_within_the_window_is_new() {
        // First purchase 30 days ago: new; 31 days ago: judged by rhythm.
        let m = |as_of_day| MemberActivity {
            purchase_days: 1,
            first_day: 0,
            last_day: 0,
            as_of_day,
            p_alive: Some(0.01),
        };
        assert_eq!(stage_of(m(30)), Stage::New);
        assert_eq!(stage_of(m(31)), Stage::Lost); // P(alive) 0.01
        let one_purchase = |as_of_day| MemberActivity {
            p_alive: None,
            ..m(as_of_day)
        };
        // A single purchase is measured against the default 30-day interval.
        assert_eq!(stage_of(one_purchase(45)), Stage::Active);
        assert_eq!(stage_of(one_purchase(46)), Stage::AtRisk);
    }

    #[test]
    fn p_alive_can_only_make_the_stage_worse() {
        assert_eq!(stage_of(member(5, 20, 10, Some(0.5))), Stage::Active);
        assert_eq!(stage_of(member(5, 20, 10, Some(0.49))), Stage::AtRisk);
        assert_eq!(stage_of(member(5, 20, 10, Some(0.25))), Stage::AtRisk);
        assert_eq!(stage_of(member(5, 20, 10, Some(0.24))), Stage::Lapsed);
        assert_eq!(stage_of(member(5, 20, 10, Some(0.1))), Stage::Lapsed);
        assert_eq!(stage_of(member(5, 20, 10, Some(0.09))), Stage::Lost);
        // A high P(alive) does not rescue a long silence.
        assert_eq!(stage_of(member(5, 20, 100, Some(0.99))), Stage::Lost);
    }

    #[test]
    fn bad_activity_and_rules_are_refused() {
        let rules = LifecycleRules::default();
        let ok = member(3, 10, 5, None);
        assert!(
            stage(
                &MemberActivity {
                    purchase_days: 0,
                    ..ok
                },
                &rules
            )
            .is_err()
        );
        assert!(
            stage(
                &MemberActivity {
                    as_of_day: ok.last_day - 1,
                    ..ok
                },
                &rules
            )
            .is_err()
        );
        assert!(
            stage(
                &MemberActivity {
                    purchase_days: 1,
                    ..ok
                },
                &rules
            )
            .is_err()
        );
        assert!(
            stage(
                &MemberActivity {
                    p_alive: Some(1.5),
                    ..ok
                },
                &rules
            )
            .is_err()
        );
        assert!(
            stage(
                &MemberActivity {
                    p_alive: Some(f64::NAN),
                    ..ok
                },
                &rules
            )
            .is_err()
        );
        let bad = LifecycleRules {
            lapsed_after_intervals: 5.0,
            ..rules
        };
        assert!(stage(&ok, &bad).is_err());
        let bad = LifecycleRules {
            lost_below_p_alive: 0.9,
            ..rules
        };
        assert!(stage(&ok, &bad).is_err());
        let bad = LifecycleRules {
            default_interval_days: 0.0,
            ..rules
        };
        assert!(stage(&ok, &bad).is_err());
    }

    #[test]
    fn activities_and_the_typical_interval_come_from_the_log() {
        let buy = |customer, day| Purchase {
            customer,
            day,
            amount: 1.0,
        };
        let log = vec![
            buy(1, 0),
            buy(1, 10),
            buy(1, 10),
            buy(1, 20),
            buy(2, 5),
            buy(3, 0),
            buy(3, 30),
        ];
        let acts = activities(&log, 40).unwrap();
        assert_eq!(acts.len(), 3);
        assert_eq!(acts[0].1.purchase_days, 3);
        assert_eq!(acts[0].1.mean_interval_days(), Some(10.0));
        assert_eq!(acts[1].1.mean_interval_days(), None);
        let all: Vec<MemberActivity> = acts.iter().map(|a| a.1).collect();
        assert_eq!(median_interval_days(&all), Some(20.0)); // (10 + 30) / 2
        assert_eq!(median_interval_days(&all[1..2]), None);
    }

    #[test]
    fn vips_are_the_top_share_by_value_with_ties_kept_together() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        let flags = vip_flags(&values, 0.1).unwrap();
        assert_eq!(flags.iter().filter(|f| **f).count(), 10);
        assert!(flags[90] && !flags[89]); // 91 is in, 90 is not
        // A tie at the edge is kept together.
        let tied = [5.0, 9.0, 9.0, 1.0, 2.0];
        assert_eq!(
            vip_flags(&tied, 0.2).unwrap(),
            vec![false, true, true, false, false]
        );
        // Nobody with no value is a VIP.
        assert_eq!(vip_flags(&[0.0, 0.0], 1.0).unwrap(), vec![false, false]);
        assert!(vip_flags(&[1.0], 0.0).is_err());
        assert!(vip_flags(&[1.0], 1.5).is_err());
        assert!(vip_flags(&[f64::NAN], 0.5).is_err());
        assert_eq!(vip_flags(&[], 0.5).unwrap(), Vec::<bool>::new());
    }
}
