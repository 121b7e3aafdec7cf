//! Earning rules: versions on every award, limits, budgets, enrolment bonuses, pausing, the dry
//! run, and refusals that name the field.

use super::*;

fn vinyl_rule(points_per_item: i64) -> Value {
    json!({
        "name": "Vinyl club",
        "trigger": "purchase",
        "condition": "purchase.items.exists(i, i.category == 'vinyl')",
        "effect": {"per_item": {"condition": "item.category == 'vinyl'", "points": format!("item.quantity * {points_per_item}")}},
        "limits": {"per_member": {"day": 30}},
        "priority": 10
    })
}

fn basket(order_id: &str, member: &str) -> Value {
    json!({
        "order_id": order_id,
        "member": {"id": member},
        "total": {"amount_minor": 2500, "currency": "USD"},
        "lines": [
            {"sku": "lp-1", "category": "vinyl", "quantity": 2, "unit_price_minor": 1000},
            {"sku": "cd-1", "category": "cd", "quantity": 1, "unit_price_minor": 500}
        ]
    })
}

#[tokio::test]
async fn rules_add_to_base_points_and_every_award_names_its_rule_version() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    let rules = format!("/programs/{p}/rules");

    let welcome = app
        .post(
            &app.a.admin,
            &rules,
            &json!({"name": "Welcome", "trigger": "enrolment", "effect": {"bonus": 50}}),
        )
        .await
        .ok(201);
    assert!(id(&welcome).starts_with("rul_"));
    assert_eq!(
        (welcome["version"].as_i64(), welcome["status"].as_str()),
        (Some(1), Some("active"))
    );
    let vinyl = app
        .post(&app.a.admin, &rules, &vinyl_rule(10))
        .await
        .ok(201);
    let v = id(&vinyl);
    assert_eq!(vinyl["effect"]["per_item"]["points"], "item.quantity * 10");
    assert_eq!(
        app.get(&app.a.read, &format!("/rules/{v}")).await.ok(200),
        vinyl
    );

    // Enrolment: the welcome bonus at once.
    let member = app.enroll(json!({"external_id": "r-1"})).await;
    let m = id(&member);
    assert_eq!(member["balance"]["available"], 50);

    // A purchase: 25 base points, 2 vinyl × 10 from the rule.
    let purchases = format!("/programs/{p}/purchases");
    let first = app
        .post(&app.a.write, &purchases, &basket("R-1", &m))
        .await
        .ok(201);
    assert_eq!(first["base_points"], 25);
    assert_eq!(first["points_earned"], 45);
    assert_eq!(
        first["rule_awards"],
        json!([{"rule_id": v, "version": 1, "name": "Vinyl club", "points": 20}])
    );
    assert_eq!(first["balance"]["available"], 95);

    // A new version earns 5 per record; the day's cap of 30 leaves 10 for it.
    let mut changed = vinyl_rule(5);
    changed["status"] = json!("active");
    let v2 = app
        .send(
            app.api(Method::PUT, &format!("/rules/{v}"))
                .bearer_auth(&app.a.admin)
                .json(&changed),
        )
        .await
        .ok(200);
    assert_eq!(v2["version"], 2);
    let second = app
        .post(&app.a.write, &purchases, &basket("R-2", &m))
        .await
        .ok(201);
    assert_eq!(second["points_earned"], 25 + 10);
    assert_eq!(second["rule_awards"][0]["version"], 2);
    // Capped for today: the rule gives nothing more, base earning goes on.
    let third = app
        .post(&app.a.write, &purchases, &basket("R-3", &m))
        .await
        .ok(201);
    assert_eq!(
        (
            third["points_earned"].as_i64(),
            third["rule_awards"].as_array().map(Vec::len)
        ),
        (Some(25), Some(0))
    );
    // The next day the cap starts again.
    app.clock.advance(jiff::SignedDuration::from_hours(24));
    let fourth = app
        .post(&app.a.write, &purchases, &basket("R-4", &m))
        .await
        .ok(201);
    assert_eq!(fourth["points_earned"], 25 + 10);

    // History: each award names the rule and the version that gave it.
    let history = app
        .get(&app.a.read, &format!("/members/{m}/history?limit=200"))
        .await
        .ok(200);
    let by_rule: Vec<(String, i64, i64)> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["reason"]["rule"]
                .as_str()
                .is_some_and(|r| r.starts_with("rul_"))
        })
        .map(|e| {
            (
                e["reason"]["order_id"].as_str().unwrap_or("-").to_owned(),
                e["reason"]["rule_version"].as_i64().unwrap(),
                e["points"].as_i64().unwrap(),
            )
        })
        .collect();
    let mut by_rule = by_rule;
    by_rule.sort();
    assert_eq!(
        by_rule,
        vec![
            ("-".into(), 1, 50),
            ("R-1".into(), 1, 20),
            ("R-2".into(), 2, 10),
            ("R-4".into(), 2, 10)
        ]
    );
    let versions = app
        .get(&app.a.read, &format!("/rules/{v}/versions"))
        .await
        .ok(200);
    let versions = versions["items"].as_array().unwrap().clone();
    assert_eq!(versions.len(), 2);
    assert_eq!(
        versions[0]["document"]["effect"]["per_item"]["points"],
        "item.quantity * 10"
    );
    assert_eq!(
        versions[1]["document"]["effect"]["per_item"]["points"],
        "item.quantity * 5"
    );

    // Paused: base earning only. Archived: it cannot come back.
    let paused = app
        .patch(
            &app.a.admin,
            &format!("/rules/{v}"),
            &json!({"status": "paused"}),
        )
        .await
        .ok(200);
    assert_eq!(
        (paused["status"].as_str(), paused["version"].as_i64()),
        (Some("paused"), Some(2))
    );
    let fifth = app
        .post(&app.a.write, &purchases, &basket("R-5", &m))
        .await
        .ok(201);
    assert_eq!(fifth["points_earned"], 25);
    app.patch(
        &app.a.admin,
        &format!("/rules/{v}"),
        &json!({"status": "archived"}),
    )
    .await
    .ok(200);
    app.patch(
        &app.a.admin,
        &format!("/rules/{v}"),
        &json!({"status": "active"}),
    )
    .await
    .problem(422, "rule_archived");

    // A full return takes back everything the order earned, rules included.
    let returned = app
        .post(
            &app.a.write,
            &format!("/programs/{p}/returns"),
            &json!({"order_id": "R-1", "amount_minor": 2500}),
        )
        .await
        .ok(201);
    assert_eq!(returned["points_reversed"], 45);

    let listed = app.get(&app.a.read, &rules).await.ok(200);
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(2));
    // Another tenant sees none of it.
    app.get(&app.b.admin, &format!("/rules/{v}"))
        .await
        .problem(404, "not_found");
    app.get(&app.b.admin, &rules)
        .await
        .problem(404, "not_found");
    app.check_end_state().await;
}

#[tokio::test]
async fn a_budget_is_never_overspent() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    let rule = app
        .post(
            &app.a.admin,
            &format!("/programs/{p}/rules"),
            &json!({"name": "Launch week", "trigger": "purchase", "effect": {"bonus": 20}, "limits": {"budget": 50}}),
        )
        .await
        .ok(201);
    let member = app.enroll(json!({})).await;
    let m = id(&member);
    let mut given = Vec::new();
    for i in 0..4 {
        let purchase = app.purchase(&m, &format!("B-{i}"), 100).await;
        given.push(purchase["points_earned"].as_i64().unwrap() - 1);
    }
    assert_eq!(given, vec![20, 20, 10, 0]);
    let rule = app
        .get(&app.a.read, &format!("/rules/{}", id(&rule)))
        .await
        .ok(200);
    assert_eq!(rule["budget_used"], 50);
    // A budget below what was given is refused, naming the field.
    let mut lower = rule.clone();
    for k in [
        "id",
        "program_id",
        "version",
        "status",
        "budget_used",
        "created_at",
        "updated_at",
    ] {
        lower.as_object_mut().unwrap().remove(k);
    }
    lower["limits"]["budget"] = json!(40);
    app.send(
        app.api(Method::PUT, &format!("/rules/{}", id(&rule)))
            .bearer_auth(&app.a.admin)
            .json(&lower),
    )
    .await
    .invalid(&["/limits/budget"]);
    app.check_end_state().await;
}

#[tokio::test]
async fn bad_rules_are_refused_field_by_field_and_nothing_is_written() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    let before = app.snapshot().await;
    let rules = format!("/programs/{p}/rules");
    let resp = app
        .post(
            &app.a.admin,
            &rules,
            &json!({
                "name": "Broken",
                "trigger": "purchase",
                "condition": "purchase.totl > 10.0",
                "effect": {"points": "purchase.total * 'x'"},
                "colour": "red",
                "status": "sometimes"
            }),
        )
        .await;
    let problem = resp.invalid(&["/colour", "/condition", "/effect/points", "/status"]);
    let text = problem.to_string();
    assert!(text.contains("totl"), "the unknown field is named: {text}");
    // Not JSON, not an object, wrong scope.
    app.post(&app.a.admin, &rules, &json!([1, 2]))
        .await
        .problem(422, "validation");
    app.post(&app.a.write, &rules, &vinyl_rule(1))
        .await
        .problem(403, "forbidden");
    app.patch(
        &app.a.admin,
        "/rules/rul_01J00000000000000000000000",
        &json!({"status": "paused"}),
    )
    .await
    .problem(404, "not_found");
    before.assert_same(&app.snapshot().await, "refused rules");
}

#[tokio::test]
async fn the_dry_run_shows_each_rule_and_writes_nothing() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    app.post(
        &app.a.admin,
        &format!("/programs/{p}/rules"),
        &vinyl_rule(10),
    )
    .await
    .ok(201);
    let member = app.enroll(json!({})).await;
    let m = id(&member);
    let before = app.snapshot().await;
    let simulate = format!("/programs/{p}/rules/simulate");

    let active = app
        .post(
            &app.a.read,
            &simulate,
            &json!({"purchase": basket("S-1", &m)}),
        )
        .await
        .ok(200);
    assert_eq!(
        (
            active["base_points"].as_i64(),
            active["points_earned"].as_i64()
        ),
        (Some(25), Some(45))
    );
    assert_eq!(active["rules"][0]["matched"], true);
    assert_eq!(active["rules"][0]["points"], 20);

    // Drafts instead of the active rules: a capped one and one that does not match.
    let drafts = json!([
        {"name": "Big", "trigger": "purchase", "effect": {"points": "purchase.total * 10.0"}, "limits": {"per_event": 100}},
        {"name": "Online only", "trigger": "purchase", "effect": {"bonus": 5}, "audience": {"channels": ["online"]}}
    ]);
    let tried = app
        .post(
            &app.a.read,
            &simulate,
            &json!({"purchase": basket("S-1", &m), "rules": drafts}),
        )
        .await
        .ok(200);
    assert_eq!(tried["points_earned"], 125);
    let decisions = tried["rules"].as_array().unwrap();
    assert_eq!(decisions.len(), 2);
    let big = decisions.iter().find(|d| d["name"] == "Big").unwrap();
    assert_eq!(
        (
            big["uncapped_points"].as_i64(),
            big["points"].as_i64(),
            big["capped_by"].as_str()
        ),
        (Some(250), Some(100), Some("per_event"))
    );
    let online = decisions
        .iter()
        .find(|d| d["name"] == "Online only")
        .unwrap();
    assert_eq!(online["matched"], false);
    assert!(
        online["why"].as_str().unwrap().contains("online"),
        "{online}"
    );

    // Bad input names its place inside the body.
    app.post(
        &app.a.read,
        &simulate,
        &json!({"purchase": {"order_id": "x"}, "rules": [{"name": "n"}]}),
    )
    .await
    .invalid(&[
        "/purchase/member",
        "/purchase/total",
        "/rules/0/effect",
        "/rules/0/trigger",
    ]);
    before.assert_same(&app.snapshot().await, "a dry run");
}

#[tokio::test]
async fn a_backtest_replays_real_purchases_against_drafts_and_writes_nothing() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    let m = id(&app.enroll(json!({})).await);
    // Three days of purchases: two baskets with two records each, one without.
    app.post(
        &app.a.write,
        &format!("/programs/{p}/purchases"),
        &basket("K-1", &m),
    )
    .await
    .ok(201);
    app.clock.advance(jiff::SignedDuration::from_hours(24));
    app.post(
        &app.a.write,
        &format!("/programs/{p}/purchases"),
        &basket("K-2", &m),
    )
    .await
    .ok(201);
    app.clock.advance(jiff::SignedDuration::from_hours(24));
    app.purchase(&m, "K-3", 1000).await;
    let before = app.snapshot().await;
    let backtest = format!("/programs/{p}/rules/backtest");
    let drafts = json!([vinyl_rule(10), {"name": "Every visit", "trigger": "purchase", "effect": {"bonus": 3}}]);
    let report = app
        .post(
            &app.a.read,
            &backtest,
            &json!({"days": 30, "rules": drafts}),
        )
        .await
        .ok(200);
    assert_eq!(
        (report["purchases"].as_i64(), report["members"].as_i64()),
        (Some(3), Some(1))
    );
    // Vinyl: 20 a basket, its daily limit of 30 not reached on either day; every visit: 3 × 3.
    assert_eq!(
        report["rules"],
        json!([
            {"rule_id": "draft_1", "name": "Vinyl club", "points": 40, "purchases": 2, "events": 0},
            {"rule_id": "draft_2", "name": "Every visit", "points": 9, "purchases": 3, "events": 0}
        ])
    );
    assert_eq!(
        report["would_issue"],
        json!({"base": 60, "tiers": 0, "rules": 49, "total": 109})
    );
    assert_eq!(report["actually_issued"], 60);
    assert_eq!(
        report["by_tier"],
        json!([{"tier": "none", "points": 49, "purchases": 3}])
    );
    // Only the last day (an hour later): one purchase.
    app.clock.advance(jiff::SignedDuration::from_hours(1));
    let short = app
        .post(&app.a.read, &backtest, &json!({"days": 1, "rules": drafts}))
        .await
        .ok(200);
    assert_eq!(short["purchases"], 1);
    app.post(&app.a.read, &backtest, &json!({"days": 0, "rules": []}))
        .await
        .invalid(&["/days", "/rules"]);
    before.assert_same(&app.snapshot().await, "a backtest");
}

#[tokio::test]
async fn return_rules_see_what_came_back() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    let rules = format!("/programs/{p}/rules");
    // A multiplier needs a purchase's base points; a return has none to multiply.
    app.post(
        &app.a.admin,
        &rules,
        &json!({"name": "Double", "trigger": "return", "effect": {"multiplier": 2}}),
    )
    .await
    .problem(422, "validation");
    let sleeves = app
        .post(
            &app.a.admin,
            &rules,
            &json!({
                "name": "Sleeves recycled",
                "trigger": "return",
                "condition": "purchase.items.exists(i, i.category == 'vinyl')",
                "effect": {"per_item": {"condition": "item.category == 'vinyl'", "points": "item.quantity * 2"}},
                "audience": {"channels": ["pos"]}
            }),
        )
        .await
        .ok(201);
    let rule = id(&sleeves);
    let m = id(&app.enroll(json!({"external_id": "ret-1"})).await);
    app.post(
        &app.a.write,
        &format!("/programs/{p}/purchases"),
        &basket("RET-1", &m),
    )
    .await
    .ok(201);

    // The dry run says what the return would give, and writes nothing.
    let one_record = json!({"order_id": "RET-1", "lines": [{"sku": "lp-1", "quantity": 1}]});
    let tried = app
        .post(
            &app.a.read,
            &format!("{rules}/simulate"),
            &json!({"return": one_record}),
        )
        .await
        .ok(200);
    assert_eq!(
        (
            tried["returned_minor"].as_i64(),
            tried["points_reversed"].as_i64(),
            tried["points_earned"].as_i64()
        ),
        (Some(1000), Some(10), Some(2))
    );
    assert_eq!(tried["rules"][0]["rule_id"], json!(rule));
    // A draft return rule can be tried the same way; a return too large is named under /return.
    let draft = app
        .post(
            &app.a.read,
            &format!("{rules}/simulate"),
            &json!({"return": one_record, "rules": [
                {"name": "Thanks", "trigger": "return", "effect": {"bonus": 3}}]}),
        )
        .await
        .ok(200);
    assert_eq!(draft["points_earned"], 3);
    let too_much = app
        .post(
            &app.a.read,
            &format!("{rules}/simulate"),
            &json!({"return": {"order_id": "RET-1", "amount_minor": 999_999}}),
        )
        .await
        .problem(422, "validation");
    assert_eq!(too_much["errors"][0]["pointer"], "/return/amount_minor");

    // One of the two records comes back: 10 of the 25 points go, the rule gives 2.
    let returns = format!("/programs/{p}/returns");
    let record = app
        .post(
            &app.a.write,
            &returns,
            &json!({"order_id": "RET-1", "lines": [{"sku": "lp-1", "quantity": 1}]}),
        )
        .await
        .ok(201);
    assert_eq!(record["points_reversed"], 10);
    assert_eq!(
        record["rule_awards"],
        json!([{"rule_id": rule, "version": 1, "name": "Sleeves recycled", "points": 2}])
    );
    assert_eq!(record["points_earned"], 2);
    assert_eq!(record["balance"]["available"], 17);

    // The CD alone: no vinyl came back, so the rule gives nothing.
    let cd = app
        .post(
            &app.a.write,
            &returns,
            &json!({"order_id": "RET-1", "lines": [{"sku": "cd-1", "quantity": 1}]}),
        )
        .await
        .ok(201);
    assert_eq!(cd["rule_awards"], json!([]));
    assert_eq!(cd["points_earned"], 0);
    assert_eq!(cd["balance"]["available"], 17 - 5);

    // The award is an earn transfer naming the rule and the return.
    let history = app
        .get(&app.a.read, &format!("/members/{m}/history"))
        .await
        .ok(200);
    let award = history["items"]
        .as_array()
        .and_then(|items| {
            items
                .iter()
                .find(|t| t["kind"] == "earn" && t["reason"]["rule"] == json!(rule))
        })
        .cloned()
        .expect("the rule's award in the history");
    assert_eq!(award["points"], 2);
    assert_eq!(award["reason"]["return_id"], record["id"]);
    app.check_end_state().await;
}

#[tokio::test]
async fn an_audience_names_tiers_of_the_plan_and_no_undefined_segment() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    let rules = format!("/programs/{p}/rules");
    let for_audience = |audience: Value| json!({"name": "Gold thanks", "trigger": "purchase", "effect": {"bonus": 7}, "audience": audience});
    let no_plan = app
        .post(
            &app.a.admin,
            &rules,
            &for_audience(json!({"tiers": ["Gold"]})),
        )
        .await
        .problem(422, "validation");
    assert_eq!(
        no_plan["errors"][0]["pointer"], "/audience/tiers/0",
        "{no_plan}"
    );
    app.send(
        app.api(Method::PUT, &format!("/programs/{p}/tiers"))
            .bearer_auth(&app.a.admin)
            .json(
                &json!({"metric": "points_earned", "window": "lifetime", "levels": [
                {"name": "Silver", "threshold": 0}, {"name": "Gold", "threshold": 100}]}),
            ),
    )
    .await
    .ok(200);
    let refused = app
        .post(
            &app.a.admin,
            &rules,
            &for_audience(json!({"tiers": ["Gold", "Golden"], "segments": ["vip"]})),
        )
        .await
        .problem(422, "validation");
    let errors: Vec<(String, String)> = refused["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["pointer"].as_str().unwrap().to_owned(),
                e["detail"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(errors.len(), 2, "{refused}");
    assert_eq!(errors[0].0, "/audience/tiers/1");
    assert!(
        errors[0].1.contains("tiers: Silver, Gold"),
        "{}",
        errors[0].1
    );
    assert_eq!(errors[1].0, "/audience/segments/0");
    app.post(
        &app.a.admin,
        &rules,
        &for_audience(json!({"tiers": ["Gold"]})),
    )
    .await
    .ok(201);
    // A new plan without Gold would leave that rule for nobody: refused, naming the rule.
    let without_gold = app
        .send(
            app.api(Method::PUT, &format!("/programs/{p}/tiers"))
                .bearer_auth(&app.a.admin)
                .json(
                    &json!({"metric": "points_earned", "window": "lifetime", "levels": [
                    {"name": "Silver", "threshold": 0}, {"name": "Platinum", "threshold": 100}]}),
                ),
        )
        .await
        .problem(422, "validation");
    assert_eq!(without_gold["errors"][0]["pointer"], "/levels");
    assert!(
        without_gold["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("`Gold thanks`")
    );
    app.check_end_state().await;
}
