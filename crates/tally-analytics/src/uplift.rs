//! Uplift: did a message change what members did? The members a campaign or journey reached
//! (treated) against a random holdout that got nothing, over the same window.
//!
//! Conversion is compared as a difference of proportions with Newcombe's hybrid score interval
//! (method 10 of Newcombe 1998, built from the two Wilson intervals): unlike the textbook Wald
//! interval it stays inside [−1, 1] and keeps its coverage when conversions are few or the
//! holdout is small. Revenue per member is compared as a difference of means with Welch's
//! standard error and the normal quantile (groups are hundreds of members or more). Both at 95 %.

/// The 97.5th percentile of the standard normal distribution.
const Z: f64 = 1.959_963_984_540_054;

/// What one group did: members, how many converted (bought at least once in the window), and
/// the sum and sum of squares of each member's revenue (minor units; zero for non-buyers).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Group {
    pub members: u64,
    pub converted: u64,
    pub revenue_sum: f64,
    pub revenue_sum_squares: f64,
}

impl Group {
    pub fn conversion(&self) -> Option<f64> {
        (self.members > 0).then(|| self.converted as f64 / self.members as f64)
    }

    pub fn revenue_per_member(&self) -> Option<f64> {
        (self.members > 0).then(|| self.revenue_sum / self.members as f64)
    }

    /// The sample variance of revenue per member.
    fn revenue_variance(&self) -> Option<f64> {
        let n = self.members as f64;
        (self.members > 1).then(|| {
            let mean = self.revenue_sum / n;
            ((self.revenue_sum_squares - n * mean * mean) / (n - 1.0)).max(0.0)
        })
    }
}

/// A difference (treated − holdout) with its 95 % interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Difference {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
}

impl Difference {
    /// Whether the interval excludes zero: the groups differ beyond chance at 95 %.
    pub fn is_significant(&self) -> bool {
        self.low > 0.0 || self.high < 0.0
    }
}

/// Wilson's score interval for `successes` of `n`.
pub fn wilson(successes: u64, n: u64) -> Option<(f64, f64)> {
    if n == 0 {
        return None;
    }
    let n = n as f64;
    let p = successes as f64 / n;
    let z2 = Z * Z;
    let denominator = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denominator;
    let half = Z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denominator;
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

/// Treated conversion minus holdout conversion, with Newcombe's hybrid score interval.
pub fn conversion(treated: &Group, holdout: &Group) -> Option<Difference> {
    let (p1, p2) = (treated.conversion()?, holdout.conversion()?);
    let (l1, u1) = wilson(treated.converted, treated.members)?;
    let (l2, u2) = wilson(holdout.converted, holdout.members)?;
    let d = p1 - p2;
    Some(Difference {
        estimate: d,
        low: d - ((p1 - l1).powi(2) + (u2 - p2).powi(2)).sqrt(),
        high: d + ((u1 - p1).powi(2) + (p2 - l2).powi(2)).sqrt(),
    })
}

/// Treated revenue per member minus holdout revenue per member, with Welch's interval.
pub fn revenue(treated: &Group, holdout: &Group) -> Option<Difference> {
    let d = treated.revenue_per_member()? - holdout.revenue_per_member()?;
    let se = (treated.revenue_variance()? / treated.members as f64
        + holdout.revenue_variance()? / holdout.members as f64)
        .sqrt();
    Some(Difference {
        estimate: d,
        low: d - Z * se,
        high: d + Z * se,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 5e-5
    }

    fn group(members: u64, converted: u64) -> Group {
        Group {
            members,
            converted,
            ..Group::default()
        }
    }

    #[test]
    fn wilson_matches_the_published_interval() {
        // Newcombe (1998), 81 of 263: 0.2553 to 0.3662.
        let (l, u) = wilson(81, 263).unwrap();
        assert!(close(l, 0.2553) && close(u, 0.3662), "{l} {u}");
        assert_eq!(wilson(0, 0), None);
        let (l, u) = wilson(0, 10).unwrap();
        assert_eq!(l, 0.0);
        assert!(close(u, 0.2775), "{u}");
    }

    #[test]
    fn newcombe_matches_the_published_difference_intervals() {
        // Newcombe (1998), Table II, method 10: 56/70 − 48/80 → 0.0524 to 0.3339;
        // 9/10 − 3/10 → 0.1705 to 0.8090.
        let d = conversion(&group(70, 56), &group(80, 48)).unwrap();
        assert!(close(d.estimate, 0.2), "{d:?}");
        assert!(close(d.low, 0.0524) && close(d.high, 0.3339), "{d:?}");
        assert!(d.is_significant());
        let d = conversion(&group(10, 9), &group(10, 3)).unwrap();
        assert!(close(d.low, 0.1705) && close(d.high, 0.8090), "{d:?}");
        // Equal groups: an interval around zero.
        let d = conversion(&group(500, 50), &group(500, 50)).unwrap();
        assert!(!d.is_significant() && d.low < 0.0 && d.high > 0.0, "{d:?}");
        assert_eq!(conversion(&group(0, 0), &group(5, 1)), None);
    }

    #[test]
    fn revenue_difference_uses_each_groups_own_variance() {
        // Treated: 1000, 0, 2000, 1000 (mean 1000, variance 666,666.67);
        // holdout: 0, 0, 500, 500 (mean 250, variance 83,333.33).
        let treated = Group {
            members: 4,
            converted: 3,
            revenue_sum: 4000.0,
            revenue_sum_squares: 6_000_000.0,
        };
        let holdout = Group {
            members: 4,
            converted: 2,
            revenue_sum: 1000.0,
            revenue_sum_squares: 500_000.0,
        };
        let d = revenue(&treated, &holdout).unwrap();
        let se = ((666_666.666_7 + 83_333.333_3) / 4.0_f64).sqrt();
        assert!(close(d.estimate, 750.0));
        assert!((d.low - (750.0 - Z * se)).abs() < 1e-3, "{d:?}");
        assert!((d.high - (750.0 + Z * se)).abs() < 1e-3, "{d:?}");
        assert_eq!(
            revenue(&group(1, 0), &holdout),
            None,
            "one member has no variance"
        );
    }
}
