//! What is generated: a program's rules, tier plan, expiry policy, return window and stamp card, and the steps of a
//! history.

use proptest::prelude::*;
use serde_json::{Value, json};

/// What a purchase rule gives.
#[derive(Clone, Debug)]
pub(crate) enum Shape {
    /// A fixed bonus, for baskets over 20.00 when `over_20`.
    Bonus { points: i64, over_20: bool },
    /// `purchase.total * factor` (a double formula, rounded by the program).
    Formula { factor: &'static str },
    /// `item.quantity * points` for every line in the `vinyl` category.
    PerItem { points: i64 },
    /// Extra base points: base × (m − 1).
    Multiplier { m: f64 },
    /// A return rule: `item.quantity * points` for every returned `vinyl` line.
    ReturnPerItem { points: i64 },
}

#[derive(Clone, Debug)]
pub(crate) struct Limits {
    pub(crate) day: Option<i64>,
    pub(crate) per_event: Option<i64>,
    pub(crate) budget: Option<i64>,
}

impl Limits {
    fn to_json(&self) -> Option<Value> {
        let mut limits = serde_json::Map::new();
        if let Some(day) = self.day {
            limits.insert("per_member".into(), json!({ "day": day }));
        }
        if let Some(e) = self.per_event {
            limits.insert("per_event".into(), json!(e));
        }
        if let Some(b) = self.budget {
            limits.insert("budget".into(), json!(b));
        }
        (!limits.is_empty()).then_some(Value::Object(limits))
    }
}

#[derive(Clone, Debug)]
pub(crate) struct RuleSpec {
    /// `None` for the enrolment bonus (`bonus` points on enrolment).
    pub(crate) shape: Option<Shape>,
    pub(crate) bonus: i64,
    pub(crate) limits: Limits,
    pub(crate) priority: i64,
    pub(crate) stop_further: bool,
}

impl RuleSpec {
    /// The rule's document; `edit` > 0 makes a later version with other points but the same
    /// limits (the limits are what the test checks awards against).
    pub(crate) fn document(&self, name: &str, edit: i64) -> Value {
        let edit = edit % 4;
        let (trigger, condition, effect) = match &self.shape {
            None => ("enrolment", None, json!({ "bonus": self.bonus + edit * 5 })),
            Some(Shape::Bonus { points, over_20 }) => (
                "purchase",
                over_20.then_some("purchase.total > 20.0"),
                json!({ "bonus": points + edit * 7 }),
            ),
            Some(Shape::Formula { factor }) => (
                "purchase",
                None,
                json!({ "points": format!("purchase.total * {factor} + {}.0", edit) }),
            ),
            Some(Shape::PerItem { points }) => (
                "purchase",
                Some("purchase.items.exists(i, i.category == \"vinyl\")"),
                json!({ "per_item": {
                    "condition": "item.category == \"vinyl\"",
                    "points": format!("item.quantity * {}", points + edit),
                }}),
            ),
            Some(Shape::Multiplier { m }) => (
                "purchase",
                None,
                json!({ "multiplier": m + edit as f64 * 0.5 }),
            ),
            Some(Shape::ReturnPerItem { points }) => (
                "return",
                None,
                json!({ "per_item": {
                    "condition": "item.category == \"vinyl\"",
                    "points": format!("item.quantity * {}", points + edit),
                }}),
            ),
        };
        let mut doc = json!({
            "name": name,
            "trigger": trigger,
            "effect": effect,
            "priority": self.priority,
            "stop_further": self.stop_further,
        });
        if let Some(c) = condition {
            doc["condition"] = json!(c);
        }
        if let Some(l) = self.limits.to_json() {
            doc["limits"] = l;
        }
        doc
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Setup {
    pub(crate) rules: Vec<RuleSpec>,
    pub(crate) enrolment: Option<RuleSpec>,
    /// (threshold, multiplier) per level, the first at 0.
    pub(crate) tiers: Option<Vec<(i64, f64)>>,
    pub(crate) expiry: Option<Value>,
    /// The return window: purchase points stay pending this many days.
    pub(crate) pending_days: Option<i64>,
    /// A stamp card stamped by purchases of 10.00 or more and by the cashier: stamps to
    /// complete it, and its daily cap.
    pub(crate) stamp_card: Option<(i64, Option<i64>)>,
    pub(crate) members: usize,
    pub(crate) reward_cost: i64,
}

#[derive(Clone, Debug)]
pub(crate) enum Basket {
    Amount(i64),
    /// (vinyl?, quantity, unit price in cents) per line; skus are `s0`, `s1`, ….
    Lines(Vec<(bool, i64, i64)>),
}

#[derive(Clone, Debug)]
pub(crate) enum ReturnSpec {
    Full,
    /// A share of the order's total, in thousandths.
    Amount(i64),
    /// One unit of the line picked.
    OneOf(usize),
}

#[derive(Clone, Debug)]
pub(crate) enum Op {
    Purchase {
        who: usize,
        basket: Basket,
        /// Recorded as having happened this many hours ago.
        backdate_hours: Option<i64>,
    },
    Return {
        pick: usize,
        spec: ReturnSpec,
    },
    Redeem {
        who: usize,
    },
    Cancel {
        pick: usize,
    },
    Adjust {
        who: usize,
        points: i64,
    },
    /// Seconds.
    Advance(i64),
    Expire,
    Release,
    Review,
    /// The cashier gives stamps on the case's card.
    Stamp {
        who: usize,
        count: i64,
    },
    /// A new version of a rule's document; with `budget`, the new version sets (or drops) the
    /// rule's budget.
    Edit {
        pick: usize,
        budget: Option<Option<i64>>,
    },
    /// Pauses a rule, or starts it again.
    Toggle {
        pick: usize,
    },
}

fn limits() -> impl Strategy<Value = Limits> {
    (
        prop::option::weighted(0.5, 5i64..=120),
        prop::option::weighted(0.3, 1i64..=40),
        prop::option::weighted(0.4, 10i64..=400),
    )
        .prop_map(|(day, per_event, budget)| Limits {
            day,
            per_event,
            budget,
        })
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        (1i64..=60, any::<bool>()).prop_map(|(points, over_20)| Shape::Bonus { points, over_20 }),
        prop::sample::select(vec!["0.5", "1.0", "2.5"])
            .prop_map(|factor| Shape::Formula { factor }),
        (1i64..=15).prop_map(|points| Shape::PerItem { points }),
        prop::sample::select(vec![1.5, 2.0, 3.0]).prop_map(|m| Shape::Multiplier { m }),
        (1i64..=15).prop_map(|points| Shape::ReturnPerItem { points }),
    ]
}

fn rule() -> impl Strategy<Value = RuleSpec> {
    (shape(), limits(), -1i64..=2, prop::bool::weighted(0.15)).prop_map(
        |(shape, limits, priority, stop_further)| RuleSpec {
            shape: Some(shape),
            bonus: 0,
            limits,
            priority,
            stop_further,
        },
    )
}

fn enrolment() -> impl Strategy<Value = RuleSpec> {
    (5i64..=50, limits()).prop_map(|(bonus, limits)| RuleSpec {
        shape: None,
        bonus,
        limits,
        priority: 0,
        stop_further: false,
    })
}

fn tiers() -> impl Strategy<Value = Vec<(i64, f64)>> {
    prop_oneof![
        (20i64..=300, prop::sample::select(vec![1.25, 1.5, 2.0]))
            .prop_map(|(t, m)| vec![(0, 1.0), (t, m)]),
        (20i64..=200, 1i64..=400).prop_map(|(t, more)| vec![(0, 1.0), (t, 1.5), (t + more, 2.0)]),
    ]
}

fn expiry() -> impl Strategy<Value = Value> {
    prop_oneof![
        (1i64..=10).prop_map(|days| json!({"kind": "days_after_earning", "days": days})),
        (0i64..=2)
            .prop_map(|m| json!({"kind": "end_of_period", "period": "month", "months_after": m})),
        (1i64..=2).prop_map(|months| json!({"kind": "inactivity", "months": months})),
    ]
}

pub(crate) fn setup() -> impl Strategy<Value = Setup> {
    (
        prop::collection::vec(rule(), 1..=4),
        prop::option::weighted(0.4, enrolment()),
        prop::option::weighted(0.4, tiers()),
        prop::option::weighted(0.5, expiry()),
        prop::option::weighted(0.4, 1i64..=5),
        prop::option::weighted(0.5, (2i64..=5, prop::option::weighted(0.5, 1i64..=3))),
        2usize..=4,
        10i64..=150,
    )
        .prop_map(
            |(rules, enrolment, tiers, expiry, pending_days, stamp_card, members, reward_cost)| {
                Setup {
                    rules,
                    enrolment,
                    tiers,
                    expiry,
                    pending_days,
                    stamp_card,
                    members,
                    reward_cost,
                }
            },
        )
}

fn basket() -> impl Strategy<Value = Basket> {
    prop_oneof![
        (0i64..=9_000).prop_map(Basket::Amount),
        prop::collection::vec((any::<bool>(), 1i64..=4, 0i64..=3_000), 1..=3)
            .prop_map(Basket::Lines),
    ]
}

fn return_spec() -> impl Strategy<Value = ReturnSpec> {
    prop_oneof![
        Just(ReturnSpec::Full),
        (1i64..=1000).prop_map(ReturnSpec::Amount),
        (0usize..3).prop_map(ReturnSpec::OneOf),
    ]
}

pub(crate) fn op() -> impl Strategy<Value = Op> {
    let who = 0usize..4;
    let hour = 3_600i64;
    prop_oneof![
        10 => (who.clone(), basket(), prop::option::weighted(0.1, 1i64..=48))
            .prop_map(|(who, basket, backdate_hours)| Op::Purchase { who, basket, backdate_hours }),
        3 => (0usize..100, return_spec()).prop_map(|(pick, spec)| Op::Return { pick, spec }),
        2 => who.clone().prop_map(|who| Op::Redeem { who }),
        1 => (0usize..100).prop_map(|pick| Op::Cancel { pick }),
        2 => (who.clone(), prop_oneof![-60i64..=-1, 1i64..=60]).prop_map(|(who, points)| Op::Adjust { who, points }),
        4 => prop_oneof![
            4 => (1i64..=30).prop_map(move |h| h * hour),
            2 => (1i64..=10).prop_map(move |d| d * 24 * hour),
            1 => (28i64..=95).prop_map(move |d| d * 24 * hour),
        ].prop_map(Op::Advance),
        2 => Just(Op::Expire),
        2 => Just(Op::Release),
        2 => (who.clone(), 1i64..=3).prop_map(|(who, count)| Op::Stamp { who, count }),
        1 => Just(Op::Review),
        1 => (0usize..8, prop::option::weighted(0.5, prop::option::weighted(0.7, 10i64..=400)))
            .prop_map(|(pick, budget)| Op::Edit { pick, budget }),
        1 => (0usize..8).prop_map(|pick| Op::Toggle { pick }),
    ]
}
