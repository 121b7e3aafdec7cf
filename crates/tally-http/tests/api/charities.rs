//! Charities: members give points (spent like a redemption, converted to money at the program's
//! point value), totals for operators and members, payouts never more than is owed.

use super::*;

async fn charity(app: &TestApp, name: &str) -> String {
    id(&app
        .post(
            &app.a.admin,
            &format!("/programs/{}/charities", app.a.program),
            &json!({"name": name, "description": "Meals for children at school"}),
        )
        .await
        .ok(201))
}

#[tokio::test]
async fn members_give_points_and_everyone_sees_the_totals() {
    let app = TestApp::new().await;
    let kids = charity(&app, "School meals").await;
    let shelter = charity(&app, "Animal shelter").await;
    let ann = id(&app.enroll(json!({"name": "Ann"})).await);
    let bob = id(&app.enroll(json!({"name": "Bob"})).await);
    app.adjust(&ann, 500).await;
    app.adjust(&bob, 100).await;
    let give = |m: &str, c: &str, points: i64| {
        let (app, path, body) = (
            &app,
            format!("/members/{m}/donations"),
            json!({"charity_id": c, "points": points}),
        );
        async move { app.post(&app.a.write, &path, &body).await }
    };
    let gift = give(&ann, &kids, 300).await.ok(201);
    // The default point value is 1 cent a point.
    assert_eq!(gift["amount_minor"], 300);
    assert_eq!(gift["currency"], "USD");
    assert_eq!(gift["balance"]["available"], 200);
    give(&bob, &kids, 100).await.ok(201);
    give(&ann, &shelter, 50).await.ok(201);
    // More than the balance: refused, nothing taken.
    give(&bob, &kids, 1)
        .await
        .problem(422, "insufficient_points");
    assert_eq!(app.balance(&bob).await, 0);
    // Bad requests name their fields.
    app.post(
        &app.a.write,
        &format!("/members/{ann}/donations"),
        &json!({"charity_id": "cha_01J8Z3Q4R5S6T7V8W9X0Y1Z2A3", "points": 0}),
    )
    .await
    .invalid(&["/points"]);
    app.post(
        &app.a.write,
        &format!("/members/{ann}/donations"),
        &json!({"charity_id": "cha_01J8Z3Q4R5S6T7V8W9X0Y1Z2A3", "points": 5}),
    )
    .await
    .invalid(&["/charity_id"]);

    let shown = app
        .get(&app.a.read, &format!("/charities/{kids}"))
        .await
        .ok(200);
    assert_eq!(shown["donated_points"], 400);
    assert_eq!(shown["donated_minor"], 400);
    assert_eq!(shown["donors"], 2);
    assert_eq!(shown["owed_minor"], 400);
    let listed = app
        .get(
            &app.a.read,
            &format!("/programs/{}/charities", app.a.program),
        )
        .await
        .ok(200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);
    let mine = app
        .get(&app.a.read, &format!("/members/{ann}/donations"))
        .await
        .ok(200);
    assert_eq!(
        mine["items"],
        json!([
            {"charity_id": shelter, "name": "Animal shelter", "points": 50, "amount_minor": 50},
            {"charity_id": kids, "name": "School meals", "points": 300, "amount_minor": 300}
        ])
    );
    // The member's history says where the points went; the program's totals count them.
    let history = app
        .get(&app.a.read, &format!("/members/{ann}/history"))
        .await
        .ok(200);
    assert_eq!(history["items"][0]["kind"], "donate");
    assert_eq!(history["items"][0]["reason"]["charity_id"], shelter);
    let totals = app.totals().await;
    assert_eq!(totals["donated"], 450);

    // Payouts: never more than owed.
    let settle = format!("/charities/{kids}/settlements");
    app.post(
        &app.a.admin,
        &settle,
        &json!({"amount_minor": 401, "reference": "TRF-1", "settled_on": "2026-06-30"}),
    )
    .await
    .problem(422, "settlement_exceeds_owed");
    let paid = app
        .post(
            &app.a.admin,
            &settle,
            &json!({"amount_minor": 250, "reference": "TRF-1", "settled_on": "2026-06-30"}),
        )
        .await
        .ok(201);
    assert_eq!(paid["settled_minor"], 250);
    assert_eq!(paid["owed_minor"], 150);

    // An archived charity takes no gifts; another tenant sees none of it.
    app.patch(
        &app.a.admin,
        &format!("/charities/{kids}"),
        &json!({"status": "archived"}),
    )
    .await
    .ok(200);
    give(&ann, &kids, 10)
        .await
        .problem(422, "charity_not_active");
    app.get(&app.b.admin, &format!("/charities/{kids}"))
        .await
        .problem(404, "not_found");
    app.check_end_state().await;
}
