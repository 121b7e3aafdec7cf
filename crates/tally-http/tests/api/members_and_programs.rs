//! Programs and members.

use super::*;

// ---- programs -----------------------------------------------------------------------------------

#[tokio::test]
async fn programs_are_created_listed_read_and_totalled() {
    let app = TestApp::new().await;
    let body = json!({
        "name": "Jazz club",
        "points_name": "notes",
        "currency": "PLN",
        "time_zone": "Europe/Warsaw",
        "earning": {"points_per_unit": "1.5", "rounding": "nearest", "excluded_categories": ["gift-cards"], "min_order_minor": 500, "pending_days": 14},
        "negative_balance": "floor_at_zero"
    });
    let created = app.post(&app.a.admin, "/programs", &body).await.ok(201);
    assert!(id(&created).starts_with("prg_"), "{created}");
    assert_eq!(created["tenant_id"], app.a.id.as_str());
    assert_eq!(created["name"], "Jazz club");
    assert_eq!(created["points_name"], "notes");
    assert_eq!(created["currency"], "PLN");
    assert_eq!(created["time_zone"], "Europe/Warsaw");
    assert_eq!(
        created["earning"],
        json!({"points_per_unit_milli": 1500, "rounding": "nearest", "excluded_categories": ["gift-cards"], "min_order_minor": 500, "pending_days": 14})
    );
    assert_eq!(created["negative_balance"], "floor_at_zero");
    assert_eq!(created["created_at"], "2026-05-01T10:00:00Z");

    // Defaults.
    let plain = app
        .post(
            &app.a.admin,
            "/programs",
            &json!({"name": "Plain", "currency": "JPY"}),
        )
        .await
        .ok(201);
    assert_eq!(plain["points_name"], "points");
    assert_eq!(plain["time_zone"], "UTC");
    assert_eq!(
        plain["earning"],
        json!({"points_per_unit_milli": 1000, "rounding": "down", "excluded_categories": [], "min_order_minor": 0, "pending_days": 0})
    );
    assert_eq!(plain["negative_balance"], "allow_negative");

    let list = app.get(&app.a.read, "/programs").await.ok(200);
    assert_eq!(list["next_cursor"], Value::Null);
    let listed = ids(list["items"].as_array().unwrap());
    assert_eq!(listed.len(), 3, "{list}");
    for program in [&app.a.program, &id(&created), &id(&plain)] {
        assert!(listed.contains(program), "{program} listed in {list}");
    }
    assert!(
        !listed.contains(&app.b.program),
        "another tenant's program is not listed"
    );

    let read = app
        .get(&app.a.read, &format!("/programs/{}", id(&created)))
        .await
        .ok(200);
    assert_eq!(read, created, "GET answers what POST answered");

    let totals = app
        .get(&app.a.read, &format!("/programs/{}/totals", id(&created)))
        .await
        .ok(200);
    assert_eq!(
        totals,
        json!({"members": 0, "issued": 0, "redeemed": 0, "expired": 0, "adjusted": 0, "donated": 0, "outstanding": 0,
              "cashback": {"issued_minor": 0, "spent_minor": 0, "outstanding_minor": 0}})
    );

    // Bad program bodies name every field and create nothing.
    let before = app.snapshot().await;
    let bad = json!({
        "name": "  ",
        "currency": "usd",
        "time_zone": "Mars/Olympus",
        "earning": {"points_per_unit": "-1", "roundin": "up", "min_order_minor": -1},
        "negative_balance": "sometimes",
        "colour": "red"
    });
    app.post(&app.a.admin, "/programs", &bad).await.invalid(&[
        "/name",
        "/currency",
        "/time_zone",
        "/earning/points_per_unit",
        "/earning/roundin",
        "/earning/min_order_minor",
        "/negative_balance",
        "/colour",
    ]);
    app.post(&app.a.admin, "/programs", &json!({}))
        .await
        .invalid(&["/name", "/currency"]);
    app.post(
        &app.a.admin,
        "/programs",
        &json!({"name": "X", "currency": "XYZ"}),
    )
    .await
    .invalid(&["/currency"]);
    app.post(
        &app.a.admin,
        "/programs",
        &json!({"name": "X", "currency": "USD", "earning": "lots"}),
    )
    .await
    .invalid(&["/earning"]);
    app.post(&app.a.admin, "/programs", &json!(["name", "X"]))
        .await
        .invalid(&[""]);
    before.assert_same(&app.snapshot().await, "invalid programs");
    app.check_end_state().await;
}

// ---- members ------------------------------------------------------------------------------------

#[tokio::test]
async fn members_are_enrolled_read_updated_looked_up_and_listed() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    let ada = app
        .enroll(json!({
            "external_id": "c-42",
            "name": "Ada Lovelace",
            "email": " Ada@Example.COM ",
            "phone": "+48 600 100 200",
            "birthday": "1990-02-28",
            "locale": "pl-PL",
            "time_zone": "Europe/Warsaw",
            "preferred_channel": "email",
            "consents": {"email": true, "sms": false},
            "attributes": {"vip": true, "store": 7},
            "tags": ["jazz", "cd", "jazz"]
        }))
        .await;
    let ada_id = id(&ada);
    assert!(ada_id.starts_with("mem_"), "{ada}");
    assert_eq!(ada["program_id"], p.as_str());
    assert!(ada["person_id"].as_str().unwrap().starts_with("per_"));
    assert_eq!(ada["external_id"], "c-42");
    assert_eq!(ada["name"], "Ada Lovelace");
    assert_eq!(
        ada["email"], "ada@example.com",
        "emails are trimmed and lower-cased"
    );
    assert_eq!(ada["phone"], "+48600100200", "phones are compacted");
    assert_eq!(ada["birthday"], "1990-02-28");
    assert_eq!(ada["locale"], "pl-PL");
    assert_eq!(ada["time_zone"], "Europe/Warsaw");
    assert_eq!(ada["preferred_channel"], "email");
    assert_eq!(ada["attributes"], json!({"vip": true, "store": 7}));
    assert_eq!(
        ada["tags"],
        json!(["cd", "jazz"]),
        "tags sorted, duplicates dropped"
    );
    assert_eq!(ada["status"], "active");
    assert_eq!(ada["balance"], json!({"available": 0, "pending": 0}));
    assert_eq!(ada["enrolled_at"], "2026-05-01T10:00:00Z");
    let consents = ada["consents"].as_array().unwrap();
    assert_eq!(consents.len(), 2, "{ada}");
    for c in consents {
        assert_eq!(c["granted"], c["channel"] == "email", "{c}");
        assert_eq!(c["source"], "api");
        assert_eq!(c["changed_at"], "2026-05-01T10:00:00Z");
    }
    let card = ada["card"]["number"].as_str().unwrap().to_owned();
    assert_eq!(
        parse_card_number(&card).as_deref(),
        Ok(card.as_str()),
        "a 16-digit card number with a valid check digit"
    );
    let token = ada["card"]["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("qr_"), "{token}");

    assert_eq!(
        app.member(&ada_id).await,
        ada,
        "GET answers what POST answered"
    );

    // Look-ups: by card number (as typed, with dashes), external id, or QR token.
    let dashed = card
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join("-");
    for query in [
        format!("card_number={dashed}"),
        "external_id=c-42".to_owned(),
        format!("card_token={token}"),
    ] {
        let found = app
            .get(
                &app.a.read,
                &format!("/programs/{p}/members/lookup?{query}"),
            )
            .await
            .ok(200);
        assert_eq!(id(&found), ada_id, "lookup by {query}");
    }
    let lookup = format!("/programs/{p}/members/lookup");
    app.get(&app.a.read, &lookup)
        .await
        .bad_parameter("card_number");
    app.get(
        &app.a.read,
        &format!("{lookup}?external_id=c-42&card_token={token}"),
    )
    .await
    .bad_parameter("card_number");
    app.get(
        &app.a.read,
        &format!("{lookup}?card_number={}", with_wrong_check_digit(&card)),
    )
    .await
    .bad_parameter("card_number");
    app.get(&app.a.read, &format!("{lookup}?card_number=1234"))
        .await
        .bad_parameter("card_number");
    app.get(
        &app.a.read,
        &format!("{lookup}?external_id=c-42&colour=red"),
    )
    .await
    .bad_parameter("colour");
    app.get(
        &app.a.read,
        &format!("{lookup}?card_number={}", new_card_number()),
    )
    .await
    .problem(404, "not_found");
    app.get(&app.a.read, &format!("{lookup}?external_id=nobody"))
        .await
        .problem(404, "not_found");

    // Update: set, clear, replace, change status and consents.
    let patch = json!({"name": "Ada King", "email": null, "tags": ["vip"], "status": "suspended", "consents": {"sms": true}});
    let updated = app
        .patch(&app.a.write, &format!("/members/{ada_id}"), &patch)
        .await
        .ok(200);
    assert_eq!(updated["name"], "Ada King");
    assert_eq!(updated["email"], Value::Null);
    assert_eq!(
        updated["phone"], "+48600100200",
        "fields not in the patch stay"
    );
    assert_eq!(updated["tags"], json!(["vip"]));
    assert_eq!(updated["status"], "suspended");
    assert!(
        updated["consents"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["granted"] == true),
        "{updated}"
    );
    assert_eq!(app.member(&ada_id).await, updated);

    // A suspended member earns nothing; the refusal writes nothing.
    let before = app.snapshot().await;
    let r = app
        .post(
            &app.a.write,
            &format!("/programs/{p}/purchases"),
            &purchase_body(&ada_id, "S-1", 1000),
        )
        .await;
    r.problem(422, "member_not_active");
    before.assert_same(&app.snapshot().await, "purchase by a suspended member");
    app.patch(
        &app.a.write,
        &format!("/members/{ada_id}"),
        &json!({"status": "active"}),
    )
    .await
    .ok(200);

    // New QR token, same card number; the old token finds nobody.
    let rotated = app
        .post_empty(&app.a.write, &format!("/members/{ada_id}/card/rotate"))
        .await
        .ok(200);
    assert_eq!(rotated["card"]["number"], card.as_str());
    let new_token = rotated["card"]["token"].as_str().unwrap();
    assert!(
        new_token.starts_with("qr_") && new_token != token,
        "{rotated}"
    );
    app.get(&app.a.read, &format!("{lookup}?card_token={token}"))
        .await
        .problem(404, "not_found");
    assert_eq!(
        id(&app
            .get(&app.a.read, &format!("{lookup}?card_token={new_token}"))
            .await
            .ok(200)),
        ada_id
    );

    // Lists with filters.
    let bob = app
        .enroll(json!({"external_id": "b-1", "email": "bob@example.com", "phone": "+48600100300"}))
        .await;
    let list = |query: String| {
        let app = &app;
        let p = p.clone();
        async move {
            ids(app
                .get(&app.a.read, &format!("/programs/{p}/members?{query}"))
                .await
                .ok(200)["items"]
                .as_array()
                .unwrap())
        }
    };
    assert_eq!(list(String::new()).await, [ada_id.clone(), id(&bob)]);
    assert_eq!(
        list("email=BOB@example.com".into()).await,
        [id(&bob)],
        "the email filter is normalised too"
    );
    assert_eq!(list("phone=%2B48600100200".into()).await, [ada_id.as_str()]);
    assert_eq!(list("external_id=b-1".into()).await, [id(&bob)]);
    assert_eq!(list(format!("card_number={card}")).await, [ada_id.as_str()]);
    assert_eq!(
        list("status=active".into()).await,
        [ada_id.clone(), id(&bob)]
    );
    assert_eq!(list("status=closed".into()).await, Vec::<String>::new());
    let members = format!("/programs/{p}/members");
    app.get(&app.a.read, &format!("{members}?status=frozen"))
        .await
        .bad_parameter("status");
    app.get(&app.a.read, &format!("{members}?email=not-an-email"))
        .await
        .bad_parameter("email");
    app.get(&app.a.read, &format!("{members}?phone=123"))
        .await
        .bad_parameter("phone");
    app.get(
        &app.a.read,
        &format!("{members}?card_number={}", with_wrong_check_digit(&card)),
    )
    .await
    .bad_parameter("card_number");
    app.get(&app.a.read, &format!("{members}?name=Ada"))
        .await
        .bad_parameter("name");

    // Conflicts and invalid bodies write nothing.
    let before = app.snapshot().await;
    app.post(&app.a.write, &members, &json!({"external_id": "c-42"}))
        .await
        .problem(409, "external_id_taken");
    app.patch(
        &app.a.write,
        &format!("/members/{}", id(&bob)),
        &json!({"external_id": "c-42"}),
    )
    .await
    .problem(409, "external_id_taken");
    let bad = json!({
        "external_id": "has space",
        "email": "nope",
        "phone": "123",
        "birthday": "1890-01-01",
        "locale": "PL",
        "time_zone": "Mars/Olympus",
        "preferred_channel": "fax",
        "consents": {"fax": true, "email": "yes"},
        "attributes": [],
        "tags": ["ok", "bad tag"],
        "nickname": "x"
    });
    app.post(&app.a.write, &members, &bad).await.invalid(&[
        "/external_id",
        "/email",
        "/phone",
        "/birthday",
        "/locale",
        "/time_zone",
        "/preferred_channel",
        "/consents/fax",
        "/consents/email",
        "/attributes",
        "/tags",
        "/nickname",
    ]);
    app.post(&app.a.write, &members, &json!({"name": ""}))
        .await
        .invalid(&["/name"]);
    app.patch(
        &app.a.write,
        &format!("/members/{ada_id}"),
        &json!({"status": "frozen", "email": "x", "card": {}}),
    )
    .await
    .invalid(&["/status", "/email", "/card"]);
    app.patch(
        &app.a.write,
        &format!("/members/{ada_id}"),
        &json!("closed"),
    )
    .await
    .invalid(&[""]);
    app.patch(
        &app.a.write,
        &format!("/members/{}", MemberId::generate()),
        &json!({"name": "X"}),
    )
    .await
    .problem(404, "not_found");
    app.post_empty(
        &app.a.write,
        &format!("/members/{}/card/rotate", MemberId::generate()),
    )
    .await
    .problem(404, "not_found");
    before.assert_same(&app.snapshot().await, "refused member changes");

    // A closed membership stays closed.
    app.patch(
        &app.a.write,
        &format!("/members/{}", id(&bob)),
        &json!({"status": "closed"}),
    )
    .await
    .ok(200);
    let before = app.snapshot().await;
    app.patch(
        &app.a.write,
        &format!("/members/{}", id(&bob)),
        &json!({"status": "active"}),
    )
    .await
    .problem(422, "member_closed");
    before.assert_same(&app.snapshot().await, "reopening a closed membership");

    let totals = app.totals().await;
    assert_eq!(totals["members"], 2);
    app.check_end_state().await;
}

#[tokio::test]
async fn program_settings_change_from_now_on_but_never_the_currency() {
    let app = TestApp::new().await;
    let path = format!("/programs/{}", app.a.program);
    let member = id(&app.enroll(json!({"external_id": "ann"})).await);
    let before = app.purchase(&member, "P-1", 1000).await;
    assert_eq!(before["points_earned"], 10, "1 point per unit by default");

    let changed = app
        .patch(&app.a.admin, &path, &json!({"name": "Club", "earning": {"points_per_unit": "2.5"}, "negative_balance": "floor_at_zero"}))
        .await
        .ok(200);
    assert_eq!(changed["name"], "Club");
    assert_eq!(changed["earning"]["points_per_unit_milli"], 2500);
    assert_eq!(
        changed["earning"]["rounding"], "down",
        "fields not sent stay as they were"
    );
    assert_eq!(changed["currency"], "USD");
    assert_eq!(changed["negative_balance"], "floor_at_zero");
    assert_eq!(app.get(&app.a.read, &path).await.ok(200), changed);

    let after = app.purchase(&member, "P-2", 1000).await;
    assert_eq!(
        after["points_earned"], 25,
        "the new rate applies from now on"
    );
    let history = app
        .get(&app.a.read, &format!("/members/{member}/history"))
        .await
        .ok(200);
    let earned: Vec<i64> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["points"].as_i64().unwrap())
        .collect();
    assert_eq!(earned, [25, 10], "the earlier award keeps what it earned");

    let snapshot = app.snapshot().await;
    app.patch(&app.a.admin, &path, &json!({"currency": "EUR"}))
        .await
        .invalid(&["/currency"]);
    app.patch(
        &app.a.admin,
        &path,
        &json!({"earning": {"points_per_unit": "-1"}, "nam": "x"}),
    )
    .await
    .invalid(&["/earning/points_per_unit", "/nam"]);
    app.patch(&app.a.write, &path, &json!({"name": "Mine"}))
        .await
        .problem(403, "forbidden");
    app.patch(&app.b.admin, &path, &json!({"name": "Theirs"}))
        .await
        .problem(404, "not_found");
    snapshot.assert_same(
        &app.snapshot().await,
        "refused program changes write nothing",
    );

    let audit = app.get(&app.a.admin, "/audit-log").await.ok(200);
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "program.updated" && e["entity_id"] == app.a.program.as_str())
    );
    app.check_end_state().await;
}
