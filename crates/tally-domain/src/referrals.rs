//! Referrals (member-gets-member): every member has a referral code; a person who enrols with
//! it is their referral. A program's referral policy says what both get once the referred
//! member's first qualifying purchase has cleared its return window, and how many referrals
//! a referrer may be rewarded for.

use crate::error::{DomainError, Fields};
use crate::inputs::{Obj, int};
use crate::money::Money;
use serde_json::{Value, json};

/// Referral codes are 8 characters of an unambiguous alphabet (older members were given 10
/// hexadecimal ones); matched without regard to case.
pub fn code(v: &Value) -> Result<String, String> {
    let raw = v.as_str().ok_or("must be a string")?.trim();
    if (4..=16).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(raw.to_ascii_uppercase())
    } else {
        Err("must be a referral code of 4 to 16 letters and digits".into())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferralPolicy {
    /// Points for the member who referred.
    pub referrer_points: i64,
    /// Points for the member who was referred.
    pub referred_points: i64,
    /// The smallest purchase that qualifies the referral.
    pub min_purchase_minor: i64,
    /// The referred member must qualify within this many days of enrolling; `None`: any time.
    pub qualify_within_days: Option<i64>,
    /// Most rewarded referrals per referrer; `None`: no cap.
    pub max_per_referrer: Option<i64>,
}

impl ReferralPolicy {
    pub fn parse(body: &Value) -> Result<ReferralPolicy, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        o.only(
            &mut f,
            &[
                "referrer_points",
                "referred_points",
                "min_purchase_minor",
                "qualify_within_days",
                "max_per_referrer",
            ],
        );
        let referrer_points = o.req(&mut f, "referrer_points", int(0, 1_000_000));
        let referred_points = o.req(&mut f, "referred_points", int(0, 1_000_000));
        let min_purchase_minor = o
            .opt(
                &mut f,
                "min_purchase_minor",
                int(0, Money::MAX_AMOUNT_MINOR),
            )
            .unwrap_or(0);
        let qualify_within_days = o.opt(&mut f, "qualify_within_days", int(1, 3650));
        let max_per_referrer = o.opt(&mut f, "max_per_referrer", int(1, 10_000));
        if referrer_points == Some(0) && referred_points == Some(0) {
            f.push("/referrer_points", "one of the two rewards must be above 0");
        }
        f.finish()?;
        Ok(ReferralPolicy {
            referrer_points: referrer_points.expect("checked"),
            referred_points: referred_points.expect("checked"),
            min_purchase_minor,
            qualify_within_days,
            max_per_referrer,
        })
    }

    pub fn to_json(&self) -> Value {
        json!({
            "referrer_points": self.referrer_points,
            "referred_points": self.referred_points,
            "min_purchase_minor": self.min_purchase_minor,
            "qualify_within_days": self.qualify_within_days,
            "max_per_referrer": self.max_per_referrer,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_round_trips_and_mistakes_are_named() {
        let p = ReferralPolicy::parse(&json!({"referrer_points": 200, "referred_points": 100,
            "min_purchase_minor": 2000, "qualify_within_days": 60, "max_per_referrer": 5}))
        .unwrap();
        assert_eq!(ReferralPolicy::parse(&p.to_json()).unwrap(), p);
        let e =
            ReferralPolicy::parse(&json!({"referrer_points": 0, "referred_points": 0, "bonus": 1}))
                .unwrap_err();
        let DomainError::Invalid { fields } = e else {
            panic!("invalid")
        };
        let pointers: Vec<&str> = fields.iter().map(|f| f.pointer.as_str()).collect();
        assert_eq!(pointers, vec!["/bonus", "/referrer_points"]);
        assert_eq!(code(&json!(" ab12cd34 ")), Ok("AB12CD34".into()));
        assert!(code(&json!("a b")).is_err());
    }
}
