//! Messages through the API: the program's messaging settings, a message to one member (its
//! checks, its dedupe key, its tenant), the member's messages and inbox. Delivery itself is
//! tested against a real SMTP server in `tally-delivery`.

use super::*;

async fn template(app: &TestApp) -> String {
    let created = app
        .post(
            &app.a.admin,
            &format!("/programs/{}/templates", app.a.program),
            &json!({"name": "Hello", "subject": "Hello {{ member.first_name }}", "text": "You have {{ points.balance }}."}),
        )
        .await
        .ok(201);
    id(&created)
}

#[tokio::test]
async fn messaging_settings_default_are_replaced_and_bad_ones_named() {
    let app = TestApp::new().await;
    let path = format!("/programs/{}/messaging", app.a.program);
    let defaults = app.get(&app.a.read, &path).await.ok(200);
    assert_eq!(
        defaults["quiet_hours"],
        json!({"start": "21:00", "end": "08:00"})
    );
    assert_eq!(
        defaults["weekly_caps"],
        json!({"email": 3, "sms": 2, "push": 5})
    );
    assert_eq!(
        defaults["fallback"],
        json!(["email", "push", "sms", "in_app"])
    );
    assert_eq!(defaults["tracking"], true);

    let before = app.snapshot().await;
    let put = |key: String, body: Value| {
        let app = &app;
        let path = path.clone();
        async move {
            app.send(app.api(Method::PUT, &path).bearer_auth(key).json(&body))
                .await
        }
    };
    put(
        app.a.admin.clone(),
        json!({"quiet_hours": {"start": "9pm", "end": "08:00"}, "weekly_caps": {"email": 5000}, "fallback": ["pigeon"]}),
    )
    .await
    .invalid(&["/quiet_hours/start", "/weekly_caps/email", "/fallback"]);
    put(app.a.write.clone(), json!({"tracking": false}))
        .await
        .problem(403, "forbidden");
    app.snapshot()
        .await
        .assert_same(&before, "refused settings");

    let saved = put(
        app.a.admin.clone(),
        json!({"quiet_hours": null, "weekly_caps": {"sms": 1}, "fallback": ["sms", "email"], "tracking": false}),
    )
    .await
    .ok(200);
    assert_eq!(app.get(&app.a.read, &path).await.ok(200), saved);
    assert_eq!(saved["quiet_hours"], Value::Null);
    assert_eq!(saved["weekly_caps"], json!({"sms": 1}));
    // Another tenant's program is not found.
    app.get(&app.b.admin, &path).await.problem(404, "not_found");
}

#[tokio::test]
async fn a_message_is_queued_checked_once_per_dedupe_key_and_tenant_bound() {
    let app = TestApp::new().await;
    let t = template(&app).await;
    let ann = id(&app
        .enroll(json!({"name": "Ann", "email": "ann@example.com"}))
        .await);
    let messages = format!("/members/{ann}/messages");
    let bob = app
        .post(
            &app.b.admin,
            &format!("/programs/{}/members", app.b.program),
            &json!({"name": "Bob"}),
        )
        .await
        .ok(201);

    let before = app.snapshot().await;
    app.post(
        &app.a.write,
        &messages,
        &json!({"template": "tpl_nope", "channel": "fax", "send_at": "tomorrow", "colour": 1}),
    )
    .await
    .invalid(&["/template", "/channel", "/send_at", "/colour"]);
    app.post(&app.a.read, &messages, &json!({"template": t}))
        .await
        .problem(403, "forbidden");
    // Tenant B cannot message tenant A's member, nor use A's template for its own member.
    app.post(&app.b.admin, &messages, &json!({"template": t}))
        .await
        .problem(404, "not_found");
    app.post(
        &app.b.admin,
        &format!("/members/{}/messages", id(&bob)),
        &json!({"template": t}),
    )
    .await
    .invalid(&["/template"]);
    app.snapshot()
        .await
        .assert_same(&before, "refused messages");

    let queued = app
        .post(
            &app.a.write,
            &messages,
            &json!({"template": t, "channel": "email", "dedupe_key": "welcome-1", "send_at": "2030-01-01T09:00:00Z"}),
        )
        .await
        .ok(201);
    assert_eq!(queued["status"], "queued");
    assert_eq!(queued["channel"], "email");
    assert_eq!(queued["source"], "api");
    assert_eq!(queued["due_at"], "2030-01-01T09:00:00Z");
    assert_eq!(queued["subject"], Value::Null, "filled in when sent");
    app.post(
        &app.a.write,
        &messages,
        &json!({"template": t, "dedupe_key": "welcome-1"}),
    )
    .await
    .problem(409, "message_exists");

    let m = id(&queued);
    assert_eq!(
        app.get(&app.a.read, &format!("/messages/{m}"))
            .await
            .ok(200),
        queued
    );
    app.get(&app.b.admin, &format!("/messages/{m}"))
        .await
        .problem(404, "not_found");
    let listed = app.get(&app.a.read, &messages).await.ok(200);
    assert_eq!(listed["items"], json!([queued]));
    let inbox = app
        .get(&app.a.read, &format!("/members/{ann}/inbox"))
        .await
        .ok(200);
    assert_eq!(inbox["items"], json!([]));
    // Only an in-app message can be read in the inbox.
    app.post_empty(&app.a.write, &format!("/members/{ann}/inbox/{m}/read"))
        .await
        .problem(404, "not_found");
}
