//! Custom events: declared types, events checked against them, rules that award on them (with
//! the rule, its version and the event on every award), idempotency, and refusals that name
//! the field and write nothing.

use super::*;

fn check_in_type() -> Value {
    json!({
        "description": "A visit to a store",
        "properties": {
            "location_id": {"type": "string", "required": true, "max_length": 40},
            "visitors": {"type": "integer", "min": 1, "max": 20}
        }
    })
}

fn review_type() -> Value {
    json!({"properties": {"rating": {"type": "integer", "required": true, "min": 1, "max": 5}}})
}

async fn declare(app: &TestApp, name: &str, body: &Value) -> Value {
    app.send(
        app.api(
            Method::PUT,
            &format!("/programs/{}/event-types/{name}", app.a.program),
        )
        .bearer_auth(&app.a.admin)
        .json(body),
    )
    .await
    .ok(200)
}

async fn put_type(app: &TestApp, name: &str, body: &Value) -> common::Resp {
    app.send(
        app.api(
            Method::PUT,
            &format!("/programs/{}/event-types/{name}", app.a.program),
        )
        .bearer_auth(&app.a.admin)
        .json(body),
    )
    .await
}

async fn post_event(app: &TestApp, body: &Value) -> common::Resp {
    app.post(
        &app.a.write,
        &format!("/programs/{}/events", app.a.program),
        body,
    )
    .await
}

async fn create_rule(app: &TestApp, rule: Value) -> String {
    let r = app
        .post(
            &app.a.admin,
            &format!("/programs/{}/rules", app.a.program),
            &rule,
        )
        .await
        .ok(201);
    id(&r)
}

fn check_in(member: &str, location: &str) -> Value {
    json!({"type": "check_in", "member": {"id": member}, "properties": {"location_id": location}})
}

fn pointers(problem: &Value) -> Vec<String> {
    let mut p: Vec<String> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap().to_owned())
        .collect();
    p.sort();
    p
}

fn message_at(problem: &Value, pointer: &str) -> String {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["pointer"] == pointer)
        .and_then(|e| e["detail"].as_str())
        .unwrap_or_else(|| panic!("no error at {pointer}: {problem}"))
        .to_owned()
}

#[tokio::test]
async fn event_types_are_declared_replaced_listed_and_audited() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    let created = declare(&app, "check_in", &check_in_type()).await;
    assert_eq!(created["name"], "check_in");
    assert_eq!(created["properties"]["visitors"]["min"], 1);
    assert_eq!(created["properties"]["visitors"]["required"], false);
    assert_eq!(created["created_at"], created["updated_at"]);
    assert_eq!(
        app.get(&app.a.read, &format!("/programs/{p}/event-types/check_in"))
            .await
            .ok(200),
        created
    );

    // Replaced an hour later: the new schema, the same creation time.
    app.clock.advance(jiff::SignedDuration::from_hours(1));
    let mut changed = check_in_type();
    changed["name"] = json!("check_in");
    changed["properties"]["visitors"]["max"] = json!(50);
    let replaced = declare(&app, "check_in", &changed).await;
    assert_eq!(replaced["properties"]["visitors"]["max"], 50);
    assert_eq!(replaced["created_at"], created["created_at"]);
    assert_ne!(replaced["updated_at"], created["updated_at"]);
    declare(&app, "review_posted", &review_type()).await;
    let list = app
        .get(&app.a.read, &format!("/programs/{p}/event-types"))
        .await
        .ok(200);
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["check_in", "review_posted"]);

    // Audited like other configuration changes.
    let audit = app.get(&app.a.admin, "/audit-log").await.ok(200);
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["entity_id"] == p.as_str())
        .filter_map(|e| e["action"].as_str())
        .filter(|a| a.starts_with("event_type."))
        .collect();
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == "event_type.created")
            .count(),
        2
    );
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == "event_type.updated")
            .count(),
        1
    );

    // Unknown types are not found; another tenant sees nothing; a write key cannot declare.
    app.get(&app.a.read, &format!("/programs/{p}/event-types/nope"))
        .await
        .problem(404, "not_found");
    app.get(&app.b.admin, &format!("/programs/{p}/event-types"))
        .await
        .problem(404, "not_found");
    app.send(
        app.api(Method::PUT, &format!("/programs/{p}/event-types/x"))
            .bearer_auth(&app.a.write)
            .json(&check_in_type()),
    )
    .await
    .problem(403, "forbidden");
    app.check_end_state().await;
}

#[tokio::test]
async fn bad_declarations_are_refused_naming_the_field_and_write_nothing() {
    let app = TestApp::new().await;
    let before = app.snapshot().await;
    let reserved = put_type(&app, "purchase", &json!({}))
        .await
        .problem(422, "validation");
    assert_eq!(pointers(&reserved), vec!["/name"]);
    assert!(
        message_at(&reserved, "/name").contains("reserved"),
        "{reserved}"
    );
    let malformed = put_type(&app, "Check-In", &json!({}))
        .await
        .problem(422, "validation");
    assert_eq!(pointers(&malformed), vec!["/name"]);
    let mismatch = put_type(&app, "check_in", &json!({"name": "review_posted"}))
        .await
        .problem(422, "validation");
    assert!(message_at(&mismatch, "/name").contains("must match the name in the path"));
    let bad = put_type(
        &app,
        "check_in",
        &json!({"properties": {
            "visitors": {"type": "integer", "min": 5, "max": 1},
            "mood": {"type": "emotion"},
            "Bad Name": {"type": "string"},
            "colour": {"type": "string", "enum": ["red", "red"]}
        }, "colour": 1}),
    )
    .await
    .problem(422, "validation");
    assert_eq!(
        pointers(&bad),
        vec![
            "/colour",
            "/properties/Bad Name",
            "/properties/colour/enum/1",
            "/properties/mood/type",
            "/properties/visitors/min",
        ]
    );
    before.assert_same(&app.snapshot().await, "refused declarations");
    app.check_end_state().await;
}

#[tokio::test]
async fn events_earn_by_their_rules_with_rule_version_and_event_on_each_award() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    declare(&app, "check_in", &check_in_type()).await;
    declare(&app, "review_posted", &review_type()).await;

    // A rule for a type the program does not declare is refused at /event_type.
    let before = app.snapshot().await;
    let refused = app
        .post(
            &app.a.admin,
            &format!("/programs/{p}/rules"),
            &json!({"name": "Profile", "trigger": "event", "event_type": "profile_completed",
                    "effect": {"bonus": 5}}),
        )
        .await
        .problem(422, "validation");
    assert_eq!(pointers(&refused), vec!["/event_type"]);
    assert_eq!(
        message_at(&refused, "/event_type"),
        "no event type `profile_completed` is declared in this program; declared: check_in, review_posted"
    );
    before.assert_same(&app.snapshot().await, "a refused rule");

    let flagship = "loc_01JTX4T7C8D9E0F1G2H3J4K5M6";
    let rule = json!({"name": "Flagship check-in", "trigger": "event", "event_type": "check_in",
        "condition": format!("event.properties.location_id == '{flagship}'"),
        "effect": {"bonus": 10}, "limits": {"per_member": {"day": 20}}});
    let check_rule = create_rule(&app, rule.clone()).await;
    let review_rule = create_rule(
        &app,
        json!({"name": "Review", "trigger": "event", "event_type": "review_posted",
               "effect": {"points": "event.properties.rating * 2"}}),
    )
    .await;
    let m = id(&app.enroll(json!({"external_id": "e-1"})).await);

    let first = post_event(&app, &check_in(&m, flagship)).await.ok(201);
    let event_id = first["event_id"].as_str().unwrap().to_owned();
    assert!(event_id.starts_with("evt_"), "{first}");
    assert_eq!(
        first,
        json!({"event_id": event_id, "type": "check_in", "member_id": m, "points_earned": 10,
               "rule_awards": [{"rule_id": check_rule, "version": 1, "name": "Flagship check-in", "points": 10}],
               "granted": [],
               "balance": {"available": 10, "pending": 0}})
    );
    // Elsewhere: recorded, nothing earned.
    let elsewhere = post_event(&app, &check_in(&m, "loc_other")).await.ok(201);
    assert_eq!(
        (
            elsewhere["points_earned"].as_i64(),
            elsewhere["rule_awards"].clone()
        ),
        (Some(0), json!([]))
    );
    // The day's limit of 20: one more check-in earns, the third earns nothing.
    assert_eq!(
        post_event(&app, &check_in(&m, flagship)).await.ok(201)["points_earned"],
        10
    );
    let capped = post_event(&app, &check_in(&m, flagship)).await.ok(201);
    assert_eq!(capped["points_earned"], 0);
    assert_eq!(capped["balance"]["available"], 20);
    // The next day, a new version of the rule gives 15.
    app.clock.advance(jiff::SignedDuration::from_hours(24));
    let mut v2 = rule.clone();
    v2["effect"] = json!({"bonus": 15});
    app.send(
        app.api(Method::PUT, &format!("/rules/{check_rule}"))
            .bearer_auth(&app.a.admin)
            .json(&v2),
    )
    .await
    .ok(200);
    let next_day = post_event(&app, &check_in(&m, flagship)).await.ok(201);
    assert_eq!(next_day["rule_awards"][0]["version"], 2);
    assert_eq!(next_day["points_earned"], 15);
    let review = post_event(
        &app,
        &json!({"type": "review_posted", "member": {"external_id": "e-1"}, "properties": {"rating": 4}}),
    )
    .await
    .ok(201);
    assert_eq!(review["points_earned"], 8);
    assert_eq!(app.balance(&m).await, 10 + 10 + 15 + 8);

    // The history names rule, version and event on every award.
    let history = app
        .get(&app.a.read, &format!("/members/{m}/history?limit=200"))
        .await
        .ok(200);
    let mut awards: Vec<(String, i64, String, i64)> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["reason"]["rule"].as_str().unwrap().to_owned(),
                e["reason"]["rule_version"].as_i64().unwrap(),
                e["reason"]["event_id"].as_str().unwrap().to_owned(),
                e["points"].as_i64().unwrap(),
            )
        })
        .collect();
    awards.sort();
    let event_ids = [
        event_id.clone(),
        next_day["event_id"].as_str().unwrap().to_owned(),
        review["event_id"].as_str().unwrap().to_owned(),
    ];
    assert_eq!(awards.len(), 4);
    assert!(awards.contains(&(check_rule.clone(), 1, event_ids[0].clone(), 10)));
    assert!(awards.contains(&(check_rule.clone(), 2, event_ids[1].clone(), 15)));
    assert!(awards.contains(&(review_rule.clone(), 1, event_ids[2].clone(), 8)));

    // The member's events, newest first, in pages.
    let pages = app
        .all_pages(&app.a.read, &format!("/members/{m}/events"), 2)
        .await;
    let events: Vec<Value> = pages.into_iter().flatten().collect();
    assert_eq!(events.len(), 6);
    assert_eq!(events[0]["id"], review["event_id"]);
    assert_eq!(events[0]["properties"], json!({"rating": 4}));
    assert_eq!(events[5]["id"], json!(event_id));
    assert_eq!(events[5]["properties"], json!({"location_id": flagship}));
    app.get(&app.b.admin, &format!("/members/{m}/events"))
        .await
        .problem(404, "not_found");
    app.check_end_state().await;
}

#[tokio::test]
async fn bad_events_are_refused_naming_each_field_and_write_nothing() {
    let app = TestApp::new().await;
    declare(&app, "check_in", &check_in_type()).await;
    let m = id(&app.enroll(json!({})).await);
    let before = app.snapshot().await;

    let unknown = post_event(
        &app,
        &json!({"type": "review_posted", "member": {"id": m}, "properties": {}}),
    )
    .await
    .problem(422, "validation");
    assert_eq!(pointers(&unknown), vec!["/type"]);
    assert_eq!(
        message_at(&unknown, "/type"),
        "no event type `review_posted` is declared in this program; declared: check_in"
    );
    let bad = post_event(
        &app,
        &json!({"type": "check_in", "member": {"id": m},
                "properties": {"visitors": "three", "colour": "red"}}),
    )
    .await
    .problem(422, "validation");
    assert_eq!(
        pointers(&bad),
        vec![
            "/properties/colour",
            "/properties/location_id",
            "/properties/visitors"
        ]
    );
    assert!(message_at(&bad, "/properties/colour").contains("declared: location_id, visitors"));
    let too_many = post_event(
        &app,
        &json!({"type": "check_in", "member": {"id": m},
                "properties": {"location_id": "loc_1", "visitors": 21}}),
    )
    .await
    .problem(422, "validation");
    assert_eq!(
        message_at(&too_many, "/properties/visitors"),
        "must be between 1 and 20"
    );
    let shape = post_event(
        &app,
        &json!({"type": "purchase", "member": {"id": "mem_nope"}, "extra": 1}),
    )
    .await
    .problem(422, "validation");
    assert_eq!(pointers(&shape), vec!["/extra", "/member/id", "/type"]);
    let nobody = post_event(
        &app,
        &json!({"type": "check_in", "member": {"external_id": "nobody"}, "properties": {"location_id": "x"}}),
    )
    .await
    .problem(422, "validation");
    assert_eq!(pointers(&nobody), vec!["/member/external_id"]);
    let future = post_event(
        &app,
        &json!({"type": "check_in", "member": {"id": m}, "properties": {"location_id": "x"},
                "occurred_at": "2030-01-01T00:00:00Z"}),
    )
    .await
    .problem(422, "validation");
    assert_eq!(pointers(&future), vec!["/occurred_at"]);
    before.assert_same(&app.snapshot().await, "refused events");
    app.check_end_state().await;
}

#[tokio::test]
async fn idempotency_keys_replay_the_answer_and_refuse_other_content() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    declare(&app, "check_in", &check_in_type()).await;
    create_rule(
        &app,
        json!({"name": "Any check-in", "trigger": "event", "event_type": "check_in", "effect": {"bonus": 5}}),
    )
    .await;
    let m = id(&app.enroll(json!({})).await);

    let mut body = check_in(&m, "loc_1");
    body["idempotency_key"] = json!("door-7-0001");
    let first = post_event(&app, &body).await.ok(201);
    assert_eq!(first["points_earned"], 5);
    let after_first = app.snapshot().await;
    let again = post_event(&app, &body).await.ok(201);
    assert_eq!(again, first, "the same key and content answer the same");
    after_first.assert_same(&app.snapshot().await, "a replayed event");
    let mut other = body.clone();
    other["properties"]["location_id"] = json!("loc_2");
    let conflict = post_event(&app, &other)
        .await
        .problem(409, "event_conflict");
    assert!(
        conflict["detail"].as_str().unwrap().contains("door-7-0001"),
        "{conflict}"
    );
    after_first.assert_same(&app.snapshot().await, "a conflicting event");
    assert_eq!(app.balance(&m).await, 5);

    // The Idempotency-Key header works as for every POST.
    let url = format!("/programs/{p}/events");
    let plain = check_in(&m, "loc_3");
    let by_header = app
        .post_idem(&app.a.write, &url, "hdr-1", &plain)
        .await
        .ok(201);
    let replay = app
        .post_idem(&app.a.write, &url, "hdr-1", &plain)
        .await
        .ok(201);
    assert_eq!(replay, by_header);
    app.post_idem(&app.a.write, &url, "hdr-1", &check_in(&m, "loc_4"))
        .await
        .problem(422, "idempotency_key_reused");
    assert_eq!(app.balance(&m).await, 10);
    let events = app
        .get(&app.a.read, &format!("/members/{m}/events"))
        .await
        .ok(200);
    assert_eq!(events["items"].as_array().unwrap().len(), 2);
    app.check_end_state().await;
}

/// Limits, budget, schedule, audience, priority and stop_further are generic: they hold for
/// event rules exactly as for purchase rules.
#[tokio::test]
async fn limits_schedule_audience_priority_and_stop_further_hold_for_event_rules() {
    let app = TestApp::new().await;
    declare(&app, "review_posted", &review_type()).await;
    // Five stars: 50 at most once per member, and no other review rule then.
    let five = create_rule(
        &app,
        json!({"name": "Five stars", "trigger": "event", "event_type": "review_posted",
               "condition": "event.properties.rating == 5", "effect": {"bonus": 50},
               "priority": 10, "stop_further": true, "limits": {"per_member": {"lifetime": 50}}}),
    )
    .await;
    let per_star = create_rule(
        &app,
        json!({"name": "Per star", "trigger": "event", "event_type": "review_posted",
               "effect": {"points": "event.properties.rating * 10"}, "limits": {"per_event": 30, "budget": 70}}),
    )
    .await;
    create_rule(
        &app,
        json!({"name": "VIP reviews", "trigger": "event", "event_type": "review_posted",
               "effect": {"bonus": 7}, "audience": {"tags": ["vip"]}}),
    )
    .await;
    create_rule(
        &app,
        json!({"name": "Sunday reviews", "trigger": "event", "event_type": "review_posted",
               "effect": {"bonus": 3}, "schedule": {"days": ["sun"]}}),
    )
    .await;
    let vip = id(&app.enroll(json!({"tags": ["vip"]})).await);
    let other = id(&app.enroll(json!({})).await);
    let review = |m: &str, rating: i64| json!({"type": "review_posted", "member": {"id": m}, "properties": {"rating": rating}});
    // Sorted by name: rules of equal priority run in rule id order, which is random here.
    let awarded = |answer: &Value| -> Vec<(String, i64)> {
        let mut awards: Vec<(String, i64)> = answer["rule_awards"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["name"].as_str().unwrap().to_owned(),
                    a["points"].as_i64().unwrap(),
                )
            })
            .collect();
        awards.sort();
        awards
    };
    // Friday 1 May 2026. Five stars stop the rest.
    let a = post_event(&app, &review(&vip, 5)).await.ok(201);
    assert_eq!(awarded(&a), vec![("Five stars".into(), 50)]);
    assert_eq!(a["rule_awards"][0]["rule_id"], json!(five));
    // Four stars: 40 capped per event at 30, and the VIP's audience rule.
    let b = post_event(&app, &review(&vip, 4)).await.ok(201);
    assert_eq!(
        awarded(&b),
        vec![("Per star".into(), 30), ("VIP reviews".into(), 7)]
    );
    // Not a VIP: no audience rule. Per star 20.
    let c = post_event(&app, &review(&other, 2)).await.ok(201);
    assert_eq!(awarded(&c), vec![("Per star".into(), 20)]);
    assert_eq!(c["rule_awards"][0]["rule_id"], json!(per_star));
    // Sunday: the schedule rule joins; the budget of 70 has 20 left for Per star.
    app.clock.set("2026-05-03T10:00:00Z".parse().unwrap());
    let d = post_event(&app, &review(&other, 4)).await.ok(201);
    assert_eq!(
        awarded(&d),
        vec![("Per star".into(), 20), ("Sunday reviews".into(), 3)]
    );
    let e = post_event(&app, &review(&other, 4)).await.ok(201);
    assert_eq!(awarded(&e), vec![("Sunday reviews".into(), 3)]);
    assert_eq!(app.balance(&vip).await, 50 + 37);
    assert_eq!(app.balance(&other).await, 20 + 23 + 3);
    app.check_end_state().await;
}

#[tokio::test]
async fn the_dry_run_of_an_event_says_what_it_would_earn_and_writes_nothing() {
    let app = TestApp::new().await;
    declare(
        &app,
        "review_posted",
        &json!({"properties": {"rating": {"type": "integer", "min": 1, "max": 5, "required": true}}}),
    )
    .await;
    let rule = create_rule(
        &app,
        json!({"name": "Reviews", "trigger": "event", "event_type": "review_posted",
            "effect": {"points": "event.properties.rating * 2"}}),
    )
    .await;
    let m = id(&app.enroll(json!({})).await);
    let simulate = format!("/programs/{}/rules/simulate", app.a.program);
    let event = |rating: Value| json!({"type": "review_posted", "member": {"id": m}, "properties": {"rating": rating}});
    let before = app.snapshot().await;
    let tried = app
        .post(&app.a.read, &simulate, &json!({"event": event(json!(4))}))
        .await
        .ok(200);
    assert_eq!(tried["points_earned"], 8);
    assert_eq!(tried["rules"][0]["rule_id"], rule.as_str());
    assert_eq!(tried["rules"][0]["matched"], true);
    // A draft instead of the active rules.
    let draft = json!({"name": "Flat", "trigger": "event", "event_type": "review_posted", "effect": {"bonus": 3}});
    let drafted = app
        .post(
            &app.a.read,
            &simulate,
            &json!({"event": event(json!(4)), "rules": [draft]}),
        )
        .await
        .ok(200);
    assert_eq!(drafted["points_earned"], 3);
    // Mistakes are named under /event.
    app.post(&app.a.read, &simulate, &json!({"event": event(json!(9))}))
        .await
        .invalid(&["/event/properties/rating"]);
    app.post(
        &app.a.read,
        &simulate,
        &json!({"event": {"type": "check_in", "member": {"id": m}}}),
    )
    .await
    .invalid(&["/event/type"]);
    app.post(
        &app.a.read,
        &simulate,
        &json!({"event": event(json!(4)), "purchase": purchase_body(&m, "X-1", 100)}),
    )
    .await
    .invalid(&["/event"]);
    before.assert_same(&app.snapshot().await, "a dry run writes nothing");
    app.check_end_state().await;
}

#[tokio::test]
async fn the_backtest_replays_events_for_draft_event_rules() {
    let app = TestApp::new().await;
    declare(
        &app,
        "review_posted",
        &json!({"properties": {"rating": {"type": "integer", "min": 1, "max": 5, "required": true}}}),
    )
    .await;
    create_rule(
        &app,
        json!({"name": "Reviews", "trigger": "event", "event_type": "review_posted", "effect": {"bonus": 5}}),
    )
    .await;
    let m = id(&app.enroll(json!({})).await);
    for rating in [5, 2, 4] {
        post_event(
            &app,
            &json!({"type": "review_posted", "member": {"id": m}, "properties": {"rating": rating}}),
        )
        .await
        .ok(201);
    }
    // A draft that pays good reviews more, once a day.
    let draft = json!({"name": "Good reviews", "trigger": "event", "event_type": "review_posted",
        "condition": "event.properties.rating >= 4", "effect": {"points": "event.properties.rating * 3"},
        "limits": {"per_member": {"day": 15}}});
    let report = app
        .post(
            &app.a.read,
            &format!("/programs/{}/rules/backtest", app.a.program),
            &json!({"days": 30, "rules": [draft]}),
        )
        .await
        .ok(200);
    assert_eq!(report["events"], 3);
    // 5 × 3 = 15, then the day's limit leaves nothing for the 4.
    assert_eq!(
        report["rules"],
        json!([{"rule_id": "draft_1", "name": "Good reviews", "points": 15, "purchases": 0, "events": 1}])
    );
    assert_eq!(report["would_issue"]["rules"], 15);
    assert_eq!(report["actually_issued"], 15, "three reviews at 5 points");
    app.check_end_state().await;
}

#[tokio::test]
async fn event_rules_read_only_declared_properties_typed_as_declared() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    declare(
        &app,
        "review_posted",
        &json!({"properties": {
            "rating": {"type": "integer", "required": true, "min": 1, "max": 5},
            "weight": {"type": "number"},
            "product_sku": {"type": "string"}
        }}),
    )
    .await;
    let rules = format!("/programs/{p}/rules");
    let review_rule = |condition: &str, points: &str| {
        json!({"name": "Reviews", "trigger": "event", "event_type": "review_posted",
               "condition": condition, "effect": {"points": points}})
    };
    // A misspelt property and a string compared with a number: each at its place, at once.
    let refused = app
        .post(
            &app.a.admin,
            &rules,
            &review_rule(
                "event.properties.ratting >= 4",
                "event.properties.product_sku * 2",
            ),
        )
        .await
        .problem(422, "validation");
    assert_eq!(pointers(&refused), ["/condition", "/effect/points"]);
    let misspelt = message_at(&refused, "/condition");
    assert!(
        misspelt.contains("no property `ratting`")
            && misspelt.contains("product_sku, rating, weight"),
        "{misspelt}"
    );
    let wrong_type = app
        .post(
            &app.a.admin,
            &rules,
            &review_rule("event.properties.rating >= '4'", "10"),
        )
        .await
        .problem(422, "validation");
    assert_eq!(pointers(&wrong_type), ["/condition"]);

    // Declared and typed: a number property is a double, sent as 2 or as 2.5.
    let rule = create_rule(
        &app,
        review_rule(
            "event.properties.rating >= 4 && event.properties.weight >= 2.0",
            "int(event.properties.weight * 10.0)",
        ),
    )
    .await;
    let m = id(&app.enroll(json!({"external_id": "rev-1"})).await);
    let review = |weight: Value| {
        json!({"type": "review_posted", "member": {"id": m},
               "properties": {"rating": 5, "weight": weight}})
    };
    let whole = post_event(&app, &review(json!(2))).await.ok(201);
    assert_eq!(whole["points_earned"], 20);
    let half = post_event(&app, &review(json!(2.5))).await.ok(201);
    assert_eq!(half["points_earned"], 25);

    // Declaring the type anew without a property the active rule reads is refused; with the
    // rule paused it is allowed, and resuming the rule is then refused.
    let without_weight = json!({"properties": {"rating": {"type": "integer", "required": true}}});
    let in_use = put_type(&app, "review_posted", &without_weight)
        .await
        .problem(422, "validation");
    let why = message_at(&in_use, "/properties");
    assert!(why.contains("Reviews") && why.contains("weight"), "{why}");
    app.patch(
        &app.a.admin,
        &format!("/rules/{rule}"),
        &json!({"status": "paused"}),
    )
    .await
    .ok(200);
    put_type(&app, "review_posted", &without_weight)
        .await
        .ok(200);
    let resumed = app
        .patch(
            &app.a.admin,
            &format!("/rules/{rule}"),
            &json!({"status": "active"}),
        )
        .await
        .problem(422, "validation");
    assert!(message_at(&resumed, "/condition").contains("no property `weight`"));
    app.check_end_state().await;
}
