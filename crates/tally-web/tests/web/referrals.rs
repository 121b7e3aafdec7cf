//! The referral policy in the console over real HTTP: refusals next to their fields, a saved
//! policy, and the counts of the program's referrals.

use crate::common;

use common::{App, with_csrf};
use tally_domain::operators::Role;

#[tokio::test]
async fn a_manager_sets_the_referral_policy_and_sees_how_referrals_stand() {
    let app = App::new().await;
    let manager = app.operator(&app.a, "manager", Role::Manager).await;
    let mut b = app.signed_in(&manager).await;
    let path = format!("/console/{}/referrals", app.a.program);
    let page = b.get(&path).await;
    assert_eq!(page.status, 200);
    let csrf = page.csrf();
    let refused = b
        .post(
            &path,
            &with_csrf(
                &csrf,
                &[
                    ("referrer_points", "0"),
                    ("referred_points", "0"),
                    ("min_purchase", ""),
                    ("qualify_within_days", "-3"),
                    ("max_per_referrer", ""),
                ],
            ),
        )
        .await;
    assert_eq!(refused.status, 422);
    for field in ["referrer_points", "qualify_within_days"] {
        assert!(
            refused.body.contains(&format!(r#"id="{field}-error""#)),
            "{field}"
        );
    }
    let saved = b
        .post(
            &path,
            &with_csrf(
                &csrf,
                &[
                    ("referrer_points", "200"),
                    ("referred_points", "100"),
                    ("min_purchase", "20.00"),
                    ("qualify_within_days", "60"),
                    ("max_per_referrer", ""),
                ],
            ),
        )
        .await;
    assert_eq!(saved.status, 303);
    let policy = app
        .tally
        .referral_policy(&app.a.tenant, &app.a.program)
        .await
        .unwrap();
    assert_eq!(
        policy,
        serde_json::json!({"referrer_points": 200, "referred_points": 100,
            "min_purchase_minor": 2000, "qualify_within_days": 60, "max_per_referrer": null})
    );

    // A referral shows in the counts.
    let ann = app.enrol(&app.a, serde_json::json!({"name": "Ann"})).await;
    let code = app
        .tally
        .member_referrals(&app.a.tenant, &ann.id)
        .await
        .unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned();
    app.enrol(
        &app.a,
        serde_json::json!({"name": "Bob", "referral_code": code}),
    )
    .await;
    let page = b.get(&path).await;
    assert!(
        page.body.contains(r#"value="200""#),
        "the saved policy in the form"
    );
    assert!(page.body.contains("joined, no purchase yet"));
}
