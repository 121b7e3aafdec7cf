//! The console over real HTTP on a fresh database (SQLite, or PostgreSQL when
//! `TALLY_TEST_DATABASE_URL` is set): signing in and out, one-time links, CSRF, roles, tenant
//! isolation, search, adjustments and the cashier's purchase, with the database checked after.

use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use tally_core::{Command, NewOperator, Tally};
use tally_domain::ids::{MemberId, ProgramId, TenantId};
use tally_domain::inputs::{NewMember, NewProgram};
use tally_domain::model::Member;
use tally_domain::operators::{Operator, Role};
use tally_domain::text::Email;
use tally_domain::{ManualClock, Timestamp};
use tally_store::queries::operators::LinkPurpose;
use tally_store_any::AnyDb;
use tally_store_any::testing::TestDb;
use tally_web::secrets;

const PASSWORD: &str = "correct horse battery";

struct Shop {
    tenant: TenantId,
    program: ProgramId,
    owner: Operator,
    cashier: Operator,
}

struct App {
    base: String,
    tally: Tally<AnyDb>,
    a: Shop,
    b: Shop,
    _db: TestDb,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for App {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn shop(tally: &Tally<AnyDb>, name: &str) -> Shop {
    let t = tally
        .write(
            &TenantId::generate(),
            "setup",
            None,
            Command::CreateTenant { name: name.into() },
        )
        .await
        .unwrap();
    let tenant = TenantId::parse(t["id"].as_str().unwrap()).unwrap();
    let program =
        NewProgram::parse(&json!({"name": format!("{name} club"), "currency": "USD"})).unwrap();
    let program: tally_domain::program::Program = tally
        .write_as(&tenant, "setup", Command::CreateProgram(program))
        .await
        .unwrap();
    let hash = secrets::hash_password(PASSWORD.into()).await.unwrap();
    let mut operators = Vec::new();
    for (who, role) in [("owner", Role::Owner), ("cashier", Role::Cashier)] {
        let new = NewOperator {
            email: Email::parse(&format!("{who}@{name}.example")).unwrap(),
            name: format!("{who} of {name}"),
            role,
            locale: "en".into(),
            password_hash: Some(hash.clone()),
        };
        let op: Operator = tally
            .write_as(&tenant, "setup", Command::CreateOperator(new))
            .await
            .unwrap();
        operators.push(op);
    }
    let cashier = operators.pop().unwrap();
    let owner = operators.pop().unwrap();
    Shop {
        tenant,
        program: program.id,
        owner,
        cashier,
    }
}

impl App {
    async fn new() -> App {
        let db = TestDb::new().await;
        let clock = ManualClock::at("2026-05-01T10:00:00Z".parse::<Timestamp>().unwrap());
        let tally = Tally::start(db.db.clone(), Arc::new(clock));
        let a = shop(&tally, "shop-a").await;
        let b = shop(&tally, "shop-b").await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let router = tally_web::router(tally_web::WebState {
            tally: tally.clone(),
            secure_cookies: false,
        });
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        App {
            base,
            tally,
            a,
            b,
            _db: db,
            server,
        }
    }

    async fn enrol(&self, shop: &Shop, body: serde_json::Value) -> Member {
        let member = NewMember::parse(&body).unwrap();
        let command = Command::Enroll {
            program: shop.program.clone(),
            member,
            source: "test".into(),
        };
        self.tally
            .write_as(&shop.tenant, "setup", command)
            .await
            .unwrap()
    }

    fn browser(&self) -> Browser {
        Browser {
            base: self.base.clone(),
            client: reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: HashMap::new(),
        }
    }

    /// A browser signed in with email and password.
    async fn signed_in(&self, operator: &Operator) -> Browser {
        let mut b = self.browser();
        let page = b.get("/console/sign-in").await;
        let csrf = page.csrf();
        let r = b
            .post(
                "/console/sign-in",
                &[
                    ("csrf", &csrf),
                    ("email", operator.email.as_str()),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(r.status, 303, "{}", r.body);
        b
    }

    async fn balance(&self, shop: &Shop, member: &MemberId) -> i64 {
        self.tally
            .member(&shop.tenant, member)
            .await
            .unwrap()
            .balance
            .available
            .value()
    }
}

struct Page {
    status: u16,
    location: String,
    body: String,
}

impl Page {
    /// The CSRF token of the page's first form.
    fn csrf(&self) -> String {
        let start = self
            .body
            .find(r#"name="csrf" value=""#)
            .expect("a form with a CSRF token")
            + 19;
        self.body[start..start + 64].to_owned()
    }

    fn field(&self, name: &str) -> String {
        let marker = format!(r#"name="{name}" value=""#);
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no field {name}"))
            + marker.len();
        let end = self.body[start..].find('"').unwrap() + start;
        self.body[start..end].to_owned()
    }
}

/// A browser: keeps cookies, does not follow redirects (tests look at them).
struct Browser {
    base: String,
    client: reqwest::Client,
    cookies: HashMap<String, String>,
}

impl Browser {
    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn finish(&mut self, r: reqwest::Response) -> Page {
        for c in r.headers().get_all("set-cookie") {
            let c = c.to_str().unwrap();
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            assert!(
                attrs.contains("HttpOnly") && attrs.contains("SameSite"),
                "cookie attributes: {c}"
            );
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        Page {
            status,
            location,
            body: r.text().await.unwrap(),
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.finish(r).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.finish(r).await
    }
}

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
