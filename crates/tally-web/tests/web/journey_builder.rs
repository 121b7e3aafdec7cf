//! The console's journey builder over real HTTP: a journey from a trigger and a list of steps,
//! a refusal shown next to the step it names, the journey then running for a new member, and
//! its report.

use crate::common;

use common::{App, with_csrf};
use serde_json::json;
use tally_domain::operators::Role;

#[tokio::test]
async fn a_manager_builds_a_journey_from_a_list_of_steps() {
    let app = App::new().await;
    let manager = app.operator(&app.a, "marketer", Role::Manager).await;
    let mut b = app.signed_in(&manager).await;
    let messages = format!("/console/{}/messages", app.a.program);
    let page = b.get(&messages).await;
    assert!(page.body.contains(r#"id="new-journey""#), "{}", page.body);

    // The second step names a tag that is not one: refused next to that row.
    let refused = b
        .post(
            &format!("{messages}/journeys"),
            &with_csrf(
                &page.csrf(),
                &[
                    ("journey_name", "Big spenders"),
                    ("trigger", "points_reached"),
                    ("trigger_value", "100"),
                    ("step_kind_0", "grant_points"),
                    ("step_value_0", "25"),
                    ("step_kind_2", "add_tag"),
                    ("step_value_2", "not a tag!"),
                ],
            ),
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains(r#"id="step_value_2-error""#),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains(r#"value="not a tag!""#),
        "the form keeps what was typed"
    );

    let made = b
        .post(
            &format!("{messages}/journeys"),
            &with_csrf(
                &page.csrf(),
                &[
                    ("journey_name", "Welcome gift"),
                    ("trigger", "enrolled"),
                    ("step_kind_0", "grant_points"),
                    ("step_value_0", "25"),
                    ("step_kind_1", "add_tag"),
                    ("step_value_1", "welcomed"),
                ],
            ),
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    let journeys = app
        .tally
        .journeys(&app.a.tenant, &app.a.program, None, None)
        .await
        .unwrap()
        .items;
    assert_eq!(journeys.len(), 1);
    assert_eq!(
        journeys[0]["steps"],
        json!([{"grant_points": {"points": 25, "reason": "Welcome gift"}}, {"add_tag": "welcomed"}])
    );
    let member = app.enrol(&app.a, json!({"name": "Nowa"})).await;
    app.tally.run_journeys().await.unwrap();
    let member = app.tally.member(&app.a.tenant, &member.id).await.unwrap();
    assert_eq!(member.tags, ["welcomed"]);
    assert_eq!(member.balance.available.value(), 25);

    // Its report: the delivery chart and the comparison with its (empty) holdout.
    let j = journeys[0]["id"].as_str().unwrap();
    let report = b.get(&format!("{messages}/journeys/{j}")).await;
    assert_eq!(report.status, 200);
    assert!(
        report.body.contains("<h1>Welcome gift</h1>"),
        "{}",
        report.body
    );
    assert!(
        report.body.contains("Joining"),
        "the trigger: {}",
        report.body
    );
    assert!(
        report.body.contains(r#"id="campaign-uplift""#),
        "{}",
        report.body
    );
    let page = b.get(&messages).await;
    assert!(
        page.body
            .contains(&format!(r#"/messages/journeys/{j}">Welcome gift</a>"#)),
        "{}",
        page.body
    );
    let other = app.operator(&app.b, "other", Role::Manager).await;
    let theirs = app
        .signed_in(&other)
        .await
        .get(&format!("/console/{}/messages/journeys/{j}", app.b.program))
        .await;
    assert_eq!(theirs.status, 404);
}
