//! Charities in the console over real HTTP: a new cause (a refusal next to its field), the
//! totals after members gave, a payout (never more than owed), archive.

use crate::common;

use common::{App, with_csrf};
use serde_json::json;
use tally_domain::operators::Role;

#[tokio::test]
async fn an_owner_adds_a_cause_sees_the_gifts_and_records_a_payout() {
    let app = App::new().await;
    let owner = app.operator(&app.a, "treasurer", Role::Owner).await;
    let mut b = app.signed_in(&owner).await;
    let charities = format!("/console/{}/charities", app.a.program);
    let page = b.get(&charities).await;
    assert!(page.body.contains("No causes yet"), "{}", page.body);
    let refused = b
        .post(&charities, &with_csrf(&page.csrf(), &[("name", " ")]))
        .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains(r#"id="name-error""#),
        "{}",
        refused.body
    );
    let created = b
        .post(
            &charities,
            &with_csrf(
                &page.csrf(),
                &[("name", "School meals"), ("description", "Warm lunches")],
            ),
        )
        .await;
    assert_eq!(created.status, 303);

    // A member gives 250 points (worth $2.50 at the default point value).
    let member = app.enrol(&app.a, json!({"name": "Ann"})).await;
    let run = |command| app.tally.write(&app.a.tenant, "test", None, command);
    app.give_points(&app.a, &member.id, 300).await;
    let listed = app
        .tally
        .charities(&app.a.tenant, &app.a.program, None, None)
        .await
        .unwrap();
    let charity = listed.items[0]["id"].as_str().unwrap().to_owned();
    run(tally_core::Command::Donate {
        member: member.id.clone(),
        request: tally_domain::charities::DonationRequest::parse(
            &json!({"charity_id": charity, "points": 250}),
        )
        .unwrap(),
    })
    .await
    .unwrap();
    let page = b.get(&charities).await;
    assert!(page.body.contains("$2.50"), "{}", page.body);
    let settle = format!("{charities}/{charity}/settlements");
    let too_much = b
        .post(
            &settle,
            &with_csrf(
                &page.csrf(),
                &[
                    ("amount", "3.00"),
                    ("reference", "TRF-1"),
                    ("settled_on", "2026-05-01"),
                ],
            ),
        )
        .await;
    assert_eq!(too_much.status, 422);
    assert!(
        too_much.body.contains("more than the program owes"),
        "{}",
        too_much.body
    );
    let paid = b
        .post(
            &settle,
            &with_csrf(
                &page.csrf(),
                &[
                    ("amount", "2.00"),
                    ("reference", "TRF-1"),
                    ("settled_on", "2026-05-01"),
                ],
            ),
        )
        .await;
    assert_eq!(paid.status, 303, "{}", paid.body);
    let page = b.get(&charities).await;
    let row = &page.body[page.body.find(r#"id="charities""#).unwrap()..];
    assert!(
        row.contains("$2.00") && row.contains("$0.50"),
        "paid and owed: {row}"
    );
    let archived = b
        .post(
            &format!("{charities}/{charity}/status"),
            &with_csrf(&page.csrf(), &[("status", "archived")]),
        )
        .await;
    assert_eq!(archived.status, 303);
    assert!(b.get(&charities).await.body.contains(">Resume<"));
}
