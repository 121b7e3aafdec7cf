//! Golden tests: one case per rule template an operator starts from (`golden/templates.json`),
//! each evaluated against the same purchase (45.50 PLN, four lines, three of them vinyl, at the
//! till on Saturday 5 December 2026 at 12:00 in Warsaw, by a Gold member born on 24 December)
//! or an enrolment, with the usage the case gives. The expected decisions were worked out by
//! hand; a change that moves any of them fails here. `UPDATE_GOLDEN=1` rewrites the file with
//! what the engine decides now — review the diff before committing it.

use jiff::tz::TimeZone;
use serde_json::{Map, Value, json};
use tally_domain::program::Rounding;
use tally_rules::{
    Event, Grant, ItemFacts, MemberFacts, PurchaseFacts, RuleDoc, RuleRef, RuleSet, Trigger, Usage,
};

const FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/templates.json");

fn item(
    sku: &'static str,
    category: &'static str,
    quantity: i64,
    price: i64,
) -> ItemFacts<'static> {
    ItemFacts {
        sku,
        name: Some("A record"),
        category: Some(category),
        brand: None,
        quantity,
        unit_price_minor: price,
    }
}

fn usage(case: &Value) -> Usage {
    let u = &case["usage"];
    let n = |k: &str| u[k].as_i64().unwrap_or(0);
    Usage {
        member_day: n("member_day"),
        member_week: n("member_week"),
        member_month: n("member_month"),
        member_lifetime: n("member_lifetime"),
        total: n("total"),
    }
}

#[test]
fn every_rule_template_decides_as_recorded() {
    let tz = TimeZone::get("Europe/Warsaw").unwrap();
    let items = vec![
        item("v-1", "vinyl", 2, 1000),
        item("cd-1", "cd", 1, 1550),
        item("v-2", "vinyl", 1, 1000),
    ];
    let (tags, segments) = (vec!["regular".to_owned()], Vec::<String>::new());
    let attributes = Map::new();
    let member = || MemberFacts {
        id: "mem_1",
        tier: Some("gold"),
        tags: &tags,
        segments: &segments,
        attributes: &attributes,
        enrolled_at: "2026-11-05T11:00:00Z".parse().unwrap(),
        birthday: Some(jiff::civil::date(1990, 12, 24)),
        purchases_before: 3,
    };
    let purchase = || PurchaseFacts {
        total_minor: 4550,
        minor_per_major: 100,
        currency: "PLN",
        channel: "pos",
        location: None,
        items: &items,
    };
    let cases: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(FILE).unwrap()).unwrap();
    let mut actual = Vec::new();
    let mut wrong = Vec::new();
    for case in &cases {
        let doc =
            RuleDoc::parse(&case["rule"]).unwrap_or_else(|e| panic!("{}: {e}", case["template"]));
        assert_eq!(RuleDoc::parse(&doc.to_json()).unwrap(), doc, "round trip");
        let enrolment = case["event"] == "enrolment";
        let event = Event {
            trigger: if enrolment {
                Trigger::Enrolment
            } else {
                Trigger::Purchase
            },
            occurred_at: "2026-12-05T11:00:00Z".parse().unwrap(),
            time_zone: &tz,
            rounding: Rounding::Nearest,
            base_points: if enrolment { 0 } else { 41 },
            custom: None,
            purchase: (!enrolment).then(purchase),
            member: member(),
        };
        let set = RuleSet::compile(vec![(
            RuleRef {
                id: "r".into(),
                version: 1,
            },
            doc,
        )]);
        let used = usage(case);
        let outcome = set.evaluate(&event, &|_| used);
        let d = &outcome.decisions[0];
        let decided = json!({
            "matched": d.matched,
            "points": d.points,
            "capped_by": d.capped_by,
            "grant": d.grant.as_ref().map(|g| match g {
                Grant::Stamps { card } => json!({ "stamps": card }),
                Grant::Reward { reward } => json!({ "reward": reward }),
                Grant::Cashback => json!({ "cashback": true }),
            }),
        });
        if decided != case["expected"] {
            wrong.push(format!(
                "{}: expected {}, decided {decided} ({})",
                case["template"], case["expected"], d.why
            ));
        }
        let mut updated = case.clone();
        updated["expected"] = decided;
        actual.push(updated);
    }
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let text = serde_json::to_string_pretty(&actual).unwrap();
        std::fs::write(FILE, text + "\n").unwrap();
        return;
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(cases.len() >= 14, "one case per template");
}
