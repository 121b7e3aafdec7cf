//! Idempotency keys, order ids as business keys, pagination.

use super::*;

// ---- idempotency ---------------------------------------------------------------------------------

#[tokio::test]
async fn an_idempotency_key_replays_the_first_answer_with_one_effect() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    let purchases = format!("/programs/{p}/purchases");
    let m = id(&app.enroll(json!({})).await);

    let body = purchase_body(&m, "I-1", 5000);
    let first = app
        .post_idem(&app.a.write, &purchases, "key-1", &body)
        .await;
    let answer = first.ok(201);
    let again = app
        .post_idem(&app.a.write, &purchases, "key-1", &body)
        .await;
    assert_eq!(again.status, 201);
    assert_eq!(again.text, first.text, "the same bytes");
    assert_eq!(app.balance(&m).await, 50, "one effect");
    assert_eq!(
        app.items(&app.a.read, &format!("/members/{m}/history"))
            .await
            .len(),
        1
    );
    assert_eq!(answer["points_earned"], 50);

    // The same key with another request: refused, nothing written.
    let before = app.snapshot().await;
    app.post_idem(
        &app.a.write,
        &purchases,
        "key-1",
        &purchase_body(&m, "I-2", 5000),
    )
    .await
    .problem(422, "idempotency_key_reused");
    // Same body, another field order or spacing is another request too (the body bytes are hashed).
    let reordered = format!(
        r#"{{"total": {{"currency": "USD", "amount_minor": 5000}}, "member": {{"id": "{m}"}}, "order_id": "I-1"}}"#
    );
    let r = app
        .send(
            app.api(Method::POST, &purchases)
                .bearer_auth(&app.a.write)
                .header("Idempotency-Key", "key-1")
                .header("content-type", "application/json")
                .body(reordered),
        )
        .await;
    r.problem(422, "idempotency_key_reused");
    app.post_idem(
        &app.a.write,
        &format!("/members/{m}/adjustments"),
        "key-1",
        &json!({"points": 5, "reason": "x"}),
    )
    .await
    .problem(422, "idempotency_key_reused");
    before.assert_same(&app.snapshot().await, "a reused idempotency key");

    // Keys belong to a tenant: B may use the same one for its own request.
    app.post_idem(
        &app.b.admin,
        &format!("/programs/{}/members", app.b.program),
        "key-1",
        &json!({}),
    )
    .await
    .ok(201);

    // 100 concurrent requests with one key: one effect, the same answer for all.
    let body = purchase_body(&m, "I-3", 7000);
    let mut retries = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let request = app
            .api(reqwest::Method::POST, &purchases)
            .bearer_auth(&app.a.write)
            .header("Idempotency-Key", "key-3")
            .json(&body);
        retries.spawn(async move {
            let response = request
                .send()
                .await
                .expect("the request reaches the server");
            let status = response.status().as_u16();
            (status, response.text().await.expect("a response body"))
        });
    }
    let answers = retries.join_all().await;
    assert_eq!(answers.len(), 100);
    let (status, text) = &answers[0];
    assert_eq!(*status, 201, "{text}");
    assert!(
        answers.iter().all(|answer| answer == &answers[0]),
        "every retry gets the first answer"
    );
    let answer: serde_json::Value = serde_json::from_str(text).unwrap();
    assert_eq!(answer["points_earned"], 70);
    assert_eq!(app.balance(&m).await, 120);
    assert_eq!(
        app.items(&app.a.read, &format!("/members/{m}/purchases"))
            .await
            .iter()
            .filter(|p| p["order_id"] == "I-3")
            .count(),
        1,
        "one purchase recorded"
    );

    // Enrolment: the retry answers the same member; one member exists.
    let members = format!("/programs/{p}/members");
    let e1 = app
        .post_idem(&app.a.write, &members, "enrol-1", &json!({"name": "Zoe"}))
        .await
        .ok(201);
    let e2 = app
        .post_idem(&app.a.write, &members, "enrol-1", &json!({"name": "Zoe"}))
        .await
        .ok(201);
    assert_eq!(e1, e2);
    assert_eq!(app.totals().await["members"], 2);

    // A replayed error stays an error, even once it would succeed.
    let reward = id(&app
        .create_reward(json!({"name": "Mug", "cost_points": 100}))
        .await);
    let zoe = id(&e1);
    let redeem = json!({"member": {"id": zoe}, "reward_id": reward});
    let redemptions = format!("/programs/{p}/redemptions");
    let refused = app
        .post_idem(&app.a.write, &redemptions, "redeem-1", &redeem)
        .await;
    let refusal = refused.problem(422, "insufficient_points");
    app.adjust(&zoe, 500).await;
    let replayed = app
        .post_idem(&app.a.write, &redemptions, "redeem-1", &redeem)
        .await;
    let replay = replayed.problem(422, "insufficient_points");
    assert_eq!(
        replay["detail"], refusal["detail"],
        "the stored refusal, not a new answer"
    );
    assert_ne!(
        replay["request_id"], refusal["request_id"],
        "each response has its own request id"
    );
    assert_eq!(app.balance(&zoe).await, 500);
    let fresh = app
        .post_idem(&app.a.write, &redemptions, "redeem-2", &redeem)
        .await
        .ok(201);
    assert_eq!(fresh["balance"]["available"], 400);

    // Body-less POSTs: a cancel retried refunds once.
    let c1 = app
        .send(
            app.api(Method::POST, &format!("/redemptions/{}/cancel", id(&fresh)))
                .bearer_auth(&app.a.write)
                .header("Idempotency-Key", "cancel-1"),
        )
        .await;
    let c2 = app
        .send(
            app.api(Method::POST, &format!("/redemptions/{}/cancel", id(&fresh)))
                .bearer_auth(&app.a.write)
                .header("Idempotency-Key", "cancel-1"),
        )
        .await;
    assert_eq!(c1.ok(200)["status"], "cancelled");
    assert_eq!((c2.status, &c2.text), (c1.status, &c1.text));
    assert_eq!(app.balance(&zoe).await, 500);

    // A request refused before it reaches the engine (invalid body) does not use the key up.
    app.post_idem(
        &app.a.write,
        &purchases,
        "key-4",
        &json!({"order_id": "I-4"}),
    )
    .await
    .invalid(&["/member", "/total"]);
    app.post_idem(
        &app.a.write,
        &purchases,
        "key-4",
        &purchase_body(&m, "I-4", 1000),
    )
    .await
    .ok(201);

    // Bad keys are bad parameters.
    let before = app.snapshot().await;
    let long = "k".repeat(256);
    for key in [long.as_str(), "", "   "] {
        app.post_idem(
            &app.a.write,
            &purchases,
            key,
            &purchase_body(&m, "I-5", 1000),
        )
        .await
        .bad_parameter("Idempotency-Key");
    }
    let non_ascii = reqwest::header::HeaderValue::from_bytes(b"cl\xe9").unwrap();
    let r = app
        .send(
            app.api(Method::POST, &purchases)
                .bearer_auth(&app.a.write)
                .header("Idempotency-Key", non_ascii.clone())
                .json(&purchase_body(&m, "I-5", 1000)),
        )
        .await;
    r.bad_parameter("Idempotency-Key");
    let r = app
        .send(
            app.api(Method::POST, &format!("/members/{m}/card/rotate"))
                .bearer_auth(&app.a.write)
                .header("Idempotency-Key", non_ascii),
        )
        .await;
    r.bad_parameter("Idempotency-Key");
    before.assert_same(&app.snapshot().await, "bad idempotency keys");

    // Keys expire after a day; then the key is free again.
    app.clock.advance(jiff::SignedDuration::from_hours(25));
    let later = app
        .post_idem(
            &app.a.write,
            &purchases,
            "key-1",
            &purchase_body(&m, "I-6", 1000),
        )
        .await
        .ok(201);
    assert_eq!(later["order_id"], "I-6");
    app.check_end_state().await;
}

// ---- order ids -----------------------------------------------------------------------------------

#[tokio::test]
async fn an_order_id_is_a_business_key() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    let purchases = format!("/programs/{p}/purchases");
    let member = app.enroll(json!({"external_id": "c-9"})).await;
    let m = id(&member);
    let card = member["card"]["number"].as_str().unwrap().to_owned();
    let other = id(&app.enroll(json!({})).await);

    let body = json!({"order_id": "O-1", "member": {"id": m}, "total": {"amount_minor": 1999, "currency": "USD"},
                      "lines": [{"sku": "cd-1", "quantity": 1, "unit_price_minor": 1999}]});
    let first = app.post(&app.a.write, &purchases, &body).await.ok(201);
    // A till retrying without an idempotency key: the same answer, no second effect; the member
    // may be named any way.
    for member_ref in [
        json!({"id": m}),
        json!({"card_number": card}),
        json!({"external_id": "c-9"}),
    ] {
        let mut retry = body.clone();
        retry["member"] = member_ref;
        assert_eq!(
            app.post(&app.a.write, &purchases, &retry).await.ok(201),
            first
        );
    }
    assert_eq!(app.balance(&m).await, 19);
    assert_eq!(
        app.items(&app.a.read, &format!("/members/{m}/purchases"))
            .await
            .len(),
        1
    );

    // The same order id with other content: 409, nothing written.
    let before = app.snapshot().await;
    let changes = [
        ("/total/amount_minor", json!(2000)),
        ("/member", json!({"id": other})),
        ("/lines/0/quantity", json!(2)),
        ("/lines/0/sku", json!("cd-2")),
    ];
    for (pointer, value) in changes {
        let mut changed = body.clone();
        *changed.pointer_mut(pointer).unwrap() = value;
        app.post(&app.a.write, &purchases, &changed)
            .await
            .problem(409, "order_conflict");
    }
    let mut online = body.clone();
    online["channel"] = json!("online");
    app.post(&app.a.write, &purchases, &online)
        .await
        .problem(409, "order_conflict");
    before.assert_same(&app.snapshot().await, "conflicting orders");
    app.check_end_state().await;
}

// ---- pagination ----------------------------------------------------------------------------------

#[tokio::test]
async fn lists_page_with_cursors_and_histories_are_newest_first() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();

    let mut enrolled = Vec::new();
    for i in 0..7 {
        enrolled.push(id(&app
            .enroll(json!({"external_id": format!("c-{i}")}))
            .await));
    }
    let pages = app
        .all_pages(&app.a.read, &format!("/programs/{p}/members"), 2)
        .await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 2, 1]);
    let seen: Vec<String> = pages.iter().flat_map(|page| ids(page)).collect();
    assert_eq!(
        seen, enrolled,
        "every member exactly once, in enrolment order"
    );
    // Programs page the same way.
    for name in ["Second", "Third"] {
        app.post(
            &app.a.admin,
            "/programs",
            &json!({"name": name, "currency": "USD"}),
        )
        .await
        .ok(201);
    }
    let programs = app.all_pages(&app.a.read, "/programs", 1).await;
    assert_eq!(programs.iter().map(Vec::len).collect::<Vec<_>>(), [1, 1, 1]);
    assert_eq!(programs[0][0]["id"], p.as_str(), "oldest first");
    app.get(&app.a.read, "/programs?limit=0")
        .await
        .bad_parameter("limit");
    // A last page that is exactly full says so.
    let exact = app
        .get(&app.a.read, &format!("/programs/{p}/members?limit=7"))
        .await
        .ok(200);
    assert_eq!(
        (
            exact["items"].as_array().unwrap().len(),
            &exact["next_cursor"]
        ),
        (7, &Value::Null)
    );
    // A filter holds across pages.
    for m in &enrolled[2..5] {
        app.patch(
            &app.a.write,
            &format!("/members/{m}"),
            &json!({"status": "suspended"}),
        )
        .await
        .ok(200);
    }
    let suspended = app
        .all_pages(
            &app.a.read,
            &format!("/programs/{p}/members?status=suspended"),
            2,
        )
        .await;
    assert_eq!(
        suspended
            .iter()
            .flat_map(|page| ids(page))
            .collect::<Vec<_>>(),
        &enrolled[2..5]
    );

    // History: newest first, each entry with the balance after it.
    let m = &enrolled[0];
    for points in [100, 50, -30] {
        app.adjust(m, points).await;
    }
    app.purchase(m, "P-1", 2000).await;
    app.purchase(m, "P-2", 1000).await;
    let pages = app
        .all_pages(&app.a.read, &format!("/members/{m}/history"), 2)
        .await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
    let entries: Vec<Value> = pages.concat();
    let seen: Vec<(&str, i64, i64)> = entries
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap(),
                e["points"].as_i64().unwrap(),
                e["balance_after"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("earn", 10, 150),
            ("earn", 20, 140),
            ("adjust", -30, 120),
            ("adjust", 50, 150),
            ("adjust", 100, 100)
        ]
    );
    let transfers: Vec<&str> = entries
        .iter()
        .map(|e| e["transfer_id"].as_str().unwrap())
        .collect();
    assert!(transfers.iter().all(|t| t.starts_with("trf_")));
    assert_eq!(
        transfers
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        5,
        "no entry twice"
    );
    assert_eq!(entries[0]["reason"]["order_id"], "P-2");

    // Purchases and redemptions of a member: newest first.
    let purchases = app
        .all_pages(&app.a.read, &format!("/members/{m}/purchases"), 1)
        .await;
    let orders: Vec<&str> = purchases
        .iter()
        .flatten()
        .map(|x| x["order_id"].as_str().unwrap())
        .collect();
    assert_eq!(orders, ["P-2", "P-1"]);
    let reward = id(&app
        .create_reward(json!({"name": "Pin", "cost_points": 10}))
        .await);
    let mut codes = Vec::new();
    for _ in 0..3 {
        let red = app
            .post(
                &app.a.write,
                &format!("/programs/{p}/redemptions"),
                &json!({"member": {"id": m}, "reward_id": reward}),
            )
            .await
            .ok(201);
        codes.push(id(&red));
    }
    codes.reverse();
    let redemptions = app
        .all_pages(&app.a.read, &format!("/members/{m}/redemptions"), 2)
        .await;
    assert_eq!(
        redemptions
            .iter()
            .flat_map(|page| ids(page))
            .collect::<Vec<_>>(),
        codes
    );

    // Rewards and locations: in creation order.
    let mut rewards = vec![reward];
    for name in ["Cap", "Bag"] {
        rewards.push(id(&app
            .create_reward(json!({"name": name, "cost_points": 10}))
            .await));
    }
    let pages = app
        .all_pages(&app.a.read, &format!("/programs/{p}/rewards"), 2)
        .await;
    assert_eq!(
        pages.iter().flat_map(|page| ids(page)).collect::<Vec<_>>(),
        rewards
    );
    let mut locations = Vec::new();
    for name in ["North", "South", "East"] {
        let l = app
            .post(
                &app.a.admin,
                &format!("/programs/{p}/locations"),
                &json!({"name": name, "latitude": 1, "longitude": 1}),
            )
            .await
            .ok(201);
        locations.push(id(&l));
    }
    let pages = app
        .all_pages(&app.a.read, &format!("/programs/{p}/locations"), 2)
        .await;
    assert_eq!(
        pages.iter().flat_map(|page| ids(page)).collect::<Vec<_>>(),
        locations
    );

    // The audit log: newest first, every entry once.
    let audit = app.all_pages(&app.a.admin, "/audit-log", 3).await;
    let all: Vec<Value> = audit.concat();
    let whole = app.get(&app.a.admin, "/audit-log?limit=200").await.ok(200);
    assert_eq!(&all, whole["items"].as_array().unwrap());
    assert_eq!(
        all[0]["action"], "location.created",
        "newest first (the locations were created last): {}",
        all[0]
    );
    app.check_end_state().await;
}
