//! The console's Messages page over real HTTP: a playbook switched on in one click, a template
//! made and previewed for a member, a campaign made (a refusal named next to its field),
//! launched, and its report; a journey paused.

use crate::common;

use common::{App, with_csrf};
use serde_json::json;
use tally_domain::operators::Role;

#[tokio::test]
async fn an_owner_runs_messaging_from_the_console() {
    let app = App::new().await;
    let owner = app.operator(&app.a, "marketer", Role::Owner).await;
    let mut b = app.signed_in(&owner).await;
    let messages = format!("/console/{}/messages", app.a.program);
    let page = b.get(&messages).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Welcome series"), "{}", page.body);
    assert!(page.body.contains("No journeys yet"), "{}", page.body);

    // One click: the welcome playbook's journey and templates.
    let on = b
        .post(
            &format!("{messages}/playbooks/welcome_series"),
            &with_csrf(&page.csrf(), &[]),
        )
        .await;
    assert_eq!(on.status, 303, "{}", on.body);
    let page = b.get(&messages).await;
    assert!(page.body.contains(r#"id="journeys""#), "{}", page.body);
    assert!(page.body.contains("Joining"), "{}", page.body);

    // A template with an unknown placeholder is refused next to its field; a good one is made.
    let refused = b
        .post(
            &format!("{messages}/templates"),
            &with_csrf(
                &page.csrf(),
                &[
                    ("template_name", "News"),
                    ("subject", "Hi {{ membr.name }}"),
                    ("text", "Hello"),
                ],
            ),
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains(r#"id="subject-error""#),
        "{}",
        refused.body
    );
    let made = b
        .post(
            &format!("{messages}/templates"),
            &with_csrf(
                &page.csrf(),
                &[
                    ("template_name", "Spring news"),
                    ("subject", "{{ member.first_name }}, spring is here"),
                    ("text", "You have {{ points.balance }}."),
                ],
            ),
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    let templates = app
        .tally
        .templates(&app.a.tenant, &app.a.program, None, None)
        .await
        .unwrap()
        .items;
    let spring = templates
        .iter()
        .find(|t| t["name"] == "Spring news")
        .unwrap();
    let t = spring["id"].as_str().unwrap().to_owned();

    // The preview for a member found by card number.
    let kasia = app
        .enrol(&app.a, json!({"name": "Kasia Nowak", "email": "kasia@example.com", "consents": {"email": true}}))
        .await;
    let preview = b
        .get(&format!(
            "{messages}/templates/{t}?member={}",
            kasia.card.number
        ))
        .await;
    assert_eq!(preview.status, 200);
    assert!(
        preview.body.contains("Kasia, spring is here"),
        "{}",
        preview.body
    );
    let unknown = b
        .get(&format!("{messages}/templates/{t}?member=nobody"))
        .await;
    assert!(
        unknown.body.contains("No member of this program"),
        "{}",
        unknown.body
    );

    // A campaign: a bad holdout is named; then made, launched, and reported on.
    let page = b.get(&messages).await;
    let refused = b
        .post(
            &format!("{messages}/campaigns"),
            &with_csrf(
                &page.csrf(),
                &[
                    ("campaign_name", "Spring"),
                    ("template", &t),
                    ("holdout", "90"),
                ],
            ),
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("holdout"), "{}", refused.body);
    let made = b
        .post(
            &format!("{messages}/campaigns"),
            &with_csrf(
                &page.csrf(),
                &[
                    ("campaign_name", "Spring"),
                    ("template", &t),
                    ("holdout", "10"),
                ],
            ),
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    let campaigns = app
        .tally
        .campaigns(&app.a.tenant, &app.a.program, None, None)
        .await
        .unwrap()
        .items;
    let k = campaigns[0]["id"].as_str().unwrap().to_owned();
    let launched = b
        .post(
            &format!("{messages}/campaigns/{k}/launch"),
            &with_csrf(&page.csrf(), &[]),
        )
        .await;
    assert_eq!(launched.status, 303, "{}", launched.body);
    app.tally.run_campaigns().await.unwrap();
    let report = b.get(&format!("{messages}/campaigns/{k}")).await;
    assert_eq!(report.status, 200);
    assert!(
        report.body.contains(r#"id="campaign-delivery""#),
        "{}",
        report.body
    );
    assert!(
        report.body.contains(r#"<svg class="chart""#),
        "{}",
        report.body
    );
    assert!(
        report.body.contains(r#"id="campaign-uplift""#),
        "{}",
        report.body
    );

    // Pause the journey.
    let journeys = app
        .tally
        .journeys(&app.a.tenant, &app.a.program, None, None)
        .await
        .unwrap()
        .items;
    let j = journeys[0]["id"].as_str().unwrap().to_owned();
    let paused = b
        .post(
            &format!("{messages}/journeys/{j}/status"),
            &with_csrf(&page.csrf(), &[("status", "paused")]),
        )
        .await;
    assert_eq!(paused.status, 303);
    let page = b.get(&messages).await;
    assert!(page.body.contains("Paused"), "{}", page.body);

    // A cashier does not see it; another shop's owner cannot reach this program.
    let mut cashier = app.signed_in(&app.a.cashier).await;
    assert_eq!(cashier.get(&messages).await.status, 403);
    let mut other = app.signed_in(&app.b.owner).await;
    assert_eq!(
        other.get(&format!("{messages}/campaigns/{k}")).await.status,
        404
    );
}

#[tokio::test]
async fn a_template_is_edited_in_the_console_and_a_wrong_placeholder_refused() {
    let app = App::new().await;
    let owner = app.operator(&app.a, "editor", Role::Owner).await;
    let mut b = app.signed_in(&owner).await;
    let messages = format!("/console/{}/messages", app.a.program);
    let page = b.get(&messages).await;
    let made = b
        .post(
            &format!("{messages}/templates"),
            &with_csrf(
                &page.csrf(),
                &[
                    ("template_name", "News"),
                    ("subject", "News"),
                    ("text", "Hello"),
                ],
            ),
        )
        .await;
    assert_eq!(made.status, 303);
    let t = app
        .tally
        .templates(&app.a.tenant, &app.a.program, None, None)
        .await
        .unwrap()
        .items[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = format!("{messages}/templates/{t}");
    let page = b.get(&url).await;
    assert!(
        page.body
            .contains(r#"id="subject" name="subject" type="text" value="News""#),
        "{}",
        page.body
    );
    let refused = b
        .post(
            &url,
            &with_csrf(
                &page.csrf(),
                &[
                    ("template_name", "News"),
                    ("subject", "Hi {{ membr.name }}"),
                    ("text", "Hello"),
                ],
            ),
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains(r#"id="subject-error""#),
        "{}",
        refused.body
    );
    let saved = b
        .post(
            &url,
            &with_csrf(
                &page.csrf(),
                &[
                    ("template_name", "News"),
                    ("subject", "{{ member.first_name }}, news"),
                    ("text", "You have {{ points.balance }}."),
                ],
            ),
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let member = app.enrol(&app.a, json!({"name": "Ola Kot"})).await;
    let page = b.get(&format!("{url}?saved=1&member={}", member.id)).await;
    assert!(page.body.contains(r#"id="notice""#), "{}", page.body);
    assert!(
        page.body
            .contains(r#"<strong id="preview-subject">Ola, news</strong>"#),
        "{}",
        page.body
    );
}
