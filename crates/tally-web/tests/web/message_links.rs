//! The links in a message, which work without signing in: the unsubscribe page (a GET only
//! asks; the button or a mail client's one-click POST unsubscribes), the open pixel, and
//! tracked links that go only where the message itself points.

use crate::common;

use common::*;
use serde_json::json;
use tally_core::Command;
use tally_core::messages::ClaimRequest;
use tally_domain::messaging::MessageRequest;
use tally_domain::model::Channel;
use tally_domain::templates::TemplateInput;

/// A message to a member with email consent, claimed as a deliverer would: its tracked HTML
/// and its unsubscribe link, made with the app's public URL.
async fn claimed_message(app: &App) -> (tally_domain::ids::MemberId, String, String) {
    let member = app
        .enrol(
            &app.a,
            json!({"name": "Kasia", "email": "kasia@example.com", "consents": {"email": true}}),
        )
        .await;
    let input = TemplateInput::parse(&json!({
        "name": "News",
        "subject": "News for {{ member.first_name }}",
        "html": "<p><a href=\"https://shop-a.example/new\">New in</a> · <a href=\"{{ unsubscribe_url }}\">Unsubscribe</a></p>",
        "text": "New in: https://shop-a.example/new",
    }))
    .unwrap();
    let template = app
        .tally
        .write(
            &app.a.tenant,
            "test",
            None,
            Command::CreateTemplate {
                program: app.a.program.clone(),
                input,
            },
        )
        .await
        .unwrap();
    let request = MessageRequest::parse(&json!({"template": template["id"]})).unwrap();
    app.tally
        .write(
            &app.a.tenant,
            "test",
            None,
            Command::QueueMessage {
                member: member.id.clone(),
                request,
            },
        )
        .await
        .unwrap();
    let claim = Command::ClaimMessages(ClaimRequest {
        usable: vec![Channel::Email],
        limit: 10,
        lease: jiff::SignedDuration::from_secs(60),
        public_url: app.base.clone(),
    });
    let system = tally_domain::ids::TenantId::from_trusted("ten_system".into());
    let answer = app.tally.write(&system, "test", None, claim).await.unwrap();
    let message = &answer["messages"][0];
    (
        member.id,
        message["html"].as_str().unwrap().to_owned(),
        message["unsubscribe_url"].as_str().unwrap().to_owned(),
    )
}

async fn email_consent(app: &App, member: &tally_domain::ids::MemberId) -> (bool, String) {
    let m = app.tally.member(&app.a.tenant, member).await.unwrap();
    let c = m
        .consents
        .iter()
        .find(|c| c.channel == Channel::Email)
        .unwrap();
    (c.granted, c.source.clone())
}

#[tokio::test]
async fn the_unsubscribe_link_asks_and_one_click_unsubscribes() {
    let app = App::new().await;
    let (member, html, unsubscribe) = claimed_message(&app).await;
    assert!(html.contains(&format!("href=\"{unsubscribe}\"")), "{html}");
    let path = unsubscribe.strip_prefix(&app.base).unwrap().to_owned();

    let mut b = app.browser();
    let page = b.get(&path).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Stop the emails from"), "{}", page.body);
    assert!(page.body.contains("shop-a club"), "{}", page.body);
    assert!(
        email_consent(&app, &member).await.0,
        "a GET changes nothing"
    );

    // What Gmail or Apple Mail send (RFC 8058): no cookie, no CSRF token.
    let page = b.post(&path, &[("List-Unsubscribe", "One-Click")]).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(r#"id="unsubscribed""#), "{}", page.body);
    assert_eq!(
        email_consent(&app, &member).await,
        (false, "unsubscribe link".to_owned())
    );
    // Twice is harmless; an unknown link is not found.
    assert_eq!(b.post(&path, &[]).await.status, 200);
    assert_eq!(b.get("/unsubscribe/nope").await.status, 404);
    assert_eq!(b.post("/unsubscribe/nope", &[]).await.status, 404);
}

#[tokio::test]
async fn opens_and_clicks_are_recorded_and_links_go_only_where_the_message_points() {
    let app = App::new().await;
    let (member, html, _) = claimed_message(&app).await;
    let start = html.find("/m/").unwrap();
    let token = html[start + 3..].split('/').next().unwrap().to_owned();

    let mut b = app.browser();
    let pixel = b.get(&format!("/m/{token}/open.gif")).await;
    assert_eq!(pixel.status, 200);
    let nowhere = b
        .get(&format!(
            "/m/{token}/click?to=https%3A%2F%2Fevil.example%2F"
        ))
        .await;
    assert_eq!(nowhere.status, 404, "not a link of the message");
    let click = b
        .get(&format!(
            "/m/{token}/click?to=https%3A%2F%2Fshop-a.example%2Fnew"
        ))
        .await;
    assert_eq!(click.status, 303);
    assert_eq!(click.location, "https://shop-a.example/new");
    // An unknown token still gets the pixel, and learns nothing.
    assert_eq!(b.get("/m/nope/open.gif").await.status, 200);

    let page = app
        .tally
        .member_messages(&app.a.tenant, &member, None, None)
        .await
        .unwrap();
    let m = &page.items[0];
    assert!(m["opened_at"].is_string(), "{m}");
    assert!(m["clicked_at"].is_string(), "{m}");
    assert_eq!(m["unsubscribed_at"], serde_json::Value::Null);
}
