//! Parsing untrusted JSON into commands. Each parser walks the request, collects every invalid
//! field with its JSON pointer, refuses unknown fields (a typo such as `ammount` must not be
//! silently ignored), and returns a command whose fields are already valid.

use crate::Timestamp;
use crate::card::parse_card_number;
use crate::error::{DomainError, Fields};
use crate::ids::{LocationId, MemberId, RewardId};
use crate::model::{Channel, MemberStatus, SalesChannel};
use crate::money::{Currency, Money};
use crate::points::Points;
use crate::program::{EarningRule, NegativeBalancePolicy, Rounding};
use crate::text::{Email, Locale, Phone, TimeZoneName, bounded_text};
use serde_json::{Map, Value};

pub const MAX_LINES: usize = 500;
pub const MAX_TAGS: usize = 50;
pub const MAX_ATTRIBUTES: usize = 50;
const NAME_CHARS: usize = 200;
const ID_CHARS: usize = 128;
const LONG_TEXT_CHARS: usize = 2000;

/// A JSON object being read, with the pointer of where it sits in the request.
pub struct Obj<'a> {
    pub(crate) map: &'a Map<String, Value>,
    pub(crate) path: String,
}

impl<'a> Obj<'a> {
    pub fn root(value: &'a Value) -> Result<Obj<'a>, DomainError> {
        match value {
            Value::Object(map) => Ok(Obj {
                map,
                path: String::new(),
            }),
            _ => Err(DomainError::invalid(
                "",
                "the request body must be a JSON object",
            )),
        }
    }

    /// The pointer of `key` in this object, escaped as RFC 6901 says (`/` → `~1`, `~` → `~0`),
    /// so a client-chosen key such as `a/b` is named unambiguously.
    pub(crate) fn pointer(&self, key: &str) -> String {
        format!(
            "{}/{}",
            self.path,
            key.replace('~', "~0").replace('/', "~1")
        )
    }

    /// Refuses keys not in `known`.
    pub fn only(&self, f: &mut Fields, known: &[&str]) {
        for key in self.map.keys() {
            if !known.contains(&key.as_str()) {
                f.push(
                    self.pointer(key),
                    format!(
                        "is not a known field (expected one of: {})",
                        known.join(", ")
                    ),
                );
            }
        }
    }

    /// A required field; a missing or `null` value is an error.
    pub fn req<T>(
        &self,
        f: &mut Fields,
        key: &str,
        parse: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Option<T> {
        match self.map.get(key) {
            None | Some(Value::Null) => {
                f.push(self.pointer(key), "is required");
                None
            }
            Some(v) => f.take(&self.pointer(key), parse(v)),
        }
    }

    /// An optional field; absent and `null` both mean "not given".
    pub fn opt<T>(
        &self,
        f: &mut Fields,
        key: &str,
        parse: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Option<T> {
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => f.take(&self.pointer(key), parse(v)),
        }
    }

    /// For patches: `None` when absent, `Some(None)` for an explicit `null` (clear the field).
    pub fn patch<T>(
        &self,
        f: &mut Fields,
        key: &str,
        parse: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Option<Option<T>> {
        match self.map.get(key) {
            None => None,
            Some(Value::Null) => Some(None),
            Some(v) => f.take(&self.pointer(key), parse(v)).map(Some),
        }
    }

    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// A nested object; errors inside it carry its pointer.
    pub fn obj(&self, f: &mut Fields, key: &str, required: bool) -> Option<Obj<'a>> {
        match self.map.get(key) {
            Some(Value::Object(map)) => Some(Obj {
                map,
                path: self.pointer(key),
            }),
            None | Some(Value::Null) if !required => None,
            None | Some(Value::Null) => {
                f.push(self.pointer(key), "is required");
                None
            }
            Some(_) => {
                f.push(self.pointer(key), "must be an object");
                None
            }
        }
    }

    /// A nested array of objects, bounded to `max` items.
    pub fn objects(&self, f: &mut Fields, key: &str, max: usize) -> Vec<Obj<'a>> {
        match self.map.get(key) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) if items.len() > max => {
                f.push(self.pointer(key), format!("must have at most {max} items"));
                Vec::new()
            }
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| match item {
                    Value::Object(map) => Some(Obj {
                        map,
                        path: format!("{}/{i}", self.pointer(key)),
                    }),
                    _ => {
                        f.push(format!("{}/{i}", self.pointer(key)), "must be an object");
                        None
                    }
                })
                .collect(),
            Some(_) => {
                f.push(self.pointer(key), "must be an array");
                Vec::new()
            }
        }
    }
}

// ---- value parsers -------------------------------------------------------------------------

pub fn string(v: &Value) -> Result<&str, String> {
    v.as_str().ok_or_else(|| "must be a string".to_owned())
}

pub fn text(max_chars: usize) -> impl Fn(&Value) -> Result<String, String> {
    move |v| bounded_text(string(v)?, max_chars)
}

pub fn int(min: i64, max: i64) -> impl Fn(&Value) -> Result<i64, String> {
    move |v| match v.as_i64() {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        Some(_) => Err(format!("must be between {min} and {max}")),
        None if v.is_number() => Err(format!("must be a whole number between {min} and {max}")),
        None => Err("must be a number".into()),
    }
}

pub fn boolean(v: &Value) -> Result<bool, String> {
    v.as_bool()
        .ok_or_else(|| "must be true or false".to_owned())
}

pub fn timestamp(v: &Value) -> Result<Timestamp, String> {
    string(v)?
        .parse::<Timestamp>()
        .map_err(|_| "must be an RFC 3339 timestamp such as 2026-05-01T12:00:00Z".to_owned())
}

pub fn date(v: &Value) -> Result<jiff::civil::Date, String> {
    let raw = string(v)?;
    if raw.len() != 10 {
        return Err("must be a date such as 1990-02-28".into());
    }
    raw.parse::<jiff::civil::Date>()
        .map_err(|_| "must be a date such as 1990-02-28".to_owned())
}

pub fn currency(v: &Value) -> Result<Currency, String> {
    Currency::parse(string(v)?)
}

pub fn email(v: &Value) -> Result<Email, String> {
    Email::parse(string(v)?)
}

pub fn phone(v: &Value) -> Result<Phone, String> {
    Phone::parse(string(v)?)
}

pub fn identifier(v: &Value) -> Result<String, String> {
    let raw = string(v)?;
    if raw.is_empty()
        || raw.len() > ID_CHARS
        || raw.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(format!("must be 1 to {ID_CHARS} characters without spaces"));
    }
    Ok(raw.to_owned())
}

/// One tag, as a JSON string.
pub(crate) fn tag_value(v: &Value) -> Result<String, String> {
    tag(string(v)?)
}

fn tag(raw: &str) -> Result<String, String> {
    let ok = !raw.is_empty()
        && raw.len() <= 64
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':'));
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(format!(
            "tag `{raw}` must be 1 to 64 letters, digits, '-', '_' or ':'"
        ))
    }
}

pub fn tags(v: &Value) -> Result<Vec<String>, String> {
    let items = v.as_array().ok_or("must be an array of strings")?;
    if items.len() > MAX_TAGS {
        return Err(format!("must have at most {MAX_TAGS} tags"));
    }
    let mut out: Vec<String> = items
        .iter()
        .map(|t| tag(string(t)?))
        .collect::<Result<_, _>>()?;
    out.sort();
    out.dedup();
    Ok(out)
}

pub fn attributes(v: &Value) -> Result<Map<String, Value>, String> {
    let map = v.as_object().ok_or("must be an object")?;
    if map.len() > MAX_ATTRIBUTES {
        return Err(format!("must have at most {MAX_ATTRIBUTES} attributes"));
    }
    if serde_json::to_string(map).map_or(0, |s| s.len()) > 8192 {
        return Err("must be at most 8 KiB of JSON".into());
    }
    Ok(map.clone())
}

pub(crate) fn parse_with<T>(
    parse: fn(&str) -> Result<T, String>,
) -> impl Fn(&Value) -> Result<T, String> {
    move |v| parse(string(v)?)
}

// ---- commands, by what they are about ------------------------------------------------------

mod catalog;
mod members;
mod orders;
mod programs;

pub use catalog::*;
pub use members::*;
pub use orders::*;
pub use programs::*;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pointers(err: DomainError) -> Vec<String> {
        match err {
            DomainError::Invalid { fields } => fields.into_iter().map(|f| f.pointer).collect(),
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn purchase_errors_name_every_bad_field() {
        let body = json!({
            "order_id": "A-1",
            "member": {"card_number": "1234"},
            "total": {"amount_minor": -5, "currency": "XYZ"},
            "lines": [{"sku": "cd-1", "quantity": 0, "unit_price_minor": 100}],
            "ammount": 1
        });
        let mut found = pointers(NewPurchase::parse(&body).unwrap_err());
        found.sort();
        assert_eq!(
            found,
            [
                "/ammount",
                "/lines/0/quantity",
                "/member/card_number",
                "/total/amount_minor",
                "/total/currency"
            ]
        );
    }

    #[test]
    fn a_good_purchase_parses() {
        let body = json!({
            "order_id": "A-1",
            "member": {"external_id": "c-42"},
            "total": {"amount_minor": 2599, "currency": "PLN"},
            "lines": [{"sku": "cd-1", "category": "jazz", "quantity": 1, "unit_price_minor": 2599}],
            "channel": "online",
            "occurred_at": "2026-05-01T12:00:00Z"
        });
        let p = NewPurchase::parse(&body).unwrap();
        assert_eq!(p.member, MemberRef::ExternalId("c-42".into()));
        assert_eq!(p.total.amount_minor, 2599);
        assert_eq!(p.channel, SalesChannel::Online);
        assert_eq!(p.lines[0].category.as_deref(), Some("jazz"));
    }

    #[test]
    fn member_ref_needs_exactly_one_key() {
        let body = json!({"member": {"id": MemberId::generate().to_string(), "external_id": "x"}, "reward_id": RewardId::generate().to_string()});
        assert_eq!(
            pointers(RedeemRequest::parse(&body).unwrap_err()),
            ["/member"]
        );
    }

    #[test]
    fn adjustments_need_a_reason_and_non_zero_points() {
        assert_eq!(
            pointers(AdjustmentRequest::parse(&json!({"points": 0})).unwrap_err()),
            ["/points", "/reason"]
        );
        assert!(AdjustmentRequest::parse(&json!({"points": -10, "reason": "damaged CD"})).is_ok());
    }

    #[test]
    fn non_objects_are_refused() {
        assert!(NewMember::parse(&json!([1, 2])).is_err());
        assert_eq!(
            pointers(NewMember::parse(&json!({"consents": {"fax": true}})).unwrap_err()),
            ["/consents/fax"]
        );
    }
}
