//! Campaigns through the API: a draft checked field by field, launched once, cancelled once,
//! bound to its tenant, and its report. Delivery and the uplift are tested end to end against a
//! real SMTP server in `tally-delivery`.

use super::*;

#[tokio::test]
async fn a_campaign_is_checked_launched_reported_and_cancelled() {
    let app = TestApp::new().await;
    let template = app
        .post(
            &app.a.admin,
            &format!("/programs/{}/templates", app.a.program),
            &json!({"name": "News", "subject": "News", "text": "Hello {{ member.first_name }}"}),
        )
        .await
        .ok(201);
    let t = id(&template);
    let campaigns = format!("/programs/{}/campaigns", app.a.program);

    let before = app.snapshot().await;
    app.post(
        &app.a.admin,
        &campaigns,
        &json!({"template": t, "holdout_percent": 60, "best_hour_within_hours": 500, "segment": "nope", "conversion_days": 0}),
    )
    .await
    .invalid(&["/name", "/holdout_percent", "/best_hour_within_hours", "/conversion_days"]);
    app.post(
        &app.a.admin,
        &campaigns,
        &json!({"name": "x", "template": t, "segment": "nope"}),
    )
    .await
    .invalid(&["/segment"]);
    app.post(
        &app.a.write,
        &campaigns,
        &json!({"name": "x", "template": t}),
    )
    .await
    .problem(403, "forbidden");
    // Tenant B can neither see A's program nor use A's template.
    app.post(
        &app.b.admin,
        &campaigns,
        &json!({"name": "x", "template": t}),
    )
    .await
    .problem(404, "not_found");
    app.post(
        &app.b.admin,
        &format!("/programs/{}/campaigns", app.b.program),
        &json!({"name": "x", "template": t}),
    )
    .await
    .invalid(&["/template"]);
    app.snapshot()
        .await
        .assert_same(&before, "refused campaigns");

    let draft = app
        .post(
            &app.a.admin,
            &campaigns,
            &json!({"name": "Spring", "template": t, "holdout_percent": 10}),
        )
        .await
        .ok(201);
    assert_eq!(draft["status"], "draft");
    assert_eq!(draft["conversion_days"], 7);
    let k = id(&draft);
    let report = app
        .get(&app.a.read, &format!("/campaigns/{k}/report"))
        .await
        .ok(200);
    assert_eq!(report["conversion"], Value::Null, "not launched");
    assert_eq!(report["delivery"]["sent"], 0);
    app.get(&app.b.admin, &format!("/campaigns/{k}"))
        .await
        .problem(404, "not_found");
    app.post_empty(&app.b.admin, &format!("/campaigns/{k}/launch"))
        .await
        .problem(404, "not_found");

    let launched = app
        .post_empty(&app.a.admin, &format!("/campaigns/{k}/launch"))
        .await
        .ok(200);
    assert_eq!(launched["status"], "scheduled");
    assert_eq!(launched["send_at"], launched["launched_at"]);
    app.post_empty(&app.a.admin, &format!("/campaigns/{k}/launch"))
        .await
        .problem(422, "campaign_not_draft");
    let listed = app.get(&app.a.read, &campaigns).await.ok(200);
    assert_eq!(listed["items"][0]["id"], k.as_str());

    let cancelled = app
        .post_empty(&app.a.admin, &format!("/campaigns/{k}/cancel"))
        .await
        .ok(200);
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["messages_stopped"], 0);
    app.post_empty(&app.a.admin, &format!("/campaigns/{k}/cancel"))
        .await
        .problem(422, "campaign_not_cancellable");
    // Cancelled before its fan-out: nobody gets anything.
    app.tally.run_campaigns().await.unwrap();
    let report = app
        .get(&app.a.read, &format!("/campaigns/{k}/report"))
        .await
        .ok(200);
    assert_eq!(report["campaign"]["queued"], 0);
}
