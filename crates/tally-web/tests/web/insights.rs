//! Customer insights and segments in the console over real HTTP: the dashboard's customer
//! section and its "compute now", a member's predictions, and the segment builder (count,
//! refusals in words, create, the segment's page, archive).

use crate::common;

use common::{App, Shop, with_csrf};
use serde_json::json;
use tally_core::Command;
use tally_domain::inputs::NewPurchase;
use tally_domain::operators::Role;

/// A purchase of 25.00 USD in `category`, `days_ago` days before the test clock (2026-05-01).
async fn buy(app: &App, shop: &Shop, member: &str, order: &str, days_ago: i64, category: &str) {
    let at = "2026-05-01T10:00:00Z"
        .parse::<tally_domain::Timestamp>()
        .unwrap()
        - jiff::SignedDuration::from_hours(24 * days_ago);
    let purchase = NewPurchase::parse(&json!({
        "order_id": order,
        "member": {"id": member},
        "total": {"amount_minor": 2500, "currency": "USD"},
        "lines": [{"sku": format!("{category}-1"), "category": category, "quantity": 1, "unit_price_minor": 2500}],
        "occurred_at": at.to_string(),
    }))
    .unwrap();
    let command = Command::RecordPurchase {
        program: shop.program.clone(),
        purchase,
    };
    app.tally
        .write(&shop.tenant, "test", None, command)
        .await
        .unwrap();
}

#[tokio::test]
async fn the_dashboard_and_the_member_page_show_what_the_models_found() {
    let app = App::new().await;
    let manager = app.operator(&app.a, "manager", Role::Manager).await;
    let ann = app.enrol(&app.a, json!({"name": "Ann"})).await;
    let bob = app.enrol(&app.a, json!({"name": "Bob"})).await;
    for k in 0..8 {
        buy(
            &app,
            &app.a,
            ann.id.as_str(),
            &format!("a-{k}"),
            3 + 14 * k,
            "jazz",
        )
        .await;
        buy(
            &app,
            &app.a,
            bob.id.as_str(),
            &format!("b-{k}"),
            150 + 7 * k,
            "rock",
        )
        .await;
    }
    let mut b = app.signed_in(&manager).await;
    let dashboard = format!("/console/{}/dashboard", app.a.program);
    let page = b.get(&dashboard).await;
    assert!(
        page.body.contains("have not been computed yet"),
        "{}",
        page.body
    );
    let run = b
        .post(
            &format!("/console/{}/insights/run", app.a.program),
            &with_csrf(&page.csrf(), &[]),
        )
        .await;
    assert_eq!(run.status, 303, "{}", run.body);
    let page = b.get(&dashboard).await;
    assert!(
        page.body.contains("Members by lifecycle stage"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("BG/NBD") || page.body.contains("could not"),
        "the fit is shown"
    );
    let member = b
        .get(&format!("/console/{}/members/{}", app.a.program, ann.id))
        .await;
    assert!(member.body.contains(r#"id="predictions""#));
    assert!(
        member
            .body
            .contains("bought 8 times, usually every 2 weeks, last 3 days ago"),
        "{}",
        member.body
    );
    let lapsed = b
        .get(&format!("/console/{}/members/{}", app.a.program, bob.id))
        .await;
    assert!(lapsed.body.contains("→ lost"), "{}", lapsed.body);
    // Another tenant's operator sees none of it.
    let mut other = app.signed_in(&app.b.owner).await;
    let foreign = other
        .get(&format!("/console/{}/members/{}", app.a.program, ann.id))
        .await;
    assert_eq!(foreign.status, 404);
}

#[tokio::test]
async fn a_manager_builds_counts_and_creates_a_segment() {
    let app = App::new().await;
    let manager = app.operator(&app.a, "manager", Role::Manager).await;
    let ann = app.enrol(&app.a, json!({"name": "Ann"})).await;
    let bob = app.enrol(&app.a, json!({"name": "Bob"})).await;
    app.enrol(&app.a, json!({"name": "Cy"})).await;
    buy(&app, &app.a, ann.id.as_str(), "a-1", 10, "jazz").await;
    buy(&app, &app.a, ann.id.as_str(), "a-2", 20, "jazz").await;
    buy(&app, &app.a, bob.id.as_str(), "b-1", 10, "rock").await;
    let mut b = app.signed_in(&manager).await;
    let segments = format!("/console/{}/segments", app.a.program);
    let page = b.get(&segments).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("No segments yet"));
    let csrf = page.csrf();
    let rows = [
        ("name", "Jazz fans"),
        ("key", "jazz_fans"),
        ("match", "all"),
        ("row-0-field", "bought_category"),
        ("row-0-op", "has_any"),
        ("row-0-value", "jazz, blues"),
        ("row-0-days", "90"),
        ("row-1-field", "purchases"),
        ("row-1-op", "gte"),
        ("row-1-value", "2"),
    ];
    // Count: the page answers how many match, and keeps what was typed.
    let mut counting = rows.to_vec();
    counting.push(("count", "1"));
    let counted = b.post(&segments, &with_csrf(&csrf, &counting)).await;
    assert_eq!(counted.status, 200);
    assert!(
        counted.body.contains("1 of 3 members match"),
        "{}",
        counted.body
    );
    assert!(counted.body.contains(r#"value="jazz, blues""#));
    // The script's live count answers the same as JSON.
    let live = b
        .post(&format!("{segments}/count"), &with_csrf(&csrf, &rows))
        .await;
    let live: serde_json::Value = serde_json::from_str(&live.body).unwrap();
    assert_eq!(live["size"], 1);
    // A mistake is said in words, with the condition's number; nothing is created.
    let mut wrong = rows.to_vec();
    wrong[9] = ("row-1-value", "two");
    let refused = b.post(&segments, &with_csrf(&csrf, &wrong)).await;
    assert_eq!(refused.status, 422);
    assert!(
        refused
            .body
            .contains("Condition 2, value: must be a number"),
        "{}",
        refused.body
    );
    let mut bad_key = rows.to_vec();
    bad_key[1] = ("key", "Jazz Fans");
    let refused = b.post(&segments, &with_csrf(&csrf, &bad_key)).await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains(r#"id="key-error""#),
        "{}",
        refused.body
    );
    assert!(b.get(&segments).await.body.contains("No segments yet"));

    let created = b.post(&segments, &with_csrf(&csrf, &rows)).await;
    assert_eq!(created.status, 303, "{}", created.body);
    let page = b.get(&created.location).await;
    assert!(
        page.body.contains(r#"id="segment-size">1<"#),
        "{}",
        page.body
    );
    assert!(page.body.contains("Ann"));
    assert!(page.body.contains("entered"));
    // The member page lists the member's segments.
    let member = b
        .get(&format!("/console/{}/members/{}", app.a.program, ann.id))
        .await;
    assert!(member.body.contains("No predictions yet"));
    // Archive: everyone leaves.
    let archived = b
        .post(
            &format!("{}/status", created.location),
            &with_csrf(&page.csrf(), &[("status", "archived")]),
        )
        .await;
    assert_eq!(archived.status, 303);
    let page = b.get(&created.location).await;
    assert!(
        page.body.contains(r#"id="segment-size">0<"#),
        "{}",
        page.body
    );
    assert!(page.body.contains("Make active again"));
    // Another tenant's operator cannot see it.
    let mut other = app.signed_in(&app.b.owner).await;
    assert_eq!(other.get(&created.location).await.status, 404);
}

#[tokio::test]
async fn a_static_segment_is_filled_from_a_list() {
    let app = App::new().await;
    let manager = app.operator(&app.a, "manager", Role::Manager).await;
    app.enrol(&app.a, json!({"name": "Ann", "external_id": "crm-1"}))
        .await;
    app.enrol(&app.a, json!({"name": "Bob", "external_id": "crm-2"}))
        .await;
    let input = tally_domain::segments::SegmentInput::parse(
        &json!({"key": "press", "name": "Press list", "kind": "static"}),
    )
    .unwrap();
    let created = app
        .tally
        .write(
            &app.a.tenant,
            "test",
            None,
            Command::CreateSegment {
                program: app.a.program.clone(),
                input,
            },
        )
        .await
        .unwrap();
    let page_url = format!(
        "/console/{}/segments/{}",
        app.a.program,
        created["id"].as_str().unwrap()
    );
    let mut b = app.signed_in(&manager).await;
    let page = b.get(&page_url).await;
    assert!(page.body.contains("Replace the members"), "{}", page.body);
    let upload = format!("{page_url}/members");
    let refused = b
        .post(
            &upload,
            &with_csrf(
                &page.csrf(),
                &[("members", "external_id\ncrm-1\ncrm-404\n")],
            ),
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused
            .body
            .contains("crm-404: no member of this program has it"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains(r#"id="segment-size">0<"#));
    let done = b
        .post(
            &upload,
            &with_csrf(&page.csrf(), &[("members", "external_id\ncrm-1\ncrm-2\n")]),
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let page = b.get(&page_url).await;
    assert!(
        page.body.contains(r#"id="segment-size">2<"#),
        "{}",
        page.body
    );
    assert!(page.body.contains("Bob"));
}
