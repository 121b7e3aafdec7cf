//! Whose cards a wallet holds: members are joined to one person by their email, never by a
//! phone alone, so a shared or mistyped number puts nobody else's card in a wallet.

use crate::common;

use common::{EMAIL, app_with_mail, request_code};
use serde_json::json;

#[tokio::test]
async fn a_shared_phone_puts_nobody_elses_card_in_a_wallet() {
    let (app, sink) = app_with_mail().await;
    let phone = "+48600100200";
    let kasia = app
        .enrol(
            &app.a,
            json!({"name": "Kasia", "email": EMAIL, "phone": phone}),
        )
        .await;
    // Her brother, with the family's phone and an email of his own; her father, with only the
    // phone; and Kasia again, at the other shop, with only her email.
    let brother_email = "piotr@example.com";
    let brother = app
        .enrol(
            &app.b,
            json!({"name": "Piotr", "email": brother_email, "phone": phone}),
        )
        .await;
    let father = app
        .enrol(&app.b, json!({"name": "Jan", "phone": phone}))
        .await;
    let kasia_b = app
        .enrol(&app.b, json!({"name": "Kasia N.", "email": EMAIL}))
        .await;
    assert_eq!(kasia.person_id, kasia_b.person_id, "one email, one person");
    assert_ne!(brother.person_id, kasia.person_id);
    assert_ne!(father.person_id, kasia.person_id);
    assert_ne!(father.person_id, brother.person_id);

    let sign_in = |email: &'static str| {
        let (app, sink) = (&app, &sink);
        async move {
            let mut b = app.browser();
            let (page, code) = request_code(&mut b, sink, email).await;
            let ok = b
                .post(
                    "/wallet/sign-in/code",
                    &[("csrf", &page.csrf()), ("email", email), ("code", &code)],
                )
                .await;
            assert_eq!(ok.status, 303, "{email} signs in");
            b
        }
    };
    let mut wallet = sign_in(EMAIL).await;
    let cards = wallet.get("/wallet").await;
    assert!(cards.body.contains(kasia.id.as_str()) && cards.body.contains(kasia_b.id.as_str()));
    for other in [&brother, &father] {
        assert!(!cards.body.contains(other.id.as_str()));
        let page = wallet.get(&format!("/wallet/cards/{}", other.id)).await;
        assert_eq!(page.status, 404, "not her card");
    }
    // The brother has a wallet of his own, with his card only.
    let mut his = sign_in(brother_email).await;
    let cards = his.get("/wallet").await;
    assert!(cards.body.contains(brother.id.as_str()));
    assert!(!cards.body.contains(kasia.id.as_str()) && !cards.body.contains(father.id.as_str()));
}
