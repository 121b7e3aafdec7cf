//! The back office over real HTTP: rewards, stores, API keys, operators and program settings,
//! with each role kept to what it may do and every refused form showing its message in place.

use crate::common;

use common::{App, with_csrf};
use tally_core::secrets::sha256_hex;
use tally_domain::operators::Role;

#[tokio::test]
async fn a_manager_adds_edits_and_withdraws_a_reward() {
    let app = App::new().await;
    let manager = app.operator(&app.a, "manager", Role::Manager).await;
    let mut b = app.signed_in(&manager).await;
    let rewards = format!("/console/{}/rewards", app.a.program);
    let page = b.get(&rewards).await;
    assert_eq!(page.status, 200);
    let csrf = page.csrf();
    let refused = b
        .post(
            &rewards,
            &with_csrf(&csrf, &[("name", "Free coffee"), ("cost_points", "lots")]),
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains(r#"id="cost_points-error""#),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains(r#"value="Free coffee""#),
        "what was typed stays"
    );
    let created = b
        .post(
            &rewards,
            &with_csrf(
                &csrf,
                &[
                    ("name", "Free coffee"),
                    ("cost_points", "20"),
                    ("stock", "5"),
                ],
            ),
        )
        .await;
    assert_eq!(created.status, 303);
    let list = app
        .tally
        .rewards(&app.a.tenant, &app.a.program, None, None)
        .await
        .unwrap()
        .items;
    assert_eq!(
        (list.len(), list[0].cost.value(), list[0].stock_remaining),
        (1, 20, Some(5))
    );

    let edit = format!("{rewards}/{}", list[0].id);
    let page = b.get(&edit).await;
    assert!(page.body.contains(r#"value="20""#));
    // Unchecking "available" withdraws the reward; the new cost is kept.
    let saved = b
        .post(
            &edit,
            &with_csrf(&csrf, &[("name", "Free coffee"), ("cost_points", "25")]),
        )
        .await;
    assert_eq!(saved.status, 303);
    let reward = app.tally.reward(&app.a.tenant, &list[0].id).await.unwrap();
    assert_eq!(
        (reward.cost.value(), reward.active, reward.stock_remaining),
        (25, false, None)
    );
    let audit = app
        .tally
        .audit_log(&app.a.tenant, None, None)
        .await
        .unwrap()
        .items;
    assert!(
        audit
            .iter()
            .any(|e| e.action == "reward.updated" && e.actor == "operator:manager@shop-a.example")
    );

    // The cashier no longer offers it.
    let member = app.enrol(&app.a, serde_json::json!({"name": "Ann"})).await;
    let mut till = app.signed_in(&app.a.cashier).await;
    let screen = till
        .get(&format!(
            "/console/{}/cashier?find={}",
            app.a.program, member.card.number
        ))
        .await;
    assert!(!screen.body.contains("Free coffee"));
    // And another shop's owner cannot open it.
    let mut other = app.signed_in(&app.b.owner).await;
    assert_eq!(
        other
            .get(&format!("/console/{}/rewards/{}", app.a.program, reward.id))
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn stores_are_added_with_checked_coordinates_and_closed() {
    let app = App::new().await;
    let mut b = app.signed_in(&app.a.owner).await;
    let stores = format!("/console/{}/locations", app.a.program);
    let csrf = b.get(&stores).await.csrf();
    let refused = b
        .post(
            &stores,
            &with_csrf(
                &csrf,
                &[
                    ("name", "Old Town"),
                    ("latitude", "152.1"),
                    ("longitude", "21.0"),
                ],
            ),
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains(r#"id="latitude-error""#));
    let created = b
        .post(
            &stores,
            &with_csrf(
                &csrf,
                &[
                    ("name", "Old Town"),
                    ("latitude", "52,2497"),
                    ("longitude", "21.0122"),
                    ("time_zone", "Europe/Warsaw"),
                ],
            ),
        )
        .await;
    assert_eq!(created.status, 303);
    let store = app
        .tally
        .locations(&app.a.tenant, &app.a.program, None, None)
        .await
        .unwrap()
        .items
        .remove(0);
    assert_eq!(
        (store.latitude_micro, store.longitude_micro, store.active),
        (52_249_700, 21_012_200, true)
    );
    let edit = format!("{stores}/{}", store.id);
    assert!(b.get(&edit).await.body.contains(r#"value="52.2497""#));
    let closed = b
        .post(
            &edit,
            &with_csrf(
                &csrf,
                &[
                    ("name", "Old Town"),
                    ("latitude", "52.2497"),
                    ("longitude", "21.0122"),
                ],
            ),
        )
        .await;
    assert_eq!(closed.status, 303);
    let store = app.tally.location(&app.a.tenant, &store.id).await.unwrap();
    assert!(!store.active);
}

#[tokio::test]
async fn an_owner_makes_an_api_key_shown_once_revokes_it_and_invites_an_operator() {
    let app = App::new().await;
    let mut b = app.signed_in(&app.a.owner).await;
    let keys = format!("/console/{}/keys", app.a.program);
    let csrf = b.get(&keys).await.csrf();
    let made = b
        .post(
            &keys,
            &with_csrf(&csrf, &[("key-name", "Till 1"), ("scope", "write")]),
        )
        .await;
    assert_eq!(made.status, 200);
    let start = made.body.find(r#"id="shown-once">"#).unwrap() + r#"id="shown-once">"#.len();
    let secret = &made.body[start..start + 68];
    assert!(secret.starts_with("tly_"));
    let key = app
        .tally
        .api_key_by_secret(&sha256_hex(secret))
        .await
        .unwrap()
        .expect("the key exists");
    assert_eq!(
        (key.name.as_str(), key.scope.as_str(), key.tenant_id.clone()),
        ("Till 1", "write", app.a.tenant.clone())
    );
    assert!(!b.get(&keys).await.body.contains(secret), "shown only once");
    let revoked = b
        .post(&format!("{keys}/{}/revoke", key.id), &with_csrf(&csrf, &[]))
        .await;
    assert_eq!(revoked.status, 303);
    let key = app
        .tally
        .api_key_by_secret(&sha256_hex(secret))
        .await
        .unwrap()
        .unwrap();
    assert!(key.revoked_at.is_some());

    let operators = format!("/console/{}/operators", app.a.program);
    let refused = b
        .post(
            &operators,
            &with_csrf(
                &csrf,
                &[("name", "Nina"), ("email", "nope"), ("role", "cashier")],
            ),
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains(r#"id="email-error""#));
    let invited = b
        .post(
            &operators,
            &with_csrf(
                &csrf,
                &[
                    ("name", "Nina"),
                    ("email", "nina@shop-a.example"),
                    ("role", "cashier"),
                    ("locale", "pl"),
                ],
            ),
        )
        .await;
    assert_eq!(invited.status, 200);
    let start = invited
        .body
        .find("/console/link/")
        .expect("an invite link is shown");
    let link = &invited.body[start..start + "/console/link/".len() + 64];
    let mut newcomer = app.browser();
    let page = newcomer.get(link).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Nina"));

    // The owner cannot lock themselves out; another operator can be deactivated.
    let me = format!("{operators}/{}/active", app.a.owner.id);
    assert_eq!(
        b.post(&me, &with_csrf(&csrf, &[("active", "false")]))
            .await
            .status,
        403
    );
    let cashier = format!("{operators}/{}/active", app.a.cashier.id);
    assert_eq!(
        b.post(&cashier, &with_csrf(&csrf, &[("active", "false")]))
            .await
            .status,
        303
    );
    let ops = app.tally.operators(&app.a.tenant).await.unwrap();
    assert!(
        !ops.iter()
            .find(|o| o.id == app.a.cashier.id)
            .unwrap()
            .active
    );
}

#[tokio::test]
async fn settings_change_the_earning_rate_and_refuse_a_bad_time_zone() {
    let app = App::new().await;
    let mut b = app.signed_in(&app.a.owner).await;
    let settings = format!("/console/{}/settings?lang=pl", app.a.program);
    let page = b.get(&settings).await;
    assert!(page.body.contains("Ustawienia"));
    let csrf = page.csrf();
    let form = |tz: &'static str| {
        vec![
            ("name", "Kawiarnia"),
            ("points_name", "ziarenka"),
            ("time_zone", tz),
            ("points_per_unit", "1,5"),
            ("rounding", "nearest"),
            ("min_order", "5,00"),
            ("excluded_categories", "gift-cards, tobacco"),
            ("pending_days", "14"),
            ("negative_balance", "floor_at_zero"),
        ]
    };
    let path = format!("/console/{}/settings", app.a.program);
    let refused = b
        .post(
            &format!("{path}?lang=pl"),
            &with_csrf(&csrf, &form("Mars/Olympus")),
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains(r#"id="time_zone-error""#));
    assert!(
        refused.body.contains("to nie jest strefa czasowa IANA"),
        "the parser's message, in Polish"
    );
    let saved = b
        .post(
            &format!("{path}?lang=pl"),
            &with_csrf(&csrf, &form("Europe/Warsaw")),
        )
        .await;
    assert_eq!(saved.status, 303);
    let p = app
        .tally
        .program(&app.a.tenant, &app.a.program)
        .await
        .unwrap();
    assert_eq!(p.earning.rate_string(), "1.5");
    assert_eq!(p.earning.min_order_minor, 500);
    assert_eq!(p.earning.excluded_categories, vec!["gift-cards", "tobacco"]);
    assert_eq!(p.earning.pending_days, 14);
    assert_eq!(
        (p.name.as_str(), p.time_zone.as_str()),
        ("Kawiarnia", "Europe/Warsaw")
    );
}

#[tokio::test]
async fn each_role_sees_only_its_pages() {
    let app = App::new().await;
    let manager = app.operator(&app.a, "manager", Role::Manager).await;
    let p = &app.a.program;
    let cases = [
        (
            &app.a.cashier,
            ["rewards", "locations", "keys", "settings"].as_slice(),
            403,
        ),
        (&manager, &["keys", "settings"], 403),
        (&manager, &["rewards", "locations"], 200),
        (
            &app.a.owner,
            &["rewards", "locations", "keys", "settings"],
            200,
        ),
    ];
    for (operator, pages, status) in cases {
        let mut b = app.signed_in(operator).await;
        for page in pages {
            assert_eq!(
                b.get(&format!("/console/{p}/{page}")).await.status,
                status,
                "{} on {page}",
                operator.email
            );
        }
    }
}

#[tokio::test]
async fn a_new_owner_sets_up_a_program_in_four_steps() {
    let app = App::new().await;
    let (tenant, owner) = app.new_tenant_with_owner("fresh-shop").await;
    let mut b = app.signed_in(&owner).await;
    assert_eq!(
        b.get("/console").await.location,
        "/console/setup",
        "no program yet: the wizard"
    );
    let page = b.get("/console/setup").await;
    assert_eq!(page.status, 200);
    let csrf = page.csrf();
    let step1 = |currency: &'static str, color: &'static str| {
        vec![
            ("name", "Corner Café"),
            ("points_name", "beans"),
            ("currency", currency),
            ("time_zone", "Europe/Warsaw"),
            ("points_per_unit", "2"),
            ("card_color", color),
            ("logo_data_url", ""),
        ]
    };
    let refused = b
        .post("/console/setup", &with_csrf(&csrf, &step1("ZZZ", "pink")))
        .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains(r#"id="currency-error""#)
            && refused.body.contains(r#"id="card_color-error""#)
    );
    assert!(
        app.tally.programs(&tenant).await.unwrap().is_empty(),
        "a refused step writes nothing"
    );
    let created = b
        .post(
            "/console/setup",
            &with_csrf(&csrf, &step1("pln", "#C0392B")),
        )
        .await;
    assert_eq!(created.status, 303);
    let program = app.tally.programs(&tenant).await.unwrap().remove(0);
    assert_eq!(
        created.location,
        format!("/console/{}/setup/rewards", program.id)
    );
    assert_eq!(
        (
            program.currency.code(),
            program.earning.rate_string().as_str()
        ),
        ("PLN", "2")
    );
    assert_eq!(
        app.tally
            .program_display(&program.id)
            .await
            .unwrap()
            .card_color,
        "#c0392b"
    );

    let rewards = format!("/console/{}/setup/rewards", program.id);
    let bad = [
        ("name_0", "Free coffee"),
        ("cost_0", "30"),
        ("name_1", "Cake"),
        ("cost_1", "-5"),
    ];
    let refused = b.post(&rewards, &with_csrf(&csrf, &bad)).await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains(r#"id="cost_1-error""#));
    assert!(
        app.tally
            .rewards(&tenant, &program.id, None, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let good = [
        ("name_0", "Free coffee"),
        ("cost_0", "30"),
        ("name_1", "Cake"),
        ("cost_1", "50"),
        ("name_2", ""),
        ("cost_2", ""),
    ];
    assert_eq!(b.post(&rewards, &with_csrf(&csrf, &good)).await.status, 303);
    assert_eq!(
        app.tally
            .rewards(&tenant, &program.id, None, None)
            .await
            .unwrap()
            .items
            .len(),
        2
    );

    let location = format!("/console/{}/setup/location", program.id);
    let store = [
        ("name", "Rynek"),
        ("address", "Rynek 1, Kraków"),
        ("latitude", "50.0617"),
        ("longitude", "19.9373"),
    ];
    assert_eq!(
        b.post(&location, &with_csrf(&csrf, &store)).await.status,
        303
    );
    let stores = app
        .tally
        .locations(&tenant, &program.id, None, None)
        .await
        .unwrap()
        .items;
    assert_eq!(
        (stores.len(), stores[0].time_zone.as_ref().unwrap().as_str()),
        (1, "Europe/Warsaw")
    );

    let done = b
        .post(
            &format!("/console/{}/setup/done", program.id),
            &with_csrf(&csrf, &[]),
        )
        .await;
    assert_eq!(done.status, 200);
    assert!(done.body.contains(r#"id="connect""#) && done.body.contains(program.id.as_str()));
    let start = done.body.find(r#"id="shown-once">"#).unwrap() + r#"id="shown-once">"#.len();
    let key = app
        .tally
        .api_key_by_secret(&sha256_hex(&done.body[start..start + 68]))
        .await
        .unwrap();
    assert_eq!(key.map(|k| k.scope), Some("write".to_owned()));
    assert_eq!(
        b.get(&format!("/console/{}/dashboard", program.id))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn the_card_and_the_point_value_are_set_in_settings() {
    let app = App::new().await;
    let member = app.enrol(&app.a, serde_json::json!({"name": "Ann"})).await;
    let adjust = tally_domain::inputs::AdjustmentRequest::parse(
        &serde_json::json!({"points": 250, "reason": "welcome"}),
    )
    .unwrap();
    app.tally
        .write(
            &app.a.tenant,
            "setup",
            None,
            tally_core::Command::Adjust {
                member: member.id,
                request: adjust,
            },
        )
        .await
        .unwrap();
    let mut b = app.signed_in(&app.a.owner).await;
    let csrf = b
        .get(&format!("/console/{}/settings", app.a.program))
        .await
        .csrf();
    let path = format!("/console/{}/settings/display", app.a.program);
    let logo = "data:image/svg+xml;base64,PHN2Zy8+";
    let refused = b
        .post(
            &path,
            &with_csrf(&csrf, &[("card_color", "#123"), ("point_value", "1")]),
        )
        .await;
    assert_eq!(refused.status, 422);
    let saved = b
        .post(
            &path,
            &with_csrf(
                &csrf,
                &[
                    ("card_color", "#2e7d32"),
                    ("logo_data_url", logo),
                    ("point_value", "2.5"),
                ],
            ),
        )
        .await;
    assert_eq!(saved.status, 303);
    let display = app.tally.program_display(&app.a.program).await.unwrap();
    assert_eq!(
        (
            display.card_color.as_str(),
            display.logo_data_url.as_deref(),
            display.point_value_milli
        ),
        ("#2e7d32", Some(logo), 2500)
    );
    // 250 points at 2.5 cents each: $6.25 of liability.
    let dashboard = b
        .get(&format!("/console/{}/dashboard", app.a.program))
        .await;
    assert!(
        dashboard.body.contains(r#"id="liability-money">$6.25<"#),
        "{}",
        &dashboard.body[..2000.min(dashboard.body.len())]
    );
}

#[tokio::test]
async fn the_cashier_records_items_and_the_owner_reads_the_audit_log() {
    let app = App::new().await;
    let member = app.enrol(&app.a, serde_json::json!({"name": "Ann"})).await;
    let mut till = app.signed_in(&app.a.cashier).await;
    let p = &app.a.program;
    let screen = till
        .get(&format!("/console/{p}/cashier?find={}", member.card.number))
        .await;
    let (csrf, order) = (screen.csrf(), screen.field("order_id"));
    let id = member.id.to_string();
    let base = [
        ("csrf", csrf.as_str()),
        ("member_id", id.as_str()),
        ("order_id", order.as_str()),
        ("amount", "30.00"),
    ];
    let bad = [
        &base[..],
        &[
            ("sku_0", "LP-1"),
            ("quantity_0", "two"),
            ("price_0", "15.00"),
        ],
    ]
    .concat();
    let refused = till
        .post(&format!("/console/{p}/cashier/purchase"), &bad)
        .await;
    assert_eq!(refused.status, 422);
    let at = refused.body.find("class=\"error\"").unwrap_or(0);
    assert!(
        refused.body.contains(r#"id="line-0-error""#),
        "the message is on the row: {}",
        &refused.body[at..(at + 400).min(refused.body.len())]
    );
    assert!(
        refused.body.contains(r#"value="LP-1""#),
        "the rows keep what was typed"
    );
    let good = [
        &base[..],
        &[("sku_0", "LP-1"), ("quantity_0", "2"), ("price_0", "15,00")],
    ]
    .concat();
    assert_eq!(
        till.post(&format!("/console/{p}/cashier/purchase"), &good)
            .await
            .status,
        200
    );
    let purchase = app
        .tally
        .member_purchases(&app.a.tenant, &member.id, None, None)
        .await
        .unwrap()
        .items
        .remove(0);
    assert_eq!(
        (
            purchase.lines.len(),
            purchase.lines[0].quantity,
            purchase.lines[0].unit_price_minor
        ),
        (1, 2, 1500)
    );

    let mut owner = app.signed_in(&app.a.owner).await;
    let csrf = owner
        .get(&format!("/console/{p}/members/{}", member.id))
        .await
        .csrf();
    owner
        .post(
            &format!("/console/{p}/members/{}/adjust", member.id),
            &with_csrf(&csrf, &[("points", "5"), ("reason", "sorry for the wait")]),
        )
        .await;
    let audit = owner.get(&format!("/console/{p}/audit")).await;
    assert_eq!(audit.status, 200);
    assert!(
        audit.body.contains("operator:owner@shop-a.example")
            && audit.body.contains("sorry for the wait"),
        "{}",
        audit.body
    );
    assert_eq!(till.get(&format!("/console/{p}/audit")).await.status, 403);
}
