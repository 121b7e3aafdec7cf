//! Offers over real HTTP: the console's form (a refusal next to its field, any deal), pause and
//! the report; the wallet's offers, activating one, and its state after the purchase that used it.

use crate::common;

use common::{App, app_with_mail, signed_in, with_csrf};
use serde_json::json;
use tally_domain::operators::Role;

#[tokio::test]
async fn an_owner_creates_offers_pauses_one_and_reads_its_report() {
    let app = App::new().await;
    let owner = app.operator(&app.a, "marketer", Role::Owner).await;
    let mut b = app.signed_in(&owner).await;
    let offers = format!("/console/{}/offers", app.a.program);
    let page = b.get(&offers).await;
    assert!(page.body.contains("No offers yet"), "{}", page.body);
    let refused = b
        .post(
            &offers,
            &with_csrf(
                &page.csrf(),
                &[
                    ("name", "Double points"),
                    ("benefit_kind", "multiplier"),
                    ("multiplier", "1"),
                    ("activation", "clip"),
                    ("visits", "1"),
                ],
            ),
        )
        .await;
    assert_eq!(refused.status, 422);
    for field in ["multiplier", "visits", "within_days"] {
        assert!(
            refused.body.contains(&format!(r#"id="{field}-error""#)),
            "{field}: {}",
            refused.body
        );
    }
    let created = b
        .post(
            &offers,
            &with_csrf(
                &page.csrf(),
                &[
                    ("name", "Coffee card"),
                    ("benefit_kind", "points"),
                    ("benefit_points", "150"),
                    ("activation", "automatic"),
                    ("categories", "coffee, tea"),
                    ("visits", "3"),
                    ("within_days", "30"),
                    ("min_total", "2.50"),
                    ("per_member", "4"),
                ],
            ),
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let page = b.get(&offers).await;
    let table = &page.body[page.body.find(r#"id="offers""#).unwrap()..];
    for text in [
        "Coffee card",
        "Loyalty deal",
        "+150 points",
        "on coffee, tea",
        "from $2.50",
        "every 3. purchase within 30 days",
    ] {
        assert!(table.contains(text), "{text}: {table}");
    }
    let listed = app
        .tally
        .offers(&app.a.tenant, &app.a.program, None, None)
        .await
        .unwrap();
    let offer = listed.items[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(listed.items[0]["limits"]["per_member"], 4);
    assert_eq!(listed.items[0]["qualify"]["min_total_minor"], 250);

    // Three coffees make a use; the report counts it.
    let member = app.enrol(&app.a, json!({"name": "Ann"})).await;
    for n in 1..=3 {
        let purchase = tally_domain::inputs::NewPurchase::parse(&json!({
            "order_id": format!("c-{n}"), "member": {"id": member.id},
            "total": {"amount_minor": 300, "currency": "USD"},
            "lines": [{"sku": "latte", "category": "coffee", "quantity": 1, "unit_price_minor": 300}],
        }))
        .unwrap();
        app.tally
            .write(
                &app.a.tenant,
                "till",
                None,
                tally_core::Command::RecordPurchase {
                    program: app.a.program.clone(),
                    purchase,
                },
            )
            .await
            .unwrap();
    }
    let report = b.get(&format!("{offers}/{offer}")).await;
    assert_eq!(report.status, 200);
    assert!(
        report.body.contains(r#"id="offer-uses">1<"#),
        "{}",
        report.body
    );
    assert!(report.body.contains("Took the offer"), "{}", report.body);
    // Pause, then end: no way back.
    let paused = b
        .post(
            &format!("{offers}/{offer}/status"),
            &with_csrf(&page.csrf(), &[("status", "paused")]),
        )
        .await;
    assert_eq!(paused.status, 303);
    let page = b.get(&offers).await;
    assert!(page.body.contains(">Resume<"), "{}", page.body);
    b.post(
        &format!("{offers}/{offer}/status"),
        &with_csrf(&page.csrf(), &[("status", "ended")]),
    )
    .await;
    let again = b
        .post(
            &format!("{offers}/{offer}/status"),
            &with_csrf(&page.csrf(), &[("status", "active")]),
        )
        .await;
    assert_eq!(again.status, 422);
    assert!(again.body.contains("cannot start again"), "{}", again.body);
    // Another shop's operator does not see it.
    let other = app.operator(&app.b, "someone", Role::Owner).await;
    let mut ob = app.signed_in(&other).await;
    let foreign = ob
        .get(&format!("/console/{}/offers/{offer}", app.b.program))
        .await;
    assert_eq!(foreign.status, 404);
}

#[tokio::test]
async fn a_member_activates_an_offer_in_the_wallet_and_sees_it_used() {
    let (app, sink) = app_with_mail().await;
    let member = app
        .enrol(&app.a, json!({"name": "Kasia", "email": common::EMAIL}))
        .await;
    let offer = app
        .tally
        .write(
            &app.a.tenant,
            "setup",
            None,
            tally_core::Command::CreateOffer {
                program: app.a.program.clone(),
                input: tally_domain::offers::OfferInput::parse(&json!({
                    "name": "Welcome bonus", "description": "On your next visit",
                    "benefit": {"points": 200}, "audience": {"members": [member.id]}}))
                .unwrap(),
            },
        )
        .await
        .unwrap();
    let mut b = signed_in(&app, &sink).await;
    let card = format!("/wallet/cards/{}", member.id);
    let page = b.get(&card).await;
    let section = &page.body[page.body.find(r#"id="offers""#).expect("offers")..];
    assert!(
        section.contains("Welcome bonus") && section.contains("+200 points"),
        "{section}"
    );
    let activate = format!("{card}/offers/{}/activate", offer["id"].as_str().unwrap());
    let activated = b.post(&activate, &[("csrf", &page.csrf())]).await;
    assert_eq!(activated.status, 200, "{}", activated.body);
    assert!(
        activated
            .body
            .contains("Activated: it applies at your next qualifying purchase."),
        "{}",
        activated.body
    );
    let purchase = tally_domain::inputs::NewPurchase::parse(&json!({
        "order_id": "w-1", "member": {"id": member.id},
        "total": {"amount_minor": 1000, "currency": "USD"}}))
    .unwrap();
    app.tally
        .write(
            &app.a.tenant,
            "till",
            None,
            tally_core::Command::RecordPurchase {
                program: app.a.program.clone(),
                purchase,
            },
        )
        .await
        .unwrap();
    assert_eq!(app.balance(&app.a, &member.id).await, 210);
    let page = b.get(&card).await;
    let section = &page.body[page.body.find(r#"id="offers""#).expect("offers")..];
    assert!(section.contains(">Used<"), "{section}");
    // Someone else's card cannot activate it.
    let other = app.enrol(&app.a, json!({"name": "Other"})).await;
    let foreign = b
        .post(
            &format!(
                "/wallet/cards/{}/offers/{}/activate",
                other.id,
                offer["id"].as_str().unwrap()
            ),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(foreign.status, 404);
}

#[tokio::test]
async fn friends_fill_a_group_through_the_share_link() {
    let (app, sink) = app_with_mail().await;
    let kasia = app
        .enrol(&app.a, json!({"name": "Kasia", "email": common::EMAIL}))
        .await;
    app.enrol(&app.a, json!({"name": "Olek", "email": "olek@example.com"}))
        .await;
    app.tally
        .write(
            &app.a.tenant,
            "setup",
            None,
            tally_core::Command::CreateOffer {
                program: app.a.program.clone(),
                input: tally_domain::offers::OfferInput::parse(&json!({
                    "name": "Bring a friend", "benefit": {"points": 50},
                    "group": {"size": 2, "within_hours": 48}}))
                .unwrap(),
            },
        )
        .await
        .unwrap();
    let mut b = signed_in(&app, &sink).await;
    let card = format!("/wallet/cards/{}", kasia.id);
    let page = b.get(&card).await;
    let offer = page
        .body
        .split("/offers/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_owned();
    let started = b
        .post(
            &format!("{card}/offers/{offer}/group"),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(started.status, 200, "{}", started.body);
    assert!(started.body.contains("1 of 2 joined"), "{}", started.body);
    let link = started
        .body
        .split(r#"class="share-link" readonly value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let path = &link[link.find("/wallet/deals/").unwrap()..];

    // Olek opens the link in his own wallet and joins.
    let mut olek = app.browser();
    let (form, code) = common::request_code(&mut olek, &sink, "olek@example.com").await;
    olek.post(
        "/wallet/sign-in/code",
        &[
            ("csrf", &form.csrf()),
            ("email", "olek@example.com"),
            ("code", &code),
        ],
    )
    .await;
    let deal = olek.get(path).await;
    assert!(
        deal.body.contains("Bring a friend") && deal.body.contains("1 of 2 joined"),
        "{}",
        deal.body
    );
    let joined = olek.post(path, &[("csrf", &deal.csrf())]).await;
    assert_eq!(joined.status, 200, "{}", joined.body);
    assert!(joined.body.contains("The group is full"), "{}", joined.body);
    let page = b.get(&card).await;
    let section = &page.body[page.body.find(r#"id="offers""#).expect("offers")..];
    assert!(
        section.contains("Activated: it applies at your next qualifying purchase."),
        "{section}"
    );
}
