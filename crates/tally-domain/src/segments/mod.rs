//! Segments: who belongs, as data. A dynamic segment is a condition over a member's facts — the
//! profile, the customer insights and the purchase history — combined with `all`, `any` and
//! `not`; a static segment is a list of members (uploaded). This module parses a definition
//! (every mistake named by its JSON pointer); `facts.rs` decides whether a member's [`Facts`]
//! match (reading the facts is the engine's job); `input.rs` reads a segment as an operator
//! writes it and a static segment's uploaded members.
//!
//! A test is `{"field": …, "op": …, "value": …}`, plus `"days": N` on purchase aggregates to
//! look at the last N days only. A test about something the member does not have (no tier yet,
//! no insights yet, no purchase for `days_since_last_purchase`, an attribute they lack) is
//! false whatever the operator; wrap it in `not` for the opposite.

use crate::error::{DomainError, Fields};
use serde_json::{Value, json};

mod facts;
mod input;

pub use facts::{Facts, PurchaseFacts};
pub use input::{MAX_STATIC_MEMBERS, SegmentInput, parse_static_members};

/// Most tests and groups in one definition, and how deep groups nest.
pub const MAX_NODES: usize = 100;
pub const MAX_DEPTH: usize = 6;
/// Most values in an `in` / `has_any` list.
const MAX_LIST: usize = 200;
/// The longest window for purchase aggregates.
pub const MAX_DAYS: i64 = 3660;

/// What a field holds, which decides the operators and values it takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Number,
    Text,
    Bool,
    /// A set of strings (tags, what was bought).
    Set,
    /// A free attribute: number, text or boolean, as the value given says.
    Any,
}

/// The fields a test can ask about: `(name, kind, takes a window, what it is)`.
pub const FIELDS: &[(&str, Kind, bool, &str)] = &[
    ("tier", Kind::Text, false, "the member's tier name"),
    ("tags", Kind::Set, false, "the member's tags"),
    ("status", Kind::Text, false, "active, suspended or closed"),
    ("birthday_month", Kind::Number, false, "1–12"),
    ("locale", Kind::Text, false, "e.g. en or pl-PL"),
    (
        "preferred_channel",
        Kind::Text,
        false,
        "email, sms, push or none",
    ),
    ("consent.email", Kind::Bool, false, "consent to email"),
    ("consent.sms", Kind::Bool, false, "consent to SMS"),
    (
        "consent.push",
        Kind::Bool,
        false,
        "consent to push messages",
    ),
    (
        "enrolled_days_ago",
        Kind::Number,
        false,
        "days since enrolment",
    ),
    ("points_balance", Kind::Number, false, "available points"),
    (
        "lifecycle",
        Kind::Text,
        false,
        "new, active, at_risk, lapsed or lost",
    ),
    (
        "rfm_segment",
        Kind::Text,
        false,
        "champions, loyal, at_risk, …",
    ),
    ("vip", Kind::Bool, false, "in the top 10% by value"),
    ("churn_risk", Kind::Number, false, "0–1"),
    ("p_alive", Kind::Number, false, "0–1"),
    (
        "clv_minor",
        Kind::Number,
        false,
        "12-month CLV in minor units",
    ),
    ("value_percentile", Kind::Number, false, "0–100"),
    (
        "expected_purchases_90d",
        Kind::Number,
        false,
        "predicted purchases",
    ),
    ("days_since_last_purchase", Kind::Number, false, "days"),
    ("purchases", Kind::Number, true, "number of purchases"),
    (
        "spend_minor",
        Kind::Number,
        true,
        "money spent, net of returns",
    ),
    (
        "average_order_minor",
        Kind::Number,
        true,
        "spend ÷ purchases",
    ),
    ("bought_sku", Kind::Set, true, "SKUs bought"),
    ("bought_category", Kind::Set, true, "categories bought"),
    ("bought_brand", Kind::Set, true, "brands bought"),
    (
        "bought_at_location",
        Kind::Set,
        true,
        "location ids bought at",
    ),
];

/// The prefix of free attributes: `attributes.size`.
const ATTRIBUTES: &str = "attributes.";

/// A comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Lte,
    Gt,
    Gte,
    Between,
    In,
    NotIn,
    HasAny,
    HasAll,
    HasNone,
}

const OPS: &[(&str, Op)] = &[
    ("eq", Op::Eq),
    ("ne", Op::Ne),
    ("lt", Op::Lt),
    ("lte", Op::Lte),
    ("gt", Op::Gt),
    ("gte", Op::Gte),
    ("between", Op::Between),
    ("in", Op::In),
    ("not_in", Op::NotIn),
    ("has_any", Op::HasAny),
    ("has_all", Op::HasAll),
    ("has_none", Op::HasNone),
];

impl Op {
    fn name(self) -> &'static str {
        OPS.iter().find(|(_, o)| *o == self).map_or("?", |(n, _)| n)
    }

    fn for_kind(kind: Kind) -> &'static [Op] {
        match kind {
            Kind::Number => &[
                Op::Eq,
                Op::Ne,
                Op::Lt,
                Op::Lte,
                Op::Gt,
                Op::Gte,
                Op::Between,
            ],
            Kind::Text => &[Op::Eq, Op::Ne, Op::In, Op::NotIn],
            Kind::Bool => &[Op::Eq, Op::Ne],
            Kind::Set => &[Op::HasAny, Op::HasAll, Op::HasNone],
            Kind::Any => &[
                Op::Eq,
                Op::Ne,
                Op::Lt,
                Op::Lte,
                Op::Gt,
                Op::Gte,
                Op::Between,
                Op::In,
                Op::NotIn,
            ],
        }
    }
}

/// The value a test compares with, checked against its field and operator.
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    Number(f64),
    Range(f64, f64),
    Text(String),
    Bool(bool),
    List(Vec<String>),
}

/// One test of a member's facts.
#[derive(Clone, Debug, PartialEq)]
pub struct Test {
    pub field: String,
    pub op: Op,
    pub value: Operand,
    /// Purchase aggregates: the last `days` days only.
    pub days: Option<i64>,
}

/// A segment's condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
    Test(Test),
}

fn field_info(name: &str) -> Option<(Kind, bool)> {
    if name
        .strip_prefix(ATTRIBUTES)
        .is_some_and(|k| !k.is_empty() && k.len() <= 100)
    {
        return Some((Kind::Any, false));
    }
    FIELDS
        .iter()
        .find(|(n, ..)| *n == name)
        .map(|(_, k, w, _)| (*k, *w))
}

impl Condition {
    /// Parses and checks a definition.
    pub fn parse(value: &Value) -> Result<Condition, DomainError> {
        let mut f = Fields::new();
        let mut nodes = 0;
        let condition = parse_node(value, "", 1, &mut nodes, &mut f);
        f.finish()?;
        Ok(condition.expect("no errors"))
    }

    /// Whether the member's facts satisfy the condition.
    pub fn matches(&self, facts: &Facts) -> bool {
        match self {
            Condition::All(parts) => parts.iter().all(|c| c.matches(facts)),
            Condition::Any(parts) => parts.iter().any(|c| c.matches(facts)),
            Condition::Not(inner) => !inner.matches(facts),
            Condition::Test(t) => t.matches(facts),
        }
    }

    /// Back to the JSON it was parsed from (normalised).
    pub fn to_json(&self) -> Value {
        match self {
            Condition::All(parts) => {
                json!({ "all": parts.iter().map(Self::to_json).collect::<Vec<_>>() })
            }
            Condition::Any(parts) => {
                json!({ "any": parts.iter().map(Self::to_json).collect::<Vec<_>>() })
            }
            Condition::Not(inner) => json!({ "not": inner.to_json() }),
            Condition::Test(t) => {
                let value = match &t.value {
                    Operand::Number(n) => number_json(*n),
                    Operand::Range(a, b) => json!([number_json(*a), number_json(*b)]),
                    Operand::Text(s) => json!(s),
                    Operand::Bool(b) => json!(b),
                    Operand::List(l) => json!(l),
                };
                let mut o = json!({ "field": t.field, "op": t.op.name(), "value": value });
                if let Some(days) = t.days {
                    o["days"] = json!(days);
                }
                o
            }
        }
    }

    /// Whether any test looks at a field for which `pred` holds (e.g. insights fields).
    pub fn uses(&self, pred: &dyn Fn(&str) -> bool) -> bool {
        match self {
            Condition::All(p) | Condition::Any(p) => p.iter().any(|c| c.uses(pred)),
            Condition::Not(inner) => inner.uses(pred),
            Condition::Test(t) => pred(&t.field),
        }
    }
}

/// A whole number reads back as written (`2`, not `2.0`).
fn number_json(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        json!(n as i64)
    } else {
        json!(n)
    }
}

fn parse_node(
    value: &Value,
    at: &str,
    depth: usize,
    nodes: &mut usize,
    f: &mut Fields,
) -> Option<Condition> {
    *nodes += 1;
    if *nodes > MAX_NODES {
        if *nodes == MAX_NODES + 1 {
            f.push(
                at,
                format!("a definition has at most {MAX_NODES} tests and groups"),
            );
        }
        return None;
    }
    let Some(map) = value.as_object() else {
        f.push(at, "must be an object: a test {\"field\", \"op\", \"value\"} or a group {\"all\"}, {\"any\"} or {\"not\"}");
        return None;
    };
    for group in ["all", "any", "not"] {
        let Some(inner) = map.get(group) else {
            continue;
        };
        let pointer = format!("{at}/{group}");
        if map.len() != 1 {
            f.push(at, format!("a `{group}` group has no other fields"));
            return None;
        }
        if depth >= MAX_DEPTH {
            f.push(&pointer, format!("groups nest at most {MAX_DEPTH} deep"));
            return None;
        }
        if group == "not" {
            return parse_node(inner, &pointer, depth + 1, nodes, f)
                .map(|c| Condition::Not(Box::new(c)));
        }
        let Some(items) = inner.as_array().filter(|a| !a.is_empty()) else {
            f.push(&pointer, "must be a non-empty array of conditions");
            return None;
        };
        let parts: Vec<Option<Condition>> = items
            .iter()
            .enumerate()
            .map(|(i, v)| parse_node(v, &format!("{pointer}/{i}"), depth + 1, nodes, f))
            .collect();
        let parts: Option<Vec<Condition>> = parts.into_iter().collect();
        return parts.map(|p| {
            if group == "all" {
                Condition::All(p)
            } else {
                Condition::Any(p)
            }
        });
    }
    parse_test(map, at, f).map(Condition::Test)
}

fn parse_test(map: &serde_json::Map<String, Value>, at: &str, f: &mut Fields) -> Option<Test> {
    let mut ok = true;
    for key in map.keys() {
        if !["field", "op", "value", "days"].contains(&key.as_str()) {
            f.push(
                format!("{at}/{key}"),
                "is not a known field (expected field, op, value and, for purchase aggregates, days; or a group: all, any, not)",
            );
            ok = false;
        }
    }
    let field = match map.get("field").and_then(Value::as_str) {
        Some(name) => match field_info(name) {
            Some(info) => Some((name.to_string(), info)),
            None => {
                let names: Vec<&str> = FIELDS.iter().map(|(n, ..)| *n).collect();
                f.push(
                    format!("{at}/field"),
                    format!(
                        "is not a field segments know (expected one of: {}, or attributes.<name>)",
                        names.join(", ")
                    ),
                );
                None
            }
        },
        None => {
            f.push(format!("{at}/field"), "is required: the name of a field");
            None
        }
    };
    let op = match map.get("op").and_then(Value::as_str) {
        Some(name) => match OPS.iter().find(|(n, _)| *n == name) {
            Some((_, op)) => Some(*op),
            None => {
                f.push(
                    format!("{at}/op"),
                    format!(
                        "is not an operator (expected one of: {})",
                        OPS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                    ),
                );
                None
            }
        },
        None => {
            f.push(format!("{at}/op"), "is required");
            None
        }
    };
    let days = match map.get("days") {
        None => None,
        Some(v) => match v.as_i64().filter(|d| (1..=MAX_DAYS).contains(d)) {
            Some(d) => Some(d),
            None => {
                f.push(
                    format!("{at}/days"),
                    format!("must be a whole number of days from 1 to {MAX_DAYS}"),
                );
                ok = false;
                None
            }
        },
    };
    let ((name, (kind, windowed)), op) = (field?, op?);
    if days.is_some() && !windowed {
        f.push(
            format!("{at}/days"),
            format!("`{name}` has no window; `days` is for purchases, spend_minor, average_order_minor and bought_*"),
        );
        ok = false;
    }
    if !Op::for_kind(kind).contains(&op) {
        let names: Vec<&str> = Op::for_kind(kind).iter().map(|o| o.name()).collect();
        f.push(
            format!("{at}/op"),
            format!(
                "`{}` does not apply to `{name}` (expected one of: {})",
                op.name(),
                names.join(", ")
            ),
        );
        return None;
    }
    let pointer = format!("{at}/value");
    let Some(raw) = map.get("value") else {
        f.push(&pointer, "is required");
        return None;
    };
    let value = operand(raw, kind, op)
        .map_err(|m| f.push(&pointer, m))
        .ok()?;
    ok.then_some(Test {
        field: name,
        op,
        value,
        days,
    })
}

fn strings(raw: &Value) -> Result<Vec<String>, String> {
    let items = raw
        .as_array()
        .filter(|a| !a.is_empty() && a.len() <= MAX_LIST)
        .ok_or(format!("must be a list of 1 to {MAX_LIST} strings"))?;
    items
        .iter()
        .map(|v| {
            v.as_str()
                .filter(|s| !s.is_empty() && s.chars().count() <= 200)
                .map(str::to_string)
                .ok_or_else(|| "must be a list of non-empty strings".to_string())
        })
        .collect()
}

fn operand(raw: &Value, kind: Kind, op: Op) -> Result<Operand, String> {
    let number = |v: &Value| v.as_f64().filter(|n| n.is_finite());
    match op {
        Op::Between => {
            let pair = raw.as_array().filter(|a| a.len() == 2);
            match pair.and_then(|a| Some((number(&a[0])?, number(&a[1])?))) {
                Some((lo, hi)) if lo <= hi => Ok(Operand::Range(lo, hi)),
                _ => Err("must be [low, high], two numbers with low ≤ high".into()),
            }
        }
        Op::In | Op::NotIn | Op::HasAny | Op::HasAll | Op::HasNone => strings(raw).map(Operand::List),
        _ => match (kind, raw) {
            (Kind::Number, v) | (Kind::Any, v @ Value::Number(_)) => number(v)
                .map(Operand::Number)
                .ok_or_else(|| "must be a number".into()),
            (Kind::Text, Value::String(s)) | (Kind::Any, Value::String(s))
                if !matches!(op, Op::Lt | Op::Lte | Op::Gt | Op::Gte) =>
            {
                Ok(Operand::Text(s.clone()))
            }
            (Kind::Bool, Value::Bool(b)) | (Kind::Any, Value::Bool(b))
                if matches!(op, Op::Eq | Op::Ne) =>
            {
                Ok(Operand::Bool(*b))
            }
            (Kind::Text, _) => Err("must be a string".into()),
            (Kind::Bool, _) => Err("must be true or false".into()),
            _ => Err("must be a number for lt, lte, gt and gte; a string, number or boolean for eq and ne".into()),
        },
    }
}

/// Fields that come from the customer insights run.
pub fn is_insights_field(name: &str) -> bool {
    matches!(
        name,
        "lifecycle"
            | "rfm_segment"
            | "vip"
            | "churn_risk"
            | "p_alive"
            | "clv_minor"
            | "value_percentile"
            | "expected_purchases_90d"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        let mut f = Facts::default();
        f.texts.insert("tier", "Gold".into());
        f.texts.insert("lifecycle", "at_risk".into());
        f.numbers.insert("clv_minor", 52_000.0);
        f.numbers.insert("birthday_month", 3.0);
        f.bools.insert("consent.email", true);
        f.tags = vec!["jazz-club".into()];
        f.attributes.insert("size".into(), json!("M"));
        f.attributes.insert("kids".into(), json!(2));
        f.purchases = vec![
            PurchaseFacts {
                days_ago: 40,
                net_minor: 3000,
                skus: vec!["lp-1".into()],
                categories: vec!["vinyl".into()],
                ..Default::default()
            },
            PurchaseFacts {
                days_ago: 200,
                net_minor: 1000,
                skus: vec!["cd-9".into()],
                categories: vec!["cd".into()],
                location_id: Some("loc_1".into()),
                ..Default::default()
            },
        ];
        f
    }

    fn check(definition: Value) -> bool {
        Condition::parse(&definition).unwrap().matches(&facts())
    }

    #[test]
    fn tests_and_groups_match_as_written() {
        assert!(check(json!({"field": "tier", "op": "eq", "value": "Gold"})));
        assert!(check(json!({"all": [
            {"field": "lifecycle", "op": "in", "value": ["at_risk", "lapsed"]},
            {"field": "clv_minor", "op": "gte", "value": 50000},
            {"not": {"field": "tags", "op": "has_any", "value": ["staff"]}}
        ]})));
        assert!(check(json!({"any": [
            {"field": "vip", "op": "eq", "value": true},
            {"field": "birthday_month", "op": "eq", "value": 3}
        ]})));
        assert!(check(
            json!({"field": "consent.email", "op": "eq", "value": true})
        ));
        assert!(check(
            json!({"field": "attributes.size", "op": "in", "value": ["M", "L"]})
        ));
        assert!(check(
            json!({"field": "attributes.kids", "op": "between", "value": [1, 3]})
        ));
    }

    #[test]
    fn purchase_aggregates_look_at_their_window() {
        assert!(check(json!({"field": "purchases", "op": "eq", "value": 2})));
        assert!(check(
            json!({"field": "purchases", "op": "eq", "value": 1, "days": 90})
        ));
        assert!(check(
            json!({"field": "spend_minor", "op": "eq", "value": 4000})
        ));
        assert!(check(
            json!({"field": "average_order_minor", "op": "eq", "value": 3000, "days": 90})
        ));
        assert!(check(
            json!({"field": "days_since_last_purchase", "op": "between", "value": [30, 60]})
        ));
        assert!(check(
            json!({"field": "bought_category", "op": "has_all", "value": ["cd", "vinyl"]})
        ));
        assert!(!check(
            json!({"field": "bought_category", "op": "has_any", "value": ["cd"], "days": 90})
        ));
        assert!(check(
            json!({"field": "bought_at_location", "op": "has_any", "value": ["loc_1"]})
        ));
        // No purchase in the window: no average, so false either way.
        assert!(!check(
            json!({"field": "average_order_minor", "op": "gte", "value": 0, "days": 30})
        ));
    }

    #[test]
    fn what_a_member_does_not_have_is_false() {
        assert!(!check(
            json!({"field": "churn_risk", "op": "lt", "value": 2})
        ));
        assert!(!check(
            json!({"field": "churn_risk", "op": "ne", "value": 0.5})
        ));
        assert!(!check(
            json!({"field": "attributes.shoe", "op": "ne", "value": "42"})
        ));
        assert!(check(
            json!({"not": {"field": "vip", "op": "eq", "value": true}})
        ));
        let mut none = Facts::default();
        none.tags.clear();
        let no_purchase = Condition::parse(
            &json!({"field": "days_since_last_purchase", "op": "gte", "value": 0}),
        )
        .unwrap();
        assert!(!no_purchase.matches(&none));
    }

    #[test]
    fn mistakes_are_named_by_pointer() {
        let pointers = |v: Value| -> Vec<String> {
            match Condition::parse(&v) {
                Err(DomainError::Invalid { fields }) => {
                    fields.into_iter().map(|e| e.pointer).collect()
                }
                other => panic!("expected a validation error, got {other:?}"),
            }
        };
        assert_eq!(
            pointers(json!({"field": "tire", "op": "eq", "value": "Gold"})),
            ["/field"]
        );
        assert_eq!(
            pointers(json!({"field": "tier", "op": "gt", "value": "Gold"})),
            ["/op"]
        );
        assert_eq!(
            pointers(json!({"field": "clv_minor", "op": "gt", "value": "lots"})),
            ["/value"]
        );
        assert_eq!(
            pointers(json!({"field": "tier", "op": "eq", "value": "Gold", "days": 30})),
            ["/days"]
        );
        assert_eq!(
            pointers(
                json!({"all": [{"field": "vip", "op": "eq", "value": true}, {"any": []}, {"field": "purchases", "op": "gte", "value": 1, "days": 0}]})
            ),
            ["/all/1/any", "/all/2/days"]
        );
        assert_eq!(pointers(json!({"all": [], "any": []})), [""]);
        assert_eq!(
            pointers(json!({"field": "tier", "op": "eq", "value": "Gold", "extra": 1})),
            ["/extra"]
        );
        assert_eq!(pointers(json!([1])), [""]);
        let mut deep = json!({"field": "vip", "op": "eq", "value": true});
        for _ in 0..MAX_DEPTH {
            deep = json!({"not": deep});
        }
        assert_eq!(pointers(deep).len(), 1);
        let wide = json!({"any": (0..=MAX_NODES).map(|_| json!({"field": "vip", "op": "eq", "value": true})).collect::<Vec<_>>()});
        assert_eq!(pointers(wide).len(), 1);
    }

    #[test]
    fn a_definition_reads_back_as_it_was_written() {
        let definition = json!({"all": [
            {"field": "bought_sku", "op": "has_any", "value": ["lp-1"], "days": 30},
            {"not": {"field": "spend_minor", "op": "between", "value": [0, 100.5]}}
        ]});
        assert_eq!(Condition::parse(&definition).unwrap().to_json(), definition);
        let c = Condition::parse(&definition).unwrap();
        assert!(!c.uses(&is_insights_field));
        assert!(c.uses(&|f| f == "spend_minor"));
    }
}
