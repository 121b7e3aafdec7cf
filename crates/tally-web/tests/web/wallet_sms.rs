//! Wallet sign-in by phone: the code goes out as a text message through an SMS gateway (a real
//! HTTP server on loopback), and signing in with it marks the phone verified.

use crate::common;

use common::{PHONE, app_with_sms};
use serde_json::json;

#[tokio::test]
async fn a_member_with_only_a_phone_signs_in_with_a_texted_code() {
    let (app, gateway) = app_with_sms().await;
    let a = app
        .enrol(&app.a, json!({"name": "Ola", "phone": PHONE}))
        .await;
    let b_card = app
        .enrol(&app.b, json!({"name": "Ola K.", "phone": PHONE}))
        .await;
    assert!(!a.phone_verified && !a.email_verified);
    let mut b = app.browser();
    let form = b.get("/wallet/sign-in").await;
    let csrf = form.csrf();

    // Not an email and not a number in international form: said next to the field, no text.
    let refused = b
        .post(
            "/wallet/sign-in",
            &[("csrf", &csrf), ("email", "600 100 200")],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains(r#"id="email-error""#));
    assert!(refused.body.contains("international form"));
    // A number nobody has: the same page as for a known one, and no text goes out.
    let unknown = b
        .post(
            "/wallet/sign-in",
            &[("csrf", &csrf), ("email", "+48700100200")],
        )
        .await;
    assert_eq!(unknown.status, 200);
    assert!(unknown.body.contains(r#"id="code-sent""#));
    assert!(gateway.texts().is_empty());

    // Written the way people write numbers: the code goes to the number in E.164 form.
    let sent = b
        .post(
            "/wallet/sign-in",
            &[("csrf", &csrf), ("email", "+48 600-100-200")],
        )
        .await;
    assert_eq!(sent.status, 200);
    let texts = gateway.texts();
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert_eq!(
        (texts[0]["to"].as_str(), texts[0]["from"].as_str()),
        (Some(PHONE), Some("Tally"))
    );
    // The text starts with the code, for phones that offer to fill it in.
    let code = texts[0]["text"].as_str().unwrap()[..6].to_owned();
    assert!(code.bytes().all(|b| b.is_ascii_digit()), "{texts:?}");

    let ok = b
        .post(
            "/wallet/sign-in/code",
            &[("csrf", &csrf), ("email", PHONE), ("code", &code)],
        )
        .await;
    assert_eq!((ok.status, ok.location.as_str()), (303, "/wallet"));
    let cards = b.get("/wallet").await;
    assert!(cards.body.contains(a.id.as_str()) && cards.body.contains(b_card.id.as_str()));

    // The phone is verified on both merchants' cards; the email was never proved.
    for (shop, id) in [(&app.a, &a.id), (&app.b, &b_card.id)] {
        let member = app.tally.member(&shop.tenant, id).await.unwrap();
        assert!(member.phone_verified && !member.email_verified);
    }
    // The console's member page says so next to the number.
    let mut console = app.signed_in(&app.a.owner).await;
    let page = console
        .get(&format!("/console/{}/members/{}", app.a.program, a.id))
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(r#"id="phone-verified""#));
    assert!(!page.body.contains(r#"id="email-verified""#));
}
