//! Segments: dynamic ones follow their definition — at once when defined, within a second of a
//! purchase, return or profile change, and after the insights run; static ones are uploaded;
//! entries, exits and sizes are recorded; rules can be for a segment.

use super::*;

/// Records a purchase with one line, `days_ago` days before the test clock.
async fn buy(app: &TestApp, member: &str, order: &str, days_ago: i64, category: &str) -> Value {
    let at = tally_domain::Clock::now(&app.clock) - jiff::SignedDuration::from_hours(24 * days_ago);
    let body = json!({
        "order_id": order,
        "member": {"id": member},
        "total": {"amount_minor": 2500, "currency": "USD"},
        "lines": [{"sku": format!("{category}-1"), "category": category, "quantity": 1, "unit_price_minor": 2500}],
        "occurred_at": at.to_string(),
    });
    app.post(
        &app.a.write,
        &format!("/programs/{}/purchases", app.a.program),
        &body,
    )
    .await
    .ok(201)
}

async fn keys_of(app: &TestApp, member: &str) -> Value {
    app.tally.segments_settled().await;
    app.get(&app.a.read, &format!("/members/{member}/segments"))
        .await
        .ok(200)["items"]
        .clone()
}

fn jazz_fans() -> Value {
    json!({"key": "jazz_fans", "name": "Jazz fans", "description": "Two jazz purchases lately",
    "definition": {"all": [
        {"field": "bought_category", "op": "has_any", "value": ["jazz"], "days": 90},
        {"field": "purchases", "op": "gte", "value": 2, "days": 90}
    ]}})
}

#[tokio::test]
async fn a_dynamic_segment_follows_purchases_returns_and_profiles() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    let ann = id(&app.enroll(json!({"name": "Ann"})).await);
    let bob = id(&app.enroll(json!({"name": "Bob"})).await);
    let cy = id(&app.enroll(json!({"name": "Cy", "tags": ["staff"]})).await);
    buy(&app, &ann, "a-1", 10, "jazz").await;
    buy(&app, &ann, "a-2", 20, "jazz").await;
    buy(&app, &bob, "b-1", 10, "jazz").await;
    buy(&app, &bob, "b-2", 200, "jazz").await; // outside the 90 days
    buy(&app, &cy, "c-1", 5, "rock").await;

    let segments = format!("/programs/{p}/segments");
    let preview = app
        .post(
            &app.a.read,
            &format!("{segments}/preview"),
            &json!({"definition": jazz_fans()["definition"]}),
        )
        .await
        .ok(200);
    assert_eq!(preview["size"], 1);
    assert_eq!(preview["members"], 3);
    assert_eq!(preview["sample"], json!([ann]));

    app.post(&app.a.write, &segments, &jazz_fans())
        .await
        .problem(403, "forbidden");
    let segment = app
        .post(&app.a.admin, &segments, &jazz_fans())
        .await
        .ok(201);
    let s = id(&segment);
    assert!(s.starts_with("seg_"));
    assert_eq!(segment["size"], 1, "{segment}");
    assert_eq!(segment["kind"], "dynamic");
    assert_eq!(segment["definition"], jazz_fans()["definition"]);
    assert!(segment["evaluated_at"].is_string());
    assert_eq!(keys_of(&app, &ann).await, json!(["jazz_fans"]));
    assert_eq!(keys_of(&app, &bob).await, json!([]));

    // Bob's second jazz purchase in the window: he enters within a second.
    let order = buy(&app, &bob, "b-3", 1, "jazz").await;
    assert_eq!(keys_of(&app, &bob).await, json!(["jazz_fans"]));
    // And returns it in full: he leaves.
    app.post(
        &app.a.write,
        &format!("/programs/{p}/returns"),
        &json!({"order_id": order["order_id"], "amount_minor": 2500}),
    )
    .await
    .ok(201);
    assert_eq!(keys_of(&app, &bob).await, json!([]));

    let members = app
        .get(&app.a.read, &format!("/segments/{s}/members"))
        .await
        .ok(200);
    assert_eq!(members["items"].as_array().unwrap().len(), 1);
    assert_eq!(members["items"][0]["member_id"], ann.as_str());
    assert_eq!(members["items"][0]["name"], "Ann");
    let changes = app
        .get(&app.a.read, &format!("/segments/{s}/changes"))
        .await
        .ok(200);
    let log: Vec<(String, String)> = changes["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["member_id"].as_str().unwrap().to_owned(),
                c["change"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        log,
        vec![
            (ann.clone(), "entered".to_owned()),
            (bob.clone(), "entered".to_owned()),
            (bob.clone(), "left".to_owned())
        ]
    );
    let sizes = app
        .get(&app.a.read, &format!("/segments/{s}/sizes"))
        .await
        .ok(200);
    assert_eq!(sizes["items"].as_array().unwrap().len(), 1, "{sizes}");
    assert_eq!(sizes["items"][0]["size"], 1);

    // A profile change: a tag segment follows the member's tags.
    let staff = app
        .post(
            &app.a.admin,
            &segments,
            &json!({"key": "not_staff_buyers", "name": "Customers, not staff", "definition": {"all": [
                {"not": {"field": "tags", "op": "has_any", "value": ["staff"]}},
                {"field": "days_since_last_purchase", "op": "lte", "value": 30}
            ]}}),
        )
        .await
        .ok(201);
    assert_eq!(staff["size"], 2);
    app.patch(
        &app.a.write,
        &format!("/members/{cy}"),
        &json!({"tags": []}),
    )
    .await
    .ok(200);
    assert_eq!(keys_of(&app, &cy).await, json!(["not_staff_buyers"]));

    // A closed member leaves every dynamic segment.
    assert_eq!(keys_of(&app, &bob).await, json!(["not_staff_buyers"]));
    app.patch(
        &app.a.write,
        &format!("/members/{bob}"),
        &json!({"status": "closed"}),
    )
    .await
    .ok(200);
    assert_eq!(keys_of(&app, &bob).await, json!([]));

    // A new definition is evaluated at once: the rock buyer is in, the jazz fan out.
    let mut rock = jazz_fans();
    rock["definition"]["all"][0]["value"] = json!(["rock"]);
    rock["definition"]["all"][1]["value"] = json!(1);
    let replaced = app
        .send(
            app.api(Method::PUT, &format!("/segments/{s}"))
                .bearer_auth(&app.a.admin)
                .json(&rock),
        )
        .await
        .ok(200);
    assert_eq!(replaced["size"], 1);
    assert_eq!(keys_of(&app, &ann).await, json!(["not_staff_buyers"]));
    assert_eq!(
        keys_of(&app, &cy).await,
        json!(["jazz_fans", "not_staff_buyers"])
    );
    // Archived: everyone leaves, and members no longer see it.
    let archived = app
        .patch(
            &app.a.admin,
            &format!("/segments/{s}"),
            &json!({"status": "archived"}),
        )
        .await
        .ok(200);
    assert_eq!(archived["size"], 0);
    assert_eq!(keys_of(&app, &cy).await, json!(["not_staff_buyers"]));
    let list = app.get(&app.a.read, &segments).await.ok(200);
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    // Another tenant sees none of it.
    app.get(&app.b.admin, &format!("/segments/{s}"))
        .await
        .problem(404, "not_found");
    app.get(&app.b.admin, &format!("/members/{ann}/segments"))
        .await
        .problem(404, "not_found");
    app.check_end_state().await;
}

#[tokio::test]
async fn bad_definitions_are_refused_with_the_place_named() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    let segments = format!("/programs/{p}/segments");
    let before = app.snapshot().await;
    let refused = app
        .post(
            &app.a.admin,
            &segments,
            &json!({"key": "Bad Key", "name": "x", "definition": {"all": [
                {"field": "lifecycle", "op": "gt", "value": "at_risk"},
                {"field": "spend", "op": "gte", "value": 100}
            ]}}),
        )
        .await
        .invalid(&["/key", "/definition/all/0/op", "/definition/all/1/field"]);
    assert!(
        refused["errors"][2]["detail"]
            .as_str()
            .unwrap()
            .contains("spend_minor"),
        "the known fields are listed: {refused}"
    );
    app.post(&app.a.admin, &segments, &json!({"key": "k", "name": "x"}))
        .await
        .invalid(&["/definition"]);
    app.post(
        &app.a.read,
        &format!("{segments}/preview"),
        &json!({"definition": {"field": "vip", "op": "eq", "value": "yes"}}),
    )
    .await
    .invalid(&["/definition/value"]);
    app.snapshot()
        .await
        .assert_same(&before, "refused segments");

    app.post(&app.a.admin, &segments, &jazz_fans())
        .await
        .ok(201);
    app.post(&app.a.admin, &segments, &jazz_fans())
        .await
        .problem(409, "segment_key_taken");
    let s = id(&app.get(&app.a.read, &segments).await.ok(200)["items"][0]);
    let mut renamed = jazz_fans();
    renamed["key"] = json!("jazz");
    app.send(
        app.api(Method::PUT, &format!("/segments/{s}"))
            .bearer_auth(&app.a.admin)
            .json(&renamed),
    )
    .await
    .invalid(&["/key"]);
    app.patch(
        &app.a.admin,
        &format!("/segments/{s}"),
        &json!({"status": "paused"}),
    )
    .await
    .invalid(&["/status"]);
    app.get(&app.a.read, &format!("/segments/{s}/sizes?days=0"))
        .await
        .bad_parameter("days");
    app.check_end_state().await;
}

#[tokio::test]
async fn a_static_segment_is_uploaded_whole_or_not_at_all() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    let ann = id(&app.enroll(json!({"external_id": "crm-1"})).await);
    let bob = id(&app.enroll(json!({"external_id": "crm-2"})).await);
    let s = id(&app
        .post(
            &app.a.admin,
            &format!("/programs/{p}/segments"),
            &json!({"key": "press", "name": "Press list", "kind": "static"}),
        )
        .await
        .ok(201));
    let upload = format!("/segments/{s}/members");
    let put = |body: Value| {
        app.send(
            app.api(Method::PUT, &upload)
                .bearer_auth(&app.a.write)
                .json(&body),
        )
    };
    let answer = put(json!({"members": [{"external_id": "crm-1"}, {"id": bob}]}))
        .await
        .ok(200);
    assert_eq!(answer, json!({"entered": 2, "left": 0, "size": 2}));
    let before = app.snapshot().await;
    put(json!({"members": [{"external_id": "crm-1"}, {"external_id": "crm-404"}]}))
        .await
        .invalid(&["/members/1/external_id"]);
    app.snapshot()
        .await
        .assert_same(&before, "a refused upload");
    let answer = put(json!({"members": [{"external_id": "crm-1"}]}))
        .await
        .ok(200);
    assert_eq!(answer, json!({"entered": 0, "left": 1, "size": 1}));
    assert_eq!(keys_of(&app, &ann).await, json!(["press"]));
    assert_eq!(keys_of(&app, &bob).await, json!([]));
    // A purchase does not move anyone in or out of a static segment.
    app.purchase(&bob, "o-1", 1000).await;
    assert_eq!(keys_of(&app, &bob).await, json!([]));
    // A dynamic segment's members are not uploaded.
    let d = id(&app
        .post(
            &app.a.admin,
            &format!("/programs/{p}/segments"),
            &jazz_fans(),
        )
        .await
        .ok(201));
    app.send(
        app.api(Method::PUT, &format!("/segments/{d}/members"))
            .bearer_auth(&app.a.write)
            .json(&json!({"members": [{"id": ann}]})),
    )
    .await
    .invalid(&["/members"]);
    app.check_end_state().await;
}

#[tokio::test]
async fn rules_can_be_for_a_segment() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    let ann = id(&app.enroll(json!({"name": "Ann"})).await);
    let bob = id(&app.enroll(json!({"name": "Bob"})).await);
    buy(&app, &ann, "a-1", 10, "jazz").await;
    buy(&app, &ann, "a-2", 20, "jazz").await;
    let rules = format!("/programs/{p}/rules");
    let for_fans = json!({"name": "Jazz fan bonus", "trigger": "purchase", "effect": {"bonus": 40},
                          "audience": {"segments": ["jazz_fans"]}});
    let refused = app
        .post(&app.a.admin, &rules, &for_fans)
        .await
        .invalid(&["/audience/segments/0"]);
    assert!(
        refused["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("no active segments")
    );
    let s = id(&app
        .post(
            &app.a.admin,
            &format!("/programs/{p}/segments"),
            &jazz_fans(),
        )
        .await
        .ok(201));
    app.post(&app.a.admin, &rules, &for_fans).await.ok(201);
    // A condition can read the member's segments too.
    app.post(
        &app.a.admin,
        &rules,
        &json!({"name": "Not yet a fan", "trigger": "purchase", "effect": {"bonus": 5},
                "condition": "!('jazz_fans' in member.segments)"}),
    )
    .await
    .ok(201);
    let fan = app.purchase(&ann, "a-3", 1000).await;
    let other = app.purchase(&bob, "b-1", 1000).await;
    let names = |answer: &Value| -> Vec<String> {
        answer["rule_awards"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["rule_name"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(fan["points_earned"], 10 + 40, "{fan}");
    assert_eq!(other["points_earned"], 10 + 5, "{other}");
    assert_eq!(names(&other).len(), 1);
    // The segment cannot be archived while the rule is for it.
    app.patch(
        &app.a.admin,
        &format!("/segments/{s}"),
        &json!({"status": "archived"}),
    )
    .await
    .invalid(&["/status"]);
    app.check_end_state().await;
}

#[tokio::test]
async fn segments_over_insights_follow_the_nightly_run() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    let ann = id(&app.enroll(json!({"name": "Ann"})).await);
    for k in 0..6 {
        buy(&app, &ann, &format!("a-{k}"), 200 + 7 * k, "jazz").await;
    }
    let s = id(&app
        .post(
            &app.a.admin,
            &format!("/programs/{p}/segments"),
            &json!({"key": "slipping", "name": "Slipping away", "definition":
                {"field": "lifecycle", "op": "in", "value": ["at_risk", "lapsed", "lost"]}}),
        )
        .await
        .ok(201));
    // No insights yet: nobody has a lifecycle stage.
    assert_eq!(
        app.get(&app.a.read, &format!("/segments/{s}"))
            .await
            .ok(200)["size"],
        0
    );
    app.post_empty(&app.a.admin, &format!("/programs/{p}/insights/run"))
        .await
        .ok(200);
    assert_eq!(
        app.get(&app.a.read, &format!("/segments/{s}"))
            .await
            .ok(200)["size"],
        1
    );
    assert_eq!(keys_of(&app, &ann).await, json!(["slipping"]));
    app.check_end_state().await;
}

#[tokio::test]
async fn a_reward_kept_for_a_segment_is_for_its_members_only() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    let ann = id(&app.enroll(json!({"name": "Ann", "tags": ["vip"]})).await);
    let bob = id(&app.enroll(json!({"name": "Bob"})).await);
    app.post(
        &app.a.admin,
        &format!("/programs/{p}/segments"),
        &json!({"key": "vip_club", "name": "VIP club",
                "definition": {"field": "tags", "op": "has_any", "value": ["vip"]}}),
    )
    .await
    .ok(201);
    // An unknown segment is named by its place.
    app.post(
        &app.a.admin,
        &format!("/programs/{p}/rewards"),
        &json!({"name": "Lounge", "cost_points": 10, "segments": ["vip_club", "no_such"]}),
    )
    .await
    .invalid(&["/segments/1"]);
    let reward = app
        .create_reward(json!({"name": "Lounge", "cost_points": 10, "segments": ["vip_club"]}))
        .await;
    assert_eq!(reward["segments"], json!(["vip_club"]));
    app.adjust(&ann, 50).await;
    app.adjust(&bob, 50).await;
    let redemptions = format!("/programs/{p}/redemptions");
    let redeem = |m: &str| json!({"member": {"id": m}, "reward_id": id(&reward)});
    let refused = app
        .post(&app.a.write, &redemptions, &redeem(&bob))
        .await
        .problem(422, "reward_not_available");
    assert!(
        refused["detail"].as_str().unwrap().contains("VIP club"),
        "{refused}"
    );
    app.post(&app.a.write, &redemptions, &redeem(&ann))
        .await
        .ok(201);
    // Opening it to everyone: Bob may have it now.
    app.patch(
        &app.a.admin,
        &format!("/rewards/{}", id(&reward)),
        &json!({"segments": []}),
    )
    .await
    .ok(200);
    app.post(&app.a.write, &redemptions, &redeem(&bob))
        .await
        .ok(201);
    app.check_end_state().await;
}
