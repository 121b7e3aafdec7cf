//! The HTTP API end to end: a real server on a free port, a real database (SQLite, or
//! PostgreSQL when `TALLY_TEST_DATABASE_URL` is set), requests over TCP.
//!
//! Every endpoint of the route table has a happy path here; every kind of bad input is checked
//! for its status, `application/problem+json`, its `code`, the `errors[]` it names, a
//! `request_id`, and that nothing was written (a snapshot of every table before and after).
//! Tests that write end with [`TestApp::check_end_state`], which checks the ledger invariants
//! (and that every problem `type` met links to a page).

mod common;

use common::{TestApp, id};
use reqwest::Method;
use serde_json::{Value, json};
use tally_core::Command;
use tally_domain::card::{new_card_number, parse_card_number};
use tally_domain::ids::{ApiKeyId, LocationId, MemberId, PurchaseId, RedemptionId, RewardId};

fn purchase_body(member: &str, order_id: &str, amount_minor: i64) -> Value {
    json!({"order_id": order_id, "member": {"id": member}, "total": {"amount_minor": amount_minor, "currency": "USD"}})
}

/// A valid card number with its last (check) digit changed: a typo the check digit catches.
fn with_wrong_check_digit(card: &str) -> String {
    let mut digits = card.as_bytes().to_vec();
    let last = digits.len() - 1;
    digits[last] = if digits[last] == b'9' {
        b'0'
    } else {
        digits[last] + 1
    };
    String::from_utf8(digits).unwrap()
}

fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(id).collect()
}

// ---- system endpoints ---------------------------------------------------------------------------

#[tokio::test]
async fn health_readiness_openapi_docs_and_problem_pages() {
    let app = TestApp::new().await;

    let r = app.send(app.root(Method::GET, "/healthz")).await;
    assert_eq!((r.status, r.text.as_str()), (200, "ok"));
    let r = app.send(app.root(Method::GET, "/readyz")).await;
    assert_eq!((r.status, r.text.as_str()), (200, "ready"));

    // The API description and its docs need no key.
    let doc = app
        .send(app.api(Method::GET, "/openapi.json"))
        .await
        .ok(200);
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with('3')),
        "an OpenAPI 3 document"
    );
    assert!(doc["paths"].is_object(), "{doc}");
    let r = app.send(app.api(Method::GET, "/docs")).await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));

    // Every problem type links to a page that exists.
    for (code, _) in tally_http::problem::PROBLEM_CODES {
        let r = app
            .send(app.root(Method::GET, &format!("/problems/{code}")))
            .await;
        assert_eq!(r.status, 200, "/problems/{code}");
        assert!(r.header("content-type").unwrap().starts_with("text/html"));
        assert!(r.text.contains(code));
    }
    app.send(app.root(Method::GET, "/problems/no_such_problem"))
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn request_ids_are_echoed_and_sane_client_ids_reused() {
    let app = TestApp::new().await;

    let first = app.send(app.root(Method::GET, "/healthz")).await;
    let second = app.send(app.root(Method::GET, "/healthz")).await;
    let (first, second) = (
        first.header("x-request-id").unwrap(),
        second.header("x-request-id").unwrap(),
    );
    assert!(
        first.starts_with("req_") && second.starts_with("req_"),
        "{first} {second}"
    );
    assert_ne!(first, second, "every request gets its own id");

    // A client's sane id is used for the response and the problem body.
    let r = app
        .send(
            app.api(Method::GET, "/programs")
                .header("X-Request-Id", "till-7_0042"),
        )
        .await;
    let p = r.problem(401, "unauthorized");
    assert_eq!(p["request_id"], "till-7_0042");
    let r = app
        .send(
            app.api(Method::GET, "/programs")
                .bearer_auth(&app.a.read)
                .header("X-Request-Id", "till-7_0043"),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-request-id"), Some("till-7_0043"));

    // Anything else is replaced with a fresh id.
    let too_long = "x".repeat(65);
    for insane in ["two words", "semi;colon", "a/b", too_long.as_str()] {
        let r = app
            .send(app.api(Method::GET, "/nope").header("X-Request-Id", insane))
            .await;
        let p = r.problem(404, "not_found");
        let rid = p["request_id"].as_str().unwrap();
        assert_ne!(rid, insane);
        assert!(rid.starts_with("req_"), "{rid}");
    }
    app.check_problem_pages().await;
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = TestApp::new().await;
    app.get(&app.a.read, "/programs").await.ok(200);
    app.get(&app.a.read, "/programs").await.ok(200);
    app.send(app.api(Method::GET, "/programs"))
        .await
        .problem(401, "unauthorized");
    app.get(&app.a.read, &format!("/programs/{}", app.a.program))
        .await
        .ok(200);

    let r = app.send(app.root(Method::GET, "/metrics")).await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    let m = &r.text;
    assert!(
        m.contains("# TYPE tally_http_requests_total counter"),
        "{m}"
    );
    assert!(
        m.contains(
            r#"tally_http_requests_total{method="GET",route="/api/v1/programs",status="200"} 2"#
        ),
        "{m}"
    );
    assert!(
        m.contains(
            r#"tally_http_requests_total{method="GET",route="/api/v1/programs",status="401"} 1"#
        ),
        "{m}"
    );
    // Routes are labelled by their template, not the concrete path (bounded label values).
    assert!(m.contains(r#"tally_http_requests_total{method="GET",route="/api/v1/programs/{program}",status="200"} 1"#), "{m}");
    assert!(
        !m.contains(&app.a.program),
        "ids must not become label values: {m}"
    );
    assert!(
        m.contains(r#"tally_http_request_duration_seconds_count{route="/api/v1/programs"} 3"#),
        "{m}"
    );
    app.check_problem_pages().await;
}

// ---- programs -----------------------------------------------------------------------------------

#[tokio::test]
async fn programs_are_created_listed_read_and_totalled() {
    let app = TestApp::new().await;
    let body = json!({
        "name": "Jazz club",
        "points_name": "notes",
        "currency": "PLN",
        "time_zone": "Europe/Warsaw",
        "earning": {"points_per_unit": "1.5", "rounding": "nearest", "excluded_categories": ["gift-cards"], "min_order_minor": 500},
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
        json!({"points_per_unit_milli": 1500, "rounding": "nearest", "excluded_categories": ["gift-cards"], "min_order_minor": 500})
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
        json!({"points_per_unit_milli": 1000, "rounding": "down", "excluded_categories": [], "min_order_minor": 0})
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
        json!({"members": 0, "issued": 0, "redeemed": 0, "expired": 0, "adjusted": 0, "outstanding": 0})
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
        json!({"members": 1, "issued": 0, "redeemed": 0, "expired": 0, "adjusted": 0, "outstanding": 0})
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

// ---- errors of the protocol: paths, methods, query parameters -------------------------------------

#[tokio::test]
async fn unknown_paths_and_ids_are_404_problems() {
    let app = TestApp::new().await;
    for path in [
        "/nope",
        "/api",
        "/api/v2/programs",
        "/api/v1",
        "/api/v1/nope",
        "/api/v1/programs/x/y/z",
    ] {
        let r = app
            .send(app.root(Method::GET, path).bearer_auth(&app.a.read))
            .await;
        let p = r.problem(404, "not_found");
        assert_eq!(p["detail"], "no such path", "{path}");
    }
    // Malformed ids, ids of another kind, and unknown ids: all simply not found.
    let p = &app.a.program;
    let member = MemberId::generate();
    for path in [
        "/programs/prg_nope".to_owned(),
        format!("/programs/{member}"),
        format!("/programs/{}/totals", p.to_lowercase()),
        format!("/members/{p}"),
        format!("/members/{member}"),
        format!("/members/{member}/history"),
        format!("/members/{member}/purchases"),
        format!("/members/{member}/redemptions"),
        "/purchases/pur_".to_owned(),
        "/rewards/%20".to_owned(),
        "/redemptions/red_01".to_owned(),
        "/locations/loc_x".to_owned(),
    ] {
        app.get(&app.a.read, &path).await.problem(404, "not_found");
    }
    app.check_problem_pages().await;
}

#[tokio::test]
async fn wrong_methods_are_405_problems() {
    let app = TestApp::new().await;
    let p = &app.a.program;
    let m = id(&app.enroll(json!({})).await);
    let before = app.snapshot().await;
    for (method, path, allow) in [
        (
            Method::DELETE,
            "/api/v1/programs".to_owned(),
            "GET,HEAD,POST",
        ),
        (Method::PUT, format!("/api/v1/programs/{p}"), "GET,HEAD"),
        (
            Method::DELETE,
            format!("/api/v1/members/{m}"),
            "GET,HEAD,PATCH",
        ),
        (
            Method::PUT,
            format!("/api/v1/members/{m}"),
            "GET,HEAD,PATCH",
        ),
        (
            Method::GET,
            format!("/api/v1/programs/{p}/purchases"),
            "POST",
        ),
        (Method::GET, format!("/api/v1/programs/{p}/returns"), "POST"),
        (
            Method::PATCH,
            format!("/api/v1/programs/{p}/members"),
            "GET,HEAD,POST",
        ),
        (
            Method::GET,
            format!("/api/v1/members/{m}/adjustments"),
            "POST",
        ),
        (
            Method::GET,
            format!("/api/v1/members/{m}/card/rotate"),
            "POST",
        ),
        (
            Method::POST,
            format!("/api/v1/members/{m}/history"),
            "GET,HEAD",
        ),
        (Method::POST, "/api/v1/audit-log".to_owned(), "GET,HEAD"),
        (Method::POST, "/healthz".to_owned(), "GET,HEAD"),
        (Method::DELETE, "/metrics".to_owned(), "GET,HEAD"),
    ] {
        let r = app
            .send(
                app.root(method.clone(), &path)
                    .bearer_auth(&app.a.admin)
                    .json(&json!({})),
            )
            .await;
        assert_eq!(r.status, 405, "{method} {path}: {}", r.text);
        r.problem(405, "method_not_allowed");
        assert_eq!(
            r.header("allow"),
            Some(allow),
            "{method} {path}: a 405 names the allowed methods"
        );
    }
    before.assert_same(&app.snapshot().await, "wrong methods");
    app.check_end_state().await;
}

#[tokio::test]
async fn paging_parameters_and_unknown_query_parameters_are_400_problems() {
    let app = TestApp::new().await;
    let p = &app.a.program;
    let m = id(&app.enroll(json!({})).await);
    let lists = [
        format!("/programs/{p}/members"),
        format!("/programs/{p}/rewards"),
        format!("/programs/{p}/locations"),
        format!("/members/{m}/history"),
        format!("/members/{m}/purchases"),
        format!("/members/{m}/redemptions"),
        "/audit-log".to_owned(),
    ];
    for list in &lists {
        for (query, parameter) in [
            ("limit=0", "limit"),
            ("limit=201", "limit"),
            ("limit=-1", "limit"),
            ("limit=abc", "limit"),
            ("limit=2.5", "limit"),
            ("limit=99999999999999999999", "limit"),
            ("cursor=abc", "cursor"),
            ("cursor=0", "cursor"),
            ("cursor=-5", "cursor"),
            ("cursor=1.5", "cursor"),
            ("cursor=10&limit=0", "limit"),
            ("foo=1", "foo"),
            ("Limit=5", "Limit"),
        ] {
            let r = app.get(&app.a.admin, &format!("{list}?{query}")).await;
            assert_eq!(r.status, 400, "{list}?{query}: {}", r.text);
            r.bad_parameter(parameter);
        }
        for query in ["limit=1", "limit=200", "cursor=999999&limit=5"] {
            let page = app
                .get(&app.a.admin, &format!("{list}?{query}"))
                .await
                .ok(200);
            assert!(page["items"].is_array(), "{list}?{query}: {page}");
        }
    }
    app.check_end_state().await;
}

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
        app.get(&app.a.read, &format!("/members/{m}/history"))
            .await
            .ok(200)["items"]
            .as_array()
            .unwrap()
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

    // Concurrent retries of one request: one effect, the same answer for all.
    let body = purchase_body(&m, "I-3", 7000);
    let (r1, r2, r3, r4) = tokio::join!(
        app.post_idem(&app.a.write, &purchases, "key-3", &body),
        app.post_idem(&app.a.write, &purchases, "key-3", &body),
        app.post_idem(&app.a.write, &purchases, "key-3", &body),
        app.post_idem(&app.a.write, &purchases, "key-3", &body),
    );
    for r in [&r2, &r3, &r4] {
        assert_eq!((r.status, &r.text), (r1.status, &r1.text));
    }
    assert_eq!(r1.ok(201)["points_earned"], 70);
    assert_eq!(app.balance(&m).await, 120);

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
        app.get(&app.a.read, &format!("/members/{m}/purchases"))
            .await
            .ok(200)["items"]
            .as_array()
            .unwrap()
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
        all[0]["action"], "reward.created",
        "newest first: {}",
        all[0]
    );
    app.check_end_state().await;
}
