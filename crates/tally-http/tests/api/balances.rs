//! Balances under concurrency, and manual adjustments.

use super::*;

#[tokio::test]
async fn concurrent_redemptions_never_oversell_nor_overspend() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    let redemptions = format!("/programs/{p}/redemptions");

    // One item of stock, four members racing for it.
    let scarce = id(&app
        .create_reward(json!({"name": "Signed LP", "cost_points": 10, "stock": 1}))
        .await);
    let mut members = Vec::new();
    for _ in 0..4 {
        let m = id(&app.enroll(json!({})).await);
        app.adjust(&m, 10).await;
        members.push(m);
    }
    let redeem = |m: &str| {
        let (app, redemptions, body) = (
            &app,
            &redemptions,
            json!({"member": {"id": m}, "reward_id": scarce}),
        );
        async move { app.post(&app.a.write, redemptions, &body).await }
    };
    let (r1, r2, r3, r4) = tokio::join!(
        redeem(&members[0]),
        redeem(&members[1]),
        redeem(&members[2]),
        redeem(&members[3])
    );
    let results = [r1, r2, r3, r4];
    assert_eq!(
        results.iter().filter(|r| r.status == 201).count(),
        1,
        "exactly one gets the last item"
    );
    for r in results.iter().filter(|r| r.status != 201) {
        r.problem(422, "out_of_stock");
    }
    assert_eq!(
        app.get(&app.a.read, &format!("/rewards/{scarce}"))
            .await
            .ok(200)["stock_remaining"],
        0
    );
    let spent: i64 = total_balance(&app, &members).await;
    assert_eq!(spent, 30, "only the winner paid");

    // One member, enough points for one redemption, four tills at once.
    let plenty = id(&app
        .create_reward(json!({"name": "Sticker", "cost_points": 60}))
        .await);
    let m = id(&app.enroll(json!({})).await);
    app.adjust(&m, 100).await;
    let redeem = || {
        let (app, redemptions, body) = (
            &app,
            &redemptions,
            json!({"member": {"id": m}, "reward_id": plenty}),
        );
        async move { app.post(&app.a.write, redemptions, &body).await }
    };
    let (r1, r2, r3, r4) = tokio::join!(redeem(), redeem(), redeem(), redeem());
    let results = [r1, r2, r3, r4];
    assert_eq!(
        results.iter().filter(|r| r.status == 201).count(),
        1,
        "the balance covers one"
    );
    for r in results.iter().filter(|r| r.status != 201) {
        r.problem(422, "insufficient_points");
    }
    assert_eq!(app.balance(&m).await, 40);
    app.check_end_state().await;
}

/// The sum of the members' available balances.
async fn total_balance(app: &TestApp, members: &[String]) -> i64 {
    let mut sum = 0;
    for m in members {
        sum += app.balance(m).await;
    }
    sum
}

#[tokio::test]
async fn adjustments_give_and_take_points_and_are_audited() {
    let app = TestApp::new().await;
    let m = id(&app.enroll(json!({})).await);
    let adjustments = format!("/members/{m}/adjustments");

    let given = app
        .post(
            &app.a.write,
            &adjustments,
            &json!({"points": 500, "reason": "welcome gift"}),
        )
        .await
        .ok(201);
    assert_eq!(
        given,
        json!({"member_id": m, "points": 500, "reason": "welcome gift", "balance": {"available": 500, "pending": 0}})
    );
    let taken = app
        .post(
            &app.a.admin,
            &adjustments,
            &json!({"points": -120, "reason": "damaged CD"}),
        )
        .await
        .ok(201);
    assert_eq!(taken["balance"]["available"], 380);
    // This program allows negative balances.
    let negative = app
        .post(
            &app.a.write,
            &adjustments,
            &json!({"points": -400, "reason": "fraud"}),
        )
        .await
        .ok(201);
    assert_eq!(negative["balance"]["available"], -20);

    let history = app
        .get(&app.a.read, &format!("/members/{m}/history"))
        .await
        .ok(200);
    let first = &history["items"][2];
    assert_eq!(
        (
            first["kind"].as_str(),
            first["points"].as_i64(),
            first["balance_after"].as_i64()
        ),
        (Some("adjust"), Some(500), Some(500))
    );
    assert_eq!(first["reason"]["note"], "welcome gift");
    assert!(
        first["reason"]["actor"]
            .as_str()
            .unwrap()
            .starts_with("key_"),
        "the key is the actor: {first}"
    );

    let totals = app.totals().await;
    assert_eq!(
        (totals["adjusted"].as_i64(), totals["outstanding"].as_i64()),
        (Some(-20), Some(-20))
    );

    // The audit log: newest first, with the key that did it.
    let audit = app.get(&app.a.admin, "/audit-log").await.ok(200);
    let entries = audit["items"].as_array().unwrap();
    let adjusted: Vec<&Value> = entries
        .iter()
        .filter(|e| e["action"] == "member.points_adjusted")
        .collect();
    assert_eq!(adjusted.len(), 3, "{audit}");
    assert_eq!(
        adjusted[0]["detail"],
        json!({"points": -400, "reason": "fraud"}),
        "newest first"
    );
    assert_eq!(adjusted[0]["entity_id"], m.as_str());
    assert_eq!(adjusted[0]["at"], "2026-05-01T10:00:00Z");
    assert_ne!(
        adjusted[0]["actor"], adjusted[1]["actor"],
        "the write key and the admin key are different actors"
    );
    assert!(
        entries.iter().any(|e| e["action"] == "program.created"),
        "{audit}"
    );

    // Bad adjustments.
    let before = app.snapshot().await;
    for (body, pointers) in [
        (json!({"points": 0, "reason": "x"}), vec!["/points"]),
        (
            json!({"points": 1_000_000_001, "reason": "x"}),
            vec!["/points"],
        ),
        (
            json!({"points": -1_000_000_001, "reason": "x"}),
            vec!["/points"],
        ),
        (
            json!({"points": 9_223_372_036_854_775_807_i64, "reason": "x"}),
            vec!["/points"],
        ),
        (json!({"points": 1.5, "reason": "x"}), vec!["/points"]),
        (json!({"points": "10", "reason": "x"}), vec!["/points"]),
        (json!({"points": 10}), vec!["/reason"]),
        (json!({"points": 10, "reason": "   "}), vec!["/reason"]),
        (
            json!({"points": 10, "reason": "x".repeat(2001)}),
            vec!["/reason"],
        ),
        (
            json!({"points": 10, "reason": "x", "approved_by": "me"}),
            vec!["/approved_by"],
        ),
        (json!({}), vec!["/points", "/reason"]),
    ] {
        app.post(&app.a.write, &adjustments, &body)
            .await
            .invalid(&pointers);
    }
    app.post(
        &app.a.write,
        &format!("/members/{}/adjustments", MemberId::generate()),
        &json!({"points": 1, "reason": "x"}),
    )
    .await
    .problem(404, "not_found");
    app.post(
        &app.a.write,
        "/members/mem_nope/adjustments",
        &json!({"points": 1, "reason": "x"}),
    )
    .await
    .problem(404, "not_found");
    before.assert_same(&app.snapshot().await, "bad adjustments");

    // Under floor_at_zero, taking more than the balance is refused.
    let strict = app
        .post(
            &app.a.admin,
            "/programs",
            &json!({"name": "Strict", "currency": "USD", "negative_balance": "floor_at_zero"}),
        )
        .await
        .ok(201);
    let s = id(&app
        .post(
            &app.a.write,
            &format!("/programs/{}/members", id(&strict)),
            &json!({}),
        )
        .await
        .ok(201));
    app.post(
        &app.a.write,
        &format!("/members/{s}/adjustments"),
        &json!({"points": 10, "reason": "x"}),
    )
    .await
    .ok(201);
    let before = app.snapshot().await;
    app.post(
        &app.a.write,
        &format!("/members/{s}/adjustments"),
        &json!({"points": -11, "reason": "x"}),
    )
    .await
    .problem(422, "insufficient_points");
    before.assert_same(&app.snapshot().await, "an adjustment below zero");
    app.check_end_state().await;
}
