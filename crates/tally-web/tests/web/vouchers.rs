//! Vouchers in the console over real HTTP: a pool made with the form (refusals next to their
//! fields), codes generated and imported (a bad upload named row by row, nothing added), the
//! export, archive; and the cashier checking and redeeming a code.

use crate::common;

use common::{App, with_csrf};
use tally_domain::operators::Role;

#[tokio::test]
async fn an_operator_makes_a_pool_fills_it_and_exports_its_codes() {
    let app = App::new().await;
    let manager = app.operator(&app.a, "manager", Role::Manager).await;
    let mut b = app.signed_in(&manager).await;
    let vouchers = format!("/console/{}/vouchers", app.a.program);
    let page = b.get(&vouchers).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("No voucher pools yet"), "{}", page.body);

    // A refused form says what is wrong next to each field and writes nothing.
    let refused = b
        .post(
            &vouchers,
            &with_csrf(
                &page.csrf(),
                &[
                    ("name", ""),
                    ("kind", "percent"),
                    ("value", "150"),
                    ("prefix", "no way!"),
                ],
            ),
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains(r#"id="name-error""#),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains(r#"id="value-error""#),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains(r#"id="prefix-error""#),
        "{}",
        refused.body
    );
    assert!(b.get(&vouchers).await.body.contains("No voucher pools yet"));

    let created = b
        .post(
            &vouchers,
            &with_csrf(
                &page.csrf(),
                &[
                    ("name", "Spring 10 off 50"),
                    ("kind", "amount"),
                    ("value", "10.00"),
                    ("min_basket", "50"),
                    ("valid_until", "2026-06-30"),
                    ("prefix", "spring"),
                ],
            ),
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let pool_url = created.location.clone();
    let pool = b.get(&pool_url).await;
    assert!(pool.body.contains("$10.00 off"), "{}", pool.body);
    assert!(pool.body.contains("at least $50.00"), "{}", pool.body);

    let generated = b
        .post(
            &format!("{pool_url}/codes"),
            &with_csrf(&pool.csrf(), &[("count", "25")]),
        )
        .await;
    assert_eq!(generated.status, 200, "{}", generated.body);
    assert!(
        generated.body.contains("25 codes added"),
        "{}",
        generated.body
    );
    assert_eq!(generated.body.matches("SPRING-").count(), 25);

    // An upload with a bad row and a duplicate is refused whole, each named.
    let refused = b
        .post(
            &format!("{pool_url}/codes"),
            &with_csrf(
                &pool.csrf(),
                &[("csv", "code\nPARTNER-1111\nbad!\npartner 1111\n")],
            ),
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("Nothing was imported"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("Code no. 2"), "{}", refused.body);
    assert!(refused.body.contains("Code no. 3"), "{}", refused.body);
    let imported = b
        .post(
            &format!("{pool_url}/codes"),
            &with_csrf(
                &pool.csrf(),
                &[("csv", "code\nPARTNER-1111\nPARTNER-2222\n")],
            ),
        )
        .await;
    assert!(imported.body.contains("2 codes added"), "{}", imported.body);
    assert!(
        imported.body.contains(r#"id="codes-total">27<"#),
        "{}",
        imported.body
    );

    let export = b.get(&format!("{pool_url}/codes.csv")).await;
    assert_eq!(export.status, 200);
    let lines: Vec<&str> = export.body.lines().collect();
    assert_eq!(
        lines[0],
        "code,status,member_id,order_id,discount_minor,redeemed_at"
    );
    assert_eq!(lines.len(), 1 + 27);
    assert!(lines.contains(&"PARTNER-2222,available,,,,"), "{lines:?}");

    // The reward form offers the pool, so a reward can hand out its codes.
    let pool_id = pool_url.rsplit('/').next().unwrap().to_owned();
    let rewards = b.get(&format!("/console/{}/rewards", app.a.program)).await;
    assert!(
        rewards.body.contains(&format!(
            r#"<option value="{pool_id}">Spring 10 off 50</option>"#
        )),
        "{}",
        rewards.body
    );

    let archived = b
        .post(
            &format!("{pool_url}/status"),
            &with_csrf(&pool.csrf(), &[("status", "archived")]),
        )
        .await;
    assert_eq!(archived.status, 303);
    assert!(b.get(&pool_url).await.body.contains("Resume"));

    // Another tenant's operator cannot see the pool.
    let other = app.operator(&app.b, "other", Role::Owner).await;
    let mut ob = app.signed_in(&other).await;
    let foreign = ob
        .get(&format!("/console/{}/vouchers/{pool_id}", app.b.program))
        .await;
    assert_eq!(foreign.status, 404);
}

#[tokio::test]
async fn the_cashier_checks_a_code_then_redeems_it_once() {
    let app = App::new().await;
    let manager = app.operator(&app.a, "manager", Role::Manager).await;
    let cashier = app.operator(&app.a, "till", Role::Cashier).await;
    let mut m = app.signed_in(&manager).await;
    let vouchers = format!("/console/{}/vouchers", app.a.program);
    let page = m.get(&vouchers).await;
    let created = m
        .post(
            &vouchers,
            &with_csrf(
                &page.csrf(),
                &[
                    ("name", "Five off"),
                    ("kind", "amount"),
                    ("value", "5"),
                    ("min_basket", "20"),
                ],
            ),
        )
        .await;
    let pool = m.get(&created.location).await;
    m.post(
        &format!("{}/codes", created.location),
        &with_csrf(&pool.csrf(), &[("csv", "TILL-0001\n")]),
    )
    .await;

    let mut c = app.signed_in(&cashier).await;
    let screen = format!("/console/{}/cashier", app.a.program);
    let page = c.get(&screen).await;
    let voucher = format!("{screen}/voucher");
    let order = page.field("order_id");
    let small = c
        .post(
            &voucher,
            &with_csrf(
                &page.csrf(),
                &[
                    ("voucher_code", "till 0001"),
                    ("voucher_amount", "12.00"),
                    ("action", "check"),
                    ("order_id", &order),
                ],
            ),
        )
        .await;
    assert_eq!(small.status, 422, "{}", small.body);
    assert!(small.body.contains("below this code"), "{}", small.body);
    let ok = c
        .post(
            &voucher,
            &with_csrf(
                &page.csrf(),
                &[
                    ("voucher_code", "till 0001"),
                    ("voucher_amount", "25.00"),
                    ("action", "check"),
                    ("order_id", &order),
                ],
            ),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(
        ok.body.contains("TILL-0001: $5.00 off (Five off)"),
        "{}",
        ok.body
    );
    let redeemed = c
        .post(
            &voucher,
            &with_csrf(
                &page.csrf(),
                &[
                    ("voucher_code", "TILL-0001"),
                    ("voucher_amount", "25.00"),
                    ("action", "redeem"),
                    ("order_id", &order),
                ],
            ),
        )
        .await;
    assert!(
        redeemed
            .body
            .contains("Voucher TILL-0001 redeemed: $5.00 off"),
        "{}",
        redeemed.body
    );
    // Used: another order is refused.
    let again = c
        .post(
            &voucher,
            &with_csrf(
                &page.csrf(),
                &[
                    ("voucher_code", "TILL-0001"),
                    ("voucher_amount", "25.00"),
                    ("action", "redeem"),
                    ("order_id", "pos-other"),
                ],
            ),
        )
        .await;
    assert_eq!(again.status, 422);
    assert!(
        again
            .body
            .contains(r#"<p class="error" id="voucher_code-error">This code was already used."#),
        "{}",
        again.body
    );
    let unknown = c
        .post(
            &voucher,
            &with_csrf(
                &page.csrf(),
                &[
                    ("voucher_code", "NOPE-NOPE"),
                    ("voucher_amount", "25.00"),
                    ("action", "check"),
                    ("order_id", &order),
                ],
            ),
        )
        .await;
    assert!(
        unknown.body.contains("No voucher has this code"),
        "{}",
        unknown.body
    );
}
