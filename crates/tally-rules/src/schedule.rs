//! Time: whether a rule's schedule covers an instant, and the local windows per-member limits
//! are counted in. Everything is local to the program's time zone, so "Saturday 09:00" and "this
//! month" mean what the operator sees on a wall clock, also on DST days.

use crate::doc::{Schedule, day_names, hhmm};
use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

/// Starts of the local day, ISO week (Monday) and month containing an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Windows {
    pub day: Timestamp,
    pub week: Timestamp,
    pub month: Timestamp,
}

/// Start of the local day, ISO week (Monday) and month containing `at` in `tz`, as timestamps:
/// the caller sums usage since each. A day that starts in a DST gap starts at the first instant
/// that exists; the instant itself is used if a start cannot be represented (never panics).
pub fn windows(at: Timestamp, tz: &TimeZone) -> Windows {
    let date = tz.to_datetime(at).date();
    let start = |d: Option<jiff::civil::Date>| {
        d.and_then(|d| d.to_zoned(tz.clone()).ok())
            .map_or(at, |z| z.timestamp())
    };
    let monday = date
        .checked_sub(jiff::Span::new().days(date.weekday().to_monday_zero_offset()))
        .ok();
    Windows {
        day: start(Some(date)),
        week: start(monday),
        month: start(Some(date.first_of_month())),
    }
}

/// Why an instant is outside a schedule's days or hours, written once per compiled rule rather
/// than on every event.
#[derive(Debug, Default)]
pub(crate) struct Outside {
    days: String,
    hours: String,
}

impl Schedule {
    /// The texts [`Schedule::covers`] answers when the day or the hour is wrong.
    pub(crate) fn outside(&self) -> Outside {
        let mut outside = Outside::default();
        if !self.days.is_empty() {
            let names: Vec<&str> = self.days.iter().map(|d| day_names(*d).1).collect();
            let list = match names.split_last() {
                Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
                _ => names.join(""),
            };
            outside.days = format!("outside schedule ({list})");
        }
        if let Some((from, to)) = self.hours {
            outside.hours = format!("outside schedule ({}–{})", hhmm(from), hhmm(to));
        }
        outside
    }

    /// `Ok` when `at` is inside the schedule, else why not, in plain words. `local` gives `at`
    /// in the program's time zone; `outside` is this schedule's [`Schedule::outside`].
    pub(crate) fn covers(
        &self,
        at: Timestamp,
        local: &dyn Fn() -> DateTime,
        outside: &Outside,
    ) -> Result<(), String> {
        if let Some(start) = self.starts_at
            && at < start
        {
            return Err(format!("outside schedule (starts {start})"));
        }
        if let Some(end) = self.ends_at
            && at >= end
        {
            return Err(format!("outside schedule (ended {end})"));
        }
        if self.days.is_empty() && self.hours.is_none() {
            return Ok(());
        }
        let local = local();
        if !self.days.is_empty() && !self.days.contains(&local.weekday()) {
            return Err(outside.days.clone());
        }
        if let Some((from, to)) = self.hours {
            let minute = u16::try_from(i32::from(local.hour()) * 60 + i32::from(local.minute()))
                .unwrap_or(0);
            if minute < from || minute >= to {
                return Err(outside.hours.clone());
            }
        }
        Ok(())
    }
}
