//! The hour of the week a member is most likely to engage, for scheduling their messages.
//!
//! Each engagement (an opened message, a click, a visit, a purchase) falls in one of the 168
//! hours of the week, in the member's local time (converting is the caller's job: it needs the
//! member's time zone). A member with three opens on Tuesday at 9 tells us little on their own;
//! so each member's distribution is shrunk toward the program's:
//!
//! ```text
//! p_member(h) = (count_member(h) + κ · p_program(h)) / (n_member + κ)
//! ```
//!
//! the posterior mean of a Dirichlet prior centred on the program's distribution with weight κ
//! (`pseudo_count`, in engagements). With no history a member gets the program's best hour; with
//! a long one, their own. The program's distribution itself is smoothed with one pseudo-count
//! per hour (Laplace), so no hour has probability zero.
//!
//! The best hour is the argmax; ties go to the earliest hour of the week (Monday 00:00 first),
//! so the answer is deterministic.

use std::collections::BTreeMap;

use crate::AnalyticsError;

/// Hours in a week.
pub const HOURS_PER_WEEK: usize = 168;

/// An hour of the week: 0 = Monday 00:00–00:59, …, 167 = Sunday 23:00–23:59.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HourOfWeek(u8);

impl HourOfWeek {
    /// From a weekday (0 = Monday … 6 = Sunday) and an hour (0–23).
    pub fn new(weekday_from_monday: u8, hour: u8) -> Result<Self, AnalyticsError> {
        if weekday_from_monday > 6 {
            return Err(AnalyticsError::invalid(
                "weekday_from_monday",
                format!("must be 0 (Monday) … 6 (Sunday), got {weekday_from_monday}"),
            ));
        }
        if hour > 23 {
            return Err(AnalyticsError::invalid(
                "hour",
                format!("must be 0 … 23, got {hour}"),
            ));
        }
        Ok(HourOfWeek(weekday_from_monday * 24 + hour))
    }

    /// From an index 0 … 167.
    pub fn from_index(index: usize) -> Result<Self, AnalyticsError> {
        u8::try_from(index)
            .ok()
            .filter(|i| usize::from(*i) < HOURS_PER_WEEK)
            .map(HourOfWeek)
            .ok_or_else(|| {
                AnalyticsError::invalid("hour_of_week", format!("must be 0 … 167, got {index}"))
            })
    }

    pub fn index(self) -> usize {
        usize::from(self.0)
    }

    /// 0 = Monday … 6 = Sunday.
    pub fn weekday_from_monday(self) -> u8 {
        self.0 / 24
    }

    pub fn hour(self) -> u8 {
        self.0 % 24
    }
}

/// One engagement of a member.
#[derive(Clone, Debug, PartialEq)]
pub struct Engagement<K> {
    pub member: K,
    pub hour: HourOfWeek,
}

/// A member's smoothed distribution and best hour.
#[derive(Clone, Debug, PartialEq)]
pub struct MemberSendTime<K> {
    pub member: K,
    /// The member's own engagements.
    pub engagements: u32,
    /// Probability per hour of the week; sums to 1.
    pub distribution: Vec<f64>,
    pub best_hour: HourOfWeek,
}

/// The program's distribution and every member's.
#[derive(Clone, Debug, PartialEq)]
pub struct SendTimes<K> {
    /// Probability per hour of the week over all engagements (Laplace-smoothed); sums to 1.
    pub program: Vec<f64>,
    pub program_best_hour: HourOfWeek,
    /// One per member with engagements, in member id order.
    pub members: Vec<MemberSendTime<K>>,
}

impl<K> SendTimes<K> {
    /// The best hour for a member with no engagements: the program's.
    pub fn default_hour(&self) -> HourOfWeek {
        self.program_best_hour
    }
}

fn argmax(distribution: &[f64]) -> usize {
    // Strictly greater: the earliest of equal maxima wins.
    let mut best = 0;
    for (i, p) in distribution.iter().enumerate() {
        if *p > distribution[best] {
            best = i;
        }
    }
    best
}

/// Smoothed send-time distributions. `pseudo_count` (κ) must be finite and ≥ 0; 0 means no
/// shrinkage (a member's own counts only).
pub fn send_times<K: Ord + Clone>(
    engagements: &[Engagement<K>],
    pseudo_count: f64,
) -> Result<SendTimes<K>, AnalyticsError> {
    if !(pseudo_count.is_finite() && pseudo_count >= 0.0) {
        return Err(AnalyticsError::invalid(
            "pseudo_count",
            format!("must be a finite number ≥ 0, got {pseudo_count}"),
        ));
    }
    let mut program_counts = vec![0u64; HOURS_PER_WEEK];
    let mut by_member: BTreeMap<K, Vec<u32>> = BTreeMap::new();
    for e in engagements {
        program_counts[e.hour.index()] += 1;
        let counts = by_member
            .entry(e.member.clone())
            .or_insert_with(|| vec![0; HOURS_PER_WEEK]);
        counts[e.hour.index()] = counts[e.hour.index()].saturating_add(1);
    }
    let total = engagements.len() as f64 + HOURS_PER_WEEK as f64;
    let program: Vec<f64> = program_counts
        .iter()
        .map(|&c| (c as f64 + 1.0) / total)
        .collect();
    let program_best_hour = HourOfWeek(argmax(&program) as u8);
    let members = by_member
        .into_iter()
        .map(|(member, counts)| {
            let n: u32 = counts.iter().fold(0u32, |a, c| a.saturating_add(*c));
            let denominator = f64::from(n) + pseudo_count;
            let distribution: Vec<f64> = counts
                .iter()
                .zip(&program)
                .map(|(&c, &p)| (f64::from(c) + pseudo_count * p) / denominator)
                .collect();
            let best_hour = HourOfWeek(argmax(&distribution) as u8);
            MemberSendTime {
                member,
                engagements: n,
                distribution,
                best_hour,
            }
        })
        .collect();
    Ok(SendTimes {
        program,
        program_best_hour,
        members,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(member: u32, weekday: u8, hour: u8) -> Engagement<u32> {
        Engagement {
            member,
            hour: HourOfWeek::new(weekday, hour).unwrap(),
        }
    }

    #[test]
    fn hours_of_the_week_are_checked() {
        let h = HourOfWeek::new(6, 23).unwrap();
        assert_eq!(h.index(), 167);
        assert_eq!((h.weekday_from_monday(), h.hour()), (6, 23));
        assert_eq!(HourOfWeek::new(1, 9).unwrap().index(), 33);
        assert!(HourOfWeek::new(7, 0).is_err());
        assert!(HourOfWeek::new(0, 24).is_err());
        assert!(HourOfWeek::from_index(168).is_err());
        assert_eq!(HourOfWeek::from_index(33), HourOfWeek::new(1, 9));
    }

    #[test]
    fn a_thin_history_follows_the_program_and_a_long_one_the_member() {
        // The program engages on Tuesdays at 9 (100 engagements).
        let mut log: Vec<Engagement<u32>> = (0..100).map(|i| at(1000 + i, 1, 9)).collect();
        // Member 1: once on Saturday at 20. Member 2: thirty times on Saturday at 20.
        log.push(at(1, 5, 20));
        log.extend((0..30).map(|_| at(2, 5, 20)));
        let t = send_times(&log, 10.0).unwrap();
        let tuesday_9 = HourOfWeek::new(1, 9).unwrap();
        let saturday_20 = HourOfWeek::new(5, 20).unwrap();
        assert_eq!(t.program_best_hour, tuesday_9);
        let member = |id: u32| t.members.iter().find(|m| m.member == id).unwrap();
        assert_eq!(member(1).best_hour, tuesday_9);
        assert_eq!(member(2).best_hour, saturday_20);
        assert_eq!(member(2).engagements, 30);
        for m in &t.members {
            let sum: f64 = m.distribution.iter().sum();
            assert!((sum - 1.0).abs() < 1e-12);
        }
        assert!((t.program.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        // Without shrinkage, one engagement decides.
        let raw = send_times(&log, 0.0).unwrap();
        assert_eq!(
            raw.members
                .iter()
                .find(|m| m.member == 1)
                .unwrap()
                .best_hour,
            saturday_20
        );
    }

    #[test]
    fn ties_go_to_the_earliest_hour() {
        let log = vec![at(1, 3, 18), at(1, 0, 7)];
        let t = send_times(&log, 0.0).unwrap();
        assert_eq!(t.members[0].best_hour, HourOfWeek::new(0, 7).unwrap());
        // No engagements at all: every hour equal, Monday 00:00.
        let empty = send_times::<u32>(&[], 5.0).unwrap();
        assert_eq!(empty.default_hour(), HourOfWeek::new(0, 0).unwrap());
        assert!(empty.members.is_empty());
    }

    #[test]
    fn the_pseudo_count_is_checked() {
        assert!(send_times::<u32>(&[], -1.0).is_err());
        assert!(send_times::<u32>(&[], f64::NAN).is_err());
    }
}
