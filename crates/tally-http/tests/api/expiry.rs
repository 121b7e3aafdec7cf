//! Expiry: lots dated by the policy, spending the soonest-expiring first, the job that expires
//! exactly once, inactivity, and a policy set on balances that already exist.

use super::*;
use tally_domain::ids::ProgramId;

async fn expire(app: &TestApp) -> Value {
    let command = Command::ExpirePoints {
        program: ProgramId::parse(&app.a.program).unwrap(),
        limit: 1000,
    };
    app.tally
        .write(&app.a.id, "housekeeping", None, command)
        .await
        .expect("the expiry job")
}

async fn set_policy(app: &TestApp, policy: Value) -> Value {
    let path = format!("/programs/{}/expiry-policy", app.a.program);
    app.send(
        app.api(Method::PUT, &path)
            .bearer_auth(&app.a.admin)
            .json(&policy),
    )
    .await
    .ok(200)
}

async fn expiring(app: &TestApp, member: &str) -> Vec<(String, i64)> {
    let answer = app
        .get(&app.a.read, &format!("/members/{member}/expiring"))
        .await
        .ok(200);
    answer["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["expires_at"].as_str().unwrap().to_owned(),
                i["points"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_oldest_points_are_spent_first_and_the_rest_expire_once_on_their_date() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    let policy = json!({"kind": "end_of_period", "period": "month", "months_after": 1});
    assert_eq!(set_policy(&app, policy.clone()).await, policy);
    assert_eq!(
        app.get(&app.a.read, &format!("/programs/{p}/expiry-policy"))
            .await
            .ok(200),
        policy
    );
    let member = app.enroll(json!({})).await;
    let m = id(&member);

    // Earned in May: valid through June. Earned in June: valid through July.
    app.purchase(&m, "E-1", 10000).await;
    app.clock.set("2026-06-10T09:00:00Z".parse().unwrap());
    app.purchase(&m, "E-2", 5000).await;
    assert_eq!(
        expiring(&app, &m).await,
        vec![
            ("2026-07-01T00:00:00Z".into(), 100),
            ("2026-08-01T00:00:00Z".into(), 50)
        ]
    );

    // A redemption takes the points that expire first.
    let reward = app
        .create_reward(json!({"name": "Tote", "cost_points": 30}))
        .await;
    app.post(
        &app.a.write,
        &format!("/programs/{p}/redemptions"),
        &json!({"member": {"id": m}, "reward_id": id(&reward)}),
    )
    .await
    .ok(201);
    assert_eq!(
        expiring(&app, &m).await,
        vec![
            ("2026-07-01T00:00:00Z".into(), 70),
            ("2026-08-01T00:00:00Z".into(), 50)
        ]
    );

    // Nothing is due before the date; on it, what is left of the lot expires, once.
    assert_eq!(expire(&app).await, json!({"members": 0, "expired": 0}));
    app.clock.set("2026-07-01T00:00:00Z".parse().unwrap());
    assert_eq!(expire(&app).await, json!({"members": 1, "expired": 70}));
    assert_eq!(
        expire(&app).await,
        json!({"members": 0, "expired": 0}),
        "a second run finds nothing"
    );
    assert_eq!(app.balance(&m).await, 50);
    assert_eq!(
        expiring(&app, &m).await,
        vec![("2026-08-01T00:00:00Z".into(), 50)]
    );
    let history = app
        .get(&app.a.read, &format!("/members/{m}/history"))
        .await
        .ok(200);
    let expired: Vec<i64> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "expire")
        .map(|e| e["points"].as_i64().unwrap())
        .collect();
    assert_eq!(expired, vec![-70]);
    assert_eq!(app.totals().await["expired"], 70);

    // A return of the May order takes back its 100 points: the 50 left and 50 below zero.
    app.post(
        &app.a.write,
        &format!("/programs/{p}/returns"),
        &json!({"order_id": "E-1", "amount_minor": 10000}),
    )
    .await
    .ok(201);
    assert_eq!(app.balance(&m).await, -50);
    assert_eq!(expiring(&app, &m).await, vec![]);
    // Points that pay off a negative balance make no lot; only what is left above zero does.
    app.purchase(&m, "E-3", 8000).await;
    assert_eq!(
        expiring(&app, &m).await,
        vec![("2026-09-01T00:00:00Z".into(), 30)]
    );
    app.check_end_state().await;
}

#[tokio::test]
async fn inactivity_expires_everything_only_after_months_without_activity() {
    let app = TestApp::new().await;
    set_policy(&app, json!({"kind": "inactivity", "months": 3})).await;
    let member = app.enroll(json!({})).await;
    let m = id(&member);
    app.purchase(&m, "I-1", 4000).await;
    assert_eq!(
        expiring(&app, &m).await,
        vec![("2026-08-01T10:00:00Z".into(), 40)]
    );
    // Activity two months later moves every lot's date.
    app.clock.set("2026-07-01T10:00:00Z".parse().unwrap());
    app.purchase(&m, "I-2", 2000).await;
    assert_eq!(
        expiring(&app, &m).await,
        vec![("2026-10-01T10:00:00Z".into(), 60)]
    );
    app.clock.set("2026-09-30T10:00:00Z".parse().unwrap());
    assert_eq!(expire(&app).await, json!({"members": 0, "expired": 0}));
    app.clock.set("2026-10-01T10:00:00Z".parse().unwrap());
    assert_eq!(expire(&app).await, json!({"members": 1, "expired": 60}));
    assert_eq!(app.balance(&m).await, 0);
    app.check_end_state().await;
}

#[tokio::test]
async fn a_policy_dates_existing_balances_from_the_day_it_is_set() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    let member = app.enroll(json!({})).await;
    let m = id(&member);
    app.adjust(&m, 40).await;
    assert_eq!(
        app.get(&app.a.read, &format!("/programs/{p}/expiry-policy"))
            .await
            .ok(200),
        json!({"kind": "never"})
    );
    set_policy(&app, json!({"kind": "days_after_earning", "days": 30})).await;
    assert_eq!(
        expiring(&app, &m).await,
        vec![("2026-05-31T10:00:00Z".into(), 40)]
    );
    // Bad policies name their fields; nothing is written.
    let before = app.snapshot().await;
    app.send(
        app.api(Method::PUT, &format!("/programs/{p}/expiry-policy"))
            .bearer_auth(&app.a.admin)
            .json(&json!({"kind": "end_of_period", "period": "week"})),
    )
    .await
    .invalid(&["/months_after", "/period"]);
    before.assert_same(&app.snapshot().await, "a refused policy");
    app.check_end_state().await;
}
