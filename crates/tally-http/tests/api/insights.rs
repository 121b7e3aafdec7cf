//! Customer insights: a run on demand over a year of purchases, the program's models and
//! distribution, each member's numbers with the explanation, members by stage, the weekly churn
//! change, returns left out, and one run at a time.

use super::*;
use tally_core::Command;
use tally_domain::Clock;
use tally_domain::ids::ProgramId;

/// A year of purchases before the test clock: 30 customers buying at random (10 to 40 USD), `regular` every
/// two weeks, `faded` weekly until four months ago, and `newbie` with no purchase.
async fn shop(app: &TestApp) -> (String, String, String) {
    let p = app.a.program.clone();
    let now = app.clock.now();
    let mut seed = 7u64;
    let mut uniform = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let mut order = 0;
    let mut buy = async |member: &str, days_ago: i64, amount: i64, sku: &str, category: &str| {
        order += 1;
        let at = now - jiff::SignedDuration::from_hours(24 * days_ago);
        let body = json!({
            "order_id": format!("o-{order}"),
            "member": {"id": member},
            "total": {"amount_minor": amount, "currency": "USD"},
            "lines": [{"sku": sku, "category": category, "quantity": 1, "unit_price_minor": amount}],
            "occurred_at": at.to_string(),
        });
        app.post(&app.a.write, &format!("/programs/{p}/purchases"), &body)
            .await
            .ok(201);
    };
    for c in 0..30 {
        let m = id(&app.enroll(json!({"name": format!("Customer {c}")})).await);
        let mean_gap = 10.0 + 100.0 * uniform();
        let mut days_ago = 40 + (uniform() * 320.0) as i64;
        let (sku, category) = if c % 2 == 0 {
            ("lp-1", "vinyl")
        } else {
            ("cd-1", "cd")
        };
        while days_ago >= 0 {
            let amount = 1000 + (uniform() * 3000.0) as i64;
            buy(&m, days_ago, amount, sku, category).await;
            if uniform() < 0.2 {
                break;
            }
            days_ago -= 1 + (-mean_gap * uniform().ln()) as i64;
        }
    }
    let regular = id(&app.enroll(json!({"name": "Regular Reader"})).await);
    for k in 0..26 {
        buy(&regular, 3 + 14 * k, 2000, "cd-1", "cd").await;
    }
    let faded = id(&app.enroll(json!({"name": "Faded Fan"})).await);
    for k in 0..30 {
        buy(&faded, 120 + 7 * k, 2500, "lp-1", "vinyl").await;
    }
    let newbie = id(&app.enroll(json!({"name": "New Member"})).await);
    (regular, faded, newbie)
}

#[tokio::test]
async fn a_run_describes_every_member_and_explains_their_stage() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    let (regular, faded, newbie) = shop(&app).await;
    let summary_path = format!("/programs/{p}/insights");
    let run_path = format!("/programs/{p}/insights/run");
    let member_path = |m: &str| format!("/members/{m}/insights");

    app.get(&app.a.read, &summary_path)
        .await
        .problem(404, "not_found");
    app.get(&app.a.read, &member_path(&regular))
        .await
        .problem(404, "not_found");
    app.post_empty(&app.a.write, &run_path)
        .await
        .problem(403, "forbidden");

    let summary = app.post_empty(&app.a.admin, &run_path).await.ok(200);
    assert_eq!(summary["members"], 33);
    assert_eq!(summary["customers"], 32);
    assert_eq!(summary["no_purchase"], 1);
    assert_eq!(summary["currency"], "USD");
    let staged: u64 = summary["lifecycle"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(staged, 32);
    let bgnbd = &summary["models"]["bgnbd"];
    assert!(bgnbd["parameters"]["r"].as_f64().unwrap() > 0.0, "{bgnbd}");
    assert_eq!(bgnbd["customers"], 32);
    assert!(summary["models"]["gamma_gamma"]["parameters"]["q"].is_number());
    assert!(summary["vip"].as_u64().unwrap() >= 3);
    let stored = app.get(&app.a.read, &summary_path).await.ok(200);
    assert_eq!(stored["computed_at"], summary["computed_at"]);
    assert_eq!(stored["lifecycle"], summary["lifecycle"]);

    let r = app.get(&app.a.read, &member_path(&regular)).await.ok(200);
    assert_eq!(r["lifecycle"], "active", "{r}");
    assert_eq!(r["purchases"]["count"], 26);
    assert_eq!(r["purchases"]["spend_minor"], 52_000);
    assert_eq!(r["purchases"]["days_since_last"], 3);
    assert_eq!(r["purchases"]["usual_interval_days"], 14.0);
    assert!(
        r["explanation"]
            .as_str()
            .unwrap()
            .starts_with("bought 26 times, usually every 2 weeks, last 3 days ago"),
        "{r}"
    );
    let p_alive = r["p_alive"].as_f64().unwrap();
    assert!(p_alive > 0.8, "{r}");
    let churn = r["churn_risk"].as_f64().unwrap();
    assert!((p_alive + churn - 1.0).abs() < 0.002);
    assert_eq!(
        r["churn_risk_change_7d"],
        Value::Null,
        "no reading a week old yet"
    );
    assert!(r["expected_purchases_90d"].as_f64().unwrap() > 2.0);
    assert!(r["clv_12m_minor"].as_i64().unwrap() > 10_000);
    assert_eq!(r["vip"], true);
    assert_eq!(r["rfm"]["segment"], "champions");
    assert_eq!(r["favourite_categories"], json!(["cd"]));
    // cd-1 is bought again and again (a repeat item, so it stays); nobody bought lp-1 with it,
    // so lp-1 comes from popularity.
    assert_eq!(r["next_products"], json!(["cd-1", "lp-1"]), "{r}");
    assert_eq!(r["currency"], "USD");

    let f = app.get(&app.a.read, &member_path(&faded)).await.ok(200);
    assert_eq!(f["lifecycle"], "lost", "{f}");
    assert!(f["explanation"].as_str().unwrap().ends_with("→ lost"));
    let n = app.get(&app.a.read, &member_path(&newbie)).await.ok(200);
    assert_eq!(n["lifecycle"], Value::Null);
    assert_eq!(n["explanation"], "no purchase yet");
    assert_eq!(n["purchases"], Value::Null);

    // Members by stage, the most valuable first, with their names.
    let lost = app
        .get(
            &app.a.read,
            &format!("/programs/{p}/insights/members?stage=lost&limit=200"),
        )
        .await
        .ok(200);
    let items = lost["items"].as_array().unwrap();
    assert!(
        items
            .iter()
            .any(|i| i["member_id"] == faded.as_str() && i["name"] == "Faded Fan")
    );
    let values: Vec<i64> = items
        .iter()
        .map(|i| i["insights"]["clv_12m_minor"].as_i64().unwrap_or(-1))
        .collect();
    assert!(values.windows(2).all(|w| w[0] >= w[1]), "{values:?}");
    app.get(
        &app.a.read,
        &format!("/programs/{p}/insights/members?stage=gone"),
    )
    .await
    .bad_parameter("stage");
    app.get(
        &app.a.read,
        &format!("/programs/{p}/insights/members?sort=clv"),
    )
    .await
    .bad_parameter("sort");
    // Another tenant sees none of it.
    app.get(&app.b.admin, &summary_path)
        .await
        .problem(404, "not_found");
    app.get(&app.b.admin, &member_path(&regular))
        .await
        .problem(404, "not_found");
    app.check_end_state().await;
}

#[tokio::test]
async fn returns_are_left_out_and_a_week_later_the_churn_change_shows() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    let (regular, _, _) = shop(&app).await;
    let run_path = format!("/programs/{p}/insights/run");
    app.post_empty(&app.a.admin, &run_path).await.ok(200);
    let before = app
        .get(&app.a.read, &format!("/members/{regular}/insights"))
        .await
        .ok(200);

    // One of the regular's orders comes back in full: it no longer counts.
    let last_order = app
        .get(
            &app.a.read,
            &format!("/members/{regular}/purchases?limit=1"),
        )
        .await
        .ok(200)["items"][0]["order_id"]
        .as_str()
        .unwrap()
        .to_string();
    app.post(
        &app.a.write,
        &format!("/programs/{p}/returns"),
        &json!({"order_id": last_order, "amount_minor": 2000}),
    )
    .await
    .ok(201);
    app.clock.advance(jiff::SignedDuration::from_hours(24 * 7));
    let tenant = app.a.id.clone();
    let program = ProgramId::parse(&p).unwrap();
    assert!(app.tally.insights_due(&tenant, &program).await.unwrap());
    app.post_empty(&app.a.admin, &run_path).await.ok(200);
    assert!(!app.tally.insights_due(&tenant, &program).await.unwrap());
    let after = app
        .get(&app.a.read, &format!("/members/{regular}/insights"))
        .await
        .ok(200);
    assert_eq!(after["purchases"]["count"], 25);
    assert_eq!(after["purchases"]["spend_minor"], 50_000);
    let change = after["churn_risk_change_7d"].as_f64().expect("a change");
    let expected = after["churn_risk"].as_f64().unwrap() - before["churn_risk"].as_f64().unwrap();
    assert!((change - expected).abs() < 0.002, "{change} vs {expected}");
    assert!(
        change > 0.0,
        "a regular silent for longer is more likely gone"
    );
    app.check_end_state().await;
}

#[tokio::test]
async fn one_run_at_a_time() {
    let app = TestApp::new().await;
    let p = app.a.program.clone();
    let program = ProgramId::parse(&p).unwrap();
    let claim = || Command::ClaimInsightsRun {
        program: program.clone(),
        lease: tally_core::insights::LEASE,
    };
    let held = app
        .tally
        .write(&app.a.id, "test", None, claim())
        .await
        .unwrap();
    assert_eq!(held["claimed"], true);
    let again = app
        .tally
        .write(&app.a.id, "test", None, claim())
        .await
        .unwrap();
    assert_eq!(again["claimed"], false);
    let run_path = format!("/programs/{p}/insights/run");
    app.post_empty(&app.a.admin, &run_path)
        .await
        .problem(409, "insights_running");
    // A lease runs out: a node that died mid-run does not hold the program for ever.
    app.clock.advance(tally_core::insights::LEASE);
    let summary = app.post_empty(&app.a.admin, &run_path).await.ok(200);
    // An empty program still gets a summary: the models say why they could not be fitted.
    assert_eq!(summary["customers"], 0);
    assert!(summary["models"]["bgnbd"]["error"].is_string(), "{summary}");

    // With an Idempotency-Key, a repeat gets the first run's answer instead of running again.
    let with_key = |key: &'static str| {
        app.send(
            app.api(reqwest::Method::POST, &run_path)
                .bearer_auth(&app.a.admin)
                .header("Idempotency-Key", key),
        )
    };
    let first = with_key("nightly-1").await.ok(200);
    app.clock.advance(jiff::SignedDuration::from_secs(60));
    let repeat = with_key("nightly-1").await.ok(200);
    assert_eq!(repeat, first);
    let other = with_key("nightly-2").await.ok(200);
    assert_ne!(other["computed_at"], first["computed_at"]);
    app.check_end_state().await;
}
