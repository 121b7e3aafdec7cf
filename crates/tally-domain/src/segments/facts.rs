//! What a definition is evaluated against — one member's facts — and how each test compares.

use super::{ATTRIBUTES, Op, Operand, Test};
use serde_json::Value;
use std::collections::BTreeMap;

/// One purchase as a segment sees it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PurchaseFacts {
    pub days_ago: i64,
    pub net_minor: i64,
    pub location_id: Option<String>,
    pub skus: Vec<String>,
    pub categories: Vec<String>,
    pub brands: Vec<String>,
}

/// Everything a condition can look at about one member. Values the member does not have are
/// `None` (or absent from the map).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Facts {
    /// Numbers and booleans by field name (`tier` is in `texts`).
    pub numbers: BTreeMap<&'static str, f64>,
    pub texts: BTreeMap<&'static str, String>,
    pub bools: BTreeMap<&'static str, bool>,
    pub tags: Vec<String>,
    pub attributes: serde_json::Map<String, Value>,
    /// Newest first or in any order; `days_ago` ≥ 0.
    pub purchases: Vec<PurchaseFacts>,
}

fn compare_number(op: Op, have: f64, want: &Operand) -> bool {
    match (op, want) {
        (Op::Eq, Operand::Number(n)) => have == *n,
        (Op::Ne, Operand::Number(n)) => have != *n,
        (Op::Lt, Operand::Number(n)) => have < *n,
        (Op::Lte, Operand::Number(n)) => have <= *n,
        (Op::Gt, Operand::Number(n)) => have > *n,
        (Op::Gte, Operand::Number(n)) => have >= *n,
        (Op::Between, Operand::Range(lo, hi)) => *lo <= have && have <= *hi,
        _ => false,
    }
}

fn compare_text(op: Op, have: &str, want: &Operand) -> bool {
    match (op, want) {
        (Op::Eq, Operand::Text(s)) => have == s,
        (Op::Ne, Operand::Text(s)) => have != s,
        (Op::In, Operand::List(l)) => l.iter().any(|s| s == have),
        (Op::NotIn, Operand::List(l)) => !l.iter().any(|s| s == have),
        _ => false,
    }
}

fn compare_set<'a>(op: Op, have: impl Iterator<Item = &'a String> + Clone, want: &Operand) -> bool {
    let Operand::List(want) = want else {
        return false;
    };
    let contains = |w: &String| have.clone().any(|h| h == w);
    match op {
        Op::HasAny => want.iter().any(contains),
        Op::HasAll => want.iter().all(contains),
        Op::HasNone => !want.iter().any(contains),
        _ => false,
    }
}

impl Test {
    pub(super) fn matches(&self, facts: &Facts) -> bool {
        let in_window = |p: &&PurchaseFacts| self.days.is_none_or(|d| p.days_ago < d);
        let window = || facts.purchases.iter().filter(in_window);
        match self.field.as_str() {
            "tags" => compare_set(self.op, facts.tags.iter(), &self.value),
            "bought_sku" => compare_set(self.op, window().flat_map(|p| &p.skus), &self.value),
            "bought_category" => {
                compare_set(self.op, window().flat_map(|p| &p.categories), &self.value)
            }
            "bought_brand" => compare_set(self.op, window().flat_map(|p| &p.brands), &self.value),
            "bought_at_location" => compare_set(
                self.op,
                window().filter_map(|p| p.location_id.as_ref()),
                &self.value,
            ),
            "purchases" => compare_number(self.op, window().count() as f64, &self.value),
            "spend_minor" => compare_number(
                self.op,
                window().map(|p| p.net_minor).sum::<i64>() as f64,
                &self.value,
            ),
            "average_order_minor" => {
                let n = window().count();
                n > 0
                    && compare_number(
                        self.op,
                        window().map(|p| p.net_minor).sum::<i64>() as f64 / n as f64,
                        &self.value,
                    )
            }
            "days_since_last_purchase" => facts
                .purchases
                .iter()
                .map(|p| p.days_ago)
                .min()
                .is_some_and(|d| compare_number(self.op, d as f64, &self.value)),
            name => {
                if let Some(key) = name.strip_prefix(ATTRIBUTES) {
                    return match facts.attributes.get(key) {
                        Some(Value::Number(n)) => n
                            .as_f64()
                            .is_some_and(|n| compare_number(self.op, n, &self.value)),
                        Some(Value::String(s)) => compare_text(self.op, s, &self.value),
                        Some(Value::Bool(b)) => match (self.op, &self.value) {
                            (Op::Eq, Operand::Bool(w)) => b == w,
                            (Op::Ne, Operand::Bool(w)) => b != w,
                            _ => false,
                        },
                        _ => false,
                    };
                }
                if let Some(n) = facts.numbers.get(name) {
                    return compare_number(self.op, *n, &self.value);
                }
                if let Some(s) = facts.texts.get(name) {
                    return compare_text(self.op, s, &self.value);
                }
                if let Some(b) = facts.bools.get(name) {
                    return match (self.op, &self.value) {
                        (Op::Eq, Operand::Bool(w)) => b == w,
                        (Op::Ne, Operand::Bool(w)) => b != w,
                        _ => false,
                    };
                }
                false
            }
        }
    }
}
