//! Stamp cards: stamps from qualifying purchases, the cashier and the store's one-use QR code;
//! the daily cap; completion giving points or a free reward; returns taking stamps back.

use super::*;

async fn create_card(app: &TestApp, body: Value) -> String {
    let p = &app.a.program;
    id(&app
        .post(&app.a.admin, &format!("/programs/{p}/stamp-cards"), &body)
        .await
        .ok(201))
}

fn coffee(member: &str, order: &str, amount_minor: i64, category: &str) -> Value {
    json!({"order_id": order, "member": {"id": member},
        "total": {"amount_minor": amount_minor, "currency": "USD"},
        "lines": [{"sku": "x", "category": category, "quantity": 1, "unit_price_minor": amount_minor}]})
}

async fn buy(app: &TestApp, body: Value) -> Value {
    let p = &app.a.program;
    app.post(&app.a.write, &format!("/programs/{p}/purchases"), &body)
        .await
        .ok(201)
}

fn next_day(app: &TestApp) {
    app.clock.advance(jiff::SignedDuration::from_hours(24));
}

#[tokio::test]
async fn purchases_and_the_cashier_stamp_a_card_up_to_the_daily_cap_and_completing_gives_points() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    let card = json!({"name": "Coffee card", "stamps_required": 3, "reward": {"points": 50},
        "qualifying_purchase": {"min_total_minor": 500, "categories": ["coffee"]}, "max_per_day": 1});
    let c = create_card(&app, card.clone()).await;
    assert!(c.starts_with("stc_"));
    let shown = app
        .get(&app.a.read, &format!("/stamp-cards/{c}"))
        .await
        .ok(200);
    assert_eq!(
        (shown["name"].clone(), shown["status"].clone()),
        (json!("Coffee card"), json!("active"))
    );
    let listed = app
        .get(&app.a.read, &format!("/programs/{p}/stamp-cards"))
        .await
        .ok(200);
    assert_eq!(listed["items"], json!([shown]));

    let m = id(&app.enroll(json!({})).await);
    // A tea and a small coffee do not qualify; a big coffee does.
    assert_eq!(
        buy(&app, coffee(&m, "T-1", 900, "tea")).await["stamps"],
        json!([])
    );
    assert_eq!(
        buy(&app, coffee(&m, "C-0", 400, "coffee")).await["stamps"],
        json!([])
    );
    let first = buy(&app, coffee(&m, "C-1", 600, "coffee")).await;
    assert_eq!(
        first["stamps"],
        json!([{"card_id": c, "name": "Coffee card", "member_id": m, "stamps_added": 1,
            "stamps": 1, "stamps_required": 3, "completed": 0, "rewards": []}])
    );
    // One a day, whatever gives it.
    assert_eq!(
        buy(&app, coffee(&m, "C-2", 600, "coffee")).await["stamps"],
        json!([])
    );
    let stamps = format!("/stamp-cards/{c}/stamps");
    app.post(&app.a.write, &stamps, &json!({"member": {"id": m}}))
        .await
        .problem(422, "stamp_limit_reached");

    next_day(&app);
    let second = buy(&app, coffee(&m, "C-3", 600, "coffee")).await;
    assert_eq!(second["stamps"][0]["stamps"], 2);
    next_day(&app);
    // The cashier asks for two; the cap allows one, which completes the card.
    let done = app
        .post(
            &app.a.write,
            &stamps,
            &json!({"member": {"id": m}, "count": 2, "note": "birthday"}),
        )
        .await
        .ok(201);
    assert_eq!(
        (
            done["stamps_added"].as_i64(),
            done["stamps"].as_i64(),
            done["completed"].as_i64()
        ),
        (Some(1), Some(0), Some(1))
    );
    assert_eq!(done["rewards"], json!([{"points": 50}]));
    // 9 + 4 + 6 + 6 + 6 points of purchases, and the card's 50.
    assert_eq!(app.balance(&m).await, 81);
    let history = app
        .get(&app.a.read, &format!("/members/{m}/history"))
        .await
        .ok(200);
    assert_eq!(history["items"][0]["reason"]["rule"], c.as_str());
    assert_eq!(history["items"][0]["points"], 50);

    next_day(&app);
    buy(&app, coffee(&m, "C-4", 700, "coffee")).await;
    let progress = app
        .get(&app.a.read, &format!("/members/{m}/stamps"))
        .await
        .ok(200);
    assert_eq!(
        progress["items"],
        json!([{"card_id": c, "name": "Coffee card", "description": null, "stamps": 1,
            "stamps_required": 3, "completions": 1, "reward": {"points": 50}, "qr_stamps": false}])
    );
    // Returning the stamped order in full takes its stamp back.
    app.post(
        &app.a.write,
        &format!("/programs/{p}/returns"),
        &json!({"order_id": "C-4"}),
    )
    .await
    .ok(201);
    let progress = app
        .get(&app.a.read, &format!("/members/{m}/stamps"))
        .await
        .ok(200);
    assert_eq!(progress["items"][0]["stamps"], 0);
    assert_eq!(progress["items"][0]["completions"], 1);

    // Paused: neither purchases nor the cashier stamp it.
    app.patch(
        &app.a.admin,
        &format!("/stamp-cards/{c}"),
        &json!({"status": "paused"}),
    )
    .await
    .ok(200);
    next_day(&app);
    assert_eq!(
        buy(&app, coffee(&m, "C-5", 700, "coffee")).await["stamps"],
        json!([])
    );
    app.post(&app.a.write, &stamps, &json!({"member": {"id": m}}))
        .await
        .problem(422, "stamp_card_not_active");
    app.check_end_state().await;
}

#[tokio::test]
async fn each_qr_code_gives_one_stamp_to_one_member_while_it_is_live() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    let reward = id(&app
        .create_reward(json!({"name": "Free coffee", "cost_points": 100}))
        .await);
    let store = id(&app
        .post(
            &app.a.admin,
            &format!("/programs/{p}/locations"),
            &json!({"name": "Main St", "latitude": 52.2, "longitude": 21.0}),
        )
        .await
        .ok(201));
    let c = create_card(
        &app,
        json!({"name": "Visits", "stamps_required": 2, "reward": {"reward_id": reward}, "qr_stamps": true}),
    )
    .await;
    let display = format!("/stamp-cards/{c}/display-code");
    let shown = app
        .post(&app.a.write, &display, &json!({"location_id": store}))
        .await
        .ok(200);
    let code = shown["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 16);
    assert_eq!(shown["expires_at"], "2026-05-01T10:01:00Z");
    // The display asks again: the same code while it is unused.
    let again = app
        .post(&app.a.write, &display, &json!({"location_id": store}))
        .await
        .ok(200);
    assert_eq!(again["code"], code.as_str());

    let ann = id(&app.enroll(json!({})).await);
    let bob = id(&app.enroll(json!({})).await);
    let scan = |m: &str| format!("/members/{m}/stamp-scans");
    let stamped = app
        .post(
            &app.a.write,
            &scan(&ann),
            &json!({"code": code.to_lowercase()}),
        )
        .await
        .ok(201);
    assert_eq!(stamped["stamps"], 1);
    // Used: not again, not by a friend it was shared with.
    for m in [&ann, &bob] {
        app.post(&app.a.write, &scan(m), &json!({"code": code}))
            .await
            .problem(422, "stamp_code_used");
    }
    // The display shows a new code; it completes Ann's card with a free coffee.
    let next = app
        .post(&app.a.write, &display, &json!({"location_id": store}))
        .await
        .ok(200);
    assert_ne!(next["code"], code.as_str());
    let done = app
        .post(&app.a.write, &scan(&ann), &json!({"code": next["code"]}))
        .await
        .ok(201);
    assert_eq!(done["completed"], 1);
    let free = &done["rewards"][0];
    assert_eq!(free["reward_name"], "Free coffee");
    let checked = app
        .get(
            &app.a.read,
            &format!(
                "/programs/{p}/redemptions/check?code={}",
                free["code"].as_str().unwrap()
            ),
        )
        .await
        .ok(200);
    assert_eq!(
        (checked["cost"].clone(), checked["status"].clone()),
        (json!(0), json!("issued"))
    );
    // Cancelling a free reward gives back nothing: no points were spent.
    let cancelled = app
        .post_empty(
            &app.a.write,
            &format!(
                "/redemptions/{}/cancel",
                free["redemption_id"].as_str().unwrap()
            ),
        )
        .await
        .ok(200);
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(app.balance(&ann).await, 0);

    // A code not scanned within its minute is dead.
    let late = app
        .post(&app.a.write, &display, &json!({"location_id": store}))
        .await
        .ok(200);
    app.clock.advance(jiff::SignedDuration::from_secs(61));
    app.post(&app.a.write, &scan(&bob), &json!({"code": late["code"]}))
        .await
        .problem(422, "stamp_code_used");

    // Cards without QR stamps, and stores of nobody, are refused.
    let plain = create_card(
        &app,
        json!({"name": "Plain", "stamps_required": 5, "reward": {"points": 5}}),
    )
    .await;
    app.post(
        &app.a.write,
        &format!("/stamp-cards/{plain}/display-code"),
        &json!({"location_id": store}),
    )
    .await
    .problem(422, "qr_stamps_off");
    app.post(
        &app.a.write,
        &display,
        &json!({"location_id": "loc_01JTX4T3C4D5E6F7G8H9J0K1M2"}),
    )
    .await
    .invalid(&["/location_id"]);
    app.check_end_state().await;
}

#[tokio::test]
async fn bad_cards_name_each_field_and_a_missing_reward_is_refused() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    let path = format!("/programs/{p}/stamp-cards");
    app.post(
        &app.a.admin,
        &path,
        &json!({"name": "", "stamps_required": 100, "reward": {}, "max_per_day": 0, "qr": true}),
    )
    .await
    .invalid(&[
        "/qr",
        "/name",
        "/stamps_required",
        "/reward",
        "/max_per_day",
    ]);
    app.post(
        &app.a.admin,
        &path,
        &json!({"name": "X", "stamps_required": 5, "reward": {"reward_id": "rwd_01JTX4T3C4D5E6F7G8H9J0K1M2"}}),
    )
    .await
    .invalid(&["/reward/reward_id"]);
    // Cards are the admin's.
    app.post(
        &app.a.write,
        &path,
        &json!({"name": "X", "stamps_required": 5, "reward": {"points": 1}}),
    )
    .await
    .problem(403, "forbidden");
    app.check_end_state().await;
}

#[tokio::test]
async fn rules_give_stamps_and_free_rewards_within_their_limits() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    let c = create_card(
        &app,
        json!({"name": "Visits", "stamps_required": 5, "reward": {"points": 20}}),
    )
    .await;
    let reward = id(&app
        .create_reward(json!({"name": "Tote bag", "cost_points": 300}))
        .await);
    let rules = format!("/programs/{p}/rules");
    // Names that are not the program's are refused where they stand.
    app.post(
        &app.a.admin,
        &rules,
        &json!({"name": "x", "trigger": "purchase",
            "effect": {"stamp": {"card_id": "stc_01JTX4V3C4D5E6F7G8H9J0K1M2"}}}),
    )
    .await
    .invalid(&["/effect/stamp/card_id"]);
    app.post(
        &app.a.admin,
        &rules,
        &json!({"name": "x", "trigger": "purchase", "effect": {"reward": {"reward_id": "nope"}}}),
    )
    .await
    .invalid(&["/effect/reward/reward_id"]);
    let stamp_rule = app
        .post(
            &app.a.admin,
            &rules,
            &json!({"name": "Two stamps for big baskets", "trigger": "purchase",
                "condition": "purchase.total >= 20.0", "effect": {"stamp": {"card_id": c, "count": 2}},
                "limits": {"per_member": {"day": 2}}}),
        )
        .await
        .ok(201);
    app.post(
        &app.a.admin,
        &rules,
        &json!({"name": "Welcome tote", "trigger": "enrolment", "effect": {"reward": {"reward_id": reward}}}),
    )
    .await
    .ok(201);

    let m = id(&app.enroll(json!({})).await);
    let redemptions = app
        .get(&app.a.read, &format!("/members/{m}/redemptions"))
        .await
        .ok(200);
    assert_eq!(redemptions["items"][0]["reward_name"], "Tote bag");
    assert_eq!(redemptions["items"][0]["cost"], 0);

    let big = app.purchase(&m, "G-1", 2500).await;
    assert_eq!(big["points_earned"], 25, "stamps are not points");
    assert_eq!(big["rule_awards"], json!([]));
    assert_eq!(big["granted"][0]["rule_id"], stamp_rule["id"]);
    assert_eq!(big["granted"][0]["stamps"]["stamps_added"], 2);
    // The rule's daily limit counts stamps: no more today.
    let again = app.purchase(&m, "G-2", 2500).await;
    assert_eq!(again["granted"], json!([]));
    let progress = app
        .get(&app.a.read, &format!("/members/{m}/stamps"))
        .await
        .ok(200);
    assert_eq!(progress["items"][0]["stamps"], 2);
    // A full return takes the rule's stamps back with the purchase.
    app.post(
        &app.a.write,
        &format!("/programs/{p}/returns"),
        &json!({"order_id": "G-1"}),
    )
    .await
    .ok(201);
    let progress = app
        .get(&app.a.read, &format!("/members/{m}/stamps"))
        .await
        .ok(200);
    assert_eq!(progress["items"][0]["stamps"], 0);
    app.check_end_state().await;
}
