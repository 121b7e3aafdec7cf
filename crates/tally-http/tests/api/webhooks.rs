//! Webhooks through the API: an endpoint checked field by field, admins only, bound to its
//! tenant; its secret shown to admins; a test event, its deliveries listed by status, and a
//! replay refused for a delivery that is not dead. Signing, retries, dead letters and replays
//! are tested end to end against a real HTTP endpoint in `tally-delivery`.

use super::*;

#[tokio::test]
async fn an_endpoint_is_checked_bound_to_its_tenant_and_lists_its_deliveries() {
    let app = TestApp::new().await;
    let webhooks = format!("/programs/{}/webhooks", app.a.program);

    let before = app.snapshot().await;
    app.post(
        &app.a.admin,
        &webhooks,
        &json!({"url": "ftp://erp.example", "event_types": ["order.paid"], "secret": "x"}),
    )
    .await
    .invalid(&["/url", "/event_types", "/secret"]);
    let hook = json!({"url": "https://erp.example/hooks", "event_types": ["purchase.recorded"]});
    app.post(&app.a.write, &webhooks, &hook)
        .await
        .problem(403, "forbidden");
    app.post(&app.b.admin, &webhooks, &hook)
        .await
        .problem(404, "not_found");
    app.snapshot()
        .await
        .assert_same(&before, "refused endpoints");

    let created = app.post(&app.a.admin, &webhooks, &hook).await.ok(201);
    let w = id(&created);
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(created["status"], "active");
    let shown = app
        .get(&app.a.read, &format!("/webhooks/{w}"))
        .await
        .ok(200);
    assert!(
        shown.get("secret").is_none(),
        "never shown in reads: {shown}"
    );
    assert_eq!(
        shown["deliveries"],
        json!({"pending": 0, "delivered": 0, "dead": 0})
    );
    app.get(&app.a.read, &format!("/webhooks/{w}/secret"))
        .await
        .problem(403, "forbidden");
    let secret = app
        .get(&app.a.admin, &format!("/webhooks/{w}/secret"))
        .await
        .ok(200);
    assert_eq!(secret["secret"], created["secret"]);
    app.get(&app.b.admin, &format!("/webhooks/{w}"))
        .await
        .problem(404, "not_found");
    app.patch(&app.a.admin, &format!("/webhooks/{w}"), &json!({}))
        .await
        .invalid(&[""]);
    app.patch(
        &app.a.admin,
        &format!("/webhooks/{w}"),
        &json!({"status": "paused"}),
    )
    .await
    .invalid(&["/status"]);

    // A purchase is published to it in the purchase's transaction; so is a test event.
    let member = app.enroll(json!({"name": "Ada"})).await;
    app.purchase(&id(&member), "W-1", 1000).await;
    let test = app
        .post_empty(&app.a.admin, &format!("/webhooks/{w}/test"))
        .await
        .ok(201);
    assert_eq!(test["event_type"], "webhook.test");
    let pending = app
        .get(
            &app.a.read,
            &format!("/webhooks/{w}/deliveries?status=pending"),
        )
        .await
        .ok(200);
    let types: Vec<&str> = pending["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["webhook.test", "purchase.recorded"]);
    assert_eq!(pending["items"][1]["payload"]["data"]["order_id"], "W-1");
    app.get(
        &app.a.read,
        &format!("/webhooks/{w}/deliveries?status=lost"),
    )
    .await
    .bad_parameter("status");
    let d = id(&test);
    app.post_empty(&app.a.admin, &format!("/webhook-deliveries/{d}/replay"))
        .await
        .problem(409, "delivery_not_dead");
    app.get(&app.b.admin, &format!("/webhook-deliveries/{d}"))
        .await
        .problem(404, "not_found");
    let off = app
        .patch(
            &app.a.admin,
            &format!("/webhooks/{w}"),
            &json!({"status": "disabled"}),
        )
        .await
        .ok(200);
    assert_eq!(off["status"], "disabled");
    app.check_end_state().await;
}
