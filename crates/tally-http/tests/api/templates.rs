//! Message templates: saved with their placeholders checked, replaced, and filled in for one
//! member (the preview shows what that member would read).

use super::*;

#[tokio::test]
async fn a_template_is_checked_saved_and_filled_in_for_a_member() {
    let app = TestApp::new().await;
    let templates = format!("/programs/{}/templates", app.a.program);
    let before = app.snapshot().await;
    app.post(
        &app.a.admin,
        &templates,
        &json!({"name": "Balance", "subject": "Hi {{ membr.name }}", "text": "{{ points.balance"}),
    )
    .await
    .invalid(&["/subject", "/text"]);
    app.post(
        &app.a.write,
        &templates,
        &json!({"name": "x", "subject": "s", "text": "t"}),
    )
    .await
    .problem(403, "forbidden");
    app.snapshot()
        .await
        .assert_same(&before, "refused templates");

    let created = app
        .post(
            &app.a.admin,
            &templates,
            &json!({
                "name": "Your points",
                "subject": "{{ member.first_name }}, you have {{ points.balance }}",
                "html": "<p>Dear {{ member.name }},</p><p>{{ points.expiring }}</p>",
                "text": "Dear {{ member.name }}, card {{ member.card_number }} at {{ program.name }}. Cashback: {{ cashback.balance }}.",
            }),
        )
        .await
        .ok(201);
    let t = id(&created);
    assert!(t.starts_with("tpl_"));
    let ann = app.enroll(json!({"name": "Ann <b>Nowak</b>"})).await;
    let card = ann["card"]["number"].as_str().unwrap().to_owned();
    let ann = id(&ann);
    app.adjust(&ann, 1250).await;
    let preview = app
        .get(&app.a.read, &format!("/templates/{t}/preview?member={ann}"))
        .await
        .ok(200);
    assert_eq!(preview["subject"], "Ann, you have 1250 points");
    assert_eq!(
        preview["html"], "<p>Dear Ann &lt;b&gt;Nowak&lt;/b&gt;,</p><p></p>",
        "values are escaped in HTML; nothing expires"
    );
    let text = preview["text"].as_str().unwrap();
    assert!(text.contains(&card), "{text}");
    assert!(text.contains("Cashback: 0.00 USD."), "{text}");

    // Replaced: the preview follows.
    app.send(
        app.api(Method::PUT, &format!("/templates/{t}"))
            .bearer_auth(&app.a.admin)
            .json(&json!({"name": "Short", "subject": "{{ points.balance }}", "text": "—"})),
    )
    .await
    .ok(200);
    let preview = app
        .get(&app.a.read, &format!("/templates/{t}/preview?member={ann}"))
        .await
        .ok(200);
    assert_eq!(preview["subject"], "1250 points");
    assert_eq!(preview["html"], Value::Null);
    let listed = app.get(&app.a.read, &templates).await.ok(200);
    assert_eq!(listed["items"][0]["name"], "Short");

    app.get(&app.a.read, &format!("/templates/{t}/preview"))
        .await
        .bad_parameter("member");
    app.get(&app.b.admin, &format!("/templates/{t}"))
        .await
        .problem(404, "not_found");
    app.check_end_state().await;
}
