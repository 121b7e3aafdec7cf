//! A running Tally HTTP server on a fresh database, and a client to talk to it.
//!
//! [`TestApp::new`] gives each test its own database ([`TestDb`]: SQLite by default, PostgreSQL
//! when `TALLY_TEST_DATABASE_URL` is set), two tenants, API keys of every scope, a program per
//! tenant, and the real router served on `127.0.0.1:<free port>`. Requests go over TCP with
//! `reqwest`, so everything between the socket and the database is exercised.
#![allow(dead_code)]

use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use tally_core::{Command, Tally};
use tally_domain::ids::TenantId;
use tally_domain::inputs::NewProgram;
use tally_domain::{ManualClock, Timestamp};
use tally_http::AppState;
use tally_store::{Conn, Database};
use tally_store_any::AnyDb;
use tally_store_any::testing::TestDb;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// Every table of the schema: what [`TestApp::snapshot`] compares.
const TABLES: &[&str] = &[
    "tenants",
    "api_keys",
    "programs",
    "persons",
    "members",
    "consents",
    "locations",
    "accounts",
    "transfers",
    "purchases",
    "purchase_lines",
    "returns",
    "rewards",
    "reward_claims",
    "redemptions",
    "idempotency_keys",
    "audit_log",
    "rules",
    "rule_versions",
    "rule_awards",
    "tier_plans",
    "member_tiers",
    "tier_changes",
    "expiry_policies",
    "point_lots",
    "event_types",
    "events",
    "stamp_cards",
    "member_stamps",
    "stamp_events",
    "stamp_codes",
    "referral_policies",
    "referral_codes",
    "referrals",
    "voucher_pools",
    "voucher_codes",
    "voucher_failures",
    "charities",
    "donations",
    "charity_settlements",
    "offers",
    "offer_activations",
    "offer_uses",
    "cashback_payments",
    "offer_groups",
    "offer_group_members",
    "message_templates",
    "messages",
    "message_counts",
    "program_messaging",
    "campaigns",
    "journeys",
    "journey_runs",
    "webhook_endpoints",
    "webhook_deliveries",
    "push_subscriptions",
];

/// A tenant with its keys and a program.
pub struct Tenant {
    pub id: TenantId,
    /// The program every test uses (currency USD, one point per dollar).
    pub program: String,
    pub read: String,
    pub write: String,
    pub admin: String,
}

pub struct TestApp {
    /// `http://127.0.0.1:<port>`
    pub base: String,
    pub client: reqwest::Client,
    pub tally: Tally<AnyDb>,
    pub clock: ManualClock,
    /// Tenant A: most tests work here.
    pub a: Tenant,
    /// Tenant B: only an admin key; used to check isolation.
    pub b: Tenant,
    /// Every problem `type` a response carried: [`TestApp::check_end_state`] checks that each
    /// links to a page.
    problem_types: Mutex<BTreeSet<String>>,
    server: tokio::task::JoinHandle<()>,
    db: TestDb,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

const OPERATOR: &str = "test-setup";

async fn create_tenant(
    tally: &Tally<AnyDb>,
    name: &str,
    scopes: &[&str],
) -> (TenantId, String, Vec<String>) {
    let placeholder = TenantId::generate();
    let tenant = tally
        .write(
            &placeholder,
            OPERATOR,
            None,
            Command::CreateTenant { name: name.into() },
        )
        .await
        .expect("create a tenant");
    let tenant = TenantId::parse(tenant["id"].as_str().expect("tenant id")).expect("a tenant id");
    let mut keys = Vec::new();
    for scope in scopes {
        let (secret, prefix) = tally_http::new_secret();
        let command = Command::CreateApiKey {
            name: format!("{scope} key"),
            scope: (*scope).into(),
            secret_sha256: tally_http::secret_sha256(&secret),
            prefix,
        };
        tally
            .write(&tenant, OPERATOR, None, command)
            .await
            .expect("create an API key");
        keys.push(secret);
    }
    let program = NewProgram::parse(&json!({"name": format!("{name} rewards"), "currency": "USD"}))
        .expect("a valid program");
    let program = tally
        .write(&tenant, OPERATOR, None, Command::CreateProgram(program))
        .await
        .expect("create a program");
    (
        tenant,
        program["id"].as_str().expect("program id").to_owned(),
        keys,
    )
}

impl TestApp {
    pub async fn new() -> TestApp {
        TestApp::start(Vec::new()).await
    }

    /// A server that believes `X-Forwarded-For` from 127.0.0.1, as behind a local proxy.
    pub async fn behind_proxy() -> TestApp {
        TestApp::start(vec![std::net::Ipv4Addr::LOCALHOST.into()]).await
    }

    async fn start(trusted_proxies: Vec<std::net::IpAddr>) -> TestApp {
        let db = TestDb::new().await;
        let clock = ManualClock::at(
            "2026-05-01T10:00:00Z"
                .parse::<Timestamp>()
                .expect("a timestamp"),
        );
        let tally = Tally::start(db.db.clone(), Arc::new(clock.clone()));
        let (a_id, a_program, a_keys) =
            create_tenant(&tally, "shop-a", &["read", "write", "admin"]).await;
        let (b_id, b_program, b_keys) = create_tenant(&tally, "shop-b", &["admin"]).await;
        let a = Tenant {
            id: a_id,
            program: a_program,
            read: a_keys[0].clone(),
            write: a_keys[1].clone(),
            admin: a_keys[2].clone(),
        };
        let b = Tenant {
            id: b_id,
            program: b_program,
            read: String::new(),
            write: String::new(),
            admin: b_keys[0].clone(),
        };

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free port");
        let base = format!("http://{}", listener.local_addr().expect("local address"));
        let state = AppState::new(tally.clone()).with_trusted_proxies(trusted_proxies);
        let router =
            tally_http::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.expect("serve");
        });
        // No proxy: a proxy from the environment must not see (or break) requests to localhost.
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("a client");
        TestApp {
            base,
            client,
            tally,
            clock,
            a,
            b,
            problem_types: Mutex::default(),
            server,
            db,
        }
    }

    pub fn backend(&self) -> &'static str {
        self.db.backend()
    }

    // ---- requests ---------------------------------------------------------------------------

    /// A request to a path under `/api/v1`, without credentials.
    pub fn api(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}/api/v1{path}", self.base))
    }

    /// A request to a path from the root (`/healthz`, `/metrics`).
    pub fn root(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }

    pub async fn send(&self, request: RequestBuilder) -> Resp {
        let response = request
            .send()
            .await
            .expect("the request reaches the server");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("a response body");
        let resp = Resp {
            status,
            headers,
            text,
        };
        if resp.header("content-type") == Some(PROBLEM_JSON)
            && let Some(problem_type) = resp.json()["type"].as_str()
        {
            self.problem_types
                .lock()
                .unwrap()
                .insert(problem_type.to_owned());
        }
        resp
    }

    pub async fn get(&self, key: &str, path: &str) -> Resp {
        self.send(self.api(Method::GET, path).bearer_auth(key))
            .await
    }

    /// The items of a list's first page (a 200 is asserted).
    pub async fn items(&self, key: &str, path: &str) -> Vec<Value> {
        match self.get(key, path).await.ok(200)["items"].take() {
            Value::Array(items) => items,
            other => panic!("`{path}` answered items {other}"),
        }
    }

    pub async fn post(&self, key: &str, path: &str, body: &Value) -> Resp {
        self.send(self.api(Method::POST, path).bearer_auth(key).json(body))
            .await
    }

    /// A POST with an `Idempotency-Key`.
    pub async fn post_idem(
        &self,
        key: &str,
        path: &str,
        idempotency_key: &str,
        body: &Value,
    ) -> Resp {
        self.send(
            self.api(Method::POST, path)
                .bearer_auth(key)
                .header("Idempotency-Key", idempotency_key)
                .json(body),
        )
        .await
    }

    /// A POST without a body (cancel, consume, rotate).
    pub async fn post_empty(&self, key: &str, path: &str) -> Resp {
        self.send(self.api(Method::POST, path).bearer_auth(key))
            .await
    }

    pub async fn patch(&self, key: &str, path: &str, body: &Value) -> Resp {
        self.send(self.api(Method::PATCH, path).bearer_auth(key).json(body))
            .await
    }

    // ---- set-up through the API ---------------------------------------------------------------

    /// Enrols a member in tenant A's program; returns the member as the API shows it.
    pub async fn enroll(&self, body: Value) -> Value {
        self.post(
            &self.a.write,
            &format!("/programs/{}/members", self.a.program),
            &body,
        )
        .await
        .ok(201)
    }

    /// Records a purchase of `amount_minor` cents for a member of tenant A's program.
    pub async fn purchase(&self, member: &str, order_id: &str, amount_minor: i64) -> Value {
        let body = json!({"order_id": order_id, "member": {"id": member}, "total": {"amount_minor": amount_minor, "currency": "USD"}});
        self.post(
            &self.a.write,
            &format!("/programs/{}/purchases", self.a.program),
            &body,
        )
        .await
        .ok(201)
    }

    /// Gives (or takes) points by a manual adjustment.
    pub async fn adjust(&self, member: &str, points: i64) -> Value {
        self.post(
            &self.a.write,
            &format!("/members/{member}/adjustments"),
            &json!({"points": points, "reason": "test"}),
        )
        .await
        .ok(201)
    }

    pub async fn create_reward(&self, body: Value) -> Value {
        self.post(
            &self.a.admin,
            &format!("/programs/{}/rewards", self.a.program),
            &body,
        )
        .await
        .ok(201)
    }

    pub async fn member(&self, id: &str) -> Value {
        self.get(&self.a.read, &format!("/members/{id}"))
            .await
            .ok(200)
    }

    pub async fn balance(&self, member: &str) -> i64 {
        self.member(member).await["balance"]["available"]
            .as_i64()
            .expect("a balance")
    }

    pub async fn totals(&self) -> Value {
        self.get(
            &self.a.read,
            &format!("/programs/{}/totals", self.a.program),
        )
        .await
        .ok(200)
    }

    /// Every item of a paged list, walking `next_cursor` with pages of `limit`.
    pub async fn all_pages(&self, key: &str, path: &str, limit: usize) -> Vec<Vec<Value>> {
        let mut pages = Vec::new();
        let mut cursor: Option<String> = None;
        let sep = if path.contains('?') { '&' } else { '?' };
        loop {
            let url = match &cursor {
                None => format!("{path}{sep}limit={limit}"),
                Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
            };
            let page = self.get(key, &url).await.ok(200);
            let items = page["items"].as_array().expect("items").clone();
            assert!(
                items.len() <= limit,
                "a page has at most `limit` items: {page}"
            );
            pages.push(items);
            match &page["next_cursor"] {
                Value::Null => return pages,
                Value::String(next) => cursor = Some(next.clone()),
                other => panic!("next_cursor must be a string or null, got {other}"),
            }
            assert!(pages.len() < 1000, "pagination does not end");
        }
    }

    // ---- what is stored -----------------------------------------------------------------------

    /// Every row of every table, plus every program's totals: two equal snapshots mean that
    /// nothing was written in between.
    pub async fn snapshot(&self) -> Snapshot {
        let mut c = self.tally.db.reader().await.expect("a reader");
        let mut tables = BTreeMap::new();
        for table in TABLES {
            let rows = c
                .query(&format!("SELECT * FROM {table}"), &[])
                .await
                .expect("read a table");
            let mut rows: Vec<String> = rows.iter().map(|r| format!("{:?}", r.0)).collect();
            rows.sort();
            tables.insert((*table).to_owned(), rows);
        }
        drop(c);
        for tenant in [&self.a.id, &self.b.id] {
            for program in self.tally.programs(tenant).await.expect("programs") {
                let totals = self
                    .tally
                    .program_totals(tenant, &program.id)
                    .await
                    .expect("totals");
                tables.insert(
                    format!("totals of {}", program.id),
                    vec![serde_json::to_string(&totals).expect("json")],
                );
            }
        }
        Snapshot(tables)
    }

    /// Asserts the ledger invariants of every program of both tenants: every transfer balances,
    /// all accounts sum to zero, every cached balance equals the sum of its transfers.
    pub async fn check_end_state(&self) {
        self.check_problem_pages().await;
        for tenant in [&self.a.id, &self.b.id] {
            for program in self.tally.programs(tenant).await.expect("programs") {
                let mut c = self.tally.db.reader().await.expect("a reader");
                let result = tally_core::invariants::check_program(&mut c, &program.id)
                    .await
                    .expect("read the ledger");
                assert_eq!(
                    result,
                    Ok(()),
                    "ledger invariants of {} ({})",
                    program.id,
                    self.backend()
                );
                let lots = tally_core::invariants::check_lots(&mut c, &program.id)
                    .await
                    .expect("read the lots");
                assert_eq!(lots, vec![], "lots follow balances in {}", program.id);
                let pending = tally_core::invariants::check_pending(&mut c, &program.id)
                    .await
                    .expect("read the pending points");
                assert_eq!(pending, vec![], "pending rows add up in {}", program.id);
            }
        }
    }

    /// Every problem `type` met so far links to a page (`GET /problems/{code}`).
    pub async fn check_problem_pages(&self) {
        let types = self.problem_types.lock().unwrap().clone();
        for problem_type in types {
            let r = self
                .client
                .get(format!("{}{problem_type}", self.base))
                .send()
                .await
                .expect("a problem page");
            assert_eq!(
                r.status().as_u16(),
                200,
                "the page of problem type {problem_type}"
            );
        }
    }
}

/// The stored state of the database, table by table (rows sorted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot(pub BTreeMap<String, Vec<String>>);

impl Snapshot {
    /// The same snapshot without some tables (e.g. `idempotency_keys`, which a replayed error
    /// legitimately writes).
    pub fn without(mut self, tables: &[&str]) -> Snapshot {
        for t in tables {
            self.0.remove(*t);
        }
        self
    }

    /// Fails naming every table that differs.
    #[track_caller]
    pub fn assert_same(&self, after: &Snapshot, what: &str) {
        if self == after {
            return;
        }
        let mut report = String::new();
        for (table, rows) in &self.0 {
            let other = after.0.get(table);
            if other != Some(rows) {
                report.push_str(&format!(
                    "\n  {table}:\n    before: {rows:?}\n    after:  {other:?}"
                ));
            }
        }
        for table in after.0.keys().filter(|t| !self.0.contains_key(*t)) {
            report.push_str(&format!("\n  {table}: new"));
        }
        panic!("{what}: something was written{report}");
    }
}

/// A response: status, headers and body text.
#[derive(Clone, Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("an ASCII header"))
    }

    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// Asserts a success status and a JSON body; returns the body.
    #[track_caller]
    pub fn ok(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "status; body: {}", self.text);
        let content_type = self.header("content-type").unwrap_or_default();
        assert!(
            content_type.starts_with("application/json"),
            "content-type {content_type}; body: {}",
            self.text
        );
        self.json()
    }

    /// Asserts an RFC 9457 problem with this status and code, carrying a request id; returns
    /// the problem.
    #[track_caller]
    pub fn problem(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status, status, "status; body: {}", self.text);
        assert_eq!(
            self.header("content-type"),
            Some(PROBLEM_JSON),
            "content-type; body: {}",
            self.text
        );
        let p = self.json();
        assert_eq!(p["code"], code, "problem code: {p}");
        assert_eq!(p["status"], status, "problem status: {p}");
        assert_eq!(p["type"], format!("/problems/{code}"), "problem type: {p}");
        assert!(
            p["title"].as_str().is_some_and(|t| !t.is_empty()),
            "problem title: {p}"
        );
        assert!(
            p["detail"].as_str().is_some_and(|t| !t.is_empty()),
            "problem detail: {p}"
        );
        let request_id = p["request_id"]
            .as_str()
            .unwrap_or_else(|| panic!("problem without request_id: {p}"));
        assert!(!request_id.is_empty(), "empty request_id: {p}");
        assert_eq!(
            self.header("x-request-id"),
            Some(request_id),
            "the X-Request-Id header is the problem's request_id"
        );
        p
    }

    /// Asserts a 422 validation problem naming exactly these field pointers (in any order).
    #[track_caller]
    pub fn invalid(&self, pointers: &[&str]) -> Value {
        let p = self.problem(422, "validation");
        assert_eq!(self.pointers(), sorted(pointers), "errors[].pointer: {p}");
        for e in p["errors"].as_array().expect("errors") {
            assert!(
                e["detail"].as_str().is_some_and(|d| !d.is_empty()),
                "every error says what to fix: {p}"
            );
        }
        p
    }

    /// Asserts a 400 bad_parameter problem naming this query parameter (or header).
    #[track_caller]
    pub fn bad_parameter(&self, parameter: &str) -> Value {
        let p = self.problem(400, "bad_parameter");
        assert_eq!(self.parameters(), [parameter], "errors[].parameter: {p}");
        p
    }

    /// The sorted `errors[].pointer`s of a problem.
    pub fn pointers(&self) -> Vec<String> {
        let p = self.json();
        let mut out: Vec<String> = p["errors"]
            .as_array()
            .map(|e| {
                e.iter()
                    .filter_map(|e| e["pointer"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }

    /// The `errors[].parameter`s of a problem.
    pub fn parameters(&self) -> Vec<String> {
        let p = self.json();
        p["errors"]
            .as_array()
            .map(|e| {
                e.iter()
                    .filter_map(|e| e["parameter"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn sorted(items: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = items.iter().map(|s| (*s).to_owned()).collect();
    out.sort();
    out
}

/// The `id` field of a JSON object.
#[track_caller]
pub fn id(value: &Value) -> String {
    value["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {value}"))
        .to_owned()
}
