//! The checker agrees with cel's interpreter: whatever it accepts evaluates without a type
//! error on a sample context, and no input string panics the parser, checker or evaluator.

use jiff::tz::TimeZone;
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use tally_domain::program::Rounding;
use tally_rules::{
    Event, ItemFacts, MemberFacts, PurchaseFacts, RuleDoc, RuleRef, RuleSet, Trigger, Usage,
};

const OPERANDS: &[&str] = &[
    "purchase.item_count",
    "purchase.total",
    "purchase.currency",
    "member.is_birthday_month",
    "member.tags",
    "purchase.items",
    "member.attributes",
    "purchase.items[0]",
    "null",
    "2",
    "1.5",
    "'x'",
    "[1, 2]",
];

const BINARY: &[&str] = &[
    "+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "in", "&&", "||",
];

/// Run-time errors that are about values, not types: the checker cannot rule them out.
fn value_error(why: &str) -> bool {
    [
        "out of bounds",
        "Division by zero",
        "Overflow",
        "parse error",
    ]
    .iter()
    .any(|e| why.contains(e))
}

fn candidates() -> Vec<String> {
    let mut out = Vec::new();
    for a in OPERANDS {
        for op in BINARY {
            for b in OPERANDS {
                out.push(format!("{a} {op} {b}"));
            }
        }
        for b in OPERANDS {
            out.push(format!("{a}[{b}]"));
            out.push(format!("true ? {a} : {b}"));
            out.push(format!("{a}.contains({b})"));
            out.push(format!("{a}.startsWith({b})"));
        }
        for f in ["size", "int", "double", "string", "!", "-"] {
            out.push(format!("{f}({a})"));
        }
        out.push(format!("{a}.size()"));
        out.push(format!("has({a}.sku)"));
        out.push(format!("{a}.sku"));
        for m in [
            "all(v, v == v)",
            "exists(v, true)",
            "exists_one(v, true)",
            "map(v, v)",
            "filter(v, true)",
            "map(v, true, [v])",
        ] {
            out.push(format!("{a}.{m}"));
        }
    }
    out
}

fn sample_event<'a>(
    tz: &'a TimeZone,
    items: &'a [ItemFacts<'a>],
    tags: &'a [String],
    attributes: &'a Map<String, Value>,
) -> Event<'a> {
    Event {
        trigger: Trigger::Purchase,
        occurred_at: "2026-12-05T11:00:00Z".parse().unwrap(),
        time_zone: tz,
        rounding: Rounding::Nearest,
        base_points: 41,
        custom: None,
        purchase: Some(PurchaseFacts {
            total_minor: 4550,
            minor_per_major: 100,
            currency: "PLN",
            channel: "pos",
            location: None,
            items,
        }),
        member: MemberFacts {
            id: "mem_1",
            tier: None,
            tags,
            segments: &[],
            attributes,
            enrolled_at: "2026-11-05T11:00:00Z".parse().unwrap(),
            birthday: None,
            purchases_before: 0,
        },
    }
}

fn items() -> Vec<ItemFacts<'static>> {
    (0..3)
        .map(|i| ItemFacts {
            sku: ["a", "b", "c"][i],
            name: None,
            category: Some("vinyl"),
            brand: None,
            quantity: 2,
            unit_price_minor: 1000,
        })
        .collect()
}

#[test]
fn whatever_the_checker_accepts_evaluates_without_a_type_error() {
    let (tz, items, tags) = (TimeZone::UTC, items(), vec!["x".to_owned(), "y".to_owned()]);
    let attributes = json!({"level": 3}).as_object().unwrap().clone();
    let event = sample_event(&tz, &items, &tags, &attributes);
    let mut accepted = Vec::new();
    let mut refused = 0;
    for (i, source) in candidates().into_iter().enumerate() {
        // as a condition, whatever its type: size([...]) is always a bool
        let doc = json!({"name": source, "trigger": "purchase",
            "condition": format!("size([{source}]) == 1"), "effect": {"bonus": 1}});
        match RuleDoc::parse(&doc) {
            Ok(doc) => accepted.push((
                RuleRef {
                    id: format!("{i:05}"),
                    version: 1,
                },
                doc,
            )),
            Err(_) => refused += 1,
        }
    }
    assert!(
        accepted.len() > 300,
        "accepted {}, refused {refused}",
        accepted.len()
    );
    assert!(
        refused > 1000,
        "the checker refuses most random combinations: {refused}"
    );
    let outcome = RuleSet::compile(accepted).evaluate(&event, &|_: &RuleRef| Usage::default());
    let wrong: Vec<String> = outcome
        .decisions
        .iter()
        .filter(|d| !d.matched && !value_error(&d.why))
        // attributes are dyn: a missing key is the documented run-time error
        .filter(|d| !(d.name.starts_with("member.attributes") && d.why.contains("No such key")))
        .map(|d| format!("{}: {}", d.name, d.why))
        .collect();
    eprintln!("accepted {}, refused {refused}", outcome.decisions.len());
    assert!(
        wrong.is_empty(),
        "{} accepted expressions fail at run time:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

const TOKENS: &[&str] = &[
    "purchase",
    "member",
    "item",
    "time",
    "event",
    "base_points",
    ".",
    "items",
    "total",
    "tags",
    "attributes",
    "x",
    "category",
    "exists",
    "all",
    "map",
    "filter",
    "size",
    "has",
    "int",
    "double",
    "string",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    "i",
    "==",
    "!=",
    "<",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "%",
    "&&",
    "||",
    "!",
    "?",
    ":",
    "in",
    "1",
    "0",
    "2.5",
    "'vinyl'",
    "\"",
    "true",
    "null",
    "1u",
    "b'x'",
    "matches",
    "`",
    "\\",
    "@result",
    "ą",
    "9223372036854775807",
];

fn check_source(source: &str) {
    let tz = TimeZone::UTC;
    let (items, tags) = (items(), vec!["x".to_owned()]);
    let attributes = json!({"x": [1, "a", null], "level": 2.5})
        .as_object()
        .unwrap()
        .clone();
    for (condition, effect) in [
        (json!(source), json!({"bonus": 1})),
        (Value::Null, json!({"points": source})),
        (
            Value::Null,
            json!({"per_item": {"condition": source, "points": source}}),
        ),
    ] {
        let doc =
            json!({"name": "p", "trigger": "purchase", "condition": condition, "effect": effect});
        if let Ok(doc) = RuleDoc::parse(&doc) {
            let set = RuleSet::compile(vec![(
                RuleRef {
                    id: "p".into(),
                    version: 1,
                },
                doc,
            )]);
            let event = sample_event(&tz, &items, &tags, &attributes);
            let outcome = set.evaluate(&event, &|_: &RuleRef| Usage::default());
            assert_eq!(outcome.decisions.len(), 1);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_strings_never_panic(source in "\\PC{0,120}") {
        check_source(&source);
    }

    #[test]
    fn random_token_soup_never_panics(tokens in proptest::collection::vec(proptest::sample::select(TOKENS), 0..40)) {
        check_source(&tokens.join(" "));
        check_source(&tokens.concat());
    }
}
