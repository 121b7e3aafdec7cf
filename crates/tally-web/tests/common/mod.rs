//! A running console on a fresh database (SQLite, or PostgreSQL when `TALLY_TEST_DATABASE_URL`
//! is set) with two shops, each with an owner and a cashier, and a cookie-keeping browser that
//! does not follow redirects (the tests look at them).
#![allow(dead_code)]

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
use tally_store_any::AnyDb;
use tally_store_any::testing::TestDb;
use tally_web::secrets;

pub const PASSWORD: &str = "correct horse battery";

pub struct Shop {
    pub tenant: TenantId,
    pub program: ProgramId,
    pub owner: Operator,
    pub cashier: Operator,
}

pub struct App {
    pub base: String,
    pub tally: Tally<AnyDb>,
    pub a: Shop,
    pub b: Shop,
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
    pub async fn new() -> App {
        App::start(None).await
    }

    /// A console whose wallet sends its sign-in codes through `mailer`.
    pub async fn start(mailer: Option<tally_mail::Mailer>) -> App {
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
            public_url: base.clone(),
            mailer,
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

    /// A tenant with no program yet and its owner (with the test password).
    pub async fn new_tenant_with_owner(&self, name: &str) -> (TenantId, Operator) {
        let t = self
            .tally
            .write(
                &TenantId::generate(),
                "setup",
                None,
                Command::CreateTenant { name: name.into() },
            )
            .await
            .unwrap();
        let tenant = TenantId::parse(t["id"].as_str().unwrap()).unwrap();
        let new = NewOperator {
            email: Email::parse(&format!("owner@{name}.example")).unwrap(),
            name: format!("owner of {name}"),
            role: Role::Owner,
            locale: "en".into(),
            password_hash: Some(secrets::hash_password(PASSWORD.into()).await.unwrap()),
        };
        let owner = self
            .tally
            .write_as(&tenant, "setup", Command::CreateOperator(new))
            .await
            .unwrap();
        (tenant, owner)
    }

    /// One more operator of a shop, with the test password.
    pub async fn operator(&self, shop: &Shop, who: &str, role: Role) -> Operator {
        let tenant_name = if shop.tenant == self.a.tenant {
            "shop-a"
        } else {
            "shop-b"
        };
        let new = NewOperator {
            email: Email::parse(&format!("{who}@{tenant_name}.example")).unwrap(),
            name: format!("{who} of {tenant_name}"),
            role,
            locale: "en".into(),
            password_hash: Some(secrets::hash_password(PASSWORD.into()).await.unwrap()),
        };
        self.tally
            .write_as(&shop.tenant, "setup", Command::CreateOperator(new))
            .await
            .unwrap()
    }

    pub async fn enrol(&self, shop: &Shop, body: serde_json::Value) -> Member {
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

    pub fn browser(&self) -> Browser {
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
    pub async fn signed_in(&self, operator: &Operator) -> Browser {
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

    /// Gives a member points by an adjustment (a test's set-up).
    pub async fn give_points(&self, shop: &Shop, member: &MemberId, points: i64) {
        let request = tally_domain::inputs::AdjustmentRequest::parse(
            &json!({"points": points, "reason": "welcome"}),
        )
        .unwrap();
        let command = Command::Adjust {
            member: member.clone(),
            request,
        };
        self.tally
            .write(&shop.tenant, "setup", None, command)
            .await
            .unwrap();
    }

    /// Adds a reward to the shop's program; answers it as the API does.
    pub async fn create_reward(&self, shop: &Shop, body: serde_json::Value) -> serde_json::Value {
        let command = Command::CreateReward {
            program: shop.program.clone(),
            reward: tally_domain::inputs::NewReward::parse(&body).unwrap(),
        };
        self.tally
            .write(&shop.tenant, "setup", None, command)
            .await
            .unwrap()
    }

    pub async fn balance(&self, shop: &Shop, member: &MemberId) -> i64 {
        self.tally
            .member(&shop.tenant, member)
            .await
            .unwrap()
            .balance
            .available
            .value()
    }
}

pub struct Page {
    pub status: u16,
    pub location: String,
    pub body: String,
}

impl Page {
    /// The CSRF token of the page's first form.
    pub fn csrf(&self) -> String {
        let start = self
            .body
            .find(r#"name="csrf" value=""#)
            .expect("a form with a CSRF token")
            + 19;
        self.body[start..start + 64].to_owned()
    }

    pub fn field(&self, name: &str) -> String {
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
pub struct Browser {
    pub base: String,
    pub client: reqwest::Client,
    pub cookies: HashMap<String, String>,
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

    pub async fn get(&mut self, path: &str) -> Page {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.finish(r).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
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

/// The form's CSRF token plus the given fields.
pub fn with_csrf<'a>(csrf: &'a str, fields: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all = vec![("csrf", csrf)];
    all.extend_from_slice(fields);
    all
}

// ---- the wallet, signed in with a code sent over real SMTP ----------------------------------

pub const EMAIL: &str = "kasia@example.com";

/// An app whose mail goes over SMTP to a real SMTP server on loopback (tally-mail's sink).
pub async fn app_with_mail() -> (App, tally_mail::sink::SmtpSink) {
    let sink = tally_mail::sink::SmtpSink::start().await.unwrap();
    let config = tally_mail::MailConfig::parse(&sink.url(), "Tally <tally@example.com>").unwrap();
    let app = App::start(Some(tally_mail::Mailer::new(&config).unwrap())).await;
    (app, sink)
}

/// Asks for a code and returns it, read from the email that arrived.
pub async fn request_code(
    b: &mut Browser,
    sink: &tally_mail::sink::SmtpSink,
    email: &str,
) -> (Page, String) {
    let form = b.get("/wallet/sign-in").await;
    let csrf = form.csrf();
    let sent = b
        .post("/wallet/sign-in", &[("csrf", &csrf), ("email", email)])
        .await;
    assert_eq!(sent.status, 200);
    let message = sink
        .wait_for_message_to(email, std::time::Duration::from_secs(5))
        .await
        .expect("the code arrives");
    let text = message.text().unwrap();
    let code: String = message
        .subject()
        .unwrap()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    assert_eq!(code.len(), 6, "{:?}", message.subject());
    assert!(text.contains(&code));
    (sent, code)
}

/// A browser signed in to the wallet of `EMAIL` with a code from the email.
pub async fn signed_in(app: &App, sink: &tally_mail::sink::SmtpSink) -> Browser {
    let mut b = app.browser();
    let (page, code) = request_code(&mut b, sink, EMAIL).await;
    b.post(
        "/wallet/sign-in/code",
        &[("csrf", &page.csrf()), ("email", EMAIL), ("code", &code)],
    )
    .await;
    b
}
