//! A program's settings and its base earning: points per currency unit with a rounding mode,
//! categories excluded from earning, and a minimum order value. (The rules engine of a later
//! issue adds to this base; it does not replace it.)

use crate::Timestamp;
use crate::ids::{ProgramId, TenantId};
use crate::money::Currency;
use crate::points::Points;
use crate::text::TimeZoneName;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// Round down: 9.99 units at 1 point per unit earn 9 points.
    Down,
    /// Round half up: 9.50 earns 10, 9.49 earns 9.
    Nearest,
    /// Round up: 9.01 earns 10.
    Up,
}

impl Rounding {
    pub const NAMES: &'static [&'static str] = &["down", "nearest", "up"];

    pub fn parse(raw: &str) -> Result<Rounding, String> {
        match raw {
            "down" => Ok(Rounding::Down),
            "nearest" => Ok(Rounding::Nearest),
            "up" => Ok(Rounding::Up),
            _ => Err(format!("must be one of {}", Rounding::NAMES.join(", "))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Rounding::Down => "down",
            Rounding::Nearest => "nearest",
            Rounding::Up => "up",
        }
    }

    /// `value × numerator / denominator`, rounded; all non-negative, denominator positive.
    pub fn scale(self, value: i64, numerator: i64, denominator: i64) -> i64 {
        let exact = self.divide(
            i128::from(value) * i128::from(numerator),
            i128::from(denominator),
        );
        i64::try_from(exact).unwrap_or(i64::MAX)
    }

    /// `numerator / denominator` rounded; both non-negative, denominator positive.
    fn divide(self, numerator: i128, denominator: i128) -> i128 {
        match self {
            Rounding::Down => numerator / denominator,
            Rounding::Up => (numerator + denominator - 1) / denominator,
            Rounding::Nearest => (2 * numerator + denominator) / (2 * denominator),
        }
    }
}

/// What happens when a return takes back points the member has already spent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NegativeBalancePolicy {
    /// The balance goes negative; redemptions are blocked until it is positive again.
    AllowNegative,
    /// The balance stops at zero; the points that could not be taken back are written off
    /// (recorded on the return as `unrecovered_points`).
    FloorAtZero,
}

impl NegativeBalancePolicy {
    pub const NAMES: &'static [&'static str] = &["allow_negative", "floor_at_zero"];

    pub fn parse(raw: &str) -> Result<NegativeBalancePolicy, String> {
        match raw {
            "allow_negative" => Ok(NegativeBalancePolicy::AllowNegative),
            "floor_at_zero" => Ok(NegativeBalancePolicy::FloorAtZero),
            _ => Err(format!(
                "must be one of {}",
                NegativeBalancePolicy::NAMES.join(", ")
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            NegativeBalancePolicy::AllowNegative => "allow_negative",
            NegativeBalancePolicy::FloorAtZero => "floor_at_zero",
        }
    }
}

/// Base earning. The rate is stored in thousandths of a point per major currency unit, so
/// `1.5` points per złoty is 1500: exact, integer, and enough precision for any real program.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EarningRule {
    pub points_per_unit_milli: i64,
    pub rounding: Rounding,
    pub excluded_categories: Vec<String>,
    pub min_order_minor: i64,
    /// The return window: a purchase's points stay pending this many days before they can be
    /// spent, and a return inside the window takes them back from pending first. 0: at once.
    pub pending_days: u16,
}

impl EarningRule {
    pub const MAX_POINTS_PER_UNIT_MILLI: i64 = 1_000_000_000;
    /// A year: longer return windows are not return windows.
    pub const MAX_PENDING_DAYS: u16 = 365;

    /// Parses a rate written as a decimal with at most three decimals (`"1.5"`, `"10"`).
    pub fn parse_rate(raw: &str) -> Result<i64, String> {
        let bad = || {
            format!(
                "`{raw}` must be a non-negative decimal with at most 3 decimals, such as \"1.5\""
            )
        };
        let (whole, frac) = raw.split_once('.').unwrap_or((raw, ""));
        if whole.is_empty()
            || frac.len() > 3
            || !whole
                .bytes()
                .chain(frac.bytes())
                .all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let whole: i64 = whole.parse().map_err(|_| bad())?;
        let frac_milli: i64 = format!("{frac:0<3}").parse().map_err(|_| bad())?;
        whole
            .checked_mul(1000)
            .and_then(|w| w.checked_add(frac_milli))
            .filter(|v| *v <= Self::MAX_POINTS_PER_UNIT_MILLI)
            .ok_or_else(bad)
    }

    /// The rate as a decimal string again (`1500` → `"1.5"`).
    pub fn rate_string(&self) -> String {
        let whole = self.points_per_unit_milli / 1000;
        let frac = self.points_per_unit_milli % 1000;
        if frac == 0 {
            whole.to_string()
        } else {
            format!("{whole}.{}", format!("{frac:03}").trim_end_matches('0'))
        }
    }

    /// Points earned on `eligible_minor` of money in `currency`.
    pub fn points_for(
        &self,
        eligible_minor: i64,
        order_total_minor: i64,
        currency: Currency,
    ) -> Points {
        if order_total_minor < self.min_order_minor || eligible_minor <= 0 {
            return Points::ZERO;
        }
        let numerator = i128::from(eligible_minor) * i128::from(self.points_per_unit_milli);
        let denominator = 1000 * i128::from(currency.minor_per_major());
        Points(
            i64::try_from(self.rounding.divide(numerator, denominator))
                .expect("bounded amounts and rates"),
        )
    }

    pub fn is_excluded(&self, category: Option<&str>) -> bool {
        category.is_some_and(|c| self.excluded_categories.iter().any(|x| x == c))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Program {
    pub id: ProgramId,
    pub tenant_id: TenantId,
    pub name: String,
    /// What members call the points: "points", "stars", "notes".
    pub points_name: String,
    pub currency: Currency,
    pub time_zone: TimeZoneName,
    pub earning: EarningRule,
    pub negative_balance: NegativeBalancePolicy,
    pub created_at: Timestamp,
    /// Changes whenever the program's earning rules change: compiled rules are cached per
    /// revision. Internal, not part of the API.
    #[serde(skip)]
    pub rules_revision: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(rate: &str, rounding: Rounding) -> EarningRule {
        EarningRule {
            points_per_unit_milli: EarningRule::parse_rate(rate).unwrap(),
            rounding,
            excluded_categories: vec!["gift-cards".into()],
            min_order_minor: 500,
            pending_days: 0,
        }
    }

    #[test]
    fn rates_parse_exactly() {
        assert_eq!(EarningRule::parse_rate("1.5"), Ok(1500));
        assert_eq!(EarningRule::parse_rate("10"), Ok(10_000));
        assert_eq!(EarningRule::parse_rate("0.001"), Ok(1));
        assert!(EarningRule::parse_rate("0.0001").is_err());
        assert!(EarningRule::parse_rate("-1").is_err());
        assert!(EarningRule::parse_rate("1e3").is_err());
        assert_eq!(rule("1.25", Rounding::Down).rate_string(), "1.25");
    }

    #[test]
    fn rounding_modes_and_minimum_order() {
        let pln = Currency::parse("PLN").unwrap();
        assert_eq!(
            rule("1", Rounding::Down).points_for(999, 999, pln),
            Points(9)
        );
        assert_eq!(
            rule("1", Rounding::Nearest).points_for(950, 950, pln),
            Points(10)
        );
        assert_eq!(
            rule("1", Rounding::Nearest).points_for(949, 949, pln),
            Points(9)
        );
        assert_eq!(
            rule("1", Rounding::Up).points_for(901, 901, pln),
            Points(10)
        );
        assert_eq!(
            rule("1.5", Rounding::Down).points_for(10_000, 10_000, pln),
            Points(150)
        );
        assert_eq!(
            rule("1", Rounding::Down).points_for(499, 499, pln),
            Points::ZERO,
            "below minimum order"
        );
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(
            rule("0.01", Rounding::Down).points_for(1000, 1000, jpy),
            Points(10)
        );
    }
}
