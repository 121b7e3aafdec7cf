//! The console's Webhooks page over real HTTP: owners only; a refused endpoint named next to
//! its field, a new one with its secret shown once, a test event waiting, disabling (what
//! waited becomes a dead letter), enabling, and a dead letter replayed from the page.

use crate::common;

use common::{App, with_csrf};
use jiff::SignedDuration;
use tally_core::Command;
use tally_core::webhooks::WebhookCommand;
use tally_domain::ids::TenantId;
use tally_domain::operators::Role;

#[tokio::test]
async fn an_owner_adds_an_endpoint_and_replays_its_dead_letters() {
    let app = App::new().await;
    let hooks = format!("/console/{}/webhooks", app.a.program);
    let manager = app.operator(&app.a, "manager", Role::Manager).await;
    let mut m = app.signed_in(&manager).await;
    assert_eq!(m.get(&hooks).await.status, 403);

    let owner = app.operator(&app.a, "integrator", Role::Owner).await;
    let mut b = app.signed_in(&owner).await;
    let page = b.get(&hooks).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("No endpoints yet"), "{}", page.body);
    let refused = b
        .post(
            &hooks,
            &with_csrf(&page.csrf(), &[("url", "erp.example/hooks")]),
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains(r#"id="url-error""#),
        "{}",
        refused.body
    );
    let made = b
        .post(
            &hooks,
            &with_csrf(
                &page.csrf(),
                &[
                    ("url", "https://erp.example/hooks"),
                    ("description", "ERP"),
                    ("event-purchase.recorded", "on"),
                ],
            ),
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.body);
    assert!(
        made.body.contains(r#"id="shown-once">whsec_"#),
        "{}",
        made.body
    );
    let endpoints = app
        .tally
        .webhooks(&app.a.tenant, &app.a.program, None, None)
        .await
        .unwrap()
        .items;
    assert_eq!(endpoints.len(), 1);
    assert_eq!(
        endpoints[0]["event_types"],
        serde_json::json!(["purchase.recorded"])
    );
    let w = endpoints[0]["id"].as_str().unwrap().to_owned();

    // A test event waits; disabled, the endpoint's waiting delivery becomes a dead letter.
    let csrf = made.csrf();
    for action in ["test", "disable"] {
        let done = b
            .post(&format!("{hooks}/{w}/{action}"), &with_csrf(&csrf, &[]))
            .await;
        assert_eq!(done.status, 303, "{action}: {}", done.body);
    }
    let claim = Command::Webhooks(WebhookCommand::Claim {
        limit: 10,
        lease: SignedDuration::from_secs(60),
    });
    let system = TenantId::from_trusted("ten_system".into());
    let claimed = app
        .tally
        .write(&system, "deliverer", None, claim)
        .await
        .unwrap();
    assert_eq!(claimed["disabled"], 1);
    let page = b.get(&hooks).await;
    assert!(page.body.contains("disabled"), "{}", page.body);
    assert!(
        page.body.contains("the endpoint is disabled"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("Replay all dead letters"),
        "{}",
        page.body
    );

    let enabled = b
        .post(&format!("{hooks}/{w}/enable"), &with_csrf(&csrf, &[]))
        .await;
    assert_eq!(enabled.status, 303);
    let page = b.get(&hooks).await;
    let start = page
        .body
        .find("/webhook-deliveries/")
        .expect("a replay button")
        + 20;
    let d = &page.body[start..start + 30];
    let replayed = b
        .post(
            &format!("/console/{}/webhook-deliveries/{d}/replay", app.a.program),
            &with_csrf(&page.csrf(), &[]),
        )
        .await;
    assert_eq!(replayed.status, 303, "{}", replayed.body);
    let page = b.get(&hooks).await;
    assert!(page.body.contains("waiting"), "{}", page.body);
    assert!(
        !page.body.contains("Replay all dead letters"),
        "{}",
        page.body
    );
    // Replaying it again is refused on the page, not with an error page.
    let again = b
        .post(
            &format!("/console/{}/webhook-deliveries/{d}/replay", app.a.program),
            &with_csrf(&page.csrf(), &[]),
        )
        .await;
    assert_eq!(again.status, 422);
    assert!(
        again.body.contains(r#"id="general-error""#),
        "{}",
        again.body
    );

    // A new secret is shown once; another shop's owner cannot touch this endpoint.
    let rotated = b
        .post(&format!("{hooks}/{w}/rotate"), &with_csrf(&csrf, &[]))
        .await;
    assert!(
        rotated.body.contains(r#"id="shown-once">whsec_"#),
        "{}",
        rotated.body
    );
    let other = app.operator(&app.b, "other", Role::Owner).await;
    let mut o = app.signed_in(&other).await;
    let theirs = o.get(&format!("/console/{}/webhooks", app.b.program)).await;
    let stolen = o
        .post(
            &format!("/console/{}/webhooks/{w}/disable", app.b.program),
            &with_csrf(&theirs.csrf(), &[]),
        )
        .await;
    assert_eq!(stolen.status, 404);
}
