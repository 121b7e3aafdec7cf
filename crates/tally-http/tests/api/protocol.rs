//! Errors of the protocol: paths, methods, query parameters.

use super::*;

// ---- errors of the protocol: paths, methods, query parameters -------------------------------------

#[tokio::test]
async fn unknown_paths_and_ids_are_404_problems() {
    let app = TestApp::new().await;
    for path in [
        "/nope",
        "/api",
        "/api/v2/programs",
        "/api/v1",
        "/api/v1/nope",
        "/api/v1/programs/x/y/z",
    ] {
        let r = app
            .send(app.root(Method::GET, path).bearer_auth(&app.a.read))
            .await;
        let p = r.problem(404, "not_found");
        assert_eq!(p["detail"], "no such path", "{path}");
    }
    // Malformed ids, ids of another kind, and unknown ids: all simply not found.
    let p = &app.a.program;
    let member = MemberId::generate();
    for path in [
        "/programs/prg_nope".to_owned(),
        format!("/programs/{member}"),
        format!("/programs/{}/totals", p.to_lowercase()),
        format!("/members/{p}"),
        format!("/members/{member}"),
        format!("/members/{member}/history"),
        format!("/members/{member}/purchases"),
        format!("/members/{member}/redemptions"),
        "/purchases/pur_".to_owned(),
        "/rewards/%20".to_owned(),
        "/redemptions/red_01".to_owned(),
        "/locations/loc_x".to_owned(),
    ] {
        app.get(&app.a.read, &path).await.problem(404, "not_found");
    }
    app.check_problem_pages().await;
}

#[tokio::test]
async fn wrong_methods_are_405_problems() {
    let app = TestApp::new().await;
    let p = &app.a.program;
    let m = id(&app.enroll(json!({})).await);
    let before = app.snapshot().await;
    for (method, path, allow) in [
        (
            Method::DELETE,
            "/api/v1/programs".to_owned(),
            "GET,HEAD,POST",
        ),
        (
            Method::PUT,
            format!("/api/v1/programs/{p}"),
            "GET,HEAD,PATCH",
        ),
        (
            Method::DELETE,
            format!("/api/v1/members/{m}"),
            "GET,HEAD,PATCH",
        ),
        (
            Method::PUT,
            format!("/api/v1/members/{m}"),
            "GET,HEAD,PATCH",
        ),
        (
            Method::GET,
            format!("/api/v1/programs/{p}/purchases"),
            "POST",
        ),
        (Method::GET, format!("/api/v1/programs/{p}/returns"), "POST"),
        (
            Method::PATCH,
            format!("/api/v1/programs/{p}/members"),
            "GET,HEAD,POST",
        ),
        (
            Method::GET,
            format!("/api/v1/members/{m}/adjustments"),
            "POST",
        ),
        (
            Method::GET,
            format!("/api/v1/members/{m}/card/rotate"),
            "POST",
        ),
        (
            Method::POST,
            format!("/api/v1/members/{m}/history"),
            "GET,HEAD",
        ),
        (Method::POST, "/api/v1/audit-log".to_owned(), "GET,HEAD"),
        (Method::POST, "/healthz".to_owned(), "GET,HEAD"),
        (Method::DELETE, "/metrics".to_owned(), "GET,HEAD"),
    ] {
        let r = app
            .send(
                app.root(method.clone(), &path)
                    .bearer_auth(&app.a.admin)
                    .json(&json!({})),
            )
            .await;
        assert_eq!(r.status, 405, "{method} {path}: {}", r.text);
        r.problem(405, "method_not_allowed");
        assert_eq!(
            r.header("allow"),
            Some(allow),
            "{method} {path}: a 405 names the allowed methods"
        );
    }
    before.assert_same(&app.snapshot().await, "wrong methods");
    app.check_end_state().await;
}

#[tokio::test]
async fn paging_parameters_and_unknown_query_parameters_are_400_problems() {
    let app = TestApp::new().await;
    let p = &app.a.program;
    let m = id(&app.enroll(json!({})).await);
    let lists = [
        format!("/programs/{p}/members"),
        format!("/programs/{p}/rewards"),
        format!("/programs/{p}/locations"),
        format!("/members/{m}/history"),
        format!("/members/{m}/purchases"),
        format!("/members/{m}/redemptions"),
        "/audit-log".to_owned(),
    ];
    for list in &lists {
        for (query, parameter) in [
            ("limit=0", "limit"),
            ("limit=201", "limit"),
            ("limit=-1", "limit"),
            ("limit=abc", "limit"),
            ("limit=2.5", "limit"),
            ("limit=99999999999999999999", "limit"),
            ("cursor=abc", "cursor"),
            ("cursor=0", "cursor"),
            ("cursor=-5", "cursor"),
            ("cursor=1.5", "cursor"),
            ("cursor=10&limit=0", "limit"),
            ("foo=1", "foo"),
            ("Limit=5", "Limit"),
        ] {
            let r = app.get(&app.a.admin, &format!("{list}?{query}")).await;
            assert_eq!(r.status, 400, "{list}?{query}: {}", r.text);
            r.bad_parameter(parameter);
        }
        for query in ["limit=1", "limit=200", "cursor=999999&limit=5"] {
            let page = app
                .get(&app.a.admin, &format!("{list}?{query}"))
                .await
                .ok(200);
            assert!(page["items"].is_array(), "{list}?{query}: {page}");
        }
    }
    app.check_end_state().await;
}
