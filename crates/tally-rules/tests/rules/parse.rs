//! Parsing rule documents: every error with its pointer, and round trips.

use serde_json::{Value, json};
use tally_domain::DomainError;
use tally_rules::{Effect, RuleDoc, Trigger};

fn errors(doc: Value) -> Vec<(String, String)> {
    match RuleDoc::parse(&doc) {
        Err(DomainError::Invalid { fields }) => {
            fields.into_iter().map(|f| (f.pointer, f.message)).collect()
        }
        other => panic!("expected invalid, got {other:?}"),
    }
}

fn pointers(doc: Value) -> Vec<String> {
    let mut p: Vec<String> = errors(doc).into_iter().map(|(p, _)| p).collect();
    p.sort();
    p
}

/// The one error of a purchase rule whose `key` is replaced by `value`.
fn only_error(key: &str, value: Value) -> (String, String) {
    let mut doc = full();
    doc[key] = value;
    let mut found = errors(doc);
    assert_eq!(found.len(), 1, "{found:?}");
    found.remove(0)
}

fn condition_error(condition: &str) -> String {
    let (pointer, message) = only_error("condition", json!(condition));
    assert_eq!(pointer, "/condition");
    message
}

fn full() -> Value {
    json!({
        "name": "Double points on vinyl at weekends",
        "trigger": "purchase",
        "condition": "purchase.items.exists(i, i.category == 'vinyl')",
        "effect": { "per_item": { "condition": "item.category == 'vinyl'", "points": "item.quantity * 10" } },
        "limits": { "per_event": 500, "per_member": { "day": 100, "week": 300, "month": 1000, "lifetime": 5000 }, "budget": 100000 },
        "schedule": { "starts_at": "2026-12-01T00:00:00Z", "ends_at": "2027-01-01T00:00:00Z",
                      "days": ["sat", "sun"], "hours": { "from": "09:00", "to": "17:00" } },
        "audience": { "channels": ["pos", "online"], "locations": ["loc_01J0000000000000000000000A"], "tiers": ["gold"], "segments": ["vip"], "tags": ["staff"] },
        "priority": 10,
        "stop_further": false
    })
}

#[test]
fn the_example_parses_and_round_trips() {
    let doc = RuleDoc::parse(&full()).unwrap();
    assert_eq!(doc.trigger, Trigger::Purchase);
    assert_eq!(doc.priority, 10);
    assert_eq!(doc.limits.per_member_week, Some(300));
    assert_eq!(doc.schedule.hours, Some((540, 1020)));
    assert!(doc.has_limits_per_member());
    assert!(matches!(
        doc.effect,
        Effect::PerItem {
            condition: Some(_),
            ..
        }
    ));
    assert_eq!(RuleDoc::parse(&doc.to_json()).unwrap(), doc);
}

#[test]
fn minimal_documents_round_trip_for_each_effect() {
    for effect in [
        json!({"points": "purchase.total * 0.5"}),
        json!({"multiplier": 2.5}),
        json!({"multiplier": 1.001}),
        json!({"bonus": 50}),
        json!({"per_item": {"points": "item.amount"}}),
    ] {
        let doc = json!({"name": "r", "trigger": "purchase", "effect": effect});
        let parsed = RuleDoc::parse(&doc).unwrap();
        assert!(!parsed.has_limits_per_member());
        assert_eq!(
            RuleDoc::parse(&parsed.to_json()).unwrap(),
            parsed,
            "{effect}"
        );
    }
    let doc =
        RuleDoc::parse(&json!({"name": "r", "trigger": "purchase", "effect": {"multiplier": 2.5}}))
            .unwrap();
    assert_eq!(doc.effect, Effect::Multiplier { permille: 2500 });
    let hours = json!({"name": "r", "trigger": "enrolment", "effect": {"bonus": 5},
        "schedule": {"hours": {"from": "00:00", "to": "24:00"}, "days": ["sun", "mon", "sun"]}});
    let parsed = RuleDoc::parse(&hours).unwrap();
    assert_eq!(parsed.schedule.hours, Some((0, 1440)));
    assert_eq!(parsed.schedule.days.len(), 2);
    assert_eq!(parsed.to_json()["schedule"]["hours"]["to"], "24:00");
    assert_eq!(parsed.to_json()["schedule"]["days"], json!(["mon", "sun"]));
    assert_eq!(RuleDoc::parse(&parsed.to_json()).unwrap(), parsed);
}

#[test]
fn unknown_and_missing_fields_are_named() {
    let mut doc = full();
    doc["colour"] = json!("red");
    doc["limits"]["per_member"]["year"] = json!(5);
    doc["audience"]["cities"] = json!([]);
    doc["schedule"]["hours"]["until"] = json!("10:00");
    assert_eq!(
        pointers(doc),
        [
            "/audience/cities",
            "/colour",
            "/limits/per_member/year",
            "/schedule/hours/until"
        ]
    );
    assert_eq!(pointers(json!({})), ["/effect", "/name", "/trigger"]);
    assert!(RuleDoc::parse(&json!([])).is_err());
    assert_eq!(
        pointers(json!({"name": "", "trigger": "refund", "effect": {"bonus": 1}})),
        ["/name", "/trigger"]
    );
    let long = "x".repeat(201);
    assert_eq!(only_error("name", json!(long)).0, "/name");
    assert_eq!(only_error("priority", json!(1.5)).0, "/priority");
    assert_eq!(
        only_error("priority", json!(i64::from(i32::MAX) + 1)).0,
        "/priority"
    );
    assert_eq!(only_error("stop_further", json!("yes")).0, "/stop_further");
}

#[test]
fn effects_need_exactly_one_valid_kind() {
    let (p, m) = only_error("effect", json!({}));
    assert_eq!(p, "/effect");
    assert!(m.contains("must have one of"), "{m}");
    let (p, m) = only_error("effect", json!({"bonus": 5, "multiplier": 2}));
    assert_eq!(p, "/effect");
    assert!(m.contains("multiplier and bonus"), "{m}");
    assert_eq!(only_error("effect", json!({"bonus": 0})).0, "/effect/bonus");
    assert_eq!(
        only_error("effect", json!({"bonus": 1_000_000_001})).0,
        "/effect/bonus"
    );
    for m in [
        json!(1),
        json!(0.5),
        json!(100.5),
        json!(2.0005),
        json!("2"),
    ] {
        assert_eq!(
            only_error("effect", json!({"multiplier": m})).0,
            "/effect/multiplier"
        );
    }
    assert!(
        RuleDoc::parse(&json!({"name": "r", "trigger": "purchase", "effect": {"multiplier": 100}}))
            .is_ok()
    );
    assert_eq!(
        only_error("effect", json!({"points": 5})).0,
        "/effect/points"
    );
    assert_eq!(
        only_error("effect", json!({"per_item": {}})).0,
        "/effect/per_item/points"
    );
    assert_eq!(
        only_error("effect", json!({"per_item": {"points": "1", "when": "x"}})).0,
        "/effect/per_item/when"
    );
    let (p, m) = only_error("effect", json!({"per_item": {"points": "item.qty"}}));
    assert_eq!(p, "/effect/per_item/points");
    assert!(m.contains("unknown field `qty` of item; known: sku, name, category, brand, quantity, unit_price, amount"), "{m}");
    assert_eq!(
        only_error(
            "effect",
            json!({"per_item": {"condition": "item.quantity", "points": "1"}})
        )
        .0,
        "/effect/per_item/condition"
    );
    let enrolment =
        |effect: Value| errors(json!({"name": "r", "trigger": "enrolment", "effect": effect}));
    assert_eq!(
        enrolment(json!({"multiplier": 2}))[0].0,
        "/effect/multiplier"
    );
    assert_eq!(
        enrolment(json!({"per_item": {"points": "1"}}))[0].0,
        "/effect/per_item"
    );
}

#[test]
fn limits_must_be_positive() {
    let (p, _) = only_error("limits", json!({"per_event": 0}));
    assert_eq!(p, "/limits/per_event");
    assert_eq!(
        only_error("limits", json!({"budget": -5})).0,
        "/limits/budget"
    );
    assert_eq!(
        only_error("limits", json!({"per_member": {"day": 0}})).0,
        "/limits/per_member/day"
    );
    assert_eq!(
        only_error("limits", json!({"per_member": {"lifetime": 2.5}})).0,
        "/limits/per_member/lifetime"
    );
    assert_eq!(
        only_error("limits", json!({"per_member": 5})).0,
        "/limits/per_member"
    );
}

#[test]
fn schedules_are_checked() {
    let mut doc = full();
    doc["schedule"]["days"] = json!(["sat", "sunday", 3]);
    assert_eq!(pointers(doc), ["/schedule/days/1", "/schedule/days/2"]);
    assert_eq!(
        only_error("schedule", json!({"days": []})).0,
        "/schedule/days"
    );
    assert_eq!(
        only_error("schedule", json!({"days": "sat"})).0,
        "/schedule/days"
    );
    assert_eq!(
        only_error(
            "schedule",
            json!({"hours": {"from": "17:00", "to": "09:00"}})
        )
        .0,
        "/schedule/hours/to"
    );
    assert_eq!(
        only_error(
            "schedule",
            json!({"hours": {"from": "09:00", "to": "09:00"}})
        )
        .0,
        "/schedule/hours/to"
    );
    assert_eq!(
        only_error(
            "schedule",
            json!({"hours": {"from": "24:00", "to": "24:00"}})
        )
        .0,
        "/schedule/hours/from"
    );
    let mut doc = full();
    doc["schedule"]["hours"] = json!({"from": "9:00", "to": "24:01"});
    assert_eq!(
        pointers(doc),
        ["/schedule/hours/from", "/schedule/hours/to"]
    );
    assert_eq!(
        only_error(
            "schedule",
            json!({"hours": {"from": "09:60", "to": "10:00"}})
        )
        .0,
        "/schedule/hours/from"
    );
    assert_eq!(
        only_error(
            "schedule",
            json!({"starts_at": "2027-01-01T00:00:00Z", "ends_at": "2026-01-01T00:00:00Z"})
        )
        .0,
        "/schedule/ends_at"
    );
    assert_eq!(
        only_error("schedule", json!({"starts_at": "tomorrow"})).0,
        "/schedule/starts_at"
    );
}

#[test]
fn audiences_are_checked() {
    let mut doc = full();
    doc["audience"]["channels"] = json!(["pos", "shop"]);
    doc["audience"]["locations"] = json!(["warsaw"]);
    doc["audience"]["tags"] = json!(["has space"]);
    assert_eq!(
        pointers(doc),
        [
            "/audience/channels/1",
            "/audience/locations/0",
            "/audience/tags/0"
        ]
    );
    let enrolment = json!({"name": "r", "trigger": "enrolment", "effect": {"bonus": 5},
        "audience": {"channels": ["pos"]}});
    assert_eq!(pointers(enrolment), ["/audience/channels"]);
}

#[test]
fn syntax_errors_are_reported() {
    let m = condition_error("purchase.total >");
    assert!(m.starts_with("syntax error"), "{m}");
    let m = condition_error("");
    assert_eq!(m, "must not be empty");
}

#[test]
fn unknown_names_and_fields_list_what_is_known() {
    let m = condition_error("purchase.totl > 10.0");
    assert!(
        m.starts_with("unknown field `totl` of purchase; known: total, total_minor, currency, channel, location, items, item_count"),
        "{m}"
    );
    assert!(m.contains("(at character"), "{m}");
    let m = condition_error("customer.tier == 'gold'");
    assert!(
        m.contains("unknown name `customer`; known: purchase, base_points, member, time, event"),
        "{m}"
    );
    let m = condition_error("purchase.items.exists(i, i.colour == 'red')");
    assert!(m.contains("unknown field `colour` of item"), "{m}");
    let m = condition_error("item.quantity > 1");
    assert!(
        m.contains("`item` is only available in a per_item effect"),
        "{m}"
    );
    let m = condition_error("member.tier.name == 'x'");
    assert!(m.contains("cannot select field `name` of string"), "{m}");
    // attributes are dyn: any field and any use pass the checker
    assert!(RuleDoc::parse(&json!({"name": "r", "trigger": "purchase",
        "condition": "member.attributes.vip == true && member.attributes['level'] > 2 && has(member.attributes.x)",
        "effect": {"bonus": 1}})).is_ok());
}

#[test]
fn type_errors_name_the_operator() {
    let m = condition_error("purchase.total * 2 > 10.0");
    assert!(
        m.starts_with("cannot multiply double by int: write 2.0"),
        "{m}"
    );
    let m = condition_error("purchase.total_minor + 1.5 > 0");
    assert!(m.starts_with("cannot add int and double"), "{m}");
    let m = condition_error("purchase.currency == 5");
    assert!(m.contains("cannot compare string with int"), "{m}");
    let m = condition_error("purchase.total % 2.0 == 0.0");
    assert!(
        m.contains("cannot take the remainder of double by double"),
        "{m}"
    );
    let m = condition_error("purchase.channel > 1");
    assert!(m.contains("cannot order string and int"), "{m}");
    let m = condition_error("size(purchase.item_count) > 1");
    assert!(
        m.contains("size needs a string, list or map, got int"),
        "{m}"
    );
    let m = condition_error("purchase.total.startsWith('1')");
    assert!(m.contains("startsWith needs a string"), "{m}");
    let m = condition_error("matches(purchase.currency, 'P.*')");
    assert!(
        m.contains("`matches` is not allowed; allowed: size, contains"),
        "{m}"
    );
    let m = condition_error("purchase.currency.lowerAscii() == 'pln'");
    assert!(m.contains("`lowerAscii` is not allowed"), "{m}");
    let m = condition_error("purchase.items.exists(i, i.quantity)");
    assert!(m.contains("the predicate must be a bool, got int"), "{m}");
    let m = condition_error("(purchase.total > 1.0 ? 1 : 2.5) > 0");
    assert!(m.contains("branches of ?: are int and double"), "{m}");
    let m = condition_error("purchase.item_count.exists(i, true)");
    assert!(m.contains("cannot iterate over int"), "{m}");
    let m = condition_error("{'a': 1}.a == 1");
    assert!(
        m.contains("map and message literals are not supported"),
        "{m}"
    );
    let m = condition_error("purchase.total_minor > 1u");
    assert!(m.contains("unsigned numbers"), "{m}");
}

#[test]
fn conditions_must_be_bool_and_points_numbers() {
    let m = condition_error("purchase.total");
    assert_eq!(m, "must be true or false (a bool), but is double");
    let (p, m) = only_error("effect", json!({"points": "purchase.currency"}));
    assert_eq!(p, "/effect/points");
    assert_eq!(
        m,
        "must give a number of points (int or double), but is string"
    );
    assert!(
        RuleDoc::parse(&json!({"name": "r", "trigger": "purchase",
        "effect": {"points": "member.attributes.multiplier"}}))
        .is_ok(),
        "dyn points are checked at run time"
    );
}

#[test]
fn purchase_is_refused_in_enrolment_rules() {
    let found = errors(json!({"name": "r", "trigger": "enrolment",
        "condition": "purchase.total > 1.0", "effect": {"points": "size(purchase.items)"}}));
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].0, "/condition");
    assert!(
        found[0]
            .1
            .contains("`purchase` is not available for trigger enrolment")
    );
    assert_eq!(found[1].0, "/effect/points");
    assert!(RuleDoc::parse(&json!({"name": "r", "trigger": "enrolment",
        "condition": "member.tier == 'gold' && event.trigger == 'enrolment'", "effect": {"bonus": 100}})).is_ok());
}

#[test]
fn hostile_expressions_are_bounded() {
    let long = format!("purchase.total > {}.0", "1".repeat(1000));
    let m = condition_error(&long);
    assert!(m.starts_with("must be at most 1000 characters"), "{m}");
    let wide = format!("size([{}]) > 0", vec!["1"; 350].join(","));
    assert!(wide.len() <= 1000);
    let m = condition_error(&wide);
    assert!(m.starts_with("is too complex"), "{m}");
    let deep =
        "purchase.items.all(a, purchase.items.all(b, purchase.items.all(c, a.sku != c.sku)))";
    let m = condition_error(deep);
    assert!(m.contains("nested at most 2 deep"), "{m}");
    let ok = "purchase.items.all(a, purchase.items.exists(b, a.sku == b.sku))";
    assert!(
        RuleDoc::parse(
            &json!({"name": "r", "trigger": "purchase", "condition": ok, "effect": {"bonus": 1}})
        )
        .is_ok()
    );
    let parens = format!("{}1{} > 0", "(".repeat(400), ")".repeat(400));
    assert!(condition_error(&parens).starts_with("syntax error"));
}
