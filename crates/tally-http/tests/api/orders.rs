//! Purchases, returns, locations, adjustments, and bad order input.

use super::*;

// ---- purchases, returns, locations --------------------------------------------------------------

#[tokio::test]
async fn purchases_and_returns_earn_and_reverse_points_at_locations() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();

    let location = app
        .post(
            &app.a.admin,
            &format!("/programs/{p}/locations"),
            &json!({"name": "Old Town", "address": "Rynek 1", "latitude": 50.0614, "longitude": 19.9366, "time_zone": "Europe/Warsaw"}),
        )
        .await
        .ok(201);
    let location_id = id(&location);
    assert!(location_id.starts_with("loc_"));
    assert_eq!(location["program_id"], p.as_str());
    assert_eq!(location["name"], "Old Town");
    assert_eq!(location["address"], "Rynek 1");
    assert_eq!(location["latitude_micro"], 50_061_400);
    assert_eq!(location["longitude_micro"], 19_936_600);
    assert_eq!(location["time_zone"], "Europe/Warsaw");
    assert_eq!(location["active"], true);
    assert_eq!(
        app.get(&app.a.read, &format!("/locations/{location_id}"))
            .await
            .ok(200),
        location
    );
    let list = app
        .get(&app.a.read, &format!("/programs/{p}/locations"))
        .await
        .ok(200);
    assert_eq!(list, json!({"items": [location], "next_cursor": null}));

    let member = app.enroll(json!({"external_id": "c-1"})).await;
    let m = id(&member);
    let card = member["card"]["number"].as_str().unwrap();
    let body = json!({
        "order_id": "A-1",
        "member": {"card_number": card},
        "total": {"amount_minor": 2599, "currency": "USD"},
        "lines": [
            {"sku": "cd-1", "name": "Kind of Blue", "category": "jazz", "brand": "Columbia", "quantity": 1, "unit_price_minor": 1999},
            {"sku": "cd-2", "quantity": 2, "unit_price_minor": 300}
        ],
        "channel": "online",
        "location_id": location_id,
        "occurred_at": "2026-04-30T18:00:00Z"
    });
    let earned = app
        .post(&app.a.write, &format!("/programs/{p}/purchases"), &body)
        .await
        .ok(201);
    let purchase_id = earned["purchase_id"].as_str().unwrap().to_owned();
    assert!(purchase_id.starts_with("pur_"));
    assert_eq!(earned["order_id"], "A-1");
    assert_eq!(earned["member_id"], m.as_str());
    assert_eq!(
        earned["points_earned"], 25,
        "one point per whole dollar of 25.99"
    );
    assert_eq!(earned["balance"], json!({"available": 25, "pending": 0}));

    let purchase = app
        .get(&app.a.read, &format!("/purchases/{purchase_id}"))
        .await
        .ok(200);
    assert_eq!(purchase["id"], purchase_id.as_str());
    assert_eq!(purchase["program_id"], p.as_str());
    assert_eq!(purchase["member_id"], m.as_str());
    assert_eq!(purchase["total_minor"], 2599);
    assert_eq!(purchase["currency"], "USD");
    assert_eq!(purchase["channel"], "online");
    assert_eq!(purchase["location_id"], location_id.as_str());
    assert_eq!(purchase["points_earned"], 25);
    assert_eq!(purchase["points_reversed"], 0);
    assert_eq!(purchase["returned_minor"], 0);
    assert_eq!(purchase["occurred_at"], "2026-04-30T18:00:00Z");
    assert_eq!(purchase["recorded_at"], "2026-05-01T10:00:00Z");
    assert_eq!(
        purchase["lines"],
        json!([
            {"sku": "cd-1", "name": "Kind of Blue", "category": "jazz", "brand": "Columbia", "quantity": 1, "unit_price_minor": 1999, "returned_quantity": 0},
            {"sku": "cd-2", "name": null, "category": null, "brand": null, "quantity": 2, "unit_price_minor": 300, "returned_quantity": 0}
        ])
    );
    let listed = app
        .get(&app.a.read, &format!("/members/{m}/purchases"))
        .await
        .ok(200);
    assert_eq!(listed, json!({"items": [purchase], "next_cursor": null}));

    // Return one cd-2 (300 of 2599): floor(25 * 300 / 2599) = 2 points back.
    let returns = format!("/programs/{p}/returns");
    let r1 = app
        .post(
            &app.a.write,
            &returns,
            &json!({"order_id": "A-1", "lines": [{"sku": "cd-2", "quantity": 1}]}),
        )
        .await
        .ok(201);
    assert!(r1["id"].as_str().unwrap().starts_with("ret_"));
    assert_eq!(r1["purchase_id"], purchase_id.as_str());
    assert_eq!(r1["order_id"], "A-1");
    assert_eq!(r1["returned_minor"], 300);
    assert_eq!(r1["points_reversed"], 2);
    assert_eq!(r1["unrecovered_points"], 0);
    assert_eq!(r1["balance"], json!({"available": 23, "pending": 0}));
    // An amount: 400 of 2599 returned in all, floor(25 * 400 / 2599) = 3, so 1 more.
    let r2 = app
        .post(
            &app.a.write,
            &returns,
            &json!({"order_id": "A-1", "amount_minor": 100}),
        )
        .await
        .ok(201);
    assert_eq!(
        (
            r2["returned_minor"].as_i64(),
            r2["points_reversed"].as_i64()
        ),
        (Some(100), Some(1))
    );
    // Everything else: the remaining 22 points.
    let r3 = app
        .post(
            &app.a.write,
            &returns,
            &json!({"order_id": "A-1", "occurred_at": "2026-05-01T09:00:00Z"}),
        )
        .await
        .ok(201);
    assert_eq!(
        (
            r3["returned_minor"].as_i64(),
            r3["points_reversed"].as_i64()
        ),
        (Some(2199), Some(22))
    );
    assert_eq!(r3["balance"]["available"], 0);
    assert_eq!(r3["occurred_at"], "2026-05-01T09:00:00Z");

    let purchase = app
        .get(&app.a.read, &format!("/purchases/{purchase_id}"))
        .await
        .ok(200);
    assert_eq!(purchase["returned_minor"], 2599);
    assert_eq!(purchase["points_reversed"], 25);
    assert!(
        purchase["lines"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["returned_quantity"] == l["quantity"]),
        "{purchase}"
    );

    let history = app
        .get(&app.a.read, &format!("/members/{m}/history"))
        .await
        .ok(200);
    let entries = history["items"].as_array().unwrap();
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
            ("reverse", -22, 0),
            ("reverse", -1, 22),
            ("reverse", -2, 23),
            ("earn", 25, 25)
        ],
        "newest first"
    );
    assert_eq!(entries[3]["reason"]["order_id"], "A-1");
    assert_eq!(entries[3]["reason"]["purchase_id"], purchase_id.as_str());
    assert_eq!(entries[3]["reason"]["rule"], "base");
    assert_eq!(entries[3]["occurred_at"], "2026-04-30T18:00:00Z");
    assert_eq!(entries[0]["reason"]["return_id"], r3["id"]);

    let totals = app.totals().await;
    assert_eq!(
        totals,
        json!({"members": 1, "issued": 0, "redeemed": 0, "expired": 0, "adjusted": 0, "donated": 0, "outstanding": 0,
              "cashback": {"issued_minor": 0, "spent_minor": 0, "outstanding_minor": 0}})
    );

    // Refused and invalid returns write nothing.
    let before = app.snapshot().await;
    app.post(&app.a.write, &returns, &json!({"order_id": "A-1"}))
        .await
        .problem(422, "already_returned");
    app.post(&app.a.write, &returns, &json!({"order_id": "nope"}))
        .await
        .invalid(&["/order_id"]);
    app.post(
        &app.a.write,
        &returns,
        &json!({"order_id": "A-1", "lines": [], "amount_minor": 1}),
    )
    .await
    .invalid(&["/amount_minor"]);
    app.post(
        &app.a.write,
        &returns,
        &json!({"order_id": "A-1", "lines": []}),
    )
    .await
    .invalid(&["/lines"]);
    app.post(
        &app.a.write,
        &returns,
        &json!({"order_id": "A-1", "lines": null}),
    )
    .await
    .invalid(&["/lines"]);
    app.post(
        &app.a.write,
        &returns,
        &json!({"order_id": "A-1", "amount_minor": 0}),
    )
    .await
    .invalid(&["/amount_minor"]);
    app.post(
        &app.a.write,
        &returns,
        &json!({"lines": [{"sku": "cd-1", "quantity": 0, "size": "L"}]}),
    )
    .await
    .invalid(&["/order_id", "/lines/0/quantity", "/lines/0/size"]);
    before.assert_same(&app.snapshot().await, "refused returns");

    let second = app.purchase(&m, "A-2", 5000).await;
    assert_eq!(second["points_earned"], 50);
    let before = app.snapshot().await;
    app.post(
        &app.a.write,
        &returns,
        &json!({"order_id": "A-2", "amount_minor": 5001}),
    )
    .await
    .invalid(&["/amount_minor"]);
    app.post(
        &app.a.write,
        &returns,
        &json!({"order_id": "A-2", "lines": [{"sku": "cd-1", "quantity": 1}]}),
    )
    .await
    .invalid(&["/lines/0/sku"]);
    before.assert_same(&app.snapshot().await, "returns that do not fit the order");

    // Locations: invalid bodies create nothing.
    let locations = format!("/programs/{p}/locations");
    app.post(
        &app.a.admin,
        &locations,
        &json!({"name": "X", "latitude": 91, "longitude": -180.5}),
    )
    .await
    .invalid(&["/latitude", "/longitude"]);
    app.post(
        &app.a.admin,
        &locations,
        &json!({"latitude": "50", "floor": 2}),
    )
    .await
    .invalid(&["/name", "/latitude", "/longitude", "/floor"]);
    app.get(
        &app.a.read,
        &format!("/locations/{}", LocationId::generate()),
    )
    .await
    .problem(404, "not_found");
    app.get(
        &app.a.read,
        &format!("/purchases/{}", PurchaseId::generate()),
    )
    .await
    .problem(404, "not_found");
    before.assert_same(&app.snapshot().await, "invalid locations");
    app.check_end_state().await;
}

#[tokio::test]
async fn bad_purchase_input_is_a_problem_naming_each_field_and_writes_nothing() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    let purchases = format!("/programs/{p}/purchases");
    let member = app.enroll(json!({"external_id": "c-7"})).await;
    let m = id(&member);
    let card = member["card"]["number"].as_str().unwrap().to_owned();
    let before = app.snapshot().await;

    let good = purchase_body(&m, "B-1", 1000);
    let with = |pointer: &str, value: Value| {
        let mut body = good.clone();
        *body.pointer_mut(pointer).unwrap() = value;
        body
    };
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            with("/total/amount_minor", json!(-5)),
            vec!["/total/amount_minor"],
        ),
        (
            with("/total/amount_minor", json!(10_000_000_000_001_i64)),
            vec!["/total/amount_minor"],
        ),
        (
            with("/total/amount_minor", json!(i64::MAX)),
            vec!["/total/amount_minor"],
        ),
        (
            with("/total/amount_minor", json!(1e30)),
            vec!["/total/amount_minor"],
        ),
        (
            with("/total/amount_minor", json!(12.5)),
            vec!["/total/amount_minor"],
        ),
        (
            with("/total/amount_minor", json!("1000")),
            vec!["/total/amount_minor"],
        ),
        (
            with("/total/currency", json!("XYZ")),
            vec!["/total/currency"],
        ),
        (
            with("/total/currency", json!("usd")),
            vec!["/total/currency"],
        ),
        (with("/total/currency", json!(840)), vec!["/total/currency"]),
        // A real currency, but not the program's.
        (
            with("/total/currency", json!("EUR")),
            vec!["/total/currency"],
        ),
        (with("/total", json!(1000)), vec!["/total"]),
        (
            json!({"order_id": "B-1", "member": {"id": m}, "total": {"amount_minor": 1000, "currency": "USD"}, "ammount": 1}),
            vec!["/ammount"],
        ),
        (
            json!({"order_id": "B-1", "member": {"id": m}, "total": {"amount_minor": 1000, "currency": "USD", "amout": 1}}),
            vec!["/total/amout"],
        ),
        (json!({}), vec!["/order_id", "/member", "/total"]),
        (with("/order_id", json!("has space")), vec!["/order_id"]),
        (with("/order_id", json!("")), vec!["/order_id"]),
        (with("/order_id", json!("x".repeat(129))), vec!["/order_id"]),
        // Members that cannot be found, or are named wrongly.
        (with("/member", json!({})), vec!["/member"]),
        (
            with("/member", json!({"id": m, "external_id": "c-7"})),
            vec!["/member"],
        ),
        (
            with("/member", json!({"email": "a@b.co"})),
            vec!["/member", "/member/email"],
        ),
        (with("/member", json!("c-7")), vec!["/member"]),
        (with("/member/id", json!("mem_nope")), vec!["/member/id"]),
        (with("/member/id", json!(p)), vec!["/member/id"]),
        (
            with("/member/id", json!(MemberId::generate())),
            vec!["/member/id"],
        ),
        (
            with("/member", json!({"external_id": "nobody"})),
            vec!["/member/external_id"],
        ),
        (
            with("/member", json!({"card_number": new_card_number()})),
            vec!["/member/card_number"],
        ),
        (
            with(
                "/member",
                json!({"card_number": with_wrong_check_digit(&card)}),
            ),
            vec!["/member/card_number"],
        ),
        (
            with("/member", json!({"card_number": "1234"})),
            vec!["/member/card_number"],
        ),
        // Lines.
        (
            json!({"order_id": "B-1", "member": {"id": m}, "total": {"amount_minor": 1000, "currency": "USD"},
                   "lines": [{"sku": "a", "quantity": 0, "unit_price_minor": -1}, {"quantity": 1_000_001, "unit_price_minor": 1}]}),
            vec![
                "/lines/0/quantity",
                "/lines/0/unit_price_minor",
                "/lines/1/sku",
                "/lines/1/quantity",
            ],
        ),
        (
            json!({"order_id": "B-1", "member": {"id": m}, "total": {"amount_minor": 1000, "currency": "USD"},
                   "lines": [{"sku": "a", "quantity": 1, "unit_price_minor": 1}, {"sku": "a", "quantity": 2, "unit_price_minor": 1}]}),
            vec!["/lines"],
        ),
        (
            json!({"order_id": "B-1", "member": {"id": m}, "total": {"amount_minor": 1000, "currency": "USD"}, "lines": [1, {"sku": "a", "quantity": 1, "unit_price_minor": 1, "colour": "red"}]}),
            vec!["/lines/0", "/lines/1/colour"],
        ),
        (
            json!({"order_id": "B-1", "member": {"id": m}, "total": {"amount_minor": 1000, "currency": "USD"}, "lines": {}}),
            vec!["/lines"],
        ),
        (
            json!({"order_id": "B-1", "member": {"id": m}, "total": {"amount_minor": 1000, "currency": "USD"},
                   "lines": (0..501).map(|i| json!({"sku": format!("s{i}"), "quantity": 1, "unit_price_minor": 1})).collect::<Vec<_>>()}),
            vec!["/lines"],
        ),
        (with("/order_id", json!(42)), vec!["/order_id"]),
        (
            json!({"order_id": "B-1", "member": {"id": m}, "total": {"amount_minor": 1000, "currency": "USD"}, "channel": "fax"}),
            vec!["/channel"],
        ),
        (
            json!({"order_id": "B-1", "member": {"id": m}, "total": {"amount_minor": 1000, "currency": "USD"}, "occurred_at": "yesterday"}),
            vec!["/occurred_at"],
        ),
        (
            json!({"order_id": "B-1", "member": {"id": m}, "total": {"amount_minor": 1000, "currency": "USD"}, "location_id": "loc_nope"}),
            vec!["/location_id"],
        ),
        (
            json!({"order_id": "B-1", "member": {"id": m}, "total": {"amount_minor": 1000, "currency": "USD"}, "location_id": LocationId::generate()}),
            vec!["/location_id"],
        ),
        // Everything at once: every field is named.
        (
            json!({"order_id": "A-1", "member": {"card_number": "1234"}, "total": {"amount_minor": -5, "currency": "XYZ"},
                   "lines": [{"sku": "cd-1", "quantity": 0, "unit_price_minor": 100}], "ammount": 1}),
            vec![
                "/ammount",
                "/lines/0/quantity",
                "/member/card_number",
                "/total/amount_minor",
                "/total/currency",
            ],
        ),
    ];
    for (body, pointers) in &cases {
        let r = app.post(&app.a.write, &purchases, body).await;
        assert_eq!(r.status, 422, "{body} → {}", r.text);
        r.invalid(pointers);
    }

    // Bodies that are not an object.
    for body in [
        json!([1, 2]),
        json!("purchase"),
        json!(42),
        json!(null),
        json!(true),
    ] {
        app.post(&app.a.write, &purchases, &body)
            .await
            .invalid(&[""]);
    }

    // Not JSON at all.
    let raw = |body: &'static str, content_type: Option<&'static str>| {
        let mut request = app
            .api(Method::POST, &purchases)
            .bearer_auth(&app.a.write)
            .body(body);
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        app.send(request)
    };
    for body in [
        r#"{"order_id": "#,
        r#"{"order_id": "B-1"} trailing"#,
        "",
        "{'order_id': 'B-1'}",
        r#"{"a": 1,}"#,
    ] {
        let r = raw(body, Some("application/json")).await;
        let problem = r.problem(400, "malformed_json");
        assert!(problem.get("errors").is_none(), "{problem}");
    }

    // Nesting deeper than the parser allows is malformed, not a crash.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let r = app
        .send(
            app.api(Method::POST, &purchases)
                .bearer_auth(&app.a.write)
                .header("content-type", "application/json")
                .body(deep),
        )
        .await;
    r.problem(400, "malformed_json");
    let r = raw(
        r#"{"order_id": "B-1", "total": {"amount_minor": 1e400, "currency": "USD"}}"#,
        Some("application/json"),
    )
    .await;
    r.problem(400, "malformed_json");

    // Not declared as JSON.
    let json_text = r#"{"order_id": "B-1"}"#;
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("application/jsonx"),
        Some("application/problem+json"),
        None,
    ] {
        raw(json_text, content_type)
            .await
            .problem(415, "unsupported_media_type");
    }

    // Too large: refused before it is read in full. Just under the limit is still parsed.
    let big = format!(
        r#"{{"order_id": "B-1", "padding": "{}"}}"#,
        "x".repeat(tally_http::MAX_BODY_BYTES)
    );
    let r = app
        .send(
            app.api(Method::POST, &purchases)
                .bearer_auth(&app.a.write)
                .header("content-type", "application/json")
                .body(big),
        )
        .await;
    let problem = r.problem(413, "payload_too_large");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains(&tally_http::MAX_BODY_BYTES.to_string()),
        "{problem}"
    );
    let almost = format!(
        r#"{{"order_id": "B-1", "padding": "{}"}}"#,
        "x".repeat(tally_http::MAX_BODY_BYTES - 100)
    );
    let r = app
        .send(
            app.api(Method::POST, &purchases)
                .bearer_auth(&app.a.write)
                .header("content-type", "application/json")
                .body(almost),
        )
        .await;
    r.invalid(&["/member", "/padding", "/total"]);

    before.assert_same(&app.snapshot().await, "bad purchases");

    // The same purchase, well formed, is accepted (also with parameters on the media type).
    let r = app
        .send(
            app.api(Method::POST, &purchases)
                .bearer_auth(&app.a.write)
                .header("content-type", "Application/JSON; charset=utf-8")
                .body(good.to_string()),
        )
        .await;
    assert_eq!(r.ok(201)["points_earned"], 10);
    assert_eq!(app.balance(&m).await, 10);
    app.check_end_state().await;
}

#[tokio::test]
async fn a_problem_naming_thousands_of_fields_is_sent_whole() {
    let app = TestApp::new().await;
    let m = id(&app.enroll(json!({})).await);
    let before = app.snapshot().await;
    // 500 lines (the most allowed), each with seven invalid fields: 3500 errors, a problem body of
    // a few hundred KiB.
    let line = json!({"sku": "a b", "name": "", "category": "x y", "brand": "", "quantity": 0, "unit_price_minor": -1, "colour": 1});
    let body = json!({"order_id": "L-1", "member": {"id": m}, "total": {"amount_minor": 1000, "currency": "USD"}, "lines": vec![line; 500]});
    let r = app
        .post(
            &app.a.write,
            &format!("/programs/{}/purchases", app.a.program),
            &body,
        )
        .await;
    assert!(!r.text.is_empty(), "a problem body, whatever its size");
    let p = r.problem(422, "validation");
    let errors = p["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 3500);
    for field in [
        "sku",
        "name",
        "category",
        "brand",
        "quantity",
        "unit_price_minor",
        "colour",
    ] {
        assert!(
            errors
                .iter()
                .any(|e| e["pointer"] == format!("/lines/499/{field}")),
            "/lines/499/{field}"
        );
    }
    before.assert_same(&app.snapshot().await, "a purchase with 3500 invalid fields");
    app.check_end_state().await;
}
