//! Tiers: the plan, upgrades at once, the multiplier from the next purchase, rules for a tier,
//! and reviews that keep or lower a tier when its year (plus grace) ends.

use super::*;
use tally_domain::ids::ProgramId;

fn plan() -> Value {
    json!({"metric": "points_earned", "window": "calendar_year", "grace_days": 30, "levels": [
        {"name": "Silver", "threshold": 0},
        {"name": "Gold", "threshold": 100, "multiplier": 1.5},
        {"name": "Platinum", "threshold": 500, "multiplier": 2}
    ]})
}

async fn review(app: &TestApp) -> Value {
    let command = Command::ReviewTiers {
        program: ProgramId::parse(&app.a.program).unwrap(),
        limit: 1000,
    };
    app.tally
        .write(&app.a.id, "housekeeping", None, command)
        .await
        .expect("a review")
}

#[tokio::test]
async fn members_rise_at_once_and_fall_only_at_the_review_after_their_year() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    let tiers = format!("/programs/{p}/tiers");
    let member = app.enroll(json!({})).await;
    let m = id(&member);
    app.get(&app.a.read, &tiers).await.problem(404, "not_found");
    app.get(&app.a.read, &format!("/members/{m}/tier"))
        .await
        .problem(404, "not_found");

    let saved = app
        .send(
            app.api(Method::PUT, &tiers)
                .bearer_auth(&app.a.admin)
                .json(&plan()),
        )
        .await
        .ok(200);
    assert_eq!(
        saved,
        plan()
            .as_object()
            .map(|o| {
                let mut o = o.clone();
                o["levels"][0]["multiplier"] = json!(1.0);
                o["levels"][1]["multiplier"] = json!(1.5);
                o["levels"][2]["multiplier"] = json!(2.0);
                Value::Object(o)
            })
            .unwrap()
    );
    assert_eq!(app.get(&app.a.read, &tiers).await.ok(200), saved);

    let status = app
        .get(&app.a.read, &format!("/members/{m}/tier"))
        .await
        .ok(200);
    assert_eq!(status["tier"], "Silver");
    assert_eq!(
        status["next"],
        json!({"name": "Gold", "threshold": 100, "needed": 100})
    );

    // 60 points: still Silver, 40 more needed.
    let first = app.purchase(&m, "T-1", 6000).await;
    assert_eq!(first["tier"], json!({"name": "Silver", "upgraded": false}));
    let status = app
        .get(&app.a.read, &format!("/members/{m}/tier"))
        .await
        .ok(200);
    assert_eq!(
        (
            status["qualifying"].as_i64(),
            status["next"]["needed"].as_i64()
        ),
        (Some(60), Some(40))
    );

    // 50 more: Gold at once (this purchase still earns at the Silver rate).
    let second = app.purchase(&m, "T-2", 5000).await;
    assert_eq!(second["points_earned"], 50);
    assert_eq!(second["tier"], json!({"name": "Gold", "upgraded": true}));
    // From the next purchase Gold earns half again, and a Gold-only rule applies.
    app.post(
        &app.a.admin,
        &format!("/programs/{p}/rules"),
        &json!({"name": "Gold thanks", "trigger": "purchase", "effect": {"bonus": 7}, "audience": {"tiers": ["Gold"]}}),
    )
    .await
    .ok(201);
    let third = app.purchase(&m, "T-3", 1000).await;
    assert_eq!(third["points_earned"], 10 + 5 + 7);
    let status = app
        .get(&app.a.read, &format!("/members/{m}/tier"))
        .await
        .ok(200);
    assert_eq!(status["tier"], "Gold");
    assert_eq!(status["multiplier"], 1.5);
    assert_eq!(status["reached_at"], "2026-05-01T10:00:00Z");
    assert_eq!(
        status["review_at"], "2027-01-31T00:00:00Z",
        "the end of the year, plus 30 days"
    );
    assert_eq!(
        status["next"],
        json!({"name": "Platinum", "threshold": 500, "needed": 500 - 132})
    );

    // Nothing is due before the review date.
    app.clock
        .advance(jiff::SignedDuration::from_hours(24 * 200));
    assert_eq!(review(&app).await, json!({"reviewed": 0, "lowered": 0}));

    // The review in 2027 judges 2026: 132 points, Gold is kept until the end of 2027.
    app.clock.set("2027-02-01T00:00:00Z".parse().unwrap());
    assert_eq!(review(&app).await, json!({"reviewed": 1, "lowered": 0}));
    let status = app
        .get(&app.a.read, &format!("/members/{m}/tier"))
        .await
        .ok(200);
    assert_eq!(
        (status["tier"].as_str(), status["review_at"].as_str()),
        (Some("Gold"), Some("2028-01-31T00:00:00Z"))
    );
    assert_eq!(status["qualifying"], 0, "a new year counts from zero");

    // Nothing bought in 2027: back to Silver at the next review.
    app.clock.set("2028-02-01T00:00:00Z".parse().unwrap());
    assert_eq!(review(&app).await, json!({"reviewed": 1, "lowered": 1}));
    let status = app
        .get(&app.a.read, &format!("/members/{m}/tier"))
        .await
        .ok(200);
    assert_eq!(
        (status["tier"].as_str(), status["review_at"].clone()),
        (Some("Silver"), Value::Null)
    );

    let history = app
        .get(&app.a.read, &format!("/members/{m}/tier/history"))
        .await
        .ok(200);
    let steps: Vec<(String, String, String, i64)> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["reason"].as_str().unwrap().to_owned(),
                c["from_tier"].as_str().unwrap_or("-").to_owned(),
                c["to_tier"].as_str().unwrap_or("-").to_owned(),
                c["qualifying"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        vec![
            ("upgrade".into(), "Silver".into(), "Gold".into(), 110),
            ("kept".into(), "Gold".into(), "Gold".into(), 132),
            ("downgrade".into(), "Gold".into(), "Silver".into(), 0),
        ]
    );
    app.get(&app.b.admin, &format!("/members/{m}/tier"))
        .await
        .problem(404, "not_found");
    app.check_end_state().await;
}

#[tokio::test]
async fn a_bad_plan_is_refused_field_by_field() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    let before = app.snapshot().await;
    let bad = json!({"metric": "visits", "window": "calendar_year", "levels": [
        {"name": "Gold", "threshold": 100}, {"name": "Silver", "threshold": 50, "multiplier": 0.5}]});
    app.send(
        app.api(Method::PUT, &format!("/programs/{p}/tiers"))
            .bearer_auth(&app.a.admin)
            .json(&bad),
    )
    .await
    .invalid(&["/levels/1/multiplier", "/levels/1/threshold", "/metric"]);
    app.send(
        app.api(Method::PUT, &format!("/programs/{p}/tiers"))
            .bearer_auth(&app.a.write)
            .json(&plan()),
    )
    .await
    .problem(403, "forbidden");
    before.assert_same(&app.snapshot().await, "a refused plan");
}

#[tokio::test]
async fn a_reward_kept_for_a_tier_is_redeemed_only_by_its_members() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    let rewards = format!("/programs/{p}/rewards");
    // Before the program has tiers, a reward cannot be kept for one.
    app.post(
        &app.a.admin,
        &rewards,
        &json!({"name": "Lounge", "cost_points": 10, "tiers": ["Gold"]}),
    )
    .await
    .invalid(&["/tiers"]);
    app.send(
        app.api(Method::PUT, &format!("/programs/{p}/tiers"))
            .bearer_auth(&app.a.admin)
            .json(&plan()),
    )
    .await
    .ok(200);
    app.post(
        &app.a.admin,
        &rewards,
        &json!({"name": "Lounge", "cost_points": 10, "tiers": ["Gold", "Diamond"]}),
    )
    .await
    .invalid(&["/tiers/1"]);
    let lounge = app
        .create_reward(json!({"name": "Lounge", "cost_points": 10, "tiers": ["Gold", "Platinum"]}))
        .await;
    assert_eq!(lounge["tiers"], json!(["Gold", "Platinum"]));
    let m = id(&app.enroll(json!({})).await);
    app.purchase(&m, "T-1", 5000).await; // 50 points: Silver
    let redeem = json!({"member": {"id": m}, "reward_id": id(&lounge)});
    let refused = app
        .post(&app.a.write, &format!("/programs/{p}/redemptions"), &redeem)
        .await
        .problem(422, "reward_not_available");
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("for Gold and Platinum members only")
    );
    app.purchase(&m, "T-2", 6000).await; // 110 earned: Gold
    app.post(&app.a.write, &format!("/programs/{p}/redemptions"), &redeem)
        .await
        .ok(201);
    // A plan without Platinum would leave the reward partly for nobody: refused, naming it.
    let mut without_platinum = plan();
    without_platinum["levels"]
        .as_array_mut()
        .unwrap()
        .retain(|l| l["name"] != "Platinum");
    let refused = app
        .send(
            app.api(Method::PUT, &format!("/programs/{p}/tiers"))
                .bearer_auth(&app.a.admin)
                .json(&without_platinum),
        )
        .await
        .problem(422, "validation");
    assert_eq!(refused["errors"][0]["pointer"], "/levels");
    assert!(
        refused["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("`Lounge`")
    );
    // Opened to everyone again.
    let open = app
        .patch(
            &app.a.admin,
            &format!("/rewards/{}", id(&lounge)),
            &json!({"tiers": []}),
        )
        .await
        .ok(200);
    assert_eq!(open["tiers"], json!([]));
    app.check_end_state().await;
}

#[tokio::test]
async fn a_plan_on_money_spent_counts_the_purchase_that_reaches_it() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    app.send(
        app.api(Method::PUT, &format!("/programs/{p}/tiers"))
            .bearer_auth(&app.a.admin)
            .json(
                &json!({"metric": "money_spent", "window": "lifetime", "levels": [
                {"name": "Silver", "threshold": 0},
                {"name": "Gold", "threshold": 10000}]}),
            ),
    )
    .await
    .ok(200);
    let m = id(&app.enroll(json!({})).await);
    // 60.00 spent: below Gold's 100.00.
    let first = app.purchase(&m, "M-1", 6000).await;
    assert_eq!(first["tier"], json!({"name": "Silver", "upgraded": false}));
    // 110.00 with this purchase, whose row is not written yet when the tier is decided.
    let second = app.purchase(&m, "M-2", 5000).await;
    assert_eq!(second["tier"], json!({"name": "Gold", "upgraded": true}));
    app.check_end_state().await;
}
