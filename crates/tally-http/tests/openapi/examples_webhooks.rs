//! The document's examples for webhooks and push subscriptions, run against the server as part
//! of the tour in `examples.rs` (after a program `p` and a member `m` exist). This server runs
//! no deliverer, so a test event stays pending.

use super::examples::{example_id, reads_match, response_schema, run};
use super::*;

/// Posts without a body and checks the answer against the documented schema.
async fn post_empty(
    server: &Server,
    spec: &Value,
    operation_id: &str,
    url: &str,
    status: u16,
) -> Value {
    let answer = server.send("POST", url, Some("admin"), None).await;
    let value = answer.json();
    assert_eq!(answer.status, status, "{operation_id} answered {value:#}");
    assert_matches(
        spec,
        &response_schema(spec, operation_id, status),
        &value,
        &format!("the answer of {operation_id}"),
    );
    value
}

/// A browser's push subscription added, listed and removed.
pub(super) async fn push(server: &Server, spec: &Value, ids: &BTreeMap<String, String>, m: &str) {
    let added = run(
        server,
        spec,
        ids,
        ("addPushSubscription", None),
        (
            "POST",
            &format!("/api/v1/members/{m}/push-subscriptions"),
            "write",
            201,
        ),
    )
    .await;
    let s = added["id"].as_str().unwrap().to_owned();
    reads_match(
        server,
        spec,
        [(
            "listPushSubscriptions",
            format!("/api/v1/members/{m}/push-subscriptions"),
        )],
    )
    .await;
    let removed = post_empty(
        server,
        spec,
        "removePushSubscription",
        &format!("/api/v1/members/{m}/push-subscriptions/{s}/remove"),
        200,
    )
    .await;
    assert!(removed["gone_at"].is_string(), "{removed}");
}

/// An endpoint created, changed, tested and its secret read and rotated; its deliveries read
/// and replayed.
pub(super) async fn webhooks(
    server: &Server,
    spec: &Value,
    ids: &mut BTreeMap<String, String>,
    p: &str,
) {
    let created = run(
        server,
        spec,
        ids,
        ("createWebhook", None),
        (
            "POST",
            &format!("/api/v1/programs/{p}/webhooks"),
            "admin",
            201,
        ),
    )
    .await;
    let w = created["id"].as_str().unwrap().to_owned();
    ids.insert(example_id(spec, "WebhookId"), w.clone());
    let tested = post_empty(
        server,
        spec,
        "testWebhook",
        &format!("/api/v1/webhooks/{w}/test"),
        201,
    )
    .await;
    let d = tested["id"].as_str().unwrap().to_owned();
    let secret = server
        .send(
            "GET",
            &format!("/api/v1/webhooks/{w}/secret"),
            Some("admin"),
            None,
        )
        .await;
    assert_eq!(secret.status, 200);
    assert_eq!(secret.json()["secret"], created["secret"]);
    assert_matches(
        spec,
        &response_schema(spec, "getWebhookSecret", 200),
        &secret.json(),
        "getWebhookSecret",
    );
    let rotated = post_empty(
        server,
        spec,
        "rotateWebhookSecret",
        &format!("/api/v1/webhooks/{w}/secret/rotate"),
        200,
    )
    .await;
    assert_ne!(rotated["secret"], created["secret"]);
    reads_match(
        server,
        spec,
        [
            ("listWebhooks", format!("/api/v1/programs/{p}/webhooks")),
            ("getWebhook", format!("/api/v1/webhooks/{w}")),
            (
                "listWebhookDeliveries",
                format!("/api/v1/webhooks/{w}/deliveries?status=pending"),
            ),
            (
                "getWebhookDelivery",
                format!("/api/v1/webhook-deliveries/{d}"),
            ),
        ],
    )
    .await;
    let refused = server
        .send(
            "POST",
            &format!("/api/v1/webhook-deliveries/{d}/replay"),
            Some("admin"),
            None,
        )
        .await;
    assert_eq!(
        (refused.status, refused.json()["code"].as_str()),
        (409, Some("delivery_not_dead"))
    );
    let replayed = post_empty(
        server,
        spec,
        "replayDeadWebhookDeliveries",
        &format!("/api/v1/webhooks/{w}/deliveries/replay"),
        200,
    )
    .await;
    assert_eq!(replayed["replayed"], 0);
    run(
        server,
        spec,
        ids,
        ("updateWebhook", None),
        ("PATCH", &format!("/api/v1/webhooks/{w}"), "admin", 200),
    )
    .await;
}
