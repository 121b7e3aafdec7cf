//! Cashback: a second wallet per member, in minor units of the program's currency. Rules give
//! it (`{"cashback": {"percent": 5}}`); the till and the e-shop pay part of a basket with it,
//! once per order, and give it back when the order is cancelled.

use crate::error::{DomainError, Fields};
use crate::inputs::{MemberRef, Obj, identifier, int};
use crate::money::Money;
use serde_json::Value;

/// Paying part of an order from the member's cashback: `{"member", "order_id", "amount_minor"}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CashbackPayment {
    pub member: MemberRef,
    pub order_id: String,
    pub amount_minor: i64,
}

impl CashbackPayment {
    pub fn parse(body: &Value) -> Result<CashbackPayment, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        o.only(&mut f, &["member", "order_id", "amount_minor"]);
        let member = o
            .obj(&mut f, "member", true)
            .and_then(|m| MemberRef::parse(&m, &mut f));
        let order_id = o.req(&mut f, "order_id", identifier);
        let amount_minor = o.req(&mut f, "amount_minor", int(1, Money::MAX_AMOUNT_MINOR));
        f.finish()?;
        Ok(CashbackPayment {
            member: member.expect("checked"),
            order_id: order_id.expect("checked"),
            amount_minor: amount_minor.expect("checked"),
        })
    }
}

/// Giving a payment back: `{"order_id"}`.
pub fn parse_refund(body: &Value) -> Result<String, DomainError> {
    let o = Obj::root(body)?;
    let mut f = Fields::new();
    o.only(&mut f, &["order_id"]);
    let order_id = o.req(&mut f, "order_id", identifier);
    f.finish()?;
    Ok(order_id.expect("checked"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bad_payments_name_their_fields() {
        let err = CashbackPayment::parse(&json!({"member": {}, "amount_minor": 0, "tip": 1}))
            .unwrap_err()
            .to_string();
        for pointer in ["/member", "/order_id", "/amount_minor", "/tip"] {
            assert!(err.contains(pointer), "{pointer} in {err}");
        }
        let ok = CashbackPayment::parse(
            &json!({"member": {"external_id": "crm-1"}, "order_id": "A-1", "amount_minor": 250}),
        )
        .unwrap();
        assert_eq!((ok.order_id.as_str(), ok.amount_minor), ("A-1", 250));
        assert!(parse_refund(&json!({})).is_err());
    }
}
