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

#[tokio::test]
async fn a_playbook_is_switched_on_once_and_makes_its_templates_and_journey() {
    let app = TestApp::new().await;
    let playbooks = format!("/programs/{}/playbooks", app.a.program);
    let listed = app.get(&app.a.read, &playbooks).await.ok(200);
    let keys: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "welcome_series",
            "birthday_letter",
            "tier_up",
            "points_expiring",
            "win_back",
            "next_best_product"
        ]
    );
    assert!(
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["on"] == false)
    );

    app.post_empty(&app.a.write, &format!("{playbooks}/win_back"))
        .await
        .problem(403, "forbidden");
    app.post_empty(&app.a.admin, &format!("{playbooks}/nope"))
        .await
        .problem(404, "not_found");
    let on = app
        .post_empty(&app.a.admin, &format!("{playbooks}/win_back"))
        .await
        .ok(201);
    assert_eq!(on["journey"]["trigger"]["stage"], "at_risk");
    assert_eq!(on["templates"].as_array().unwrap().len(), 2);
    let t = on["templates"][0]["id"].as_str().unwrap();
    assert_eq!(on["journey"]["steps"][0]["send"]["template"], t);
    app.post_empty(&app.a.admin, &format!("{playbooks}/win_back"))
        .await
        .problem(409, "playbook_on");
    let listed = app.get(&app.a.read, &playbooks).await.ok(200);
    let win_back = &listed["items"][4];
    assert_eq!(win_back["on"], true);
    assert_eq!(win_back["journey_id"], on["journey"]["id"]);
    // Archived, it can be switched on again.
    let j = on["journey"]["id"].as_str().unwrap();
    app.send(
        app.api(Method::PATCH, &format!("/journeys/{j}"))
            .bearer_auth(&app.a.admin)
            .json(&json!({"status": "archived"})),
    )
    .await
    .ok(200);
    app.post_empty(&app.a.admin, &format!("{playbooks}/win_back"))
        .await
        .ok(201);
    // Another tenant does not see this program's playbooks.
    app.get(&app.b.admin, &playbooks)
        .await
        .problem(404, "not_found");
}
