//! Birthdays and anniversaries: who has one on a day, and the once-a-year claim.

use super::{placeholders, ts};
use crate::{Conn, StoreError, Value};
use tally_domain::Timestamp;
use tally_domain::ids::{MemberId, ProgramId};

/// An active member born on a month-day asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Born {
    pub member_id: MemberId,
    /// `YYYY-MM-DD`.
    pub birthday: String,
    pub time_zone: Option<String>,
}

/// Active members of a program born on one of `month_days` (`"MM-DD"`).
pub async fn born_on<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    month_days: &[String],
) -> Result<Vec<Born>, StoreError> {
    let sql = format!(
        "SELECT id, birthday, time_zone FROM members WHERE program_id = $1 AND status = 'active' AND substr(birthday, 6, 5) IN ({}) ORDER BY id",
        placeholders(2, month_days.len())
    );
    let mut params: Vec<Value> = vec![program.as_str().into()];
    params.extend(month_days.iter().map(|d| Value::from(d.as_str())));
    c.query(&sql, &params)
        .await?
        .iter()
        .map(|r| {
            Ok(Born {
                member_id: MemberId::from_trusted(r.text(0)?),
                birthday: r.text(1)?,
                time_zone: r.opt_text(2)?,
            })
        })
        .collect()
}

/// Active members of a program who enrolled within one of `days` (`[start, end)` each).
pub async fn enrolled_within<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    days: &[(Timestamp, Timestamp)],
) -> Result<Vec<MemberId>, StoreError> {
    if days.is_empty() {
        return Ok(Vec::new());
    }
    let ranges: Vec<String> = (0..days.len())
        .map(|i| {
            format!(
                "(enrolled_at_us >= ${} AND enrolled_at_us < ${})",
                2 * i + 2,
                2 * i + 3
            )
        })
        .collect();
    let sql = format!(
        "SELECT id FROM members WHERE program_id = $1 AND status = 'active' AND ({}) ORDER BY id",
        ranges.join(" OR ")
    );
    let mut params: Vec<Value> = vec![program.as_str().into()];
    for (start, end) in days {
        params.extend([ts(*start), ts(*end)]);
    }
    c.query(&sql, &params)
        .await?
        .iter()
        .map(|r| Ok(MemberId::from_trusted(r.text(0)?)))
        .collect()
}

/// Claims a member's occasion for a year: true the first time, false ever after.
pub async fn claim<C: Conn>(
    c: &mut C,
    member: &MemberId,
    occasion: &str,
    year: i16,
    at: Timestamp,
) -> Result<bool, StoreError> {
    let changed = c
        .execute(
            "INSERT INTO occasion_awards (member_id, occasion, year, awarded_at_us) VALUES ($1, $2, $3, $4)
             ON CONFLICT (member_id, occasion, year) DO NOTHING",
            &[member.as_str().into(), occasion.into(), i64::from(year).into(), ts(at)],
        )
        .await?;
    Ok(changed == 1)
}
