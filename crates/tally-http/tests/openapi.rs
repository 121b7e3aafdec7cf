//! The OpenAPI document (`openapi.json`) tells the truth about the API:
//!
//! - it is OpenAPI 3.1 and every operation is complete (id, summary, responses, scope,
//!   `Idempotency-Key` on every write), every `$ref` resolves, and its request examples match
//!   its own schemas;
//! - it lists exactly the routes the router serves: routes read from `src/routes/mod.rs` must be
//!   documented, every documented (method, path) must be answered by a real handler, and every
//!   other method on a documented path must be refused with 405;
//! - the scope and security it states are what the server enforces;
//! - its examples are accepted by the server, and the answers have the documented shape;
//! - the server serves exactly this file, and the docs page works offline with embedded assets.
//!
//! Runs on SQLite, or on PostgreSQL when `TALLY_TEST_DATABASE_URL` is set.

use reqwest::Method;
use reqwest::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tally_core::{Command, Tally};
use tally_domain::ids::TenantId;
use tally_domain::{ManualClock, Timestamp};
use tally_http::AppState;
use tally_store_any::testing::TestDb;

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");
const HTTP_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];
const SCOPES: [&str; 3] = ["read", "write", "admin"];

fn spec() -> Value {
    let raw =
        std::fs::read_to_string(format!("{MANIFEST_DIR}/openapi.json")).expect("read openapi.json");
    serde_json::from_str(&raw).expect("openapi.json is JSON")
}

/// One documented operation.
struct Operation {
    method: String,
    path: String,
    op: Value,
}

fn operations(spec: &Value) -> Vec<Operation> {
    let mut out = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if HTTP_METHODS.contains(&method.as_str()) {
                out.push(Operation {
                    method: method.to_uppercase(),
                    path: path.clone(),
                    op: op.clone(),
                });
            }
        }
    }
    out
}

fn documented_routes(spec: &Value) -> BTreeSet<(String, String)> {
    operations(spec)
        .into_iter()
        .map(|o| (o.method, o.path))
        .collect()
}

/// Follows a local `$ref` (`#/components/...`).
fn resolve<'a>(spec: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("only local refs: {reference}"));
            let target = spec
                .pointer(pointer)
                .unwrap_or_else(|| panic!("unresolved $ref {reference}"));
            resolve(spec, target)
        }
        None => value,
    }
}

fn parameters(spec: &Value, op: &Value) -> Vec<Value> {
    op["parameters"]
        .as_array()
        .map(|ps| ps.iter().map(|p| resolve(spec, p).clone()).collect())
        .unwrap_or_default()
}

/// The scope an operation needs, or `None` when it needs no API key.
fn required_scope(op: &Value) -> Option<&str> {
    let open = op
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|s| s.is_empty());
    if open {
        None
    } else {
        Some(
            op["x-required-scope"]
                .as_str()
                .expect("an authenticated operation states x-required-scope"),
        )
    }
}

// ---- a small JSON Schema checker: enough of 2020-12 for the shapes this document uses ----------

fn check(spec: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(reference) = schema.get("$ref") {
        check(
            spec,
            resolve(spec, &json!({ "$ref": reference })),
            value,
            at,
            errors,
        );
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for s in all {
            check(spec, s, value, at, errors);
        }
    }
    for (keyword, exactly_one) in [("oneOf", true), ("anyOf", false)] {
        if let Some(options) = schema.get(keyword).and_then(Value::as_array) {
            let passing = options.iter().filter(|s| valid(spec, s, value)).count();
            if (exactly_one && passing != 1) || passing == 0 {
                errors.push(format!(
                    "{at}: {passing} of the {keyword} options match {value}"
                ));
            }
        }
    }
    if let Some(not) = schema.get("not")
        && valid(spec, not, value)
    {
        errors.push(format!("{at}: matches a `not` schema: {value}"));
    }
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => panic!("bad type at {at}"),
        };
        let fits = |t: &str| match t {
            "null" => value.is_null(),
            "boolean" => value.is_boolean(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "string" => value.is_string(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            other => panic!("unknown type {other} at {at}"),
        };
        if !types.iter().any(|t| fits(t)) {
            errors.push(format!("{at}: {value} is not of type {types:?}"));
            return;
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        errors.push(format!("{at}: {value} is not one of {options:?}"));
    }
    if let Some(constant) = schema.get("const")
        && constant != value
    {
        errors.push(format!("{at}: {value} is not {constant}"));
    }
    if let Some(n) = value.as_f64() {
        if schema
            .get("minimum")
            .and_then(Value::as_f64)
            .is_some_and(|min| n < min)
        {
            errors.push(format!("{at}: {n} is below the minimum"));
        }
        if schema
            .get("maximum")
            .and_then(Value::as_f64)
            .is_some_and(|max| n > max)
        {
            errors.push(format!("{at}: {n} is above the maximum"));
        }
    }
    if let Some(s) = value.as_str() {
        let chars = s.chars().count() as u64;
        if schema
            .get("minLength")
            .and_then(Value::as_u64)
            .is_some_and(|min| chars < min)
        {
            errors.push(format!("{at}: `{s}` is too short"));
        }
        if schema
            .get("maxLength")
            .and_then(Value::as_u64)
            .is_some_and(|max| chars > max)
        {
            errors.push(format!("{at}: `{s}` is too long"));
        }
    }
    if let Some(items) = value.as_array() {
        if schema
            .get("minItems")
            .and_then(Value::as_u64)
            .is_some_and(|min| (items.len() as u64) < min)
        {
            errors.push(format!("{at}: too few items"));
        }
        if schema
            .get("maxItems")
            .and_then(Value::as_u64)
            .is_some_and(|max| (items.len() as u64) > max)
        {
            errors.push(format!("{at}: too many items"));
        }
        if let Some(item_schema) = schema.get("items") {
            for (i, item) in items.iter().enumerate() {
                check(spec, item_schema, item, &format!("{at}/{i}"), errors);
            }
        }
    }
    if let Some(object) = value.as_object() {
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = name.as_str().expect("required names are strings");
            if !object.contains_key(name) {
                errors.push(format!("{at}: `{name}` is required"));
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (name, v) in object {
            match properties.and_then(|p| p.get(name)) {
                Some(property) => check(spec, property, v, &format!("{at}/{name}"), errors),
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        errors.push(format!("{at}: `{name}` is not a known property"))
                    }
                    Some(extra @ Value::Object(_)) => {
                        check(spec, extra, v, &format!("{at}/{name}"), errors)
                    }
                    _ => {}
                },
            }
        }
    }
}

fn valid(spec: &Value, schema: &Value, value: &Value) -> bool {
    let mut errors = Vec::new();
    check(spec, schema, value, "", &mut errors);
    errors.is_empty()
}

fn assert_matches(spec: &Value, schema: &Value, value: &Value, what: &str) {
    let mut errors = Vec::new();
    check(spec, schema, value, "", &mut errors);
    assert!(
        errors.is_empty(),
        "{what} does not match its schema:\n  {}\nvalue: {value:#}",
        errors.join("\n  ")
    );
}

// ---- (a) the document itself -------------------------------------------------------------------

#[test]
fn the_document_is_openapi_3_1_and_every_operation_is_complete() {
    let spec = spec();
    let version = spec["openapi"].as_str().expect("an openapi version");
    assert!(version.starts_with("3.1."), "OpenAPI 3.1.x, not {version}");
    assert!(spec["info"]["title"].is_string() && spec["info"]["version"].is_string());
    let scheme = &spec["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!(
        (scheme["type"].as_str(), scheme["scheme"].as_str()),
        (Some("http"), Some("bearer"))
    );
    assert_eq!(
        spec["security"],
        json!([{ "bearerAuth": [] }]),
        "a key is needed unless an operation says otherwise"
    );

    // Every $ref anywhere resolves.
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut all_refs = Vec::new();
    refs(&spec, &mut all_refs);
    for r in &all_refs {
        assert!(
            spec.pointer(r.trim_start_matches('#')).is_some(),
            "unresolved $ref {r}"
        );
    }

    let mut ids = BTreeSet::new();
    let ops = operations(&spec);
    assert!(!ops.is_empty());
    for Operation { method, path, op } in &ops {
        let name = format!("{method} {path}");
        let id = op["operationId"]
            .as_str()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| panic!("{name} has no operationId"));
        assert!(ids.insert(id.to_owned()), "operationId {id} is used twice");
        assert!(
            op["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{name} has no summary"
        );
        assert!(op["description"].is_string(), "{name} has no description");
        let responses = op["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{name} has no responses"));
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{name} documents no success response"
        );
        for (status, response) in responses {
            let response = resolve(&spec, response);
            assert!(
                response["description"].is_string(),
                "{name} {status} has no description"
            );
            if status.starts_with('4') || (status.starts_with('5') && path.starts_with("/api/")) {
                assert!(
                    response["content"]["application/problem+json"]["schema"].is_object(),
                    "{name} {status} is not a problem"
                );
            }
        }

        let params = parameters(&spec, op);
        for p in &params {
            assert!(
                p["name"].is_string() && p["in"].is_string() && p["schema"].is_object(),
                "{name}: incomplete parameter {p}"
            );
        }
        let declared: BTreeSet<&str> = params
            .iter()
            .filter(|p| p["in"] == "path")
            .filter_map(|p| p["name"].as_str())
            .collect();
        let templated: BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        assert_eq!(declared, templated, "{name}: path parameters");
        for p in params.iter().filter(|p| p["in"] == "path") {
            assert_eq!(
                p["required"], true,
                "{name}: path parameter {} must be required",
                p["name"]
            );
        }

        if method == "POST" || method == "PATCH" {
            assert!(
                params
                    .iter()
                    .any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header"),
                "{name} must document the Idempotency-Key header"
            );
        }
        match required_scope(op) {
            Some(scope) => {
                assert!(SCOPES.contains(&scope), "{name}: unknown scope {scope}");
                assert!(
                    path.starts_with("/api/v1/"),
                    "{name}: only /api/v1 needs a key"
                );
                let description = op["description"].as_str().unwrap_or_default();
                assert!(
                    description.starts_with("**Scope:**"),
                    "{name}: the description must state the scope"
                );
                assert!(responses.contains_key("401"), "{name} must document 401");
                assert_eq!(
                    responses.contains_key("403"),
                    scope != "read",
                    "{name}: 403 is documented exactly when a read key is not enough"
                );
            }
            None => assert!(
                op.get("x-required-scope").is_none(),
                "{name}: an open operation has no scope"
            ),
        }

        if let Some(body) = op.get("requestBody") {
            let content = &body["content"]["application/json"];
            let schema = &content["schema"];
            assert!(
                schema.is_object(),
                "{name}: the request body has no JSON schema"
            );
            let mut examples: Vec<(String, Value)> = Vec::new();
            if let Some(example) = content.get("example") {
                examples.push(("example".into(), example.clone()));
            }
            for (key, example) in content
                .get("examples")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                examples.push((key.clone(), example["value"].clone()));
            }
            for (key, example) in examples {
                assert_matches(&spec, schema, &example, &format!("{name} example `{key}`"));
            }
        }
    }

    // Request bodies that the server parses strictly say so.
    for (name, schema) in spec["components"]["schemas"].as_object().unwrap() {
        let is_input = name.starts_with("New")
            || name.ends_with("Patch")
            || name.ends_with("Request")
            || name.ends_with("Input");
        if is_input && schema["type"] == "object" {
            assert_eq!(
                schema["additionalProperties"], false,
                "{name}: the server refuses unknown fields"
            );
        }
    }

    // The problem pages the document lists are the ones the server has.
    let codes: Vec<&str> = tally_http::problem::PROBLEM_CODES
        .iter()
        .map(|(c, _)| *c)
        .collect();
    let problem_op = &spec["paths"]["/problems/{code}"]["get"];
    let documented_codes = parameters(&spec, problem_op)[0]["schema"]["enum"].clone();
    assert_eq!(
        documented_codes,
        json!(codes),
        "the /problems/{{code}} enum must list PROBLEM_CODES"
    );

    // The examples of the shared schemas match them (ids, cards, balances, answers).
    for (name, schema) in spec["components"]["schemas"].as_object().unwrap() {
        for example in schema
            .get("examples")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            assert_matches(&spec, schema, example, &format!("the example of {name}"));
        }
    }
}

/// The routes `src/routes/mod.rs` declares, read from its text: each `.route("…", get(…).post(…))`
/// with the prefix of the router it belongs to (`.nest("/api/v1", api)`).
fn routes_in_source() -> BTreeSet<(String, String)> {
    let source = std::fs::read_to_string(format!("{MANIFEST_DIR}/src/routes/mod.rs"))
        .expect("read routes/mod.rs");
    let code: String = source
        .lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    for unsupported in [
        ".merge(",
        ".route_service(",
        ".nest_service(",
        "fallback_service(",
    ] {
        assert!(
            !code.contains(unsupported),
            "routes/mod.rs uses `{unsupported}`: teach this test to read it"
        );
    }

    // Where each `Router::new()` starts, and the name it is bound to (`let api = Router::new()`).
    let mut routers: Vec<(usize, String)> = Vec::new();
    let mut from = 0;
    while let Some(found) = code[from..].find("Router::new()") {
        let at = from + found;
        let before = code[..at].trim_end();
        let name = before
            .strip_suffix('=')
            .and_then(|b| {
                b.trim_end()
                    .rsplit(|c: char| !c.is_alphanumeric() && c != '_')
                    .next()
            })
            .unwrap_or("")
            .to_owned();
        routers.push((at, name));
        from = at + 1;
    }
    let mut prefixes: BTreeMap<String, String> = BTreeMap::new();
    for call in calls(&code, ".nest(") {
        let prefix = first_string(&call).expect("a nest prefix");
        let target = call
            .rsplit(',')
            .next()
            .unwrap()
            .trim()
            .trim_end_matches(')')
            .trim()
            .to_owned();
        prefixes.insert(target, prefix);
    }

    let mut routes = BTreeSet::new();
    let mut from = 0;
    while let Some(found) = code[from..].find(".route(") {
        let at = from + found;
        let call = balanced(&code[at + ".route".len()..]);
        let path = first_string(call).expect("a route path");
        let router = routers
            .iter()
            .rev()
            .find(|(start, _)| *start < at)
            .map(|(_, name)| name.clone())
            .unwrap_or_default();
        let prefix = prefixes.get(&router).cloned().unwrap_or_default();
        let methods = method_calls(call);
        assert!(!methods.is_empty(), "no method router in .route({call}");
        for method in methods {
            routes.insert((method, format!("{prefix}{path}")));
        }
        from = at + 1;
    }
    assert!(
        routes.len() > 10,
        "the scan of routes/mod.rs found only {routes:?}"
    );
    routes
}

/// The text inside the parentheses that start `s`.
fn balanced(s: &str) -> &str {
    let mut depth = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &s[1..i];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced parentheses in {s}")
}

fn calls(code: &str, needle: &str) -> Vec<String> {
    code.match_indices(needle)
        .map(|(at, _)| balanced(&code[at + needle.len() - 1..]).to_owned())
        .collect()
}

fn first_string(s: &str) -> Option<String> {
    let start = s.find('"')? + 1;
    let end = start + s[start..].find('"')?;
    Some(s[start..end].to_owned())
}

/// `get(`, `post(`, … called as method routers (not as `x::get(` or `foo_get(`).
fn method_calls(call: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for method in HTTP_METHODS {
        for (at, _) in call.match_indices(&format!("{method}(")) {
            let before = call[..at].chars().next_back();
            if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == ':')) {
                out.insert(method.to_uppercase());
            }
        }
    }
    out
}

// ---- a live server -----------------------------------------------------------------------------

struct Server {
    base: String,
    client: reqwest::Client,
    keys: BTreeMap<&'static str, String>,
    _db: TestDb,
}

struct Answer {
    status: u16,
    content_type: String,
    cache_control: String,
    bytes: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or(Value::Null)
    }

    /// The problem's code, when the answer is a problem.
    fn problem_code(&self) -> Option<String> {
        (self.content_type == "application/problem+json")
            .then(|| self.json()["code"].as_str().unwrap_or_default().to_owned())
    }

    /// What the router says when no route has this path.
    fn is_unrouted_path(&self) -> bool {
        self.status == 404
            && self.problem_code().as_deref() == Some("not_found")
            && self.json()["detail"] == "no such path"
    }
}

impl Server {
    async fn start() -> Server {
        let db = TestDb::new().await;
        let clock = ManualClock::at("2026-06-01T10:00:00Z".parse::<Timestamp>().unwrap());
        let tally = Tally::start(db.db.clone(), Arc::new(clock));
        let placeholder = TenantId::generate();
        let tenant = tally
            .write(
                &placeholder,
                "test",
                None,
                Command::CreateTenant {
                    name: format!("openapi-{placeholder}"),
                },
            )
            .await
            .expect("create a tenant");
        let tenant = TenantId::parse(tenant["id"].as_str().unwrap()).unwrap();
        let mut keys = BTreeMap::new();
        for scope in SCOPES {
            let (secret, prefix) = tally_http::new_secret();
            let secret_sha256 = tally_http::secret_sha256(&secret);
            let command = Command::CreateApiKey {
                name: format!("{scope} key"),
                scope: scope.into(),
                secret_sha256,
                prefix,
            };
            tally
                .write(&tenant, "test", None, command)
                .await
                .expect("create a key");
            keys.insert(scope, secret);
        }
        let app = tally_http::router(AppState::new(tally));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a port");
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        Server {
            base,
            client: reqwest::Client::new(),
            keys,
            _db: db,
        }
    }

    /// Sends a request; `scope` picks the API key (none when `None`), and a body is sent as JSON.
    async fn send(
        &self,
        method: &str,
        path: &str,
        scope: Option<&str>,
        body: Option<&Value>,
    ) -> Answer {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(scope) = scope {
            request = request.header(AUTHORIZATION, format!("Bearer {}", self.keys[scope]));
        }
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("the server answers");
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let (content_type, cache_control) = (header(CONTENT_TYPE), header(CACHE_CONTROL));
        let status = response.status().as_u16();
        Answer {
            status,
            content_type,
            cache_control,
            bytes: response.bytes().await.unwrap().to_vec(),
        }
    }
}

/// A documented path with every `{parameter}` filled with a value that names nothing.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|s| if s.starts_with('{') { "x" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

/// The body a probe sends: `{}` for methods that take one, so the handler (not the body
/// extractor) decides the answer.
fn probe_body(method: &str) -> Option<Value> {
    (method == "POST" || method == "PATCH").then(|| json!({}))
}

// ---- (b) the contract: documented routes == served routes -------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_lists_exactly_the_routes_the_router_serves() {
    let spec = spec();
    let documented = documented_routes(&spec);

    // Routes declared in the source must be documented, and documented routes declared.
    let declared = routes_in_source();
    let undocumented: Vec<_> = declared.difference(&documented).collect();
    let undeclared: Vec<_> = documented.difference(&declared).collect();
    assert!(
        undocumented.is_empty(),
        "routes in src/routes/mod.rs missing from openapi.json: {undocumented:?}"
    );
    assert!(
        undeclared.is_empty(),
        "operations in openapi.json that routes/mod.rs does not declare: {undeclared:?}"
    );

    let server = Server::start().await;
    // The probe can tell a missing route from a missing resource.
    assert!(
        server
            .send("GET", "/api/v1/no-such-route", Some("admin"), None)
            .await
            .is_unrouted_path()
    );
    assert!(
        !server
            .send("GET", "/api/v1/members/x", Some("admin"), None)
            .await
            .is_unrouted_path()
    );

    let mut paths: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (method, path) in &documented {
        paths
            .entry(path.clone())
            .or_default()
            .insert(method.clone());
    }
    for (path, methods) in &paths {
        let url = concrete(path);
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            let answer = server
                .send(method, &url, Some("admin"), probe_body(method).as_ref())
                .await;
            assert!(
                !answer.is_unrouted_path(),
                "{method} {path}: the router has no such path"
            );
            if methods.contains(method) {
                assert_ne!(
                    answer.status, 405,
                    "{method} {path} is documented but the router refuses the method"
                );
            } else {
                assert_eq!(
                    answer.status, 405,
                    "{method} {path} is served but not documented"
                );
                assert_eq!(answer.problem_code().as_deref(), Some("method_not_allowed"));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_security_and_scopes_are_enforced() {
    let spec = spec();
    let server = Server::start().await;
    let problem = json!({ "$ref": "#/components/schemas/Problem" });
    for Operation { method, path, op } in operations(&spec) {
        let name = format!("{method} {path}");
        let url = concrete(&path);
        let body = probe_body(&method);
        let anonymous = server.send(&method, &url, None, body.as_ref()).await;
        let Some(scope) = required_scope(&op) else {
            assert_ne!(
                anonymous.status, 401,
                "{name} is documented as needing no key"
            );
            continue;
        };
        assert_eq!(anonymous.status, 401, "{name} without a key");
        assert_eq!(anonymous.problem_code().as_deref(), Some("unauthorized"));
        assert_matches(
            &spec,
            &problem,
            &anonymous.json(),
            &format!("the 401 of {name}"),
        );

        let rank = SCOPES.iter().position(|s| *s == scope).unwrap();
        for (i, key) in SCOPES.iter().enumerate() {
            let answer = server.send(&method, &url, Some(key), body.as_ref()).await;
            if i < rank {
                assert_eq!(
                    answer.status, 403,
                    "{name} with a {key} key (needs {scope})"
                );
                assert_eq!(answer.problem_code().as_deref(), Some("forbidden"));
                assert_matches(
                    &spec,
                    &problem,
                    &answer.json(),
                    &format!("the 403 of {name}"),
                );
            } else {
                assert!(
                    ![401, 403].contains(&answer.status),
                    "{name} with a {key} key answered {}",
                    answer.status
                );
            }
        }
    }
}

// ---- examples against the server ---------------------------------------------------------------------

/// The JSON request example `key` (or the single `example`) of an operation.
fn request_example(spec: &Value, operation_id: &str, key: Option<&str>) -> Value {
    let op = operations(spec)
        .into_iter()
        .find(|o| o.op["operationId"] == operation_id)
        .expect("the operation")
        .op;
    let content = &op["requestBody"]["content"]["application/json"];
    match key {
        None => content["example"].clone(),
        Some(key) => content["examples"][key]["value"].clone(),
    }
}

/// The success schema of an operation, by status.
fn response_schema(spec: &Value, operation_id: &str, status: u16) -> Value {
    let op = operations(spec)
        .into_iter()
        .find(|o| o.op["operationId"] == operation_id)
        .expect("the operation")
        .op;
    let response = resolve(spec, &op["responses"][status.to_string()]).clone();
    response["content"]["application/json"]["schema"].clone()
}

/// Replaces the example ids of the document with the ids of what the test created.
fn substitute(value: &Value, ids: &BTreeMap<String, String>) -> Value {
    match value {
        Value::String(s) => Value::String(ids.get(s).cloned().unwrap_or_else(|| s.clone())),
        Value::Array(a) => Value::Array(a.iter().map(|v| substitute(v, ids)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), substitute(v, ids)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn example_id(spec: &Value, schema: &str) -> String {
    spec["components"]["schemas"][schema]["examples"][0]
        .as_str()
        .expect("an example id")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_examples_are_accepted_and_answers_have_the_documented_shape() {
    let spec = spec();
    let server = Server::start().await;
    let mut ids: BTreeMap<String, String> = BTreeMap::new();

    // Runs the example of an operation and checks the answer against the documented schema.
    async fn run(
        server: &Server,
        spec: &Value,
        ids: &BTreeMap<String, String>,
        (operation_id, example): (&str, Option<&str>),
        (method, url, scope, status): (&str, &str, &str, u16),
    ) -> Value {
        let body = substitute(&request_example(spec, operation_id, example), ids);
        assert!(
            body.is_object(),
            "{operation_id} has an example {example:?}"
        );
        let answer = server.send(method, url, Some(scope), Some(&body)).await;
        let value = answer.json();
        assert_eq!(
            answer.status, status,
            "{operation_id} example {example:?} answered {value:#}"
        );
        assert_eq!(answer.content_type, "application/json");
        assert_matches(
            spec,
            &response_schema(spec, operation_id, status),
            &value,
            &format!("the answer of {operation_id}"),
        );
        value
    }

    let program = run(
        &server,
        &spec,
        &ids,
        ("createProgram", None),
        ("POST", "/api/v1/programs", "admin", 201),
    )
    .await;
    let p = program["id"].as_str().unwrap().to_owned();
    ids.insert(example_id(&spec, "ProgramId"), p.clone());

    let member = run(
        &server,
        &spec,
        &ids,
        ("enrollMember", None),
        (
            "POST",
            &format!("/api/v1/programs/{p}/members"),
            "write",
            201,
        ),
    )
    .await;
    let m = member["id"].as_str().unwrap().to_owned();
    ids.insert(example_id(&spec, "MemberId"), m.clone());
    let card_example = spec["components"]["schemas"]["Card"]["properties"]["number"]["examples"][0]
        .as_str()
        .unwrap()
        .to_owned();
    ids.insert(
        card_example,
        member["card"]["number"].as_str().unwrap().to_owned(),
    );

    let location = run(
        &server,
        &spec,
        &ids,
        ("createLocation", None),
        (
            "POST",
            &format!("/api/v1/programs/{p}/locations"),
            "admin",
            201,
        ),
    )
    .await;
    ids.insert(
        example_id(&spec, "LocationId"),
        location["id"].as_str().unwrap().to_owned(),
    );
    let reward = run(
        &server,
        &spec,
        &ids,
        ("createReward", None),
        (
            "POST",
            &format!("/api/v1/programs/{p}/rewards"),
            "admin",
            201,
        ),
    )
    .await;
    let r = reward["id"].as_str().unwrap().to_owned();
    ids.insert(example_id(&spec, "RewardId"), r.clone());

    let purchases = format!("/api/v1/programs/{p}/purchases");
    let basket = run(
        &server,
        &spec,
        &ids,
        ("recordPurchase", Some("basket")),
        ("POST", &purchases, "write", 201),
    )
    .await;
    assert_eq!(
        basket["points_earned"], 38,
        "25.99 PLN at 1.5 points, rounded down"
    );
    let again = run(
        &server,
        &spec,
        &ids,
        ("recordPurchase", Some("basket")),
        ("POST", &purchases, "write", 201),
    )
    .await;
    assert_eq!(again, basket, "the same order answers the same");
    run(
        &server,
        &spec,
        &ids,
        ("recordPurchase", Some("total_only")),
        ("POST", &purchases, "write", 201),
    )
    .await;

    let adjustments = format!("/api/v1/members/{m}/adjustments");
    run(
        &server,
        &spec,
        &ids,
        ("adjustPoints", Some("give")),
        ("POST", &adjustments, "write", 201),
    )
    .await;
    run(
        &server,
        &spec,
        &ids,
        ("adjustPoints", Some("take")),
        ("POST", &adjustments, "write", 201),
    )
    .await;

    let redemption = run(
        &server,
        &spec,
        &ids,
        ("redeemReward", None),
        (
            "POST",
            &format!("/api/v1/programs/{p}/redemptions"),
            "write",
            201,
        ),
    )
    .await;

    let returns = format!("/api/v1/programs/{p}/returns");
    for example in ["lines", "amount", "full"] {
        run(
            &server,
            &spec,
            &ids,
            ("recordReturn", Some(example)),
            ("POST", &returns, "write", 201),
        )
        .await;
    }
    run(
        &server,
        &spec,
        &ids,
        ("updateMember", None),
        ("PATCH", &format!("/api/v1/members/{m}"), "write", 200),
    )
    .await;
    run(
        &server,
        &spec,
        &ids,
        ("updateReward", None),
        ("PATCH", &format!("/api/v1/rewards/{r}"), "admin", 200),
    )
    .await;

    // The reads answer with the documented shapes too.
    let purchase_id = basket["purchase_id"].as_str().unwrap();
    let redemption_id = redemption["id"].as_str().unwrap();
    let code = redemption["code"].as_str().unwrap();
    let location_id = location["id"].as_str().unwrap();
    let reads = [
        ("listPrograms", "/api/v1/programs".to_owned()),
        ("getProgram", format!("/api/v1/programs/{p}")),
        ("getProgramTotals", format!("/api/v1/programs/{p}/totals")),
        (
            "listMembers",
            format!("/api/v1/programs/{p}/members?limit=1"),
        ),
        (
            "lookupMember",
            format!("/api/v1/programs/{p}/members/lookup?external_id=c-42"),
        ),
        ("getMember", format!("/api/v1/members/{m}")),
        ("getMemberHistory", format!("/api/v1/members/{m}/history")),
        (
            "listMemberPurchases",
            format!("/api/v1/members/{m}/purchases"),
        ),
        (
            "listMemberRedemptions",
            format!("/api/v1/members/{m}/redemptions"),
        ),
        ("getPurchase", format!("/api/v1/purchases/{purchase_id}")),
        ("listRewards", format!("/api/v1/programs/{p}/rewards")),
        ("getReward", format!("/api/v1/rewards/{r}")),
        (
            "checkRedemptionCode",
            format!(
                "/api/v1/programs/{p}/redemptions/check?code={}",
                code.to_lowercase()
            ),
        ),
        (
            "getRedemption",
            format!("/api/v1/redemptions/{redemption_id}"),
        ),
        ("listLocations", format!("/api/v1/programs/{p}/locations")),
        ("getLocation", format!("/api/v1/locations/{location_id}")),
        ("listAuditLog", "/api/v1/audit-log".to_owned()),
    ];
    for (operation_id, url) in reads {
        let answer = server.send("GET", &url, Some("admin"), None).await;
        assert_eq!(answer.status, 200, "{operation_id}: {:#}", answer.json());
        assert_matches(
            &spec,
            &response_schema(&spec, operation_id, 200),
            &answer.json(),
            &format!("the answer of {operation_id}"),
        );
    }
    let members = server
        .send(
            "GET",
            &format!("/api/v1/programs/{p}/members?limit=1"),
            Some("read"),
            None,
        )
        .await
        .json();
    assert_eq!(members["items"].as_array().map(Vec::len), Some(1));

    // The writes without a body.
    for (operation_id, url) in [
        (
            "rotateCardToken",
            format!("/api/v1/members/{m}/card/rotate"),
        ),
        (
            "consumeRedemption",
            format!("/api/v1/redemptions/{redemption_id}/consume"),
        ),
    ] {
        let answer = server.send("POST", &url, Some("write"), None).await;
        assert_eq!(answer.status, 200, "{operation_id}: {:#}", answer.json());
        assert_matches(
            &spec,
            &response_schema(&spec, operation_id, 200),
            &answer.json(),
            &format!("the answer of {operation_id}"),
        );
    }
    let top_up = json!({ "points": 1000, "reason": "test top-up" });
    assert_eq!(
        server
            .send("POST", &adjustments, Some("write"), Some(&top_up))
            .await
            .status,
        201
    );
    let second = run(
        &server,
        &spec,
        &ids,
        ("redeemReward", None),
        (
            "POST",
            &format!("/api/v1/programs/{p}/redemptions"),
            "write",
            201,
        ),
    )
    .await;
    let answer = server
        .send(
            "POST",
            &format!(
                "/api/v1/redemptions/{}/cancel",
                second["id"].as_str().unwrap()
            ),
            Some("write"),
            None,
        )
        .await;
    assert_eq!(answer.status, 200, "cancel: {:#}", answer.json());
    assert_matches(
        &spec,
        &response_schema(&spec, "cancelRedemption", 200),
        &answer.json(),
        "the answer of cancelRedemption",
    );

    // A refusal is a documented problem.
    let invalid = server
        .send(
            "POST",
            &purchases,
            Some("write"),
            Some(&json!({ "order_id": "A-1", "ammount": 1 })),
        )
        .await;
    assert_eq!(
        (invalid.status, invalid.content_type.as_str()),
        (422, "application/problem+json")
    );
    assert_matches(
        &spec,
        &json!({ "$ref": "#/components/schemas/Problem" }),
        &invalid.json(),
        "a validation problem",
    );
}

// ---- (c) and (d): the served document and the docs page ----------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_serves_this_document_and_offline_docs() {
    let server = Server::start().await;

    let document = server.send("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(document.status, 200);
    assert_eq!(document.content_type, "application/json");
    let file = std::fs::read(format!("{MANIFEST_DIR}/openapi.json")).unwrap();
    assert!(
        document.bytes == file,
        "the served /api/v1/openapi.json differs from openapi.json: rebuild"
    );

    let docs = server.send("GET", "/api/v1/docs", None, None).await;
    assert_eq!(docs.status, 200);
    assert!(
        docs.content_type.starts_with("text/html"),
        "{}",
        docs.content_type
    );
    let html = String::from_utf8(docs.bytes).expect("UTF-8 HTML");
    for external in ["http://", "https://", "//cdn", "src=\"//", "href=\"//"] {
        assert!(
            !html.contains(external),
            "the docs page must not load anything from elsewhere ({external})"
        );
    }
    for attribute in ["src=\"", "href=\""] {
        for (at, _) in html.match_indices(attribute) {
            let url = &html[at + attribute.len()..];
            assert!(
                url.starts_with("/api/v1/"),
                "{attribute}{} is not a local asset",
                &url[..url.find('"').unwrap_or(url.len())]
            );
        }
    }
    for local in [
        "/api/v1/docs/swagger-ui-bundle.js",
        "/api/v1/docs/swagger-ui.css",
        "\"/api/v1/openapi.json\"",
    ] {
        assert!(html.contains(local), "the docs page must use {local}");
    }

    for (path, file, content_type) in [
        (
            "/api/v1/docs/swagger-ui-bundle.js",
            "swagger-ui-bundle.js",
            "text/javascript",
        ),
        ("/api/v1/docs/swagger-ui.css", "swagger-ui.css", "text/css"),
    ] {
        let asset = server.send("GET", path, None, None).await;
        assert_eq!(asset.status, 200, "{path}");
        assert!(
            asset.content_type.starts_with(content_type),
            "{path} is served as {}",
            asset.content_type
        );
        assert!(
            asset.cache_control.contains("max-age=31536000"),
            "{path} Cache-Control: {}",
            asset.cache_control
        );
        let expected = std::fs::read(format!("{MANIFEST_DIR}/assets/swagger-ui/{file}")).unwrap();
        assert!(asset.bytes == expected, "{path} is not the vendored {file}");
    }
}
