//! Pending points: a purchase's points wait out the program's return window, a return inside
//! the window takes them from pending, and the release job makes the rest spendable exactly
//! once, on the right local day across a daylight-saving change.

use super::*;
use tally_domain::ids::ProgramId;

async fn release(app: &TestApp) -> Value {
    let command = Command::ReleasePending {
        program: ProgramId::parse(&app.a.program).unwrap(),
        limit: 1000,
    };
    app.tally
        .write(&app.a.id, "housekeeping", None, command)
        .await
        .expect("the release job")
}

async fn pending(app: &TestApp, member: &str) -> Value {
    app.get(&app.a.read, &format!("/members/{member}/pending"))
        .await
        .ok(200)["items"]
        .clone()
}

async fn history(app: &TestApp, member: &str) -> Vec<(String, i64, String, i64)> {
    let page = app
        .get(&app.a.read, &format!("/members/{member}/history"))
        .await
        .ok(200);
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_owned(),
                e["points"].as_i64().unwrap(),
                e["balance"].as_str().unwrap().to_owned(),
                e["balance_after"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn points_wait_out_the_return_window_and_a_return_inside_it_takes_pending_first() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    // Warsaw leaves summer time on 25 October: fourteen local days from 20 October 12:00 are
    // 3 November 12:00 local, 11:00 UTC, not 10:00.
    let program = app
        .patch(
            &app.a.admin,
            &format!("/programs/{p}"),
            &json!({"time_zone": "Europe/Warsaw", "earning": {"pending_days": 14}}),
        )
        .await
        .ok(200);
    assert_eq!(program["earning"]["pending_days"], 14);
    // Points expire a year after they become available: the lots start at the release.
    let policy = json!({"kind": "days_after_earning", "days": 365});
    app.send(
        app.api(Method::PUT, &format!("/programs/{p}/expiry-policy"))
            .bearer_auth(&app.a.admin)
            .json(&policy),
    )
    .await
    .ok(200);

    let member = app.enroll(json!({})).await;
    let m = id(&member);
    app.clock.set("2026-10-20T10:00:00Z".parse().unwrap());
    let bought = app.purchase(&m, "P-1", 10000).await;
    assert_eq!(bought["points_earned"], 100);
    assert_eq!(bought["balance"], json!({"available": 0, "pending": 100}));
    assert_eq!(
        pending(&app, &m).await,
        json!([{"available_at": "2026-11-03T11:00:00Z", "points": 100}])
    );

    // Pending points cannot be spent.
    let reward = app
        .create_reward(json!({"name": "Mug", "cost_points": 50}))
        .await;
    let redeem = json!({"member": {"id": m}, "reward_id": id(&reward)});
    app.post(&app.a.write, &format!("/programs/{p}/redemptions"), &redeem)
        .await
        .problem(422, "insufficient_points");

    // A return inside the window takes the points back from pending.
    let returns = format!("/programs/{p}/returns");
    let back = app
        .post(
            &app.a.write,
            &returns,
            &json!({"order_id": "P-1", "amount_minor": 4000}),
        )
        .await
        .ok(201);
    assert_eq!(back["points_reversed"], 40);
    assert_eq!(back["unrecovered_points"], 0);
    assert_eq!(back["balance"], json!({"available": 0, "pending": 60}));

    // Nothing is released a minute early; on the day, exactly once.
    app.clock.set("2026-11-03T10:59:00Z".parse().unwrap());
    assert_eq!(release(&app).await, json!({"members": 0, "released": 0}));
    app.clock.set("2026-11-03T11:00:00Z".parse().unwrap());
    assert_eq!(release(&app).await, json!({"members": 1, "released": 60}));
    assert_eq!(release(&app).await, json!({"members": 0, "released": 0}));
    assert_eq!(pending(&app, &m).await, json!([]));
    let after = app.member(&m).await;
    assert_eq!(after["balance"], json!({"available": 60, "pending": 0}));
    let expiring = app
        .get(&app.a.read, &format!("/members/{m}/expiring"))
        .await
        .ok(200);
    assert_eq!(
        expiring["items"],
        json!([{"expires_at": "2027-11-03T11:00:00Z", "points": 60}])
    );

    // Now spendable; a return after the window takes from available.
    app.post(&app.a.write, &format!("/programs/{p}/redemptions"), &redeem)
        .await
        .ok(201);
    let late = app
        .post(&app.a.write, &returns, &json!({"order_id": "P-1"}))
        .await
        .ok(201);
    assert_eq!(late["points_reversed"], 60);
    assert_eq!(late["balance"], json!({"available": -50, "pending": 0}));

    assert_eq!(
        history(&app, &m).await,
        vec![
            ("earn".into(), 100, "pending".into(), 100),
            ("reverse".into(), -40, "pending".into(), 60),
            ("release".into(), 60, "available".into(), 60),
            ("redeem".into(), -50, "available".into(), 10),
            ("reverse".into(), -60, "available".into(), -50),
        ]
    );
    // Releases move points between the member's own balances: nothing new is issued.
    let totals = app.totals().await;
    assert_eq!(totals["issued"], 0);
    assert_eq!(totals["outstanding"], -50);
    app.check_end_state().await;
}

#[tokio::test]
async fn a_full_return_inside_the_window_leaves_nothing_to_release() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    app.patch(
        &app.a.admin,
        &format!("/programs/{p}"),
        &json!({"earning": {"pending_days": 30}}),
    )
    .await
    .ok(200);
    let m = id(&app.enroll(json!({})).await);
    app.purchase(&m, "F-1", 2500).await;
    app.purchase(&m, "F-2", 1000).await;
    let back = app
        .post(
            &app.a.write,
            &format!("/programs/{p}/returns"),
            &json!({"order_id": "F-1"}),
        )
        .await
        .ok(201);
    assert_eq!(back["points_reversed"], 25);
    assert_eq!(back["balance"], json!({"available": 0, "pending": 10}));
    app.clock.set("2026-06-01T10:00:00Z".parse().unwrap());
    assert_eq!(release(&app).await, json!({"members": 1, "released": 10}));
    assert_eq!(app.balance(&m).await, 10);
    app.check_end_state().await;
}

#[tokio::test]
async fn the_return_window_is_checked_when_set() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    app.patch(
        &app.a.admin,
        &format!("/programs/{p}"),
        &json!({"earning": {"pending_days": 366}}),
    )
    .await
    .invalid(&["/earning/pending_days"]);
    app.patch(
        &app.a.admin,
        &format!("/programs/{p}"),
        &json!({"earning": {"pending_days": "two weeks"}}),
    )
    .await
    .invalid(&["/earning/pending_days"]);
    let program = app
        .get(&app.a.read, &format!("/programs/{p}"))
        .await
        .ok(200);
    assert_eq!(program["earning"]["pending_days"], 0);
    app.check_end_state().await;
}
