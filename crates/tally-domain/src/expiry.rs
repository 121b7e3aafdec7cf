//! When points expire. Points are kept in lots (one per credit); spending takes the lots that
//! expire first; a scheduled job expires what is left of a lot on its date.

use crate::Timestamp;
use crate::error::{DomainError, Fields};
use crate::inputs::{Obj, int};
use jiff::tz::TimeZone;
use jiff::{Span, ToSpan};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Month,
    Year,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpiryPolicy {
    /// Points never expire.
    Never,
    /// N days after they were earned.
    DaysAfterEarning { days: i64 },
    /// At the end of the month (or year) N months after they were earned: points earned in
    /// March with `months_after: 12` and `period: month` expire at the end of next March.
    EndOfPeriod { period: Period, months_after: i64 },
    /// All of a member's points, after N months without activity (a purchase, a redemption).
    Inactivity { months: i64 },
}

impl ExpiryPolicy {
    pub fn parse(body: &Value) -> Result<ExpiryPolicy, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        let kind = o.req(&mut f, "kind", |v| {
            v.as_str()
                .filter(|k| {
                    ["never", "days_after_earning", "end_of_period", "inactivity"].contains(k)
                })
                .map(str::to_owned)
                .ok_or_else(|| {
                    "must be never, days_after_earning, end_of_period or inactivity".to_owned()
                })
        });
        let policy = match kind.as_deref() {
            Some("never") => {
                o.only(&mut f, &["kind"]);
                Some(ExpiryPolicy::Never)
            }
            Some("days_after_earning") => {
                o.only(&mut f, &["kind", "days"]);
                o.req(&mut f, "days", int(1, 36_600))
                    .map(|days| ExpiryPolicy::DaysAfterEarning { days })
            }
            Some("end_of_period") => {
                o.only(&mut f, &["kind", "period", "months_after"]);
                let period = o.req(&mut f, "period", |v| match v.as_str() {
                    Some("month") => Ok(Period::Month),
                    Some("year") => Ok(Period::Year),
                    _ => Err("must be month or year".to_owned()),
                });
                let months_after = o.req(&mut f, "months_after", int(0, 1200));
                period
                    .zip(months_after)
                    .map(|(period, months_after)| ExpiryPolicy::EndOfPeriod {
                        period,
                        months_after,
                    })
            }
            Some("inactivity") => {
                o.only(&mut f, &["kind", "months"]);
                o.req(&mut f, "months", int(1, 1200))
                    .map(|months| ExpiryPolicy::Inactivity { months })
            }
            _ => None,
        };
        f.finish()?;
        Ok(policy.expect("a valid kind gives a policy"))
    }

    pub fn to_json(&self) -> Value {
        match self {
            ExpiryPolicy::Never => json!({"kind": "never"}),
            ExpiryPolicy::DaysAfterEarning { days } => {
                json!({"kind": "days_after_earning", "days": days})
            }
            ExpiryPolicy::EndOfPeriod {
                period,
                months_after,
            } => json!({"kind": "end_of_period", "period": period, "months_after": months_after}),
            ExpiryPolicy::Inactivity { months } => json!({"kind": "inactivity", "months": months}),
        }
    }

    /// When points earned (or, for inactivity, last active) at `at` expire; `None`: never.
    /// Dates are the start of the next local day after the last day points are valid, so
    /// "valid until 31 March" expires at 1 April 00:00 in the program's zone.
    pub fn expires_at(&self, at: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let z = at.to_zoned(tz.clone());
        let next_day_start = |d: jiff::civil::Date| {
            d.checked_add(1.day())
                .ok()
                .and_then(|d| d.to_zoned(tz.clone()).ok())
                .map(|z| z.timestamp())
        };
        match self {
            ExpiryPolicy::Never => None,
            ExpiryPolicy::DaysAfterEarning { days } => z
                .checked_add(Span::new().days(*days))
                .ok()
                .map(|z| z.timestamp()),
            ExpiryPolicy::EndOfPeriod {
                period,
                months_after,
            } => {
                let d = z
                    .date()
                    .checked_add(Span::new().months(*months_after))
                    .ok()?;
                let last = match period {
                    Period::Month => d.last_of_month(),
                    Period::Year => d.last_of_year(),
                };
                next_day_start(last)
            }
            ExpiryPolicy::Inactivity { months } => z
                .checked_add(Span::new().months(*months))
                .ok()
                .map(|z| z.timestamp()),
        }
    }

    /// Whether activity moves every lot's date (inactivity), rather than each lot keeping its own.
    pub fn extends_on_activity(&self) -> bool {
        matches!(self, ExpiryPolicy::Inactivity { .. })
    }

    pub fn is_never(&self) -> bool {
        matches!(self, ExpiryPolicy::Never)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn policies_parse_round_trip_and_name_bad_fields() {
        for v in [
            json!({"kind": "never"}),
            json!({"kind": "days_after_earning", "days": 365}),
            json!({"kind": "end_of_period", "period": "year", "months_after": 12}),
            json!({"kind": "inactivity", "months": 18}),
        ] {
            assert_eq!(ExpiryPolicy::parse(&v).unwrap().to_json(), v);
        }
        let DomainError::Invalid { fields } =
            ExpiryPolicy::parse(&json!({"kind": "end_of_period", "period": "week", "days": 3}))
                .unwrap_err()
        else {
            panic!("invalid")
        };
        let mut pointers: Vec<_> = fields.iter().map(|f| f.pointer.as_str()).collect();
        pointers.sort_unstable();
        assert_eq!(pointers, ["/days", "/months_after", "/period"]);
    }

    #[test]
    fn dates_are_local_and_end_of_month_handles_short_months() {
        let tz = TimeZone::get("Europe/Warsaw").unwrap();
        let p = ExpiryPolicy::EndOfPeriod {
            period: Period::Month,
            months_after: 1,
        };
        // Earned 31 January → valid through the end of February → expires 1 March 00:00 local.
        assert_eq!(
            p.expires_at(ts("2026-01-31T12:00:00Z"), &tz),
            Some(ts("2026-02-28T23:00:00Z"))
        );
        let y = ExpiryPolicy::EndOfPeriod {
            period: Period::Year,
            months_after: 12,
        };
        assert_eq!(
            y.expires_at(ts("2026-03-10T12:00:00Z"), &tz),
            Some(ts("2027-12-31T23:00:00Z"))
        );
        let d = ExpiryPolicy::DaysAfterEarning { days: 30 };
        assert_eq!(
            d.expires_at(ts("2026-03-10T12:00:00Z"), &tz),
            Some(ts("2026-04-09T11:00:00Z")),
            "30 local days, across the DST change"
        );
        assert_eq!(
            ExpiryPolicy::Never.expires_at(ts("2026-03-10T12:00:00Z"), &tz),
            None
        );
    }
}
