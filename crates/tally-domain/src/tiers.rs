//! Tiers: status levels a member reaches by points earned or money spent over a window, with
//! an earning multiplier as their benefit. A program has at most one tier plan.
//!
//! Upgrades happen at once, as soon as the qualifying value reaches a level. Downgrades happen
//! only at a review: for `calendar_year`, at the end of the year (plus the grace days), judged on
//! that year's activity, and a member who qualified keeps the tier through the next year; for
//! `rolling_12_months`, at a daily review of the last twelve months; `lifetime` never
//! downgrades.

use crate::Timestamp;
use crate::error::{DomainError, Fields};
use crate::inputs::{Obj, int, text};
use jiff::tz::TimeZone;
use jiff::{Span, ToSpan};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub const MAX_LEVELS: usize = 10;

/// What qualifies a member for a tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TierMetric {
    /// Points earned (base and rules), less points reversed by returns.
    PointsEarned,
    /// Money spent in minor units, less returns.
    MoneySpent,
}

/// Over which time the metric counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TierWindow {
    CalendarYear,
    // snake_case alone would write `rolling12_months`.
    #[serde(rename = "rolling_12_months")]
    Rolling12Months,
    Lifetime,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TierLevel {
    pub name: String,
    /// The metric's value from which this level holds (points, or minor units of money).
    pub threshold: i64,
    /// Earning multiplier in thousandths: 1500 gives half the base points again.
    pub multiplier_permille: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TierPlan {
    pub metric: TierMetric,
    pub window: TierWindow,
    pub grace_days: i64,
    /// Ascending thresholds, strictly.
    pub levels: Vec<TierLevel>,
}

fn metric(v: &Value) -> Result<TierMetric, String> {
    match v.as_str() {
        Some("points_earned") => Ok(TierMetric::PointsEarned),
        Some("money_spent") => Ok(TierMetric::MoneySpent),
        _ => Err("must be points_earned or money_spent".into()),
    }
}

fn window(v: &Value) -> Result<TierWindow, String> {
    match v.as_str() {
        Some("calendar_year") => Ok(TierWindow::CalendarYear),
        // `rolling12_months` is how plans saved before 2026-12-04 were stored.
        Some("rolling_12_months" | "rolling12_months") => Ok(TierWindow::Rolling12Months),
        Some("lifetime") => Ok(TierWindow::Lifetime),
        _ => Err("must be calendar_year, rolling_12_months or lifetime".into()),
    }
}

/// A multiplier written as a decimal with at most three decimals, 1 to 10.
fn multiplier(v: &Value) -> Result<i64, String> {
    let bad = || "must be a number from 1 to 10 with at most 3 decimals, such as 1.5".to_owned();
    let n = v.as_f64().ok_or_else(bad)?;
    let permille = (n * 1000.0).round();
    if !(1000.0..=10_000.0).contains(&permille) || (permille - n * 1000.0).abs() > 1e-6 {
        return Err(bad());
    }
    Ok(permille as i64)
}

impl TierPlan {
    /// Parses `{"metric", "window", "grace_days"?, "levels": [{"name", "threshold", "multiplier"?}]}`.
    pub fn parse(body: &Value) -> Result<TierPlan, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        o.only(&mut f, &["metric", "window", "grace_days", "levels"]);
        let metric = o.req(&mut f, "metric", metric);
        let window = o.req(&mut f, "window", window);
        let grace_days = o.opt(&mut f, "grace_days", int(0, 365)).unwrap_or(0);
        let objects = o.objects(&mut f, "levels", MAX_LEVELS);
        if !o.has("levels") {
            f.push("/levels", "is required");
        } else if objects.is_empty() && f.is_empty() {
            f.push("/levels", "must list at least one level");
        }
        let mut levels = Vec::new();
        for (i, l) in objects.iter().enumerate() {
            l.only(&mut f, &["name", "threshold", "multiplier"]);
            let name = l.req(&mut f, "name", text(100));
            let threshold = l.req(&mut f, "threshold", int(0, 1_000_000_000_000));
            let multiplier_permille = l.opt(&mut f, "multiplier", multiplier).unwrap_or(1000);
            if let (Some(name), Some(threshold)) = (name, threshold) {
                if levels.iter().any(|x: &TierLevel| x.name == name) {
                    f.push(format!("/levels/{i}/name"), "is used by another level");
                }
                if levels
                    .last()
                    .is_some_and(|x: &TierLevel| x.threshold >= threshold)
                {
                    f.push(
                        format!("/levels/{i}/threshold"),
                        "must be higher than the level before",
                    );
                }
                levels.push(TierLevel {
                    name,
                    threshold,
                    multiplier_permille,
                });
            }
        }
        f.finish()?;
        Ok(TierPlan {
            metric: metric.expect("checked"),
            window: window.expect("checked"),
            grace_days,
            levels,
        })
    }

    pub fn to_json(&self) -> Value {
        json!({
            "metric": self.metric,
            "window": self.window,
            "grace_days": self.grace_days,
            "levels": self.levels.iter().map(|l| json!({
                "name": l.name,
                "threshold": l.threshold,
                "multiplier": l.multiplier_permille as f64 / 1000.0,
            })).collect::<Vec<_>>(),
        })
    }

    /// The highest level `value` reaches (None: below the first threshold).
    pub fn level_for(&self, value: i64) -> Option<usize> {
        self.levels.iter().rposition(|l| value >= l.threshold)
    }

    pub fn level_named(&self, name: &str) -> Option<usize> {
        self.levels.iter().position(|l| l.name == name)
    }

    /// Where the qualifying window starts for activity up to `at`.
    pub fn window_start(&self, at: Timestamp, tz: &TimeZone) -> Timestamp {
        match self.window {
            TierWindow::Lifetime => Timestamp::UNIX_EPOCH,
            TierWindow::CalendarYear => year_start(at, tz),
            TierWindow::Rolling12Months => at
                .to_zoned(tz.clone())
                .checked_sub(12.months())
                .map_or(Timestamp::UNIX_EPOCH, |z| z.timestamp()),
        }
    }

    /// When a tier reached or confirmed at `at` is next reviewed (None: never): for a calendar
    /// year, the start of the next year plus the grace days (so a tier reached in 2026 is judged
    /// on 2026 and, if kept, held through 2027); for a rolling window, a day (plus grace) later.
    pub fn review_after(&self, at: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let grace = Span::new().days(self.grace_days);
        match self.window {
            TierWindow::Lifetime => None,
            TierWindow::CalendarYear => {
                let end = next_year_start(at, tz);
                end.to_zoned(tz.clone())
                    .checked_add(grace)
                    .ok()
                    .map(|z| z.timestamp())
            }
            TierWindow::Rolling12Months => at
                .to_zoned(tz.clone())
                .checked_add(Span::new().days(1 + self.grace_days))
                .ok()
                .map(|z| z.timestamp()),
        }
    }

    /// The end of the qualifying period a review at `review_at` judges: for a calendar year the
    /// year that ended before the grace days; for a rolling window the review itself.
    pub fn judged_until(&self, review_at: Timestamp, tz: &TimeZone) -> Timestamp {
        match self.window {
            TierWindow::CalendarYear => review_at
                .to_zoned(tz.clone())
                .checked_sub(Span::new().days(self.grace_days))
                .map_or(review_at, |z| z.timestamp()),
            _ => review_at,
        }
    }
}

fn year_start(at: Timestamp, tz: &TimeZone) -> Timestamp {
    let z = at.to_zoned(tz.clone());
    jiff::civil::date(z.year(), 1, 1)
        .to_zoned(tz.clone())
        .map_or(Timestamp::UNIX_EPOCH, |z| z.timestamp())
}

fn next_year_start(at: Timestamp, tz: &TimeZone) -> Timestamp {
    let z = at.to_zoned(tz.clone());
    jiff::civil::date(z.year() + 1, 1, 1)
        .to_zoned(tz.clone())
        .map_or(Timestamp::MAX, |z| z.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(window: &str) -> TierPlan {
        TierPlan::parse(&json!({"metric": "points_earned", "window": window, "grace_days": 30,
            "levels": [{"name": "Silver", "threshold": 0}, {"name": "Gold", "threshold": 1000, "multiplier": 1.5}]}))
        .unwrap()
    }

    #[test]
    fn every_window_reads_back_as_written() {
        for window in ["calendar_year", "rolling_12_months", "lifetime"] {
            let p = plan(window);
            assert_eq!(p.to_json()["window"], window);
            assert_eq!(TierPlan::parse(&p.to_json()).unwrap(), p);
        }
    }

    #[test]
    fn a_plan_parses_and_round_trips() {
        let p = plan("calendar_year");
        assert_eq!(p.levels[1].multiplier_permille, 1500);
        assert_eq!(TierPlan::parse(&p.to_json()).unwrap(), p);
        assert_eq!(
            (p.level_for(0), p.level_for(999), p.level_for(1000)),
            (Some(0), Some(0), Some(1))
        );
    }

    #[test]
    fn bad_plans_name_each_field() {
        let e = TierPlan::parse(&json!({"metric": "visits", "window": "weekly", "levels": [
            {"name": "Gold", "threshold": 100, "multiplier": 0.5},
            {"name": "Gold", "threshold": 50, "colour": "gold"}]}))
        .unwrap_err();
        let DomainError::Invalid { fields } = e else {
            panic!("invalid")
        };
        let mut pointers: Vec<_> = fields.iter().map(|f| f.pointer.as_str()).collect();
        pointers.sort_unstable();
        assert_eq!(
            pointers,
            [
                "/levels/0/multiplier",
                "/levels/1/colour",
                "/levels/1/name",
                "/levels/1/threshold",
                "/metric",
                "/window"
            ]
        );
        assert!(
            TierPlan::parse(&json!({"metric": "money_spent", "window": "lifetime", "levels": []}))
                .is_err()
        );
    }

    #[test]
    fn calendar_years_are_local_and_reviews_come_after_the_next_year_and_grace() {
        let tz = TimeZone::get("Europe/Warsaw").unwrap();
        let p = plan("calendar_year");
        let at: Timestamp = "2026-06-15T12:00:00Z".parse().unwrap();
        assert_eq!(
            p.window_start(at, &tz),
            "2025-12-31T23:00:00Z".parse::<Timestamp>().unwrap()
        );
        let review = p.review_after(at, &tz).unwrap();
        assert_eq!(review, "2027-01-30T23:00:00Z".parse::<Timestamp>().unwrap());
        assert_eq!(
            p.judged_until(review, &tz),
            "2026-12-31T23:00:00Z".parse::<Timestamp>().unwrap()
        );
        assert_eq!(plan("lifetime").review_after(at, &tz), None);
        assert_eq!(
            plan("lifetime").window_start(at, &tz),
            Timestamp::UNIX_EPOCH
        );
    }
}
