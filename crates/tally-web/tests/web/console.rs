//! The console over real HTTP: signing in and out, one-time links, CSRF, roles, tenant
//! isolation, search, adjustments and the cashier's purchase, with the database checked after.

use crate::common;

use common::{App, PASSWORD};
use serde_json::json;
use tally_core::{Command, NewOperator};
use tally_domain::model::Member;
use tally_domain::operators::{Operator, Role};
use tally_domain::text::Email;
use tally_store::queries::operators::LinkPurpose;
use tally_web::secrets;

#[tokio::test]
async fn an_operator_signs_in_sees_the_dashboard_and_signs_out() {
    let app = App::new().await;
    let mut b = app.browser();
    let dashboard = format!("/console/{}/dashboard", app.a.program);
    let r = b.get(&dashboard).await;
    assert_eq!(r.status, 303);
    assert!(
        r.location.starts_with("/console/sign-in?"),
        "{}",
        r.location
    );

    let page = b.get("/console/sign-in").await;
    let csrf = page.csrf();
    let wrong = b
        .post(
            "/console/sign-in",
            &[
                ("csrf", &csrf),
                ("email", "owner@shop-a.example"),
                ("password", "not the password"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 200);
    assert!(wrong.body.contains("Wrong email or password."));
    let unknown = b
        .post(
            "/console/sign-in",
            &[
                ("csrf", &csrf),
                ("email", "nobody@shop-a.example"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert!(
        unknown.body.contains("Wrong email or password."),
        "unknown accounts get the same answer"
    );
    assert!(!b.cookies.contains_key("tally_session"));

    let ok = b
        .post(
            "/console/sign-in",
            &[
                ("csrf", &csrf),
                ("email", "OWNER@shop-a.example"),
                ("password", PASSWORD),
                ("next", &dashboard),
            ],
        )
        .await;
    assert_eq!((ok.status, ok.location.as_str()), (303, dashboard.as_str()));
    app.enrol(&app.a, json!({"name": "Ann Kowalska"})).await;
    let page = b.get(&dashboard).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(r#"id="members-total">1<"#),
        "{}",
        page.body
    );
    assert!(page.body.contains("<svg class=\"chart\""));

    let polish = b.get(&format!("{dashboard}?lang=pl")).await;
    assert!(polish.body.contains("Pulpit") && polish.body.contains(r#"lang="pl""#));

    let csrf = page.csrf();
    let out = b.post("/console/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, 303);
    assert!(!b.cookies.contains_key("tally_session"));
    assert_eq!(b.get(&dashboard).await.status, 303, "signed out");
}

#[tokio::test]
async fn a_form_without_its_csrf_token_is_refused_and_changes_nothing() {
    let app = App::new().await;
    let member = app.enrol(&app.a, json!({"name": "Ann"})).await;
    let mut b = app.signed_in(&app.a.owner).await;
    let path = format!("/console/{}/members/{}/adjust", app.a.program, member.id);
    for csrf in [
        "",
        "0000000000000000000000000000000000000000000000000000000000000000",
    ] {
        let r = b
            .post(
                &path,
                &[("csrf", csrf), ("points", "50"), ("reason", "goodwill")],
            )
            .await;
        assert_eq!(r.status, 403);
    }
    assert_eq!(app.balance(&app.a, &member.id).await, 0);
    // Signing in needs the pre-session cookie the sign-in page sets.
    let mut fresh = app.browser();
    let r = fresh
        .post(
            "/console/sign-in",
            &[
                ("csrf", "x"),
                ("email", "owner@shop-a.example"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn an_adjustment_needs_a_reason_and_is_recorded_with_the_operator() {
    let app = App::new().await;
    let member = app.enrol(&app.a, json!({"name": "Ann"})).await;
    let mut b = app.signed_in(&app.a.owner).await;
    let page_path = format!("/console/{}/members/{}", app.a.program, member.id);
    let page = b.get(&page_path).await;
    let csrf = page.csrf();
    let path = format!("{page_path}/adjust");
    let refused = b
        .post(
            &path,
            &[("csrf", &csrf), ("points", "50"), ("reason", "  ")],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains(r#"id="reason-error""#),
        "the message is next to the field"
    );
    assert_eq!(app.balance(&app.a, &member.id).await, 0);
    let done = b
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("points", "50"),
                ("reason", "damaged sleeve"),
            ],
        )
        .await;
    assert_eq!(done.status, 303);
    assert_eq!(app.balance(&app.a, &member.id).await, 50);
    let page = b.get(&page_path).await;
    assert!(
        page.body.contains("damaged sleeve") && page.body.contains("operator:owner@shop-a.example")
    );
}

#[tokio::test]
async fn a_cashier_serves_customers_but_cannot_open_the_back_office() {
    let app = App::new().await;
    let member = app
        .enrol(&app.a, json!({"name": "Ann", "external_id": "ann-1"}))
        .await;
    let mut b = app.signed_in(&app.a.cashier).await;
    let p = &app.a.program;
    for page in ["dashboard", "members", &format!("members/{}", member.id)] {
        assert_eq!(
            b.get(&format!("/console/{p}/{page}")).await.status,
            403,
            "{page}"
        );
    }
    let home = b.get("/console").await;
    assert_eq!(home.location, format!("/console/{p}/cashier"));

    let found = b
        .get(&format!("/console/{p}/cashier?find={}", member.card.number))
        .await;
    assert!(
        found.body.contains(r#"id="member-panel""#),
        "{}",
        found.body
    );
    let order_id = found.field("order_id");
    let form = [
        ("csrf", found.csrf()),
        ("member_id", member.id.to_string()),
        ("order_id", order_id),
        ("amount", "12.50".into()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let recorded = b
        .post(&format!("/console/{p}/cashier/purchase"), &form)
        .await;
    assert_eq!(recorded.status, 200);
    assert!(
        recorded
            .body
            .contains("Purchase recorded: 12 points earned."),
        "{}",
        recorded.body
    );
    // The same form sent twice (a double tap) records one purchase.
    b.post(&format!("/console/{p}/cashier/purchase"), &form)
        .await;
    assert_eq!(app.balance(&app.a, &member.id).await, 12);
    let purchases = app
        .tally
        .member_purchases(&app.a.tenant, &member.id, None, None)
        .await
        .unwrap();
    assert_eq!(purchases.items.len(), 1);

    let bad = [
        ("csrf", form[0].1),
        ("member_id", form[1].1),
        ("order_id", "pos-2"),
        ("amount", "twelve"),
    ];
    let refused = b
        .post(&format!("/console/{p}/cashier/purchase"), &bad)
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains(r#"id="amount-error""#));
    assert_eq!(app.balance(&app.a, &member.id).await, 12);
}

#[tokio::test]
async fn another_tenants_programs_and_members_are_not_found() {
    let app = App::new().await;
    let theirs = app.enrol(&app.b, json!({"name": "Bob"})).await;
    let mut b = app.signed_in(&app.a.owner).await;
    assert_eq!(
        b.get(&format!("/console/{}/dashboard", app.b.program))
            .await
            .status,
        404
    );
    assert_eq!(
        b.get(&format!("/console/{}/members/{}", app.a.program, theirs.id))
            .await
            .status,
        404
    );
    let found = b
        .get(&format!(
            "/console/{}/cashier?find={}",
            app.a.program, theirs.card.number
        ))
        .await;
    assert!(!found.body.contains("member-panel"));
    assert_eq!(app.b.owner.tenant_id, app.b.tenant);
}

#[tokio::test]
async fn members_are_found_by_name_prefix_without_diacritics_email_and_card() {
    let app = App::new().await;
    let lukasz = app
        .enrol(
            &app.a,
            json!({"name": "Łukasz Żółkiewski", "email": "lz@example.com"}),
        )
        .await;
    let other = app.enrol(&app.a, json!({"name": "Lucy Kowalska"})).await;
    let mut b = app.signed_in(&app.a.owner).await;
    let list = |q: &str| format!("/console/{}/members?q={q}", app.a.program);
    let names = |body: &str, m: &Member| body.contains(m.id.as_str());
    let r = b.get(&list("lukasz")).await;
    assert!(names(&r.body, &lukasz) && !names(&r.body, &other));
    let r = b.get(&list("zolk+luk")).await;
    assert!(names(&r.body, &lukasz) && !names(&r.body, &other));
    let r = b.get(&list("lu")).await;
    assert!(names(&r.body, &lukasz) && names(&r.body, &other));
    let r = b.get(&list("LZ%40example.com")).await;
    assert!(names(&r.body, &lukasz) && !names(&r.body, &other));
    let r = b.get(&list(&lukasz.card.number)).await;
    assert!(names(&r.body, &lukasz) && !names(&r.body, &other));
    let r = b.get(&list("nobody")).await;
    assert!(r.body.contains(r#"id="no-members""#));
}

#[tokio::test]
async fn an_invite_link_sets_a_password_once() {
    let app = App::new().await;
    let token = secrets::new_token();
    let invited: Operator = app
        .tally
        .write_as(
            &app.a.tenant,
            "setup",
            Command::CreateOperator(NewOperator {
                email: Email::parse("new@shop-a.example").unwrap(),
                name: "New Manager".into(),
                role: Role::Manager,
                locale: "pl".into(),
                password_hash: None,
            }),
        )
        .await
        .unwrap();
    let link = Command::IssueOperatorLink {
        operator: invited.id.clone(),
        purpose: LinkPurpose::Invite,
        token_sha256: secrets::sha256_hex(&token),
        ttl: jiff::SignedDuration::from_hours(1),
    };
    app.tally
        .write(&app.a.tenant, "setup", None, link)
        .await
        .unwrap();
    let path = format!("/console/link/{token}");
    let mut b = app.browser();
    let page = b.get(&path).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Witamy"), "in the operator's language");
    let csrf = page.csrf();
    let short = b
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("password", "short"),
                ("password_again", "short"),
            ],
        )
        .await;
    assert!(short.body.contains(r#"id="password-error""#));
    let chosen = "a long new password";
    let ok = b
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("password", chosen),
                ("password_again", chosen),
            ],
        )
        .await;
    assert_eq!(ok.status, 303);
    assert!(b.cookies.contains_key("tally_session"));
    assert_eq!(b.get(&path).await.status, 404, "a link works once");
    let again = b
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("password", chosen),
                ("password_again", chosen),
            ],
        )
        .await;
    assert_eq!(again.status, 404);

    let mut other = app.browser();
    let page = other.get("/console/sign-in").await;
    let csrf = page.csrf();
    let r = other
        .post(
            "/console/sign-in",
            &[
                ("csrf", &csrf),
                ("email", "new@shop-a.example"),
                ("password", chosen),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "the chosen password signs in");
}
