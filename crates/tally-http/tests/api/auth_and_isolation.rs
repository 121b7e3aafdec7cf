//! API keys, scopes, and tenant isolation.

use super::*;

// ---- authentication and scopes -----------------------------------------------------------------

#[tokio::test]
async fn requests_without_a_valid_key_are_401_with_a_challenge() {
    let app = TestApp::new().await;
    let p = &app.a.program;
    let m = id(&app.enroll(json!({})).await);

    // A key that existed but was revoked (never used, so never cached).
    let (revoked, prefix) = tally_http::new_secret();
    let key = app
        .tally
        .write(
            &app.a.id,
            "test",
            None,
            Command::CreateApiKey {
                name: "old till".into(),
                scope: "admin".into(),
                secret_sha256: tally_http::secret_sha256(&revoked),
                prefix,
            },
        )
        .await
        .unwrap();
    let key_id = ApiKeyId::parse(key["id"].as_str().unwrap()).unwrap();
    app.tally
        .write(
            &app.a.id,
            "test",
            None,
            Command::RevokeApiKey { id: key_id },
        )
        .await
        .unwrap();

    let before = app.snapshot().await;
    let (unknown, _) = tally_http::new_secret();
    let headers: Vec<Option<String>> = vec![
        None,
        Some(String::new()),
        Some("Basic dXNlcjpwYXNz".into()),
        Some(format!("Token {}", app.a.admin)),
        Some("Bearer".into()),
        Some("Bearer ".into()),
        Some("Bearer abc".into()),
        Some(format!("Bearer {}", &app.a.admin[4..])),
        Some("Bearer tly_".into()),
        Some(format!("Bearer {unknown}")),
        Some(format!("Bearer {revoked}")),
        Some(format!("Bearer {}x", app.a.admin)),
    ];
    let requests = [
        (Method::GET, "/programs".to_owned(), None),
        (Method::GET, format!("/members/{m}"), None),
        (Method::GET, "/audit-log".to_owned(), None),
        (
            Method::POST,
            format!("/programs/{p}/members"),
            Some(json!({"name": "Eve"})),
        ),
        (
            Method::POST,
            format!("/members/{m}/adjustments"),
            Some(json!({"points": 1000, "reason": "free points"})),
        ),
        (
            Method::POST,
            "/programs".to_owned(),
            Some(json!({"name": "Evil", "currency": "USD"})),
        ),
    ];
    for header in &headers {
        for (method, path, body) in &requests {
            let mut request = app.api(method.clone(), path);
            if let Some(h) = header {
                request = request.header("authorization", h);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let r = app.send(request).await;
            assert_eq!(r.status, 401, "{header:?} {method} {path}: {}", r.text);
            r.problem(401, "unauthorized");
            assert_eq!(
                r.header("www-authenticate"),
                Some("Bearer"),
                "{header:?} {method} {path}"
            );
        }
    }
    before.assert_same(&app.snapshot().await, "unauthenticated requests");

    // Per RFC 9110 §11.1 the scheme is case-insensitive.
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let r = app
            .send(
                app.api(Method::GET, "/programs")
                    .header("authorization", format!("{scheme} {}", app.a.read)),
            )
            .await;
        assert_eq!(r.status, 200, "{scheme}: {}", r.text);
    }
    app.check_end_state().await;
}

#[tokio::test]
async fn scopes_read_write_admin_limit_what_a_key_may_do() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    let m = id(&app.enroll(json!({"external_id": "c-1"})).await);
    app.adjust(&m, 1000).await;
    let purchase = app.purchase(&m, "O-1", 1000).await;
    let r = id(&app
        .create_reward(json!({"name": "Mug", "cost_points": 100}))
        .await);
    let red = id(&app
        .post(
            &app.a.write,
            &format!("/programs/{p}/redemptions"),
            &json!({"member": {"id": m}, "reward_id": r}),
        )
        .await
        .ok(201));
    let before = app.snapshot().await;

    // A read key reads everything but the audit log …
    for path in [
        "/programs".to_owned(),
        format!("/programs/{p}"),
        format!("/programs/{p}/totals"),
        format!("/programs/{p}/members"),
        format!("/programs/{p}/members/lookup?external_id=c-1"),
        format!("/programs/{p}/rewards"),
        format!("/programs/{p}/locations"),
        format!("/members/{m}"),
        format!("/members/{m}/history"),
        format!("/members/{m}/purchases"),
        format!("/members/{m}/redemptions"),
        format!("/purchases/{}", purchase["purchase_id"].as_str().unwrap()),
        format!("/rewards/{r}"),
        format!("/redemptions/{red}"),
    ] {
        app.get(&app.a.read, &path).await.ok(200);
    }
    app.get(&app.a.read, "/audit-log")
        .await
        .problem(403, "forbidden");
    app.get(&app.a.write, "/audit-log")
        .await
        .problem(403, "forbidden");

    // … and writes nothing.
    let writes = [
        (
            Method::POST,
            format!("/programs/{p}/members"),
            json!({"name": "Eve"}),
        ),
        (
            Method::POST,
            format!("/programs/{p}/purchases"),
            purchase_body(&m, "O-2", 1000),
        ),
        (
            Method::POST,
            format!("/programs/{p}/returns"),
            json!({"order_id": "O-1"}),
        ),
        (
            Method::POST,
            format!("/programs/{p}/redemptions"),
            json!({"member": {"id": m}, "reward_id": r}),
        ),
        (
            Method::POST,
            format!("/members/{m}/adjustments"),
            json!({"points": 5, "reason": "x"}),
        ),
        (
            Method::PATCH,
            format!("/members/{m}"),
            json!({"name": "Eve"}),
        ),
        (Method::POST, format!("/members/{m}/card/rotate"), json!({})),
        (
            Method::POST,
            format!("/redemptions/{red}/consume"),
            json!({}),
        ),
        (
            Method::POST,
            format!("/redemptions/{red}/cancel"),
            json!({}),
        ),
    ];
    let admin_only = [
        (
            Method::POST,
            "/programs".to_owned(),
            json!({"name": "New", "currency": "USD"}),
        ),
        (
            Method::POST,
            format!("/programs/{p}/rewards"),
            json!({"name": "Cap", "cost_points": 10}),
        ),
        (
            Method::PATCH,
            format!("/rewards/{r}"),
            json!({"cost_points": 1}),
        ),
        (
            Method::POST,
            format!("/programs/{p}/locations"),
            json!({"name": "Shop", "latitude": 1, "longitude": 2}),
        ),
    ];
    for (method, path, body) in writes.iter().chain(&admin_only) {
        let response = app
            .send(
                app.api(method.clone(), path)
                    .bearer_auth(&app.a.read)
                    .json(body),
            )
            .await;
        assert_eq!(
            response.status, 403,
            "read key: {method} {path}: {}",
            response.text
        );
        response.problem(403, "forbidden");
    }
    // A write key cannot create programs, rewards or locations, nor change rewards.
    for (method, path, body) in &admin_only {
        let response = app
            .send(
                app.api(method.clone(), path)
                    .bearer_auth(&app.a.write)
                    .json(body),
            )
            .await;
        assert_eq!(
            response.status, 403,
            "write key: {method} {path}: {}",
            response.text
        );
        response.problem(403, "forbidden");
    }
    before.assert_same(&app.snapshot().await, "calls beyond a key's scope");

    // What each scope may do, it does; admin includes write.
    for (method, path, body) in &admin_only {
        let response = app
            .send(
                app.api(method.clone(), path)
                    .bearer_auth(&app.a.admin)
                    .json(body),
            )
            .await;
        assert!(
            response.status == 200 || response.status == 201,
            "admin: {method} {path}: {}",
            response.text
        );
    }
    app.post(
        &app.a.admin,
        &format!("/programs/{p}/members"),
        &json!({"name": "Eve"}),
    )
    .await
    .ok(201);
    app.post_empty(&app.a.write, &format!("/redemptions/{red}/consume"))
        .await
        .ok(200);
    app.get(&app.a.admin, "/audit-log").await.ok(200);
    app.check_end_state().await;
}

// ---- tenant isolation -----------------------------------------------------------------------------

#[tokio::test]
async fn another_tenant_can_neither_see_nor_change_anything() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    let location = id(&app
        .post(
            &app.a.admin,
            &format!("/programs/{p}/locations"),
            &json!({"name": "A shop", "latitude": 1, "longitude": 2}),
        )
        .await
        .ok(201));
    let member = app.enroll(json!({"external_id": "c-1"})).await;
    let m = id(&member);
    let card = member["card"]["number"].as_str().unwrap().to_owned();
    let token = member["card"]["token"].as_str().unwrap().to_owned();
    let purchase = app.purchase(&m, "A-1", 50_000).await["purchase_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reward = id(&app
        .create_reward(json!({"name": "Mug", "cost_points": 100, "stock": 10}))
        .await);
    let red = app
        .post(
            &app.a.write,
            &format!("/programs/{p}/redemptions"),
            &json!({"member": {"id": m}, "reward_id": reward}),
        )
        .await
        .ok(201);
    let (red_id, code) = (id(&red), red["code"].as_str().unwrap().to_owned());
    // Tenant B has a member of its own, to name A's things in B's program.
    let b_member = id(&app
        .post(
            &app.b.admin,
            &format!("/programs/{}/members", app.b.program),
            &json!({}),
        )
        .await
        .ok(201));
    let a_before = app.get(&app.a.read, &format!("/members/{m}")).await.ok(200);
    let before = app.snapshot().await;

    let b = &app.b.admin;
    // Reads: 404, exactly as if the thing did not exist.
    for path in [
        format!("/programs/{p}"),
        format!("/programs/{p}/totals"),
        format!("/programs/{p}/members"),
        format!("/programs/{p}/members/lookup?external_id=c-1"),
        format!("/programs/{p}/members/lookup?card_number={card}"),
        format!("/programs/{p}/members/lookup?card_token={token}"),
        format!("/programs/{p}/rewards"),
        format!("/programs/{p}/locations"),
        format!("/programs/{p}/redemptions/check?code={code}"),
        format!("/members/{m}"),
        format!("/members/{m}/history"),
        format!("/members/{m}/purchases"),
        format!("/members/{m}/redemptions"),
        format!("/purchases/{purchase}"),
        format!("/rewards/{reward}"),
        format!("/redemptions/{red_id}"),
        format!("/locations/{location}"),
    ] {
        let r = app.get(b, &path).await;
        assert_eq!(r.status, 404, "B reads {path}: {}", r.text);
        r.problem(404, "not_found");
    }
    // Writes on A's things: 404.
    let writes = [
        (
            Method::POST,
            format!("/programs/{p}/purchases"),
            purchase_body(&m, "B-1", 1_000_000),
        ),
        (
            Method::POST,
            format!("/programs/{p}/returns"),
            json!({"order_id": "A-1"}),
        ),
        (
            Method::POST,
            format!("/programs/{p}/members"),
            json!({"external_id": "spy"}),
        ),
        (
            Method::POST,
            format!("/programs/{p}/redemptions"),
            json!({"member": {"id": m}, "reward_id": reward}),
        ),
        (
            Method::POST,
            format!("/programs/{p}/rewards"),
            json!({"name": "Free", "cost_points": 1}),
        ),
        (
            Method::POST,
            format!("/programs/{p}/locations"),
            json!({"name": "Spy", "latitude": 0, "longitude": 0}),
        ),
        (
            Method::POST,
            format!("/members/{m}/adjustments"),
            json!({"points": -1000, "reason": "theft"}),
        ),
        (
            Method::PATCH,
            format!("/members/{m}"),
            json!({"status": "closed"}),
        ),
        (Method::POST, format!("/members/{m}/card/rotate"), json!({})),
        (
            Method::PATCH,
            format!("/rewards/{reward}"),
            json!({"cost_points": 1, "stock": 0}),
        ),
        (
            Method::POST,
            format!("/redemptions/{red_id}/cancel"),
            json!({}),
        ),
        (
            Method::POST,
            format!("/redemptions/{red_id}/consume"),
            json!({}),
        ),
    ];
    for (method, path, body) in &writes {
        let r = app
            .send(app.api(method.clone(), path).bearer_auth(b).json(body))
            .await;
        assert_eq!(r.status, 404, "B: {method} {path}: {}", r.text);
        r.problem(404, "not_found");
    }
    // A's things named from B's own program are unknown there.
    let bp = &app.b.program;
    app.post(
        b,
        &format!("/programs/{bp}/purchases"),
        &purchase_body(&m, "B-2", 1000),
    )
    .await
    .invalid(&["/member/id"]);
    let by_card = json!({"order_id": "B-3", "member": {"card_number": card}, "total": {"amount_minor": 1000, "currency": "USD"}});
    app.post(b, &format!("/programs/{bp}/purchases"), &by_card)
        .await
        .invalid(&["/member/card_number"]);
    let by_external = json!({"order_id": "B-3", "member": {"external_id": "c-1"}, "total": {"amount_minor": 1000, "currency": "USD"}});
    app.post(b, &format!("/programs/{bp}/purchases"), &by_external)
        .await
        .invalid(&["/member/external_id"]);
    let at_a_location = json!({"order_id": "B-4", "member": {"id": b_member}, "total": {"amount_minor": 1000, "currency": "USD"}, "location_id": location});
    app.post(b, &format!("/programs/{bp}/purchases"), &at_a_location)
        .await
        .invalid(&["/location_id"]);
    app.post(
        b,
        &format!("/programs/{bp}/redemptions"),
        &json!({"member": {"id": b_member}, "reward_id": reward}),
    )
    .await
    .invalid(&["/reward_id"]);
    app.post(
        b,
        &format!("/programs/{bp}/returns"),
        &json!({"order_id": "A-1"}),
    )
    .await
    .invalid(&["/order_id"]);
    app.get(
        b,
        &format!("/programs/{bp}/members/lookup?card_token={token}"),
    )
    .await
    .problem(404, "not_found");
    app.get(b, &format!("/programs/{bp}/redemptions/check?code={code}"))
        .await
        .problem(404, "not_found");

    // B's own lists show none of A's.
    let programs = app.get(b, "/programs").await.ok(200);
    assert_eq!(ids(programs["items"].as_array().unwrap()), [bp.as_str()]);
    let members = app.get(b, &format!("/programs/{bp}/members")).await.ok(200);
    assert_eq!(
        ids(members["items"].as_array().unwrap()),
        [b_member.as_str()]
    );
    let audit = app.get(b, "/audit-log").await.ok(200);
    let a_ids = [&p, &m, &reward, &red_id, &location];
    for entry in audit["items"].as_array().unwrap() {
        assert!(
            !a_ids.iter().any(|x| entry["entity_id"] == x.as_str()),
            "B's audit log shows A's {entry}"
        );
    }

    before.assert_same(&app.snapshot().await, "tenant B's attempts on tenant A");
    assert_eq!(
        app.get(&app.a.read, &format!("/members/{m}")).await.ok(200),
        a_before
    );
    assert_eq!(
        app.get(&app.a.read, &format!("/redemptions/{red_id}"))
            .await
            .ok(200)["status"],
        "issued"
    );
    app.check_end_state().await;
}
