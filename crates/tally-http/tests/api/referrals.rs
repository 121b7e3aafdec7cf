//! Referrals: codes, no self-referral, qualification by the first qualifying purchase, the
//! reward once its return window has cleared, the cap per referrer, and a returned purchase.

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
        .unwrap()
}

async fn referrals(app: &TestApp, member: &str) -> Value {
    app.get(&app.a.read, &format!("/members/{member}/referrals"))
        .await
        .ok(200)
}

async fn set_policy(app: &TestApp, policy: Value) {
    let path = format!("/programs/{}/referral-policy", app.a.program);
    let set = app
        .send(
            app.api(Method::PUT, &path)
                .bearer_auth(&app.a.admin)
                .json(&policy),
        )
        .await
        .ok(200);
    assert_eq!(app.get(&app.a.read, &path).await.ok(200), set);
}

fn statuses(list: &Value) -> Vec<(String, String)> {
    list["referrals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["referred_first_name"].as_str().unwrap_or("").to_owned(),
                r["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn both_are_rewarded_once_the_first_qualifying_purchase_clears_its_window() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    app.patch(
        &app.a.admin,
        &format!("/programs/{p}"),
        &json!({"earning": {"pending_days": 14}}),
    )
    .await
    .ok(200);
    app.get(&app.a.read, &format!("/programs/{p}/referral-policy"))
        .await
        .problem(404, "not_found");
    set_policy(
        &app,
        json!({"referrer_points": 200, "referred_points": 100, "min_purchase_minor": 2000,
            "qualify_within_days": 60, "max_per_referrer": 1}),
    )
    .await;

    let ann = id(&app
        .enroll(json!({"name": "Ann Lee", "email": "ann@example.com"}))
        .await);
    let mine = referrals(&app, &ann).await;
    let code = mine["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 8);
    assert_eq!(mine["referrals"], json!([]));

    // No self-referral: the same email (the same person), or a code nobody has.
    let members = format!("/programs/{p}/members");
    app.post(
        &app.a.write,
        &members,
        &json!({"email": "ann@example.com", "referral_code": code}),
    )
    .await
    .invalid(&["/referral_code"]);
    app.post(
        &app.a.write,
        &members,
        &json!({"name": "X", "referral_code": "NOSUCH99"}),
    )
    .await
    .invalid(&["/referral_code"]);

    let bob = id(&app
        .enroll(json!({"name": "Bob Stone", "referral_code": code.to_lowercase()}))
        .await);
    assert_eq!(
        statuses(&referrals(&app, &ann).await),
        vec![("Bob".into(), "pending".into())]
    );
    app.purchase(&bob, "B-1", 1000).await; // too small to qualify
    assert_eq!(statuses(&referrals(&app, &ann).await)[0].1, "pending");
    app.purchase(&bob, "B-2", 3000).await;
    assert_eq!(statuses(&referrals(&app, &ann).await)[0].1, "qualified");

    // Nothing until the purchase's points clear the return window; then both, once.
    assert_eq!(app.balance(&ann).await, 0);
    app.clock.advance(jiff::SignedDuration::from_hours(14 * 24));
    assert_eq!(release(&app).await["released"], 40);
    assert_eq!(release(&app).await["released"], 0);
    assert_eq!(app.balance(&ann).await, 200);
    assert_eq!(app.balance(&bob).await, 40 + 100);
    assert_eq!(statuses(&referrals(&app, &ann).await)[0].1, "rewarded");

    // A second referral qualifies, but Ann was already rewarded for her one.
    let cara = id(&app
        .enroll(json!({"name": "Cara", "referral_code": code}))
        .await);
    app.purchase(&cara, "C-1", 2500).await;
    app.clock.advance(jiff::SignedDuration::from_hours(15 * 24));
    release(&app).await;
    let list = referrals(&app, &ann).await;
    assert_eq!(statuses(&list)[0], ("Cara".into(), "void".into()));
    assert!(
        list["referrals"][0]["note"]
            .as_str()
            .unwrap()
            .contains("already rewarded for 1")
    );
    assert_eq!(app.balance(&ann).await, 200);
    assert_eq!(app.balance(&cara).await, 25);

    // A qualifying purchase returned inside its window: back to waiting.
    let dan = id(&app
        .enroll(json!({"name": "Dan", "referral_code": code}))
        .await);
    app.purchase(&dan, "D-1", 5000).await;
    app.post(
        &app.a.write,
        &format!("/programs/{p}/returns"),
        &json!({"order_id": "D-1"}),
    )
    .await
    .ok(201);
    let list = referrals(&app, &ann).await;
    assert_eq!(statuses(&list)[0], ("Dan".into(), "pending".into()));
    assert_eq!(
        list["referrals"][0]["note"],
        "the qualifying purchase was returned"
    );

    // Too late: the window to qualify is 60 days from enrolling.
    app.clock.advance(jiff::SignedDuration::from_hours(61 * 24));
    app.purchase(&dan, "D-2", 5000).await;
    assert_eq!(statuses(&referrals(&app, &ann).await)[0].1, "void");
    let history = app
        .get(&app.a.read, &format!("/members/{ann}/history"))
        .await
        .ok(200);
    assert_eq!(history["items"][0]["reason"]["rule"], "referral");
    app.check_end_state().await;
}

#[tokio::test]
async fn without_a_return_window_the_reward_comes_with_the_purchase() {
    let app = TestApp::new().await;
    set_policy(&app, json!({"referrer_points": 50, "referred_points": 0})).await;
    app.send(
        app.api(
            Method::PUT,
            &format!("/programs/{}/referral-policy", app.a.program),
        )
        .bearer_auth(&app.a.admin)
        .json(&json!({"referrer_points": 0, "referred_points": 0, "bonus": 5})),
    )
    .await
    .invalid(&["/bonus", "/referrer_points"]);
    // A rule on top of the policy: the referrer's first rewarded referral earns a bonus too.
    let rules = format!("/programs/{}/rules", app.a.program);
    app.post(
        &app.a.admin,
        &rules,
        &json!({"name": "x", "trigger": "referral", "condition": "purchase.total > 1.0", "effect": {"bonus": 1}}),
    )
    .await
    .invalid(&["/condition"]);
    app.post(
        &app.a.admin,
        &rules,
        &json!({"name": "Thanks", "trigger": "referral", "effect": {"bonus": 30},
            "limits": {"per_member": {"lifetime": 30}}}),
    )
    .await
    .ok(201);
    let ann = id(&app.enroll(json!({"name": "Ann"})).await);
    let code = referrals(&app, &ann).await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let bob = id(&app
        .enroll(json!({"name": "Bob", "referral_code": code}))
        .await);
    app.purchase(&bob, "B-1", 100).await;
    assert_eq!(app.balance(&ann).await, 50 + 30);
    app.purchase(&bob, "B-2", 100).await;
    assert_eq!(
        app.balance(&ann).await,
        80,
        "the first qualifying purchase only"
    );
    let cara = id(&app
        .enroll(json!({"name": "Cara", "referral_code": code}))
        .await);
    app.purchase(&cara, "C-1", 100).await;
    assert_eq!(
        app.balance(&ann).await,
        80 + 50,
        "the rule's lifetime limit is spent"
    );
    app.check_end_state().await;
}
