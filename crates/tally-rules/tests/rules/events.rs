//! Rules on custom events: the document names its event type, expressions read the event's
//! properties, and a rule runs only for events of its type.

use jiff::tz::TimeZone;
use serde_json::{Map, Value, json};
use tally_domain::DomainError;
use tally_domain::program::Rounding;
use tally_rules::{CustomFacts, Event, MemberFacts, RuleDoc, RuleRef, RuleSet, Trigger, Usage};

fn errors(doc: Value) -> Vec<(String, String)> {
    match RuleDoc::parse(&doc) {
        Err(DomainError::Invalid { fields }) => {
            fields.into_iter().map(|f| (f.pointer, f.message)).collect()
        }
        other => panic!("expected invalid, got {other:?}"),
    }
}

fn check_in_rule() -> Value {
    json!({
        "name": "Check-in at the flagship",
        "trigger": "event",
        "event_type": "check_in",
        "condition": "has(event.properties.location_id) && event.properties.location_id == 'loc_1' && event.type == 'check_in'",
        "effect": {"points": "event.properties.visitors * 5"},
        "limits": {"per_member": {"day": 20}}
    })
}

#[test]
fn an_event_rule_names_its_type_and_round_trips() {
    let doc = RuleDoc::parse(&check_in_rule()).unwrap();
    assert_eq!(doc.trigger, Trigger::Event);
    assert_eq!(
        doc.event_type.as_ref().map(|t| t.as_str()),
        Some("check_in")
    );
    assert_eq!(RuleDoc::parse(&doc.to_json()).unwrap(), doc);
    assert_eq!(doc.to_json()["event_type"], "check_in");
    // Other triggers have no event type, and their JSON stays as it was.
    let purchase = json!({"name": "p", "trigger": "purchase", "effect": {"bonus": 1}});
    let parsed = RuleDoc::parse(&purchase).unwrap();
    assert_eq!(parsed.event_type, None);
    assert!(parsed.to_json().get("event_type").is_none());
}

#[test]
fn event_rules_are_refused_with_the_field_named() {
    let without = json!({"name": "r", "trigger": "event", "effect": {"bonus": 1}});
    assert_eq!(errors(without)[0].0, "/event_type");
    let reserved =
        json!({"name": "r", "trigger": "event", "event_type": "purchase", "effect": {"bonus": 1}});
    let found = errors(reserved);
    assert_eq!(found[0].0, "/event_type");
    assert!(found[0].1.contains("reserved"), "{found:?}");
    let bad_name =
        json!({"name": "r", "trigger": "event", "event_type": "Check In", "effect": {"bonus": 1}});
    assert_eq!(errors(bad_name)[0].0, "/event_type");
    let stray = json!({"name": "r", "trigger": "purchase", "event_type": "check_in", "effect": {"bonus": 1}});
    assert_eq!(
        errors(stray),
        vec![("/event_type".into(), "applies only to trigger event".into())]
    );
    // Event properties exist only for trigger event; purchases exist only for purchases.
    let on_purchase = json!({"name": "r", "trigger": "purchase", "effect": {"bonus": 1},
        "condition": "event.properties.x == 1"});
    let found = errors(on_purchase);
    assert_eq!(found[0].0, "/condition");
    assert!(
        found[0].1.contains("only available for trigger event"),
        "{found:?}"
    );
    let purchase_in_event = json!({"name": "r", "trigger": "event", "event_type": "check_in",
        "effect": {"bonus": 1}, "condition": "purchase.total > 1.0"});
    assert_eq!(errors(purchase_in_event)[0].0, "/condition");
    let per_item = json!({"name": "r", "trigger": "event", "event_type": "check_in",
        "effect": {"per_item": {"points": "1"}}});
    assert_eq!(errors(per_item)[0].0, "/effect/per_item");
    let channels = json!({"name": "r", "trigger": "event", "event_type": "check_in",
        "effect": {"bonus": 1}, "audience": {"channels": ["pos"]}});
    assert_eq!(errors(channels)[0].0, "/audience/channels");
}

fn event<'a>(
    tz: &'a TimeZone,
    event_type: &'a str,
    properties: &'a Map<String, Value>,
    attributes: &'a Map<String, Value>,
) -> Event<'a> {
    Event {
        trigger: Trigger::Event,
        occurred_at: "2026-12-05T11:00:00Z".parse().unwrap(),
        time_zone: tz,
        rounding: Rounding::Nearest,
        base_points: 0,
        purchase: None,
        custom: Some(CustomFacts {
            event_type,
            properties,
        }),
        member: MemberFacts {
            id: "mem_1",
            tier: Some("gold"),
            tags: &[],
            segments: &[],
            attributes,
            enrolled_at: "2026-11-05T11:00:00Z".parse().unwrap(),
            birthday: None,
            purchases_before: 0,
        },
    }
}

#[test]
fn a_rule_runs_for_events_of_its_type_and_reads_their_properties() {
    let tz = TimeZone::get("Europe/Warsaw").unwrap();
    let review = json!({"name": "Review", "trigger": "event", "event_type": "review_posted",
        "effect": {"bonus": 7}});
    let set = RuleSet::compile(vec![
        (
            RuleRef {
                id: "r1".into(),
                version: 1,
            },
            RuleDoc::parse(&check_in_rule()).unwrap(),
        ),
        (
            RuleRef {
                id: "r2".into(),
                version: 3,
            },
            RuleDoc::parse(&review).unwrap(),
        ),
    ]);
    assert!(set.for_trigger(Trigger::Event));
    assert!(set.for_event_type("check_in") && set.for_event_type("review_posted"));
    assert!(!set.for_event_type("profile_completed"));
    let none = |_: &RuleRef| Usage::default();
    let attributes = Map::new();

    let props = json!({"location_id": "loc_1", "visitors": 3})
        .as_object()
        .unwrap()
        .clone();
    let outcome = set.evaluate(&event(&tz, "check_in", &props, &attributes), &none);
    assert_eq!(outcome.decisions.len(), 1, "only the check-in rule runs");
    assert_eq!(
        (outcome.decisions[0].matched, outcome.decisions[0].points),
        (true, 15)
    );

    // The per-member day limit caps it like any rule's.
    let used = |_: &RuleRef| Usage {
        member_day: 18,
        ..Usage::default()
    };
    let capped = set.evaluate(&event(&tz, "check_in", &props, &attributes), &used);
    assert_eq!(capped.decisions[0].points, 2);
    assert_eq!(capped.decisions[0].capped_by, Some("per_member.day"));

    // Another location: the condition is false. No location at all: has() guards it.
    let elsewhere = json!({"location_id": "loc_2", "visitors": 3})
        .as_object()
        .unwrap()
        .clone();
    let d = &set
        .evaluate(&event(&tz, "check_in", &elsewhere, &attributes), &none)
        .decisions[0];
    assert!(!d.matched && d.why == "condition is false", "{d:?}");
    let bare = json!({"visitors": 3}).as_object().unwrap().clone();
    let d = &set
        .evaluate(&event(&tz, "check_in", &bare, &attributes), &none)
        .decisions[0];
    assert!(!d.matched && d.why == "condition is false", "{d:?}");

    let review_outcome = set.evaluate(&event(&tz, "review_posted", &bare, &attributes), &none);
    assert_eq!(review_outcome.decisions.len(), 1);
    assert_eq!(review_outcome.decisions[0].rule.id, "r2");
    assert_eq!(review_outcome.total_points(), 7);
    assert!(
        set.evaluate(&event(&tz, "profile_completed", &bare, &attributes), &none)
            .decisions
            .is_empty()
    );
}

#[test]
fn a_missing_property_without_has_is_an_evaluation_error() {
    let tz = TimeZone::get("Europe/Warsaw").unwrap();
    let doc = json!({"name": "r", "trigger": "event", "event_type": "check_in",
        "condition": "event.properties.location_id == 'loc_1'", "effect": {"bonus": 1}});
    let set = RuleSet::compile(vec![(
        RuleRef {
            id: "r1".into(),
            version: 1,
        },
        RuleDoc::parse(&doc).unwrap(),
    )]);
    let (props, attributes) = (Map::new(), Map::new());
    let outcome = set.evaluate(&event(&tz, "check_in", &props, &attributes), &|_| {
        Usage::default()
    });
    let d = &outcome.decisions[0];
    assert!(!d.matched && d.why.starts_with("evaluation error"), "{d:?}");
}
