//! Cashback: a rule fills a member's money wallet, the till pays part of an order with it once
//! per order and gives it back on cancellation, a return takes back its share, and the two
//! ledgers (points and money) each balance on their own; points expire, cashback stays.

use super::*;

async fn cashback_rule(app: &TestApp, effect: Value) {
    app.post(
        &app.a.admin,
        &format!("/programs/{}/rules", app.a.program),
        &json!({"name": "Cashback", "trigger": "purchase", "effect": {"cashback": effect}}),
    )
    .await
    .ok(201);
}

async fn pay(app: &TestApp, member: &str, order: &str, minor: i64) -> common::Resp {
    app.post(
        &app.a.write,
        &format!("/programs/{}/cashback/pay", app.a.program),
        &json!({"member": {"id": member}, "order_id": order, "amount_minor": minor}),
    )
    .await
}

async fn return_order(app: &TestApp, body: Value) -> Value {
    app.post(
        &app.a.write,
        &format!("/programs/{}/returns", app.a.program),
        &body,
    )
    .await
    .ok(201)
}

async fn wallet(app: &TestApp, member: &str) -> Value {
    app.get(&app.a.read, &format!("/members/{member}/cashback"))
        .await
        .ok(200)
}

#[tokio::test]
async fn a_rule_gives_cashback_and_the_till_pays_with_it_once_per_order() {
    let app = TestApp::new().await;
    cashback_rule(&app, json!({"percent": 5})).await;
    let ann = id(&app.enroll(json!({"name": "Ann"})).await);
    let bought = app.purchase(&ann, "A-1", 4000).await;
    assert_eq!(bought["points_earned"], 40, "points as before");
    assert_eq!(bought["granted"][0]["cashback"]["amount_minor"], 200);
    let mine = wallet(&app, &ann).await;
    assert_eq!(mine["balance_minor"], 200);
    assert_eq!(mine["currency"], "USD");
    assert_eq!(mine["items"][0]["kind"], "cashback_earn");
    assert_eq!(mine["items"][0]["amount_minor"], 200);
    // The points history does not mix money in.
    let history = app
        .get(&app.a.read, &format!("/members/{ann}/history"))
        .await
        .ok(200);
    assert!(
        history["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| !t["kind"].as_str().unwrap().starts_with("cashback")),
        "{history}"
    );

    let paid = pay(&app, &ann, "B-1", 150).await.ok(200);
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["cashback_balance_minor"], 50);
    // The same payment again (a till retrying): the same answer, nothing taken twice.
    assert_eq!(pay(&app, &ann, "B-1", 150).await.ok(200)["id"], paid["id"]);
    pay(&app, &ann, "B-1", 20)
        .await
        .problem(409, "order_conflict");
    let before = app.snapshot().await;
    pay(&app, &ann, "B-2", 51)
        .await
        .problem(422, "insufficient_cashback");
    pay(&app, &ann, "B-2", 0).await.invalid(&["/amount_minor"]);
    app.snapshot()
        .await
        .assert_same(&before, "refused payments");
    assert_eq!(wallet(&app, &ann).await["balance_minor"], 50);

    // The order is cancelled: the payment comes back, once.
    let refund = format!("/programs/{}/cashback/refund", app.a.program);
    let back = app
        .post(&app.a.write, &refund, &json!({"order_id": "B-1"}))
        .await
        .ok(200);
    assert_eq!(back["status"], "refunded");
    assert_eq!(back["cashback_balance_minor"], 200);
    let again = app
        .post(&app.a.write, &refund, &json!({"order_id": "B-1"}))
        .await
        .ok(200);
    assert_eq!(again["cashback_balance_minor"], 200);
    app.post(&app.a.write, &refund, &json!({"order_id": "nope"}))
        .await
        .invalid(&["/order_id"]);

    // A return of half the order takes back half its cashback.
    let returned = return_order(&app, json!({"order_id": "A-1", "amount_minor": 2000})).await;
    assert_eq!(returned["cashback_reversed_minor"], 100);
    assert_eq!(returned["cashback_unrecovered_minor"], 0);
    assert_eq!(wallet(&app, &ann).await["balance_minor"], 100);
    let totals = app.totals().await;
    assert_eq!(
        totals["cashback"],
        json!({"issued_minor": 100, "spent_minor": 0, "outstanding_minor": 100})
    );
    assert_eq!(totals["outstanding"], 20, "points are counted apart");
    // Another tenant sees no cashback of this member.
    app.get(&app.b.admin, &format!("/members/{ann}/cashback"))
        .await
        .problem(404, "not_found");
    app.check_end_state().await;
}

#[tokio::test]
async fn a_return_after_the_cashback_was_spent_takes_what_is_left_and_says_the_rest() {
    let app = TestApp::new().await;
    cashback_rule(&app, json!({"amount_minor": 300})).await;
    let ann = id(&app.enroll(json!({"name": "Ann"})).await);
    app.purchase(&ann, "A-1", 1000).await;
    pay(&app, &ann, "B-1", 250).await.ok(200);
    let returned = return_order(&app, json!({"order_id": "A-1"})).await;
    assert_eq!(returned["cashback_reversed_minor"], 50);
    assert_eq!(returned["cashback_unrecovered_minor"], 250);
    assert_eq!(wallet(&app, &ann).await["balance_minor"], 0);
    app.check_end_state().await;
}

#[tokio::test]
async fn concurrent_payments_never_spend_more_than_the_balance() {
    let app = TestApp::new().await;
    cashback_rule(&app, json!({"amount_minor": 500})).await;
    let ann = id(&app.enroll(json!({"name": "Ann"})).await);
    app.purchase(&ann, "A-1", 1000).await;
    let mut tills = Vec::new();
    for n in 0..20 {
        let request = app
            .api(
                Method::POST,
                &format!("/programs/{}/cashback/pay", app.a.program),
            )
            .bearer_auth(&app.a.write)
            .json(&json!({"member": {"id": ann}, "order_id": format!("race-{n}"), "amount_minor": 100}));
        tills.push(tokio::spawn(async move {
            request.send().await.expect("a response").status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for till in tills {
        statuses.push(till.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 422).count(),
        15,
        "{statuses:?}"
    );
    assert_eq!(wallet(&app, &ann).await["balance_minor"], 0);
    app.check_end_state().await;
}

#[tokio::test]
async fn cashback_rules_are_checked_when_saved() {
    let app = TestApp::new().await;
    let rules = format!("/programs/{}/rules", app.a.program);
    app.post(
        &app.a.admin,
        &rules,
        &json!({"name": "x", "trigger": "purchase", "effect": {"cashback": {"percent": 0}}}),
    )
    .await
    .invalid(&["/effect/cashback/percent"]);
    app.post(
        &app.a.admin,
        &rules,
        &json!({"name": "x", "trigger": "enrolment", "effect": {"cashback": {"percent": 5}}}),
    )
    .await
    .invalid(&["/effect/cashback/percent"]);
    app.post(
        &app.a.admin,
        &rules,
        &json!({"name": "x", "trigger": "purchase", "effect": {"cashback": {"percent": 5, "amount_minor": 1}}}),
    )
    .await
    .invalid(&["/effect/cashback"]);
    // A welcome gift in money is fine.
    app.post(
        &app.a.admin,
        &rules,
        &json!({"name": "Welcome", "trigger": "enrolment", "effect": {"cashback": {"amount_minor": 500}}}),
    )
    .await
    .ok(201);
    let ann = id(&app.enroll(json!({"name": "Ann"})).await);
    assert_eq!(wallet(&app, &ann).await["balance_minor"], 500);
    app.check_end_state().await;
}

#[tokio::test]
async fn points_expire_and_the_cashback_stays() {
    let app = TestApp::new().await;
    cashback_rule(&app, json!({"percent": 10})).await;
    app.send(
        app.api(
            Method::PUT,
            &format!("/programs/{}/expiry-policy", app.a.program),
        )
        .bearer_auth(&app.a.admin)
        .json(&json!({"kind": "days_after_earning", "days": 30})),
    )
    .await
    .ok(200);
    let ann = id(&app.enroll(json!({"name": "Ann"})).await);
    app.purchase(&ann, "A-1", 5000).await;
    assert_eq!(app.balance(&ann).await, 50);
    assert_eq!(wallet(&app, &ann).await["balance_minor"], 500);
    app.clock.advance(jiff::SignedDuration::from_hours(24 * 31));
    let expired = app
        .tally
        .write(
            &app.a.id,
            "housekeeping",
            None,
            Command::ExpirePoints {
                program: tally_domain::ids::ProgramId::parse(&app.a.program).unwrap(),
                limit: 1000,
            },
        )
        .await
        .expect("the expiry job");
    assert_eq!(expired, json!({"members": 1, "expired": 50}));
    assert_eq!(app.balance(&ann).await, 0, "the points expired");
    assert_eq!(
        wallet(&app, &ann).await["balance_minor"],
        500,
        "cashback does not expire with them"
    );
    // A return after the expiry still takes back its cashback share.
    let returned = return_order(&app, json!({"order_id": "A-1"})).await;
    assert_eq!(returned["cashback_reversed_minor"], 500);
    app.check_end_state().await;
}
