//! Reward kinds and the fulfilment of physical rewards: an address when redeemed, requested →
//! shipped → delivered, cancelled on the way with the points back, and the queue of what to send.

use super::*;

const ADDRESS: &str = r#"{"name": "Ann Nowak", "line1": "ul. Długa 5", "postal_code": "00-238",
                          "city": "Warszawa", "country": "pl"}"#;

fn address() -> Value {
    serde_json::from_str(ADDRESS).unwrap()
}

async fn redeem(app: &TestApp, member: &str, reward: &str, address: Option<Value>) -> common::Resp {
    let mut body = json!({"member": {"id": member}, "reward_id": reward});
    if let Some(a) = address {
        body["delivery_address"] = a;
    }
    app.post(
        &app.a.write,
        &format!("/programs/{}/redemptions", app.a.program),
        &body,
    )
    .await
}

async fn step(app: &TestApp, redemption: &str, body: Value) -> common::Resp {
    app.post(
        &app.a.write,
        &format!("/redemptions/{redemption}/fulfilment"),
        &body,
    )
    .await
}

#[tokio::test]
async fn a_physical_reward_is_sent_to_the_address_given_and_tracked_to_the_door() {
    let app = TestApp::new().await;
    let tote = id(&app
        .create_reward(
            json!({"name": "Tote bag", "cost_points": 100, "kind": "physical", "stock": 5}),
        )
        .await);
    let mug = id(&app
        .create_reward(json!({"name": "Mug", "cost_points": 50}))
        .await);
    let ann = id(&app.enroll(json!({"name": "Ann"})).await);
    app.adjust(&ann, 500).await;

    let before = app.snapshot().await;
    redeem(&app, &ann, &tote, None)
        .await
        .invalid(&["/delivery_address"]);
    redeem(&app, &ann, &mug, Some(address()))
        .await
        .invalid(&["/delivery_address"]);
    redeem(
        &app,
        &ann,
        &tote,
        Some(json!({"name": "Ann", "country": "Poland"})),
    )
    .await
    .invalid(&[
        "/delivery_address/line1",
        "/delivery_address/postal_code",
        "/delivery_address/city",
        "/delivery_address/country",
    ]);
    app.snapshot()
        .await
        .assert_same(&before, "refused redemptions");

    let first = redeem(&app, &ann, &tote, Some(address())).await.ok(201);
    assert_eq!(first["fulfilment"]["status"], "requested");
    assert_eq!(first["fulfilment"]["address"]["country"], "PL");
    let second = redeem(&app, &ann, &tote, Some(address())).await.ok(201);
    let (first, second) = (id(&first), id(&second));
    let queue = format!("/programs/{}/fulfilment", app.a.program);
    let waiting = app.get(&app.a.read, &queue).await.ok(200);
    assert_eq!(waiting["items"].as_array().unwrap().len(), 2);

    let shipped = step(
        &app,
        &first,
        json!({"status": "shipped", "tracking": "PX123"}),
    )
    .await
    .ok(200);
    assert_eq!(shipped["fulfilment"]["status"], "shipped");
    assert_eq!(shipped["fulfilment"]["tracking"], "PX123");
    assert_eq!(shipped["status"], "issued");
    step(&app, &first, json!({"status": "shipped"}))
        .await
        .problem(409, "fulfilment_not_allowed");
    let delivered = step(&app, &first, json!({"status": "delivered"}))
        .await
        .ok(200);
    assert_eq!(delivered["status"], "consumed");
    assert_eq!(delivered["fulfilment"]["status"], "delivered");
    assert_eq!(delivered["fulfilment"]["tracking"], "PX123");
    step(&app, &first, json!({"status": "delivered"}))
        .await
        .problem(409, "fulfilment_not_allowed");
    app.post_empty(&app.a.write, &format!("/redemptions/{first}/cancel"))
        .await
        .problem(409, "redemption_not_cancellable");

    // The second is shipped, comes back, and is cancelled: the points return.
    step(&app, &second, json!({"status": "shipped"}))
        .await
        .ok(200);
    let balance = app.balance(&ann).await;
    app.post_empty(&app.a.write, &format!("/redemptions/{second}/cancel"))
        .await
        .ok(200);
    assert_eq!(app.balance(&ann).await, balance + 100);
    step(&app, &second, json!({"status": "delivered"}))
        .await
        .problem(409, "fulfilment_not_allowed");
    let waiting = app.get(&app.a.read, &queue).await.ok(200);
    let statuses: Vec<&Value> = waiting["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["fulfilment"]["status"])
        .collect();
    assert_eq!(statuses, [&json!("delivered")], "{waiting}");
    let only_requested = app
        .get(&app.a.read, &format!("{queue}?status=requested"))
        .await
        .ok(200);
    assert!(only_requested["items"].as_array().unwrap().is_empty());
    app.get(&app.a.read, &format!("{queue}?status=lost"))
        .await
        .bad_parameter("status");

    // A reward that is not sent has no fulfilment.
    let code = id(&redeem(&app, &ann, &mug, None).await.ok(201));
    step(&app, &code, json!({"status": "shipped"}))
        .await
        .problem(422, "fulfilment_not_allowed");
    step(&app, &code, json!({"status": "lost"}))
        .await
        .invalid(&["/status"]);
    app.check_end_state().await;
}

#[tokio::test]
async fn reward_kinds_are_kept_and_checked() {
    let app = TestApp::new().await;
    let rewards = format!("/programs/{}/rewards", app.a.program);
    app.post(
        &app.a.admin,
        &rewards,
        &json!({"name": "Free coffee", "cost_points": 30, "kind": "free_product"}),
    )
    .await
    .invalid(&["/sku"]);
    app.post(
        &app.a.admin,
        &rewards,
        &json!({"name": "x", "cost_points": 30, "kind": "digital", "sku": "latte"}),
    )
    .await
    .invalid(&["/sku"]);
    app.post(
        &app.a.admin,
        &rewards,
        &json!({"name": "x", "cost_points": 30, "kind": "gadget"}),
    )
    .await
    .invalid(&["/kind"]);
    let coffee = app
        .create_reward(
            json!({"name": "Free coffee", "cost_points": 30, "kind": "free_product", "sku": "latte"}),
        )
        .await;
    assert_eq!(
        (coffee["kind"].clone(), coffee["sku"].clone()),
        (json!("free_product"), json!("latte"))
    );
    let concert = app
        .create_reward(json!({"name": "Backstage at the summer concert", "cost_points": 900, "kind": "experience"}))
        .await;
    assert_eq!(concert["kind"], "experience");
    let plain = app
        .create_reward(json!({"name": "Sticker", "cost_points": 5}))
        .await;
    assert_eq!(plain["kind"], "digital");
    let shown = app
        .get(&app.a.read, &format!("/rewards/{}", id(&coffee)))
        .await
        .ok(200);
    assert_eq!(shown["sku"], "latte");
}
