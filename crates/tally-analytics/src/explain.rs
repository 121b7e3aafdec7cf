//! A member's numbers as one plain English sentence, for the console:
//! "bought 7 times, usually every 3 weeks, last 11 weeks ago → at risk".
//!
//! The text is built from the numbers only and is stable (the same numbers give the same words),
//! so it can be snapshot-tested and shown next to the stage it explains. Durations are rounded
//! for reading: under 14 days in days, under 13 weeks in weeks, under two years in months
//! (30.44 days), then in years. P(alive), when known, is shown as a whole percentage.

use crate::AnalyticsError;
use crate::lifecycle::{LifecycleRules, MemberActivity, stage};

/// A number of days as people say it: "1 day", "5 days", "3 weeks", "4 months", "2 years".
pub fn duration_words(days: f64) -> String {
    let days = days.max(0.0);
    let (amount, unit) = if days.round() < 14.0 {
        (days.round(), "day")
    } else if days < 13.0 * 7.0 {
        ((days / 7.0).round(), "week")
    } else if days < 730.0 {
        ((days / 30.44).round(), "month")
    } else {
        ((days / 365.25).round(), "year")
    };
    if amount == 1.0 {
        format!("1 {unit}")
    } else {
        format!("{amount} {unit}s")
    }
}

/// "every day", "every week", "every 3 weeks".
fn every(days: f64) -> String {
    let words = duration_words(days);
    match words.strip_prefix("1 ") {
        Some(unit) => format!("every {unit}"),
        None => format!("every {words}"),
    }
}

/// The member's activity and stage (under `rules`) in one sentence.
pub fn explain(
    activity: &MemberActivity,
    rules: &LifecycleRules,
) -> Result<String, AnalyticsError> {
    let stage = stage(activity, rules)?;
    let bought = match activity.purchase_days {
        1 => "bought once".to_string(),
        2 => "bought twice".to_string(),
        n => format!("bought {n} times"),
    };
    let mut parts = vec![bought];
    if let Some(interval) = activity.mean_interval_days() {
        parts.push(format!("usually {}", every(interval)));
    }
    let since = activity.days_since_last();
    let last = match (activity.purchase_days, since) {
        (_, 0) => "today".to_string(),
        (_, 1) => "yesterday".to_string(),
        (1, d) => format!("{} ago", duration_words(d as f64)),
        (_, d) => format!("last {} ago", duration_words(d as f64)),
    };
    let last = if activity.purchase_days > 1 && since <= 1 {
        format!("last {last}")
    } else {
        last
    };
    parts.push(last);
    if let Some(p) = activity.p_alive {
        parts.push(format!("{:.0}% likely still a customer", p * 100.0));
    }
    Ok(format!("{} → {}", parts.join(", "), stage.label()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn activity(n: u32, every_days: i64, silent_days: i64, p_alive: Option<f64>) -> MemberActivity {
        let first_day = 0;
        let last_day = every_days * i64::from(n - 1);
        MemberActivity {
            purchase_days: n,
            first_day,
            last_day,
            as_of_day: last_day + silent_days,
            p_alive,
        }
    }

    fn text(a: MemberActivity) -> String {
        explain(&a, &LifecycleRules::default()).unwrap()
    }

    #[test]
    fn the_example_from_the_issue() {
        assert_eq!(
            text(activity(7, 21, 77, None)),
            "bought 7 times, usually every 3 weeks, last 11 weeks ago → lapsed"
        );
        // 11 weeks is 3.7 intervals of 3 weeks: lapsed by the default rules; with P(alive) it
        // reads the same and says so.
        assert_eq!(
            text(activity(7, 21, 40, Some(0.42))),
            "bought 7 times, usually every 3 weeks, last 6 weeks ago, 42% likely still a customer → at risk"
        );
    }

    #[test]
    fn single_purchases_and_recent_ones_read_naturally() {
        assert_eq!(
            text(activity(1, 0, 5, None)),
            "bought once, 5 days ago → new"
        );
        assert_eq!(text(activity(1, 0, 0, None)), "bought once, today → new");
        assert_eq!(
            text(activity(2, 7, 3, None)),
            "bought twice, usually every 7 days, last 3 days ago → new"
        );
        assert_eq!(
            text(activity(2, 40, 1, None)),
            "bought twice, usually every 6 weeks, last yesterday → active"
        );
        assert_eq!(
            text(activity(40, 1, 0, None)),
            "bought 40 times, usually every day, last today → active"
        );
        assert_eq!(
            text(activity(3, 120, 400, None)),
            "bought 3 times, usually every 4 months, last 13 months ago → lapsed"
        );
    }

    #[test]
    fn durations_round_for_reading() {
        assert_eq!(duration_words(1.0), "1 day");
        assert_eq!(duration_words(13.0), "13 days");
        assert_eq!(duration_words(13.6), "2 weeks");
        assert_eq!(duration_words(90.0), "13 weeks");
        assert_eq!(duration_words(91.0), "3 months");
        assert_eq!(duration_words(729.0), "24 months");
        assert_eq!(duration_words(730.0), "2 years");
        assert_eq!(duration_words(-3.0), "0 days");
    }

    #[test]
    fn invalid_activity_is_an_error_not_a_sentence() {
        let mut a = activity(3, 10, 5, None);
        a.as_of_day = a.last_day - 1;
        assert!(explain(&a, &LifecycleRules::default()).is_err());
    }
}
