//! What kind of thing a reward is, and how a physical one reaches the member: a delivery
//! address given when it is redeemed, then requested → shipped → delivered (or cancelled, and
//! the points come back).

use crate::error::{DomainError, Fields};
use crate::inputs::{Obj, text};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A reward's kind: what the member gets for the points.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RewardKind {
    /// A code the cashier checks, or a voucher code (the default).
    #[default]
    Digital,
    /// Sent to the member: needs a delivery address; fulfilment is tracked.
    Physical,
    /// A product handed over at the till (its `sku`).
    FreeProduct,
    /// A gift, an experience or an event invitation.
    Experience,
}

impl RewardKind {
    pub const NAMES: [&'static str; 4] = ["digital", "physical", "free_product", "experience"];

    pub fn as_str(self) -> &'static str {
        match self {
            RewardKind::Digital => "digital",
            RewardKind::Physical => "physical",
            RewardKind::FreeProduct => "free_product",
            RewardKind::Experience => "experience",
        }
    }

    pub fn parse(raw: &str) -> Result<RewardKind, String> {
        match raw {
            "digital" => Ok(RewardKind::Digital),
            "physical" => Ok(RewardKind::Physical),
            "free_product" => Ok(RewardKind::FreeProduct),
            "experience" => Ok(RewardKind::Experience),
            _ => Err(format!("must be one of: {}", RewardKind::NAMES.join(", "))),
        }
    }
}

/// Where a physical reward goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryAddress {
    pub name: String,
    pub line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    pub postal_code: String,
    pub city: String,
    /// ISO 3166-1 alpha-2, upper case (`PL`, `DE`).
    pub country: String,
}

impl DeliveryAddress {
    /// `{"name", "line1", "line2"?, "postal_code", "city", "country"}`, errors into `f`.
    pub fn parse(o: &Obj<'_>, f: &mut Fields) -> Option<DeliveryAddress> {
        o.only(
            f,
            &["name", "line1", "line2", "postal_code", "city", "country"],
        );
        let name = o.req(f, "name", text(200));
        let line1 = o.req(f, "line1", text(200));
        let line2 = o.opt(f, "line2", text(200));
        let postal_code = o.req(f, "postal_code", text(20));
        let city = o.req(f, "city", text(100));
        let country = o.req(f, "country", |v| {
            let raw = crate::inputs::string(v)?;
            if raw.len() == 2 && raw.bytes().all(|b| b.is_ascii_alphabetic()) {
                Ok(raw.to_ascii_uppercase())
            } else {
                Err("must be a two-letter country code such as PL".to_owned())
            }
        });
        Some(DeliveryAddress {
            name: name?,
            line1: line1?,
            line2,
            postal_code: postal_code?,
            city: city?,
            country: country?,
        })
    }
}

/// How far a physical reward has got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FulfilmentStatus {
    Requested,
    Shipped,
    Delivered,
}

impl FulfilmentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FulfilmentStatus::Requested => "requested",
            FulfilmentStatus::Shipped => "shipped",
            FulfilmentStatus::Delivered => "delivered",
        }
    }

    pub fn parse(raw: &str) -> Option<FulfilmentStatus> {
        match raw {
            "requested" => Some(FulfilmentStatus::Requested),
            "shipped" => Some(FulfilmentStatus::Shipped),
            "delivered" => Some(FulfilmentStatus::Delivered),
            _ => None,
        }
    }

    /// Fulfilment only moves forward: requested → shipped → delivered (or straight to
    /// delivered, when the member collects it).
    pub fn may_become(self, next: FulfilmentStatus) -> bool {
        matches!(
            (self, next),
            (FulfilmentStatus::Requested, FulfilmentStatus::Shipped)
                | (
                    FulfilmentStatus::Requested | FulfilmentStatus::Shipped,
                    FulfilmentStatus::Delivered
                )
        )
    }
}

/// A physical reward's way to the member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fulfilment {
    pub status: FulfilmentStatus,
    pub address: DeliveryAddress,
    /// The carrier's tracking reference, once shipped.
    #[serde(default)]
    pub tracking: Option<String>,
}

/// A fulfilment step: `{"status": "shipped" | "delivered", "tracking"?}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FulfilmentUpdate {
    pub status: FulfilmentStatus,
    pub tracking: Option<String>,
}

impl FulfilmentUpdate {
    pub fn parse(body: &Value) -> Result<FulfilmentUpdate, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        o.only(&mut f, &["status", "tracking"]);
        let status = o.req(&mut f, "status", |v| match v.as_str() {
            Some("shipped") => Ok(FulfilmentStatus::Shipped),
            Some("delivered") => Ok(FulfilmentStatus::Delivered),
            _ => Err("must be \"shipped\" or \"delivered\"".to_owned()),
        });
        let tracking = o.opt(&mut f, "tracking", text(200));
        f.finish()?;
        Ok(FulfilmentUpdate {
            status: status.expect("checked"),
            tracking,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fulfilment_only_moves_forward() {
        use FulfilmentStatus::*;
        assert!(Requested.may_become(Shipped));
        assert!(Requested.may_become(Delivered));
        assert!(Shipped.may_become(Delivered));
        assert!(!Shipped.may_become(Requested));
        assert!(!Delivered.may_become(Shipped));
        assert!(!Shipped.may_become(Shipped));
    }

    #[test]
    fn an_address_names_what_is_missing() {
        let body = json!({"a": {"name": "Ann", "line1": "", "country": "Poland", "zip": "1"}});
        let o = Obj::root(&body).unwrap();
        let mut f = Fields::new();
        let a = o.obj(&mut f, "a", true).unwrap();
        assert!(DeliveryAddress::parse(&a, &mut f).is_none());
        let err = f.finish().unwrap_err().to_string();
        for pointer in ["/a/postal_code", "/a/city", "/a/country", "/a/zip"] {
            assert!(err.contains(pointer), "{pointer} in {err}");
        }
        assert!(FulfilmentUpdate::parse(&json!({"status": "requested"})).is_err());
    }
}
