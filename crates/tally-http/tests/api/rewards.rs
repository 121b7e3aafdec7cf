//! Rewards and redemptions.

use super::*;

// ---- rewards and redemptions --------------------------------------------------------------------

#[tokio::test]
async fn rewards_are_redeemed_checked_consumed_and_cancelled() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();

    let reward = app
        .create_reward(json!({"name": "Tote bag", "description": "Canvas", "cost_points": 100, "stock": 2, "per_member_limit": 5,
                              "active_from": "2026-04-01T00:00:00Z", "active_until": "2026-12-31T00:00:00Z"}))
        .await;
    let r = id(&reward);
    assert!(r.starts_with("rwd_"));
    assert_eq!(reward["program_id"], p.as_str());
    assert_eq!(reward["name"], "Tote bag");
    assert_eq!(reward["description"], "Canvas");
    assert_eq!(reward["cost"], 100);
    assert_eq!(reward["stock_remaining"], 2);
    assert_eq!(reward["per_member_limit"], 5);
    assert_eq!(reward["active"], true);
    assert_eq!(reward["active_from"], "2026-04-01T00:00:00Z");
    assert_eq!(reward["active_until"], "2026-12-31T00:00:00Z");
    assert_eq!(
        app.get(&app.a.read, &format!("/rewards/{r}")).await.ok(200),
        reward
    );
    assert_eq!(
        app.get(&app.a.read, &format!("/programs/{p}/rewards"))
            .await
            .ok(200),
        json!({"items": [reward], "next_cursor": null})
    );

    let patched = app
        .patch(
            &app.a.admin,
            &format!("/rewards/{r}"),
            &json!({"cost_points": 150, "description": null, "stock": 3}),
        )
        .await
        .ok(200);
    assert_eq!(
        (
            patched["cost"].as_i64(),
            patched["stock_remaining"].as_i64()
        ),
        (Some(150), Some(3))
    );
    assert_eq!(patched["description"], Value::Null);
    assert_eq!(patched["name"], "Tote bag", "fields not in the patch stay");
    assert_eq!(
        app.get(&app.a.read, &format!("/rewards/{r}")).await.ok(200),
        patched
    );

    let member = app.enroll(json!({"external_id": "c-1"})).await;
    let m = id(&member);
    app.adjust(&m, 500).await;

    // Redeem by external id: a code, points taken, stock taken.
    let redemptions = format!("/programs/{p}/redemptions");
    let red = app
        .post(
            &app.a.write,
            &redemptions,
            &json!({"member": {"external_id": "c-1"}, "reward_id": r}),
        )
        .await
        .ok(201);
    let red_id = id(&red);
    assert!(red_id.starts_with("red_"));
    assert_eq!(red["member_id"], m.as_str());
    assert_eq!(red["reward_id"], r.as_str());
    assert_eq!(red["reward_name"], "Tote bag");
    assert_eq!(red["cost"], 150);
    assert_eq!(red["status"], "issued");
    assert_eq!(red["balance"], json!({"available": 350, "pending": 0}));
    let code = red["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 11, "{code}");
    assert_eq!(code.matches('-').count(), 2, "{code}");
    assert_eq!(
        app.get(&app.a.read, &format!("/rewards/{r}")).await.ok(200)["stock_remaining"],
        2
    );

    let stored = app
        .get(&app.a.read, &format!("/redemptions/{red_id}"))
        .await
        .ok(200);
    assert_eq!(stored["code"], code.as_str());
    assert_eq!(stored["status"], "issued");
    let mut expected = red.clone();
    expected.as_object_mut().unwrap().remove("balance");
    assert_eq!(
        stored, expected,
        "GET answers what POST answered, without the balance"
    );

    // The cashier types the code in lower case, without dashes.
    let typed: String = code
        .chars()
        .filter(|c| *c != '-')
        .collect::<String>()
        .to_lowercase();
    let check = format!("/programs/{p}/redemptions/check");
    let found = app
        .get(&app.a.read, &format!("{check}?code={typed}"))
        .await
        .ok(200);
    assert_eq!(found, stored);
    assert_eq!(
        app.get(&app.a.read, &format!("{check}?code={code}"))
            .await
            .ok(200),
        stored
    );
    app.get(&app.a.read, &format!("{check}?code=ZZZ-ZZZ-ZZZ"))
        .await
        .problem(404, "not_found");
    app.get(&app.a.read, &check).await.bad_parameter("code");
    app.get(&app.a.read, &format!("{check}?code="))
        .await
        .bad_parameter("code");
    app.get(&app.a.read, &format!("{check}?code={typed}&member=1"))
        .await
        .bad_parameter("member");

    // Consume; then it can be neither consumed nor cancelled again.
    let consumed = app
        .post_empty(&app.a.write, &format!("/redemptions/{red_id}/consume"))
        .await
        .ok(200);
    assert_eq!(consumed["status"], "consumed");
    assert_eq!(
        app.get(&app.a.read, &format!("{check}?code={typed}"))
            .await
            .ok(200)["status"],
        "consumed"
    );
    let before = app.snapshot().await;
    app.post_empty(&app.a.write, &format!("/redemptions/{red_id}/consume"))
        .await
        .problem(409, "redemption_not_consumable");
    app.post_empty(&app.a.write, &format!("/redemptions/{red_id}/cancel"))
        .await
        .problem(409, "redemption_not_cancellable");
    before.assert_same(
        &app.snapshot().await,
        "consume or cancel a consumed redemption",
    );
    assert_eq!(app.balance(&m).await, 350, "no refund after consumption");

    // Cancel an issued one: points and stock come back.
    let second = app
        .post(
            &app.a.write,
            &redemptions,
            &json!({"member": {"id": m}, "reward_id": r}),
        )
        .await
        .ok(201);
    assert_eq!(second["balance"]["available"], 200);
    assert_ne!(second["code"], code.as_str(), "codes are unique");
    let cancelled = app
        .post_empty(
            &app.a.write,
            &format!("/redemptions/{}/cancel", id(&second)),
        )
        .await
        .ok(200);
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["balance"]["available"], 350);
    assert_eq!(app.balance(&m).await, 350);
    assert_eq!(
        app.get(&app.a.read, &format!("/rewards/{r}")).await.ok(200)["stock_remaining"],
        2
    );
    let before = app.snapshot().await;
    app.post_empty(
        &app.a.write,
        &format!("/redemptions/{}/cancel", id(&second)),
    )
    .await
    .problem(409, "redemption_not_cancellable");
    app.post_empty(
        &app.a.write,
        &format!("/redemptions/{}/consume", id(&second)),
    )
    .await
    .problem(409, "redemption_not_consumable");
    app.post_empty(
        &app.a.write,
        &format!("/redemptions/{}/cancel", RedemptionId::generate()),
    )
    .await
    .problem(404, "not_found");
    app.post_empty(
        &app.a.write,
        &format!("/redemptions/{}/consume", RedemptionId::generate()),
    )
    .await
    .problem(404, "not_found");
    app.get(
        &app.a.read,
        &format!("/redemptions/{}", RedemptionId::generate()),
    )
    .await
    .problem(404, "not_found");
    app.get(&app.a.read, &format!("/rewards/{}", RewardId::generate()))
        .await
        .problem(404, "not_found");
    before.assert_same(&app.snapshot().await, "cancel or consume twice");

    let mine = app
        .get(&app.a.read, &format!("/members/{m}/redemptions"))
        .await
        .ok(200);
    let statuses: Vec<&str> = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["cancelled", "consumed"], "newest first");
    let history = app
        .get(&app.a.read, &format!("/members/{m}/history"))
        .await
        .ok(200);
    let kinds: Vec<(&str, i64)> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["points"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("refund", 150),
            ("redeem", -150),
            ("redeem", -150),
            ("adjust", 500)
        ]
    );
    let totals = app.totals().await;
    assert_eq!(
        (totals["redeemed"].as_i64(), totals["outstanding"].as_i64()),
        (Some(150), Some(350))
    );

    // Refusals by program rules write nothing.
    let poor = id(&app.enroll(json!({})).await);
    let before = app.snapshot().await;
    app.post(
        &app.a.write,
        &redemptions,
        &json!({"member": {"id": poor}, "reward_id": r}),
    )
    .await
    .problem(422, "insufficient_points");
    before.assert_same(&app.snapshot().await, "redeem without points");
    app.patch(
        &app.a.admin,
        &format!("/rewards/{r}"),
        &json!({"active": false}),
    )
    .await
    .ok(200);
    let before = app.snapshot().await;
    app.post(
        &app.a.write,
        &redemptions,
        &json!({"member": {"id": m}, "reward_id": r}),
    )
    .await
    .problem(422, "reward_not_available");
    before.assert_same(&app.snapshot().await, "redeem an inactive reward");
    app.patch(
        &app.a.admin,
        &format!("/rewards/{r}"),
        &json!({"active": true, "stock": 0}),
    )
    .await
    .ok(200);
    let before = app.snapshot().await;
    app.post(
        &app.a.write,
        &redemptions,
        &json!({"member": {"id": m}, "reward_id": r}),
    )
    .await
    .problem(422, "out_of_stock");
    before.assert_same(&app.snapshot().await, "redeem an out-of-stock reward");

    // Invalid reward, patch and redemption bodies.
    let rewards = format!("/programs/{p}/rewards");
    app.post(&app.a.admin, &rewards, &json!({
        "name": "", "cost_points": 0, "stock": -1, "per_member_limit": 0,
        "active_from": "2026-06-01T00:00:00Z", "active_until": "2026-05-01T00:00:00Z", "price": 5
    }))
    .await
    .invalid(&["/name", "/cost_points", "/stock", "/per_member_limit", "/active_until", "/price"]);
    app.post(
        &app.a.admin,
        &rewards,
        &json!({"name": "Gold", "cost_points": 1_000_000_001}),
    )
    .await
    .invalid(&["/cost_points"]);
    app.post(
        &app.a.admin,
        &rewards,
        &json!({"name": "Gold", "cost_points": -5, "active_from": "soon"}),
    )
    .await
    .invalid(&["/cost_points", "/active_from"]);
    app.patch(
        &app.a.admin,
        &format!("/rewards/{r}"),
        &json!({"cost_points": -1, "active": "yes", "stock": "many", "colour": 1}),
    )
    .await
    .invalid(&["/cost_points", "/active", "/stock", "/colour"]);
    app.patch(
        &app.a.admin,
        &format!("/rewards/{}", RewardId::generate()),
        &json!({"active": true}),
    )
    .await
    .problem(404, "not_found");
    app.post(
        &app.a.write,
        &redemptions,
        &json!({"member": {"id": m}, "reward_id": "rwd_nope"}),
    )
    .await
    .invalid(&["/reward_id"]);
    app.post(
        &app.a.write,
        &redemptions,
        &json!({"member": {"id": m}, "reward_id": RewardId::generate()}),
    )
    .await
    .invalid(&["/reward_id"]);
    app.post(
        &app.a.write,
        &redemptions,
        &json!({"member": {"id": MemberId::generate()}, "reward_id": r}),
    )
    .await
    .invalid(&["/member/id"]);
    app.post(
        &app.a.write,
        &redemptions,
        &json!({"member": {"card_number": new_card_number()}, "reward_id": r}),
    )
    .await
    .invalid(&["/member/card_number"]);
    app.post(&app.a.write, &redemptions, &json!({"quantity": 2}))
        .await
        .invalid(&["/member", "/reward_id", "/quantity"]);
    before.assert_same(&app.snapshot().await, "invalid rewards and redemptions");
    app.check_end_state().await;
}

#[tokio::test]
async fn per_member_limits_are_enforced_and_cancelling_frees_a_claim() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    let r = id(&app
        .create_reward(json!({"name": "Poster", "cost_points": 10, "per_member_limit": 1}))
        .await);
    let m = id(&app.enroll(json!({})).await);
    app.adjust(&m, 100).await;
    let redemptions = format!("/programs/{p}/redemptions");
    let first = app
        .post(
            &app.a.write,
            &redemptions,
            &json!({"member": {"id": m}, "reward_id": r}),
        )
        .await
        .ok(201);
    let before = app.snapshot().await;
    app.post(
        &app.a.write,
        &redemptions,
        &json!({"member": {"id": m}, "reward_id": r}),
    )
    .await
    .problem(422, "limit_reached");
    before.assert_same(&app.snapshot().await, "a redemption over the limit");
    app.post_empty(&app.a.write, &format!("/redemptions/{}/cancel", id(&first)))
        .await
        .ok(200);
    app.post(
        &app.a.write,
        &redemptions,
        &json!({"member": {"id": m}, "reward_id": r}),
    )
    .await
    .ok(201);
    assert_eq!(app.balance(&m).await, 90);
    app.check_end_state().await;
}

#[tokio::test]
async fn a_reward_is_redeemed_only_within_its_active_window() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    // The test clock starts at 2026-05-01T10:00:00Z.
    let r = id(&app
        .create_reward(json!({"name": "Summer mug", "cost_points": 100,
                              "active_from": "2026-06-01T00:00:00Z", "active_until": "2026-09-01T00:00:00Z"}))
        .await);
    let m = id(&app.enroll(json!({})).await);
    app.adjust(&m, 1_000).await;
    let redemptions = format!("/programs/{p}/redemptions");
    let redeem = json!({"member": {"id": m}, "reward_id": r});

    let before = app.snapshot().await;
    let early = app.post(&app.a.write, &redemptions, &redeem).await;
    early.problem(422, "reward_not_available");
    before.assert_same(&app.snapshot().await, "redeem before the window opens");

    app.clock.set("2026-06-01T00:00:00Z".parse().unwrap());
    let on_time = app.post(&app.a.write, &redemptions, &redeem).await.ok(201);
    assert_eq!(on_time["balance"]["available"], 900, "{on_time}");

    // The window's end is exclusive.
    app.clock.set("2026-09-01T00:00:00Z".parse().unwrap());
    let before = app.snapshot().await;
    let late = app.post(&app.a.write, &redemptions, &redeem).await;
    late.problem(422, "reward_not_available");
    before.assert_same(&app.snapshot().await, "redeem after the window closed");
    assert_eq!(app.balance(&m).await, 900);
}
