//! Cashback over real HTTP: the cashier sees a member's cashback and pays part of an order with
//! it (a refusal when it does not cover the amount); the wallet shows the cashback.

use crate::common;

use common::{App, app_with_mail, signed_in};
use serde_json::json;
use tally_domain::operators::Role;

/// A program rule that gives every new member $5.00 of cashback.
async fn welcome_cashback(app: &App) {
    app.tally
        .write(
            &app.a.tenant,
            "setup",
            None,
            tally_core::Command::CreateRule {
                program: app.a.program.clone(),
                document: json!({"name": "Welcome", "trigger": "enrolment",
                                 "effect": {"cashback": {"amount_minor": 500}}}),
                status: "active".into(),
            },
        )
        .await
        .unwrap();
}

fn borrow<'a>(fields: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    fields.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tokio::test]
async fn a_cashier_pays_part_of_an_order_from_cashback() {
    let app = App::new().await;
    welcome_cashback(&app).await;
    let member = app.enrol(&app.a, json!({"name": "Ann"})).await;
    let cashier = app.operator(&app.a, "till", Role::Cashier).await;
    let mut b = app.signed_in(&cashier).await;
    let till = format!("/console/{}/cashier", app.a.program);
    let page = b.get(&format!("{till}?find={}", member.card.number)).await;
    assert!(
        page.body
            .contains(r#"<span id="cashier-cashback">$5.00</span>"#),
        "{}",
        page.body
    );
    let order = page
        .body
        .split(r#"name="order_id" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let url = format!("{till}/cashback");
    let member_id = member.id.to_string();
    let pay = |amount: &'static str| {
        vec![
            ("csrf", page.csrf()),
            ("member_id", member_id.clone()),
            ("order_id", order.clone()),
            ("cashback_amount", amount.to_owned()),
        ]
    };
    let refused = b.post(&url, &borrow(&pay("6.00"))).await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains("Not enough cashback."),
        "{}",
        refused.body
    );
    let paid = b.post(&url, &borrow(&pay("1.50"))).await;
    assert_eq!(paid.status, 200, "{}", paid.body);
    assert!(
        paid.body.contains("Paid $1.50 from cashback; $3.50 left."),
        "{}",
        paid.body
    );
    assert!(
        paid.body
            .contains(r#"<span id="cashier-cashback">$3.50</span>"#),
        "{}",
        paid.body
    );
}

#[tokio::test]
async fn the_wallet_shows_the_cashback() {
    let (app, sink) = app_with_mail().await;
    welcome_cashback(&app).await;
    let member = app
        .enrol(&app.a, json!({"name": "Kasia", "email": common::EMAIL}))
        .await;
    let mut b = signed_in(&app, &sink).await;
    let card = b.get(&format!("/wallet/cards/{}", member.id)).await;
    assert!(
        card.body
            .contains(r#"<span class="value" id="wallet-cashback">$5.00</span>"#),
        "{}",
        card.body
    );
}
