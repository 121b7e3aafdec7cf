//! Charity partners: members give points to a cause the program supports; the program converts
//! them to money at its point value and pays the charity out now and then.

use crate::error::{DomainError, Fields};
use crate::ids::CharityId;
use crate::inputs::{Obj, date, int, parse_with, text};
use crate::money::Money;
use crate::points::Points;
use serde_json::Value;

/// Most points one gift may hold.
pub const MAX_DONATION_POINTS: i64 = 1_000_000_000;

/// What points are worth in money when given: `points × point_value_milli ÷ 1000` minor units,
/// rounded down (the program's point value is in thousandths of a minor unit per point).
pub fn amount_minor(points: Points, point_value_milli: i64) -> i64 {
    let minor = i128::from(points.value()) * i128::from(point_value_milli) / 1000;
    i64::try_from(minor).unwrap_or(i64::MAX)
}

/// A new charity: `{"name", "description"?}`.
#[derive(Clone, Debug, PartialEq)]
pub struct CharityInput {
    pub name: String,
    pub description: Option<String>,
}

impl CharityInput {
    pub fn parse(body: &Value) -> Result<CharityInput, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        o.only(&mut f, &["name", "description"]);
        let name = o.req(&mut f, "name", text(200));
        let description = o.opt(&mut f, "description", text(2000));
        f.finish()?;
        Ok(CharityInput {
            name: name.expect("checked"),
            description,
        })
    }
}

/// A member's gift: `{"charity_id", "points"}`.
#[derive(Clone, Debug, PartialEq)]
pub struct DonationRequest {
    pub charity_id: CharityId,
    pub points: Points,
}

impl DonationRequest {
    pub fn parse(body: &Value) -> Result<DonationRequest, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        o.only(&mut f, &["charity_id", "points"]);
        let charity_id = o.req(&mut f, "charity_id", parse_with(CharityId::parse));
        let points = o.req(&mut f, "points", int(1, MAX_DONATION_POINTS));
        f.finish()?;
        Ok(DonationRequest {
            charity_id: charity_id.expect("checked"),
            points: Points(points.expect("checked")),
        })
    }
}

/// Money paid out to a charity: `{"amount_minor", "reference", "settled_on"}`.
#[derive(Clone, Debug, PartialEq)]
pub struct SettlementInput {
    pub amount_minor: i64,
    /// The bank transfer's reference or a receipt number.
    pub reference: String,
    pub settled_on: jiff::civil::Date,
}

impl SettlementInput {
    pub fn parse(body: &Value) -> Result<SettlementInput, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        o.only(&mut f, &["amount_minor", "reference", "settled_on"]);
        let amount_minor = o.req(&mut f, "amount_minor", int(1, Money::MAX_AMOUNT_MINOR));
        let reference = o.req(&mut f, "reference", text(200));
        let settled_on = o.req(&mut f, "settled_on", date);
        f.finish()?;
        Ok(SettlementInput {
            amount_minor: amount_minor.expect("checked"),
            reference: reference.expect("checked"),
            settled_on: settled_on.expect("checked"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn points_are_worth_the_program_point_value_rounded_down() {
        // 1 cent a point (1000 thousandths).
        assert_eq!(amount_minor(Points(250), 1000), 250);
        // Half a cent a point: 333 points are 166.5 cents → 166.
        assert_eq!(amount_minor(Points(333), 500), 166);
        assert_eq!(amount_minor(Points(10), 0), 0);
    }

    #[test]
    fn bad_requests_name_their_fields() {
        let err = DonationRequest::parse(&json!({"charity_id": "nope", "points": 0, "x": 1}))
            .unwrap_err()
            .to_string();
        for pointer in ["/charity_id", "/points", "/x"] {
            assert!(err.contains(pointer), "{pointer} in {err}");
        }
        let err = SettlementInput::parse(&json!({"amount_minor": -1, "settled_on": "yesterday"}))
            .unwrap_err()
            .to_string();
        for pointer in ["/amount_minor", "/reference", "/settled_on"] {
            assert!(err.contains(pointer), "{pointer} in {err}");
        }
    }
}
