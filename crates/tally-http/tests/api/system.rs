//! Health, readiness, request ids, metrics.

use super::*;

// ---- system endpoints ---------------------------------------------------------------------------

#[tokio::test]
async fn health_readiness_openapi_docs_and_problem_pages() {
    let app = TestApp::new().await;

    let r = app.send(app.root(Method::GET, "/healthz")).await;
    assert_eq!((r.status, r.text.as_str()), (200, "ok"));
    let r = app.send(app.root(Method::GET, "/readyz")).await;
    assert_eq!((r.status, r.text.as_str()), (200, "ready"));

    // The API description and its docs need no key.
    let doc = app
        .send(app.api(Method::GET, "/openapi.json"))
        .await
        .ok(200);
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with('3')),
        "an OpenAPI 3 document"
    );
    assert!(doc["paths"].is_object(), "{doc}");
    let r = app.send(app.api(Method::GET, "/docs")).await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));

    // Every problem type links to a page that exists.
    for (code, _) in tally_http::problem::PROBLEM_CODES {
        let r = app
            .send(app.root(Method::GET, &format!("/problems/{code}")))
            .await;
        assert_eq!(r.status, 200, "/problems/{code}");
        assert!(r.header("content-type").unwrap().starts_with("text/html"));
        assert!(r.text.contains(code));
    }
    app.send(app.root(Method::GET, "/problems/no_such_problem"))
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn request_ids_are_echoed_and_sane_client_ids_reused() {
    let app = TestApp::new().await;

    let first = app.send(app.root(Method::GET, "/healthz")).await;
    let second = app.send(app.root(Method::GET, "/healthz")).await;
    let (first, second) = (
        first.header("x-request-id").unwrap(),
        second.header("x-request-id").unwrap(),
    );
    assert!(
        first.starts_with("req_") && second.starts_with("req_"),
        "{first} {second}"
    );
    assert_ne!(first, second, "every request gets its own id");

    // A client's sane id is used for the response and the problem body.
    let r = app
        .send(
            app.api(Method::GET, "/programs")
                .header("X-Request-Id", "till-7_0042"),
        )
        .await;
    let p = r.problem(401, "unauthorized");
    assert_eq!(p["request_id"], "till-7_0042");
    let r = app
        .send(
            app.api(Method::GET, "/programs")
                .bearer_auth(&app.a.read)
                .header("X-Request-Id", "till-7_0043"),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-request-id"), Some("till-7_0043"));

    // Anything else is replaced with a fresh id.
    let too_long = "x".repeat(65);
    for insane in ["two words", "semi;colon", "a/b", too_long.as_str()] {
        let r = app
            .send(app.api(Method::GET, "/nope").header("X-Request-Id", insane))
            .await;
        let p = r.problem(404, "not_found");
        let rid = p["request_id"].as_str().unwrap();
        assert_ne!(rid, insane);
        assert!(rid.starts_with("req_"), "{rid}");
    }
    app.check_problem_pages().await;
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = TestApp::new().await;
    app.get(&app.a.read, "/programs").await.ok(200);
    app.get(&app.a.read, "/programs").await.ok(200);
    app.send(app.api(Method::GET, "/programs"))
        .await
        .problem(401, "unauthorized");
    app.get(&app.a.read, &format!("/programs/{}", app.a.program))
        .await
        .ok(200);

    let r = app.send(app.root(Method::GET, "/metrics")).await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    let m = &r.text;
    assert!(
        m.contains("# TYPE tally_http_requests_total counter"),
        "{m}"
    );
    assert!(
        m.contains(
            r#"tally_http_requests_total{method="GET",route="/api/v1/programs",status="200"} 2"#
        ),
        "{m}"
    );
    assert!(
        m.contains(
            r#"tally_http_requests_total{method="GET",route="/api/v1/programs",status="401"} 1"#
        ),
        "{m}"
    );
    // Routes are labelled by their template, not the concrete path (bounded label values).
    assert!(m.contains(r#"tally_http_requests_total{method="GET",route="/api/v1/programs/{program}",status="200"} 1"#), "{m}");
    assert!(
        !m.contains(&app.a.program),
        "ids must not become label values: {m}"
    );
    assert!(
        m.contains(r#"tally_http_request_duration_seconds_count{route="/api/v1/programs"} 3"#),
        "{m}"
    );
    app.check_problem_pages().await;
}
