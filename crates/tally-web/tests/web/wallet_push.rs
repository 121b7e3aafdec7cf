//! Push notifications in the wallet over real HTTP: the card page offers them once the server
//! has its VAPID key; this browser's subscription is kept with push consent (source `wallet`);
//! a subscription that is not one is refused on the page.

use crate::common;

use common::{EMAIL, app_with_mail, signed_in};
use serde_json::json;
use tally_core::Command;
use tally_core::push::{PushCommand, VAPID_KEY};
use tally_domain::ids::TenantId;
use tally_domain::messaging::consents;
use tally_domain::model::Channel;

const P256DH: &str =
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";

#[tokio::test]
async fn a_member_turns_push_notifications_on_for_this_browser() {
    let (app, sink) = app_with_mail().await;
    let member = app
        .enrol(&app.a, json!({"name": "Kasia", "email": EMAIL}))
        .await;
    let mut b = signed_in(&app, &sink).await;
    let card = format!("/wallet/cards/{}", member.id);
    let page = b.get(&card).await;
    assert!(
        !page.body.contains(r#"id="push-form""#),
        "no key yet: {}",
        page.body
    );

    let keep = Command::Push(PushCommand::KeepServerKey {
        name: VAPID_KEY.into(),
        value: "private.BPUBLICKEY".into(),
    });
    let system = TenantId::from_trusted("ten_system".into());
    app.tally.write(&system, "test", None, keep).await.unwrap();
    let page = b.get(&card).await;
    assert!(
        page.body.contains(r#"data-key="BPUBLICKEY""#),
        "{}",
        page.body
    );
    assert!(!page.body.contains(r#"id="push-status""#));

    let refused = b
        .post(
            &format!("{card}/push"),
            &[
                ("csrf", &page.csrf()),
                ("endpoint", "ftp://x"),
                ("p256dh", "x"),
                ("auth", "y"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    let on = b
        .post(
            &format!("{card}/push"),
            &[
                ("csrf", &page.csrf()),
                ("endpoint", "https://fcm.googleapis.com/fcm/send/kasia"),
                ("p256dh", P256DH),
                ("auth", "BTBZMqHH6r4Tts7J_aSIgg"),
            ],
        )
        .await;
    assert_eq!(on.status, 200, "{}", on.body);
    assert!(
        on.body.contains("Notifications are on for this device."),
        "{}",
        on.body
    );
    assert!(on.body.contains(r#"id="push-status""#), "{}", on.body);
    let subscriptions = app
        .tally
        .push_subscriptions(&app.a.tenant, &member.id)
        .await
        .unwrap();
    assert_eq!(
        subscriptions["items"][0]["endpoint"],
        "https://fcm.googleapis.com/fcm/send/kasia"
    );
    let member = app.tally.member(&app.a.tenant, &member.id).await.unwrap();
    assert!(consents(&member, Channel::Push));
    let consent = member
        .consents
        .iter()
        .find(|c| c.channel == Channel::Push)
        .unwrap();
    assert_eq!(consent.source, "wallet");
    // Without the session's CSRF token nothing happens.
    let forged = b
        .post(
            &format!("{card}/push"),
            &[("csrf", "0"), ("endpoint", "https://x/y")],
        )
        .await;
    assert_eq!(forged.status, 403);
}
