//! Journeys through the API: a document checked step by step, a journey that an enrolment
//! starts in its own transaction, paused and archived, bound to its tenant. Running the steps
//! is tested with the clock and a real SMTP server in `tally-delivery`.

use super::*;

#[tokio::test]
async fn a_journey_is_checked_started_by_its_trigger_and_paused() {
    let app = TestApp::new().await;
    let template = app
        .post(
            &app.a.admin,
            &format!("/programs/{}/templates", app.a.program),
            &json!({"name": "Hi", "subject": "Hi", "text": "Welcome, {{ member.first_name }}"}),
        )
        .await
        .ok(201);
    let t = id(&template);
    let journeys = format!("/programs/{}/journeys", app.a.program);

    let before = app.snapshot().await;
    app.post(
        &app.a.admin,
        &journeys,
        &json!({
            "name": "Broken",
            "trigger": {"type": "enrolled", "event_type": "x"},
            "steps": [
                {"send": {"template": t}, "wait": {"days": 1}},
                {"branch": {"if": {"has_tag": "vip"}, "then": 0}},
                {"grant_points": {"points": -5, "reason": "x"}},
            ],
        }),
    )
    .await
    .invalid(&[
        "/trigger/event_type",
        "/steps/0",
        "/steps/1/branch/then",
        "/steps/2/grant_points/points",
    ]);
    app.post(
        &app.b.admin,
        &format!("/programs/{}/journeys", app.b.program),
        &json!({"name": "Other", "trigger": {"type": "enrolled"}, "steps": [{"send": {"template": t}}]}),
    )
    .await
    .invalid(&["/steps/0/send/template"]);
    app.post(
        &app.a.write,
        &journeys,
        &json!({"name": "x", "trigger": {"type": "enrolled"}, "steps": [{"exit": true}]}),
    )
    .await
    .problem(403, "forbidden");
    app.snapshot()
        .await
        .assert_same(&before, "refused journeys");

    let journey = app
        .post(
            &app.a.admin,
            &journeys,
            &json!({"name": "Welcome", "trigger": {"type": "enrolled"}, "steps": [{"wait": {"hours": 1}}, {"send": {"template": t}}]}),
        )
        .await
        .ok(201);
    assert_eq!(journey["status"], "active");
    assert_eq!(journey["reentry"], "never");
    let j = id(&journey);
    let ann = id(&app.enroll(json!({"name": "Ann"})).await);
    let runs = app
        .get(&app.a.read, &format!("/members/{ann}/journeys"))
        .await
        .ok(200);
    assert_eq!(runs["items"][0]["journey_id"], j.as_str());
    assert_eq!(runs["items"][0]["status"], "active");
    assert_eq!(runs["items"][0]["occurrence"], "once");
    let detail = app
        .get(&app.a.read, &format!("/journeys/{j}"))
        .await
        .ok(200);
    assert_eq!(detail["runs"]["active"], 1);
    app.get(&app.b.admin, &format!("/journeys/{j}"))
        .await
        .problem(404, "not_found");

    let patch = |status: &str| {
        app.api(Method::PATCH, &format!("/journeys/{j}"))
            .bearer_auth(&app.a.admin)
            .json(&json!({ "status": status }))
    };
    let paused = app.send(patch("paused")).await.ok(200);
    assert_eq!(paused["status"], "paused");
    app.send(patch("asleep")).await.invalid(&["/status"]);
    // Paused: nobody new enters.
    let bob = id(&app.enroll(json!({"name": "Bob"})).await);
    let runs = app
        .get(&app.a.read, &format!("/members/{bob}/journeys"))
        .await
        .ok(200);
    assert_eq!(runs["items"], json!([]));
    let listed = app.get(&app.a.read, &journeys).await.ok(200);
    assert_eq!(listed["items"][0]["status"], "paused");
}
