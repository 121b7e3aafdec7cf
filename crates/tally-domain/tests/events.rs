use serde_json::{Value, json};
use tally_domain::DomainError;
use tally_domain::events::{EventTypeDoc, EventTypeName, NewEvent, PropertyType};
use tally_domain::inputs::MemberRef;

/// Every field error as (pointer, message), sorted by pointer.
fn errors(err: DomainError) -> Vec<(String, String)> {
    match err {
        DomainError::Invalid { fields } => {
            let mut out: Vec<_> = fields.into_iter().map(|f| (f.pointer, f.message)).collect();
            out.sort();
            out
        }
        other => panic!("expected invalid, got {other:?}"),
    }
}

fn pointers(err: DomainError) -> Vec<String> {
    errors(err).into_iter().map(|(p, _)| p).collect()
}

fn message_at(err: DomainError, pointer: &str) -> String {
    errors(err)
        .into_iter()
        .find(|(p, _)| p == pointer)
        .unwrap_or_else(|| panic!("no error at {pointer}"))
        .1
}

fn review() -> EventTypeDoc {
    EventTypeDoc::parse(&json!({
        "name": "review_posted",
        "description": "A member reviewed a product",
        "properties": {
            "stars": {"type": "integer", "min": 1, "max": 5, "required": true},
            "text": {"type": "string", "max_length": 10},
            "channel": {"type": "string", "enum": ["web", "app"]},
            "weight": {"type": "number", "min": 0.5},
            "verified": {"type": "boolean"},
            "posted_at": {"type": "timestamp", "description": "when the shop received it"}
        }
    }))
    .unwrap()
}

#[test]
fn event_type_names_follow_the_rule_and_refuse_reserved_ones() {
    for good in ["check_in", "a", "app_download2", &"x".repeat(64)] {
        assert_eq!(EventTypeName::parse(good).unwrap().as_str(), good);
    }
    for bad in [
        "",
        "Check_in",
        "2fa_done",
        "_x",
        "check-in",
        "check in",
        &"x".repeat(65),
    ] {
        let message = EventTypeName::parse(bad).unwrap_err();
        assert!(message.contains("lowercase letters"), "{bad}: {message}");
    }
    for reserved in [
        "purchase",
        "return",
        "enrolment",
        "birthday",
        "anniversary",
        "referral",
    ] {
        let message = EventTypeName::parse(reserved).unwrap_err();
        assert!(message.contains("is reserved"), "{reserved}: {message}");
    }
}

#[test]
fn a_declared_type_parses_and_round_trips() {
    let doc = review();
    assert_eq!(doc.name.as_str(), "review_posted");
    assert_eq!(doc.properties.len(), 6);
    assert!(doc.properties["stars"].required);
    assert!(!doc.properties["text"].required);
    assert_eq!(
        doc.properties["channel"].kind,
        PropertyType::String {
            max_length: None,
            allowed: Some(vec!["web".into(), "app".into()])
        }
    );
    assert_eq!(
        doc.properties["weight"].kind,
        PropertyType::Number {
            min: Some(0.5),
            max: None
        }
    );
    let json = doc.to_json();
    assert_eq!(json["properties"]["stars"]["max"], 5);
    assert_eq!(EventTypeDoc::parse(&json).unwrap(), doc);
    // A type without properties (app_download) is fine too, and round-trips.
    let bare = EventTypeDoc::parse(&json!({"name": "app_download"})).unwrap();
    assert!(bare.properties.is_empty());
    assert_eq!(EventTypeDoc::parse(&bare.to_json()).unwrap(), bare);
}

#[test]
fn contradictory_specs_are_named_by_pointer() {
    let err = EventTypeDoc::parse(&json!({
        "name": "review_posted",
        "properties": {
            "stars": {"type": "integer", "min": 5, "max": 1},
            "score": {"type": "number", "min": 2.5, "max": "high"},
            "tier": {"type": "string", "enum": []},
            "mood": {"type": "string", "enum": ["happy", 3, "happy"]},
            "code": {"type": "string", "max_length": 2, "enum": ["abc"]},
            "text": {"type": "string", "min": 1, "max_length": 3000},
            "count": {"type": "integer", "min": 1.5},
            "when": {"type": "date"},
            "flag": {"type": "boolean", "required": "yes"},
            "Bad-Name": {"type": "string"},
            "loose": "string"
        },
        "colour": "red"
    }))
    .unwrap_err();
    let found = errors(err);
    let at = |p: &str| {
        found
            .iter()
            .find(|(q, _)| q == p)
            .unwrap_or_else(|| panic!("no error at {p} in {found:?}"))
            .1
            .clone()
    };
    assert_eq!(
        at("/properties/stars/min"),
        "must not be greater than max (1)"
    );
    assert_eq!(at("/properties/score/max"), "must be a finite number");
    assert!(at("/properties/tier/enum").contains("1 to 100 allowed values"));
    assert_eq!(at("/properties/mood/enum/1"), "must be a string");
    assert_eq!(at("/properties/mood/enum/2"), "repeats `happy`");
    assert_eq!(
        at("/properties/code/enum/0"),
        "must be at most 2 characters"
    );
    assert!(at("/properties/text/min").contains("max_length, enum"));
    assert_eq!(
        at("/properties/text/max_length"),
        "must be between 1 and 2000"
    );
    assert!(at("/properties/count/min").contains("must be an integer"));
    assert!(at("/properties/when/type").contains("string, integer, number, boolean, timestamp"));
    assert_eq!(at("/properties/flag/required"), "must be true or false");
    assert!(at("/properties/Bad-Name").contains("not a valid property name"));
    assert_eq!(at("/properties/loose"), "must be an object");
    assert!(at("/colour").contains("is not a known field"));
    assert_eq!(found.len(), 14, "{found:?}");
}

#[test]
fn names_and_property_counts_are_bounded() {
    let reserved = EventTypeDoc::parse(&json!({"name": "purchase"})).unwrap_err();
    assert!(message_at(reserved, "/name").contains("reserved"));
    assert_eq!(
        pointers(EventTypeDoc::parse(&json!({"description": "x"})).unwrap_err()),
        ["/name"]
    );
    let many: serde_json::Map<String, Value> = (0..51)
        .map(|i| (format!("p{i}"), json!({"type": "boolean"})))
        .collect();
    let err = EventTypeDoc::parse(&json!({"name": "check_in", "properties": many})).unwrap_err();
    assert_eq!(
        message_at(err, "/properties"),
        "must declare at most 50 properties"
    );
}

#[test]
fn every_bad_property_is_reported_at_once() {
    let err = review()
        .validate_properties(&json!({
            "text": "far too long for ten",
            "channel": "fax",
            "weight": 0.1,
            "verified": "yes",
            "posted_at": "yesterday",
            "likes": 3,
            "a/b": 1
        }))
        .unwrap_err();
    let found = errors(err);
    let expected = [
        (
            "/properties/a~1b",
            "is not declared for event type `review_posted` (declared: channel, posted_at, stars, text, verified, weight)",
        ),
        ("/properties/channel", "must be one of: web, app"),
        (
            "/properties/likes",
            "is not declared for event type `review_posted` (declared: channel, posted_at, stars, text, verified, weight)",
        ),
        (
            "/properties/posted_at",
            "must be an RFC 3339 timestamp such as 2026-05-01T12:00:00Z",
        ),
        ("/properties/stars", "is required"),
        ("/properties/text", "must be at most 10 characters"),
        ("/properties/verified", "must be true or false"),
        ("/properties/weight", "must be at least 0.5"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(p, m)| (p.to_string(), m.to_string()))
        .collect();
    assert_eq!(found, expected);
}

#[test]
fn integers_are_type_and_range_checked() {
    let doc = review();
    for (stars, message) in [
        (json!(6), "must be between 1 and 5"),
        (json!(0), "must be between 1 and 5"),
        (json!(4.5), "must be an integer (a whole number in 64 bits)"),
        (json!("5"), "must be an integer (a whole number in 64 bits)"),
        (
            json!(u64::MAX),
            "must be an integer (a whole number in 64 bits)",
        ),
    ] {
        let err = doc
            .validate_properties(&json!({"stars": stars}))
            .unwrap_err();
        assert_eq!(message_at(err, "/properties/stars"), message);
    }
    assert_eq!(
        pointers(doc.validate_properties(&json!([1])).unwrap_err()),
        ["/properties"]
    );
    let bare = EventTypeDoc::parse(&json!({"name": "app_download"})).unwrap();
    let err = bare.validate_properties(&json!({"os": "ios"})).unwrap_err();
    assert!(message_at(err, "/properties/os").contains("it declares no properties"));
}

#[test]
fn a_valid_event_passes_and_is_normalised() {
    let out = review()
        .validate_properties(&json!({
            "stars": 5,
            "text": "  great  ",
            "channel": "app",
            "weight": 2,
            "verified": true,
            "posted_at": "2026-05-01T14:00:00+02:00",
            "description": null
        }))
        .unwrap_err();
    // `description` is not a property of this type, even as null.
    assert_eq!(pointers(out), ["/properties/description"]);

    let out = review()
        .validate_properties(&json!({
            "stars": 5,
            "text": "  great  ",
            "channel": "app",
            "weight": 2,
            "verified": null,
            "posted_at": "2026-05-01T14:00:00+02:00"
        }))
        .unwrap();
    assert_eq!(
        Value::Object(out),
        json!({
            "stars": 5,
            "text": "great",
            "channel": "app",
            // A number is always a double, so rules see one type.
            "weight": 2.0,
            "posted_at": "2026-05-01T12:00:00Z"
        })
    );
}

#[test]
fn a_posted_event_parses_its_shape() {
    let e = NewEvent::parse(&json!({
        "type": "review_posted",
        "member": {"card_number": "4000000000000002"},
        "properties": {"stars": 5},
        "occurred_at": "2026-05-01T12:00:00Z",
        "idempotency_key": " batch-7/row-12 "
    }))
    .unwrap();
    assert_eq!(e.event_type.as_str(), "review_posted");
    assert_eq!(e.member, MemberRef::CardNumber("4000000000000002".into()));
    assert_eq!(e.properties["stars"], 5);
    assert_eq!(e.occurred_at.unwrap().to_string(), "2026-05-01T12:00:00Z");
    assert_eq!(e.idempotency_key.as_deref(), Some("batch-7/row-12"));

    let minimal =
        NewEvent::parse(&json!({"type": "check_in", "member": {"external_id": "c-1"}})).unwrap();
    assert!(minimal.properties.is_empty());
    assert_eq!(minimal.idempotency_key, None);
}

#[test]
fn a_bad_posted_event_names_every_field() {
    let err = NewEvent::parse(&json!({
        "type": "Review",
        "member": {"id": "mem_x", "external_id": "c-1"},
        "properties": [1],
        "occurred_at": "May 1st",
        "idempotency_key": "k".repeat(129),
        "amount": 3
    }))
    .unwrap_err();
    assert_eq!(
        pointers(err.clone()),
        [
            "/amount",
            "/idempotency_key",
            "/member",
            "/occurred_at",
            "/properties",
            "/type"
        ]
    );
    assert_eq!(
        message_at(err, "/idempotency_key"),
        "must be 1 to 128 visible ASCII characters"
    );
    let err = NewEvent::parse(&json!({"type": "birthday", "member": {"external_id": "c"}}));
    assert!(message_at(err.unwrap_err(), "/type").contains("reserved"));
    let err = NewEvent::parse(&json!({"member": {"external_id": "c"}})).unwrap_err();
    assert_eq!(message_at(err, "/type"), "is required");
}
