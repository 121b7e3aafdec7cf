//! Offers and deals: a clipped offer applies once at the next qualifying purchase; audiences,
//! individual, loyalty and charity deals; limits and budgets under concurrent purchases; the
//! report.

use super::*;

async fn offer(app: &TestApp, body: Value) -> Value {
    app.post(
        &app.a.admin,
        &format!("/programs/{}/offers", app.a.program),
        &body,
    )
    .await
    .ok(201)
}

/// A purchase with one line of `category`.
async fn buy(app: &TestApp, member: &str, order: &str, category: &str, minor: i64) -> Value {
    let body = json!({"order_id": order, "member": {"id": member},
        "total": {"amount_minor": minor, "currency": "USD"},
        "lines": [{"sku": "x", "category": category, "quantity": 1, "unit_price_minor": minor}]});
    app.post(
        &app.a.write,
        &format!("/programs/{}/purchases", app.a.program),
        &body,
    )
    .await
    .ok(201)
}

async fn activate(app: &TestApp, member: &str, offer: &str) -> common::Resp {
    app.post_empty(
        &app.a.write,
        &format!("/members/{member}/offers/{offer}/activate"),
    )
    .await
}

async fn my_offers(app: &TestApp, member: &str) -> Vec<Value> {
    app.items(&app.a.read, &format!("/members/{member}/offers"))
        .await
}

#[tokio::test]
async fn a_clipped_offer_applies_once_at_the_next_qualifying_purchase() {
    let app = TestApp::new().await;
    let vinyl = id(&offer(
        &app,
        json!({"name": "Double points on vinyl", "benefit": {"multiplier": 2},
               "qualify": {"categories": ["vinyl"], "min_total_minor": 1000}}),
    )
    .await);
    let ann = id(&app.enroll(json!({"name": "Ann"})).await);
    // Not activated yet: the purchase earns the base only.
    let first = buy(&app, &ann, "o-1", "vinyl", 2000).await;
    assert_eq!(first["points_earned"], 20);
    assert_eq!(first["offers"], json!([]));
    let listed = my_offers(&app, &ann).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["activated"], false);
    assert_eq!(listed[0]["deal"], "offer");
    let clipped = activate(&app, &ann, &vinyl).await.ok(200);
    assert_eq!(clipped["newly_activated"], true);
    assert_eq!(clipped["uses_left"], 1);
    // Activating again answers the same, without a second activation.
    let again = activate(&app, &ann, &vinyl).await.ok(200);
    assert_eq!(again["newly_activated"], false);
    assert_eq!(again["activated_at"], clipped["activated_at"]);
    // A purchase that does not qualify (no vinyl; too small) leaves the offer for later.
    assert_eq!(
        buy(&app, &ann, "o-2", "cd", 3000).await["offers"],
        json!([])
    );
    assert_eq!(
        buy(&app, &ann, "o-3", "vinyl", 999).await["offers"],
        json!([])
    );
    // The next qualifying purchase doubles its points, once.
    let doubled = buy(&app, &ann, "o-4", "vinyl", 2500).await;
    assert_eq!(doubled["base_points"], 25);
    assert_eq!(doubled["points_earned"], 50);
    assert_eq!(doubled["offers"][0]["offer_id"], vinyl.as_str());
    assert_eq!(doubled["offers"][0]["points"], 25);
    assert_eq!(
        buy(&app, &ann, "o-5", "vinyl", 2500).await["points_earned"],
        25
    );
    let listed = my_offers(&app, &ann).await;
    assert_eq!(
        (listed[0]["uses"].clone(), listed[0]["uses_left"].clone()),
        (json!(1), json!(0))
    );
    // The member's history names the offer; the offer counts its use.
    let history = app
        .get(&app.a.read, &format!("/members/{ann}/history"))
        .await
        .ok(200);
    let from_offer: Vec<&Value> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["reason"]["offer_id"] == vinyl.as_str())
        .collect();
    assert_eq!(from_offer.len(), 1);
    assert_eq!(from_offer[0]["points"], 25);
    let shown = app
        .get(&app.a.read, &format!("/offers/{vinyl}"))
        .await
        .ok(200);
    assert_eq!(
        (shown["uses"].clone(), shown["spent"].clone()),
        (json!(1), json!(25))
    );
    // A return of the doubled order takes back its points, offer included, in proportion.
    let returned = app
        .post(
            &app.a.write,
            &format!("/programs/{}/returns", app.a.program),
            &json!({"order_id": "o-4", "amount_minor": 2500}),
        )
        .await
        .ok(201);
    assert_eq!(returned["points_reversed"], 50);
    // Another tenant sees nothing of it.
    app.get(&app.b.admin, &format!("/offers/{vinyl}"))
        .await
        .problem(404, "not_found");
    app.check_end_state().await;
}

#[tokio::test]
async fn audiences_decide_who_may_have_an_offer() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    let ann = id(&app.enroll(json!({"name": "Ann"})).await);
    let bob = id(&app.enroll(json!({"name": "Bob"})).await);
    // An individual deal: for Ann alone.
    let personal = offer(
        &app,
        json!({"name": "Just for you", "benefit": {"points": 300},
               "audience": {"members": [ann]}}),
    )
    .await;
    assert_eq!(personal["deal"], "individual");
    let personal = id(&personal);
    assert!(my_offers(&app, &bob).await.is_empty());
    activate(&app, &bob, &personal)
        .await
        .problem(422, "offer_not_available");
    activate(&app, &ann, &personal).await.ok(200);
    assert_eq!(app.purchase(&ann, "a-1", 1000).await["points_earned"], 310);
    // A segment's offer: only its members see and clip it.
    let press = id(&app
        .post(
            &app.a.admin,
            &format!("/programs/{p}/segments"),
            &json!({"key": "press", "name": "Press list", "kind": "static"}),
        )
        .await
        .ok(201));
    app.send(
        app.api(Method::PUT, &format!("/segments/{press}/members"))
            .bearer_auth(&app.a.write)
            .json(&json!({"members": [{"id": bob}]})),
    )
    .await
    .ok(200);
    let for_press = id(&offer(
        &app,
        json!({"name": "Press night", "benefit": {"points": 50}, "audience": {"segments": ["press"]}}),
    )
    .await);
    assert_eq!(my_offers(&app, &bob).await.len(), 1);
    activate(&app, &ann, &for_press)
        .await
        .problem(422, "offer_not_available");
    activate(&app, &bob, &for_press).await.ok(200);
    // Paused: applies to nobody, cannot be clipped; ended: for good.
    let set = |status: &str| {
        let (app, path, body) = (
            &app,
            format!("/offers/{for_press}"),
            json!({"status": status}),
        );
        async move { app.patch(&app.a.admin, &path, &body).await }
    };
    set("paused").await.ok(200);
    assert_eq!(app.purchase(&bob, "b-1", 1000).await["offers"], json!([]));
    assert!(my_offers(&app, &bob).await.is_empty());
    set("active").await.ok(200);
    assert_eq!(app.purchase(&bob, "b-2", 1000).await["points_earned"], 60);
    set("ended").await.ok(200);
    set("active").await.problem(422, "offer_ended");
    // Mistakes are named by place, and nothing is written.
    let before = app.snapshot().await;
    app.post(
        &app.a.admin,
        &format!("/programs/{p}/offers"),
        &json!({"name": "x", "benefit": {"points": 1},
                "audience": {"tiers": ["Gold"], "segments": ["nope"],
                             "members": ["mem_01J8Z3Q4R5S6T7V8W9X0Y1Z2A3"]},
                "qualify": {"locations": ["loc_01J8Z3Q4R5S6T7V8W9X0Y1Z2A3"]}}),
    )
    .await
    .invalid(&["/audience/tiers"]);
    app.post(
        &app.a.admin,
        &format!("/programs/{p}/offers"),
        &json!({"name": "x", "benefit": {"charity": {"charity_id": "cha_01J8Z3Q4R5S6T7V8W9X0Y1Z2A3", "amount_minor": 5}},
                "audience": {"segments": ["nope"], "members": ["mem_01J8Z3Q4R5S6T7V8W9X0Y1Z2A3"]},
                "qualify": {"locations": ["loc_01J8Z3Q4R5S6T7V8W9X0Y1Z2A3"]}}),
    )
    .await
    .invalid(&["/audience/segments/0"]);
    app.post(
        &app.a.admin,
        &format!("/programs/{p}/offers"),
        &json!({"name": "x", "benefit": {"charity": {"charity_id": "cha_01J8Z3Q4R5S6T7V8W9X0Y1Z2A3", "amount_minor": 5}},
                "audience": {"members": ["mem_01J8Z3Q4R5S6T7V8W9X0Y1Z2A3"]},
                "qualify": {"locations": ["loc_01J8Z3Q4R5S6T7V8W9X0Y1Z2A3"]}}),
    )
    .await
    .invalid(&[
        "/audience/members/0",
        "/qualify/locations/0",
        "/benefit/charity/charity_id",
    ]);
    app.post(
        &app.a.write,
        &format!("/programs/{p}/offers"),
        &json!({"name": "x", "benefit": {"points": 1}}),
    )
    .await
    .problem(403, "forbidden");
    app.snapshot().await.assert_same(&before, "refused offers");
    app.check_end_state().await;
}

#[tokio::test]
async fn a_loyalty_deal_gives_its_benefit_with_the_nth_purchase_in_its_period() {
    let app = TestApp::new().await;
    let deal = offer(
        &app,
        json!({"name": "Every third coffee", "benefit": {"points": 100}, "activation": "automatic",
               "qualify": {"categories": ["coffee"], "visits": {"count": 3, "within_days": 30}},
               "limits": {"per_member": 5}}),
    )
    .await;
    assert_eq!(deal["deal"], "loyalty");
    let deal = id(&deal);
    let ann = id(&app.enroll(json!({"name": "Ann"})).await);
    activate(&app, &ann, &deal)
        .await
        .problem(422, "offer_not_activatable");
    let at = |day: i64| format!("2026-05-{day:02}T09:00:00Z");
    let coffee = |order: &str, day: i64| {
        let body = json!({"order_id": order, "member": {"id": ann}, "occurred_at": at(day),
            "total": {"amount_minor": 300, "currency": "USD"},
            "lines": [{"sku": "flat-white", "category": "coffee", "quantity": 1, "unit_price_minor": 300}]});
        let (app, path) = (&app, format!("/programs/{}/purchases", app.a.program));
        async move { app.post(&app.a.write, &path, &body).await.ok(201) }
    };
    let progress = |answer: &Value| answer["offers"][0]["progress"]["count"].clone();
    assert_eq!(progress(&coffee("c-1", 1).await), 1);
    assert_eq!(progress(&coffee("c-2", 2).await), 2);
    assert_eq!(my_offers(&app, &ann).await[0]["progress"]["count"], 2);
    let third = coffee("c-3", 3).await;
    assert_eq!(third["offers"][0]["points"], 100);
    assert_eq!(third["points_earned"], 103);
    // A new round; a purchase outside the round's 30 days starts it again.
    assert_eq!(progress(&coffee("c-4", 4).await), 1);
    assert_eq!(progress(&coffee("c-5", 5).await), 2);
    let late = app
        .post(
            &app.a.write,
            &format!("/programs/{}/purchases", app.a.program),
            &json!({"order_id": "c-6", "member": {"id": ann}, "occurred_at": "2026-06-20T09:00:00Z",
                "total": {"amount_minor": 300, "currency": "USD"},
                "lines": [{"sku": "flat-white", "category": "coffee", "quantity": 1, "unit_price_minor": 300}]}),
        )
        .await
        .ok(201);
    assert_eq!(progress(&late), 1);
    app.check_end_state().await;
}

#[tokio::test]
async fn a_charity_deal_gives_the_merchants_money_within_its_budget() {
    let app = TestApp::new().await;
    let meals = id(&app
        .post(
            &app.a.admin,
            &format!("/programs/{}/charities", app.a.program),
            &json!({"name": "School meals"}),
        )
        .await
        .ok(201));
    let deal = offer(
        &app,
        json!({"name": "A meal with every order",
               "benefit": {"charity": {"charity_id": meals, "amount_minor": 40}},
               "limits": {"per_member": 10, "budget": 100}}),
    )
    .await;
    assert_eq!(deal["deal"], "charity");
    let deal = id(&deal);
    let ann = id(&app.enroll(json!({"name": "Ann"})).await);
    activate(&app, &ann, &deal).await.ok(200);
    let first = app.purchase(&ann, "m-1", 1000).await;
    assert_eq!(first["offers"][0]["amount_minor"], 40);
    assert_eq!(first["points_earned"], 10, "a charity deal gives no points");
    app.purchase(&ann, "m-2", 1000).await;
    // The budget (100) has room for two gifts of 40, not a third.
    assert_eq!(app.purchase(&ann, "m-3", 1000).await["offers"], json!([]));
    let charity = app
        .get(&app.a.read, &format!("/charities/{meals}"))
        .await
        .ok(200);
    assert_eq!(charity["merchant_minor"], 80);
    assert_eq!(charity["owed_minor"], 80);
    let report = app
        .get(&app.a.read, &format!("/offers/{deal}/report"))
        .await
        .ok(200);
    assert_eq!(report["uses"], 2);
    assert_eq!(report["charity_minor"], 80);
    assert_eq!(report["budget_left"], 20);
    app.check_end_state().await;
}

#[tokio::test]
async fn limits_and_budgets_hold_under_concurrent_purchases() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    let deal = id(&offer(
        &app,
        json!({"name": "First five", "benefit": {"points": 100}, "activation": "automatic",
               "limits": {"total_uses": 5, "per_member": 2}}),
    )
    .await);
    let mut members = Vec::new();
    for i in 0..4 {
        members.push(id(&app.enroll(json!({"name": format!("m{i}")})).await));
    }
    // 4 members × 6 purchases at once: each may use it twice, all together five times.
    let mut tills = Vec::new();
    for i in 0..24 {
        let request = app
            .api(Method::POST, &format!("/programs/{p}/purchases"))
            .bearer_auth(&app.a.write)
            .json(
                &json!({"order_id": format!("c-{i}"), "member": {"id": members[i % 4]},
                          "total": {"amount_minor": 100, "currency": "USD"}}),
            );
        tills.push(tokio::spawn(async move {
            let response = request.send().await.expect("a response");
            assert_eq!(response.status().as_u16(), 201);
            response.json::<Value>().await.expect("json")
        }));
    }
    let mut answers = Vec::new();
    for till in tills {
        answers.push(till.await.unwrap());
    }
    let used: Vec<&Value> = answers
        .iter()
        .filter(|a| a["offers"].as_array().is_some_and(|o| !o.is_empty()))
        .collect();
    assert_eq!(used.len(), 5, "{answers:#?}");
    for m in &members {
        let mine = used.iter().filter(|a| a["member_id"] == m.as_str()).count();
        assert!(mine <= 2, "{m} used it {mine} times");
    }
    let shown = app
        .get(&app.a.read, &format!("/offers/{deal}"))
        .await
        .ok(200);
    assert_eq!(
        (shown["uses"].clone(), shown["spent"].clone()),
        (json!(5), json!(500))
    );
    let mut total = 0;
    for m in &members {
        total += app.balance(m).await;
    }
    assert_eq!(total, 24 + 500, "one point per purchase plus five bonuses");
    app.check_end_state().await;
}

#[tokio::test]
async fn the_report_compares_members_who_took_the_offer_with_those_who_did_not() {
    let app = TestApp::new().await;
    let deal = id(&offer(&app, json!({"name": "Bonus", "benefit": {"points": 20}})).await);
    let ann = id(&app.enroll(json!({"name": "Ann"})).await);
    let bob = id(&app.enroll(json!({"name": "Bob"})).await);
    let cid = id(&app.enroll(json!({"name": "Cid"})).await);
    activate(&app, &ann, &deal).await.ok(200);
    app.purchase(&ann, "a-1", 3000).await;
    app.purchase(&ann, "a-2", 1000).await;
    app.purchase(&bob, "b-1", 1000).await;
    let _ = cid;
    let report = app
        .get(&app.a.read, &format!("/offers/{deal}/report"))
        .await
        .ok(200);
    assert_eq!(report["activations"], 1);
    assert_eq!(report["uses"], 1);
    assert_eq!(report["points_given"], 20);
    // 20 points at the default point value (1 cent).
    assert_eq!(report["cost_minor"], 20);
    assert_eq!(
        report["users"],
        json!({"members": 1, "purchases": 2, "revenue_minor": 4000,
               "purchases_per_member": 2.0, "revenue_per_member_minor": 4000.0})
    );
    assert_eq!(
        report["non_users"],
        json!({"members": 2, "purchases": 1, "revenue_minor": 1000,
               "purchases_per_member": 0.5, "revenue_per_member_minor": 500.0})
    );
    app.check_end_state().await;
}
