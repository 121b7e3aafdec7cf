//! Stamp cards in the console over real HTTP: a refused card with its errors in place, a saved
//! card, the till screen with a QR code that is renewed once used, pause and resume.

use crate::common;

use common::{App, with_csrf};
use tally_domain::operators::Role;

#[tokio::test]
async fn a_manager_adds_a_card_shows_the_till_screen_and_pauses_the_card() {
    let app = App::new().await;
    let manager = app.operator(&app.a, "manager", Role::Manager).await;
    let store = app
        .tally
        .write(
            &app.a.tenant,
            "setup",
            None,
            tally_core::Command::CreateLocation {
                program: app.a.program.clone(),
                location: tally_domain::inputs::NewLocation::parse(
                    &serde_json::json!({"name": "Rynek 1", "latitude": 50.06, "longitude": 19.94}),
                )
                .unwrap(),
            },
        )
        .await
        .unwrap();
    let mut b = app.signed_in(&manager).await;
    let stamps = format!("/console/{}/stamps", app.a.program);
    let page = b.get(&stamps).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("No stamp cards yet"));
    let csrf = page.csrf();

    let refused = b
        .post(
            &stamps,
            &with_csrf(
                &csrf,
                &[
                    ("name", ""),
                    ("stamps_required", "1"),
                    ("reward_points", "lots"),
                    ("reward_id", ""),
                    ("max_per_day", "1"),
                ],
            ),
        )
        .await;
    assert_eq!(refused.status, 422);
    for field in ["name", "stamps_required", "reward_points"] {
        assert!(
            refused.body.contains(&format!(r#"id="{field}-error""#)),
            "{field}: {}",
            refused.body
        );
    }

    let saved = b
        .post(
            &stamps,
            &with_csrf(
                &csrf,
                &[
                    ("name", "Coffee card"),
                    ("stamps_required", "6"),
                    ("reward_points", "60"),
                    ("reward_id", ""),
                    ("max_per_day", "1"),
                    ("purchases", "1"),
                    ("min_total", "5.00"),
                    ("categories", "coffee, tea"),
                    ("qr_stamps", "1"),
                ],
            ),
        )
        .await;
    assert_eq!(saved.status, 303);
    let cards = app
        .tally
        .stamp_cards(&app.a.tenant, &app.a.program, None, None)
        .await
        .unwrap()
        .items;
    assert_eq!(cards.len(), 1);
    let card = &cards[0];
    assert_eq!(card["qualifying_purchase"]["min_total_minor"], 500);
    assert_eq!(
        card["qualifying_purchase"]["categories"],
        serde_json::json!(["coffee", "tea"])
    );
    assert_eq!(card["reward"], serde_json::json!({"points": 60}));

    // The till screen: a QR code, the same until it is used.
    let listed = b.get(&stamps).await;
    let screen = format!(
        "{stamps}/{}/screen?location={}",
        card["id"].as_str().unwrap(),
        store["id"].as_str().unwrap()
    );
    assert!(
        listed.body.contains(&format!(
            "/screen?location={}",
            store["id"].as_str().unwrap()
        )),
        "a link to the till screen of each store"
    );
    let first = b.get(&screen).await;
    assert_eq!(first.status, 200);
    assert!(first.body.contains("<svg"), "a QR code");
    assert!(first.body.contains(r#"http-equiv="refresh""#));
    let code = |body: &str| {
        let start = body.find(r#"id="stamp-code">"#).unwrap() + 16;
        body[start..start + 16].to_owned()
    };
    let shown = code(&first.body);
    assert_eq!(code(&b.get(&screen).await.body), shown);

    // Paused from the list: no screen any more.
    let paused = b
        .post(
            &stamps,
            &with_csrf(
                &csrf,
                &[("card", card["id"].as_str().unwrap()), ("status", "paused")],
            ),
        )
        .await;
    assert_eq!(paused.status, 303);
    let after = b.get(&stamps).await;
    assert!(after.body.contains("Paused") || after.body.contains("paused"));
    assert!(!after.body.contains("/screen?location="));
}

#[tokio::test]
async fn a_cashier_gives_a_stamp_and_the_card_completes() {
    let app = App::new().await;
    let member = app.enrol(&app.a, serde_json::json!({"name": "Ola"})).await;
    app.tally
        .write(
            &app.a.tenant,
            "setup",
            None,
            tally_core::Command::CreateStampCard {
                program: app.a.program.clone(),
                card: tally_domain::stamps::StampCardDoc::parse(&serde_json::json!({
                    "name": "Coffee card", "stamps_required": 2, "reward": {"points": 30}
                }))
                .unwrap(),
            },
        )
        .await
        .unwrap();
    let mut b = app.signed_in(&app.a.cashier).await;
    let cashier_page = format!("/console/{}/cashier", app.a.program);
    let found = b
        .get(&format!("{cashier_page}?find={}", member.card.number))
        .await;
    assert!(
        found.body.contains("Coffee card · 0 / 2"),
        "the card and its stamps"
    );
    let start = found.body.find(r#"name="card_id" value=""#).unwrap() + 22;
    let card_id = found.body[start..start + 30].to_owned();
    let form = |csrf: &str| {
        vec![
            ("csrf".to_owned(), csrf.to_owned()),
            ("member_id".to_owned(), member.id.to_string()),
            ("card_id".to_owned(), card_id.clone()),
        ]
    };
    let pairs = form(&found.csrf());
    let refs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let once = b.post(&format!("{cashier_page}/stamp"), &refs).await;
    assert_eq!(once.status, 200);
    assert!(once.body.contains("Stamp given on Coffee card: 1 of 2."));
    let twice = b.post(&format!("{cashier_page}/stamp"), &refs).await;
    assert!(twice.body.contains("Coffee card is complete"));
    let m = app.tally.member(&app.a.tenant, &member.id).await.unwrap();
    assert_eq!(m.balance.available.value(), 30);
}
