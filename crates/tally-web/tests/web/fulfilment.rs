//! Physical rewards over real HTTP: a member redeems one in the wallet with a delivery address
//! (refused without one), the console lists it to send, marks it shipped with a tracking number,
//! and the wallet shows it on its way; and why a reward cannot be had.

use crate::common;

use common::{app_with_mail, signed_in, with_csrf};
use serde_json::json;
use tally_domain::operators::Role;

#[tokio::test]
async fn a_physical_reward_goes_from_the_wallet_to_the_console_and_back() {
    let (app, sink) = app_with_mail().await;
    let reward = app
        .create_reward(
            &app.a,
            json!({"name": "Tote bag", "cost_points": 100, "kind": "physical"}),
        )
        .await;
    let reward_id = reward["id"].as_str().unwrap();
    let member = app
        .enrol(&app.a, json!({"name": "Kasia", "email": common::EMAIL}))
        .await;
    app.give_points(&app.a, &member.id, 150).await;

    let mut wallet = signed_in(&app, &sink).await;
    let card = format!("/wallet/cards/{}", member.id);
    let page = wallet.get(&card).await;
    assert!(page.body.contains("Send it to me"), "{}", page.body);
    let redeem = format!("{card}/redeem");
    let csrf = page.csrf();
    let missing = wallet
        .post(
            &redeem,
            &[
                ("csrf", csrf.as_str()),
                ("reward_id", reward_id),
                ("address_name", "Kasia Nowak"),
                ("address_line1", "ul. Długa 5"),
            ],
        )
        .await;
    assert_eq!(missing.status, 422);
    assert!(
        missing.body.contains(r#"id="address-error""#),
        "{}",
        missing.body
    );
    assert_eq!(app.balance(&app.a, &member.id).await, 150);
    let sent = wallet
        .post(
            &redeem,
            &[
                ("csrf", csrf.as_str()),
                ("reward_id", reward_id),
                ("address_name", "Kasia Nowak"),
                ("address_line1", "ul. Długa 5"),
                ("address_postal_code", "00-238"),
                ("address_city", "Warszawa"),
                ("address_country", "pl"),
            ],
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert!(
        sent.body.contains("Tote bag is on its way to you"),
        "{}",
        sent.body
    );
    assert_eq!(app.balance(&app.a, &member.id).await, 50);

    let owner = app.operator(&app.a, "shipping", Role::Manager).await;
    let mut console = app.signed_in(&owner).await;
    let rewards = format!("/console/{}/rewards", app.a.program);
    let page = console.get(&rewards).await;
    let table = &page.body[page.body.find(r#"id="to-send""#).expect("a queue")..];
    assert!(
        table.contains("Kasia Nowak, ul. Długa 5, 00-238 Warszawa, PL")
            && table.contains("to send"),
        "{table}"
    );
    let queue = app
        .tally
        .fulfilment_queue(&app.a.tenant, &app.a.program, None, None, None)
        .await
        .unwrap();
    let redemption = queue.items[0].id.to_string();
    let shipped = console
        .post(
            &format!("{rewards}/fulfilment/{redemption}"),
            &with_csrf(
                &page.csrf(),
                &[("status", "shipped"), ("tracking", "PX123")],
            ),
        )
        .await;
    assert_eq!(shipped.status, 303, "{}", shipped.body);
    let page = console.get(&rewards).await;
    assert!(
        page.body.contains("on its way") && page.body.contains("PX123"),
        "{}",
        page.body
    );
    let again = console
        .post(
            &format!("{rewards}/fulfilment/{redemption}"),
            &with_csrf(&page.csrf(), &[("status", "shipped")]),
        )
        .await;
    assert_eq!(again.status, 422);
    assert!(
        again.body.contains("cannot move to that step"),
        "{}",
        again.body
    );

    let page = wallet.get(&card).await;
    assert!(
        page.body
            .contains(r#"<span class="fulfilment">on its way (PX123)</span>"#),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn the_wallet_says_why_a_reward_cannot_be_had_and_shows_codes_as_qr() {
    let (app, sink) = app_with_mail().await;
    for body in [
        json!({"name": "Poster", "cost_points": 10, "stock": 0}),
        json!({"name": "Tote", "cost_points": 10, "per_member_limit": 1}),
    ] {
        app.create_reward(&app.a, body).await;
    }
    let member = app
        .enrol(&app.a, json!({"name": "Kasia", "email": common::EMAIL}))
        .await;
    app.give_points(&app.a, &member.id, 100).await;
    let mut b = signed_in(&app, &sink).await;
    let card = format!("/wallet/cards/{}", member.id);
    let page = b.get(&card).await;
    assert!(page.body.contains("Out of stock"), "{}", page.body);
    let tote = app
        .tally
        .rewards(&app.a.tenant, &app.a.program, None, None)
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|r| r.name == "Tote")
        .unwrap();
    let redeemed = b
        .post(
            &format!("{card}/redeem"),
            &[
                ("csrf", page.csrf().as_str()),
                ("reward_id", tote.id.as_str()),
            ],
        )
        .await;
    assert_eq!(redeemed.status, 200, "{}", redeemed.body);
    assert!(
        redeemed
            .body
            .contains("You have had it 1 time, the most allowed"),
        "{}",
        redeemed.body
    );
    assert!(
        redeemed.body.contains(r#"class="qr redemption-qr""#),
        "{}",
        redeemed.body
    );
}
