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

mod examples;
mod examples_messages;
mod examples_offers;
mod examples_vouchers;
mod examples_webhooks;
mod schema;
mod server;
mod source;

use schema::*;
use server::*;
use source::*;

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

        if matches!(method.as_str(), "POST" | "PUT" | "PATCH") {
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
