//! The console's messaging settings over real HTTP: managers only; the saved settings (the
//! defaults at first) fill the form; quiet hours, caps, the fallback order and tracking are
//! saved; a refusal is shown next to its field and nothing changes.

use crate::common;

use common::{App, with_csrf};
use serde_json::json;
use tally_domain::operators::Role;

#[tokio::test]
async fn a_manager_sets_quiet_hours_caps_and_the_fallback_order() {
    let app = App::new().await;
    let settings = format!("/console/{}/messages/settings", app.a.program);
    let cashier = app.operator(&app.a, "till", Role::Cashier).await;
    assert_eq!(
        app.signed_in(&cashier).await.get(&settings).await.status,
        403
    );
    let manager = app.operator(&app.a, "marketer", Role::Manager).await;
    let mut b = app.signed_in(&manager).await;
    let page = b.get(&settings).await;
    assert_eq!(page.status, 200);
    // The defaults: quiet from 21:00 to 08:00, 3 emails a week, email first.
    assert!(
        page.body
            .contains(r#"name="quiet_start" type="time" value="21:00""#),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(r#"name="cap_email" type="number" value="3""#),
        "{}",
        page.body
    );

    let refused = b
        .post(
            &settings,
            &with_csrf(
                &page.csrf(),
                &[
                    ("quiet_start", "25:00"),
                    ("quiet_end", "07:00"),
                    ("cap_sms", "-1"),
                    ("fallback_0", "email"),
                    ("fallback_1", "email"),
                ],
            ),
        )
        .await;
    assert_eq!(refused.status, 422);
    for field in ["quiet_start-error", "cap_sms-error", "fallback-error"] {
        assert!(
            refused.body.contains(&format!(r#"id="{field}""#)),
            "{field}: {}",
            refused.body
        );
    }
    let p = app.a.program.clone();
    let before = app
        .tally
        .messaging_settings(&app.a.tenant, &p)
        .await
        .unwrap();
    assert_eq!(before["quiet_hours"]["start"], "21:00", "nothing changed");

    let saved = b
        .post(
            &settings,
            &with_csrf(
                &page.csrf(),
                &[
                    ("quiet_start", "22:00"),
                    ("quiet_end", "07:30"),
                    ("cap_email", "2"),
                    ("fallback_0", "push"),
                    ("fallback_1", "in_app"),
                ],
            ),
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let now = app
        .tally
        .messaging_settings(&app.a.tenant, &p)
        .await
        .unwrap();
    assert_eq!(
        now,
        json!({"quiet_hours": {"start": "22:00", "end": "07:30"}, "weekly_caps": {"email": 2},
               "fallback": ["push", "in_app"], "tracking": false})
    );
    let page = b.get(&settings).await;
    assert!(
        page.body.contains(r#"value="push" selected"#),
        "{}",
        page.body
    );
    let off = b
        .post(
            &settings,
            &with_csrf(&page.csrf(), &[("no_quiet_hours", "1"), ("tracking", "1")]),
        )
        .await;
    assert_eq!(off.status, 303);
    let now = app
        .tally
        .messaging_settings(&app.a.tenant, &p)
        .await
        .unwrap();
    assert_eq!(
        (now["quiet_hours"].clone(), now["tracking"].clone()),
        (json!(null), json!(true))
    );
}
