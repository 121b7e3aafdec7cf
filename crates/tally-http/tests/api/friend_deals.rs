//! Friend deals: a member starts a group, friends join it with its code, and when it is full in
//! time the offer is activated for everyone in it; no second card of one person, no overfilling.

use super::*;

async fn start(app: &TestApp, member: &str, offer: &str) -> common::Resp {
    app.post_empty(
        &app.a.write,
        &format!("/members/{member}/offers/{offer}/group"),
    )
    .await
}

async fn join(app: &TestApp, member: &str, code: &str) -> common::Resp {
    app.post(
        &app.a.write,
        &format!("/members/{member}/offer-groups"),
        &json!({"code": code}),
    )
    .await
}

#[tokio::test]
async fn a_full_group_unlocks_the_deal_for_everyone_in_it() {
    let app = TestApp::new().await;
    let deal = app
        .post(
            &app.a.admin,
            &format!("/programs/{}/offers", app.a.program),
            &json!({"name": "Three friends", "benefit": {"points": 100},
                    "group": {"size": 3, "within_hours": 24}}),
        )
        .await
        .ok(201);
    assert_eq!(deal["deal"], "friend");
    let deal = id(&deal);
    let enrol = |name: &str, email: &str| {
        let body = json!({"name": name, "email": email});
        let app = &app;
        async move { id(&app.enroll(body).await) }
    };
    let ann = enrol("Ann", "ann@example.com").await;
    let bob = enrol("Bob", "bob@example.com").await;
    let bob_again = enrol("Bob's other card", "bob@example.com").await;
    let cid = enrol("Cid", "cid@example.com").await;
    let dan = enrol("Dan", "dan@example.com").await;

    app.post_empty(
        &app.a.write,
        &format!("/members/{ann}/offers/{deal}/activate"),
    )
    .await
    .problem(422, "offer_not_activatable");
    let group = start(&app, &ann, &deal).await.ok(200);
    assert_eq!(
        (group["joined"].clone(), group["size"].clone()),
        (json!(1), json!(3))
    );
    let code = group["code"].as_str().unwrap().to_owned();
    // Starting again answers the same group.
    assert_eq!(start(&app, &ann, &deal).await.ok(200)["id"], group["id"]);

    assert_eq!(join(&app, &bob, &code).await.ok(200)["joined"], 2);
    // Not unlocked yet: a purchase gets nothing from it.
    assert_eq!(app.purchase(&bob, "b-1", 1000).await["offers"], json!([]));
    join(&app, &bob_again, &code)
        .await
        .problem(422, "friend_group_refused");
    join(&app, &ann, &code).await.ok(200);
    let full = join(&app, &cid, &code).await.ok(200);
    assert_eq!(full["unlocked"], true);
    join(&app, &dan, &code)
        .await
        .problem(422, "friend_group_refused");
    join(&app, &dan, "NOPE").await.problem(404, "not_found");

    // Everyone in the group has it now; the next purchase uses it.
    for (m, order) in [(&ann, "a-1"), (&bob, "b-2"), (&cid, "c-1")] {
        let bought = app.purchase(m, order, 1000).await;
        assert_eq!(bought["points_earned"], 110, "{m}: {bought}");
    }
    assert_eq!(app.purchase(&dan, "d-1", 1000).await["points_earned"], 10);
    let mine = app
        .get(&app.a.read, &format!("/members/{cid}/offers"))
        .await
        .ok(200);
    assert_eq!(mine["items"][0]["group"]["unlocked"], true);
    assert_eq!(mine["items"][0]["uses_left"], 0);
    app.check_end_state().await;
}

#[tokio::test]
async fn a_group_that_is_not_full_in_time_lapses() {
    let app = TestApp::new().await;
    let deal = id(&app
        .post(
            &app.a.admin,
            &format!("/programs/{}/offers", app.a.program),
            &json!({"name": "Pair", "benefit": {"points": 50}, "group": {"size": 2, "within_hours": 1}}),
        )
        .await
        .ok(201));
    let ann = id(&app.enroll(json!({"name": "Ann"})).await);
    let bob = id(&app.enroll(json!({"name": "Bob"})).await);
    let code = start(&app, &ann, &deal).await.ok(200)["code"]
        .as_str()
        .unwrap()
        .to_owned();
    app.clock.advance(jiff::SignedDuration::from_hours(2));
    join(&app, &bob, &code)
        .await
        .problem(422, "friend_group_refused");
    // Ann may start a new group.
    let again = start(&app, &ann, &deal).await.ok(200);
    assert_ne!(again["code"].as_str().unwrap(), code);
    app.post(
        &app.a.admin,
        &format!("/programs/{}/offers", app.a.program),
        &json!({"name": "x", "benefit": {"points": 5}, "activation": "automatic",
                "group": {"size": 1, "within_hours": 0}}),
    )
    .await
    .invalid(&["/activation", "/group/size", "/group/within_hours"]);
    app.check_end_state().await;
}

#[tokio::test]
async fn concurrent_joins_never_overfill_a_group() {
    let app = TestApp::new().await;
    let deal = id(&app
        .post(
            &app.a.admin,
            &format!("/programs/{}/offers", app.a.program),
            &json!({"name": "Four", "benefit": {"points": 10}, "group": {"size": 4, "within_hours": 24}}),
        )
        .await
        .ok(201));
    let host = id(&app.enroll(json!({"name": "Host"})).await);
    let code = start(&app, &host, &deal).await.ok(200)["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut friends = Vec::new();
    for i in 0..12 {
        friends.push(id(&app
            .enroll(json!({"name": format!("Friend {i}")}))
            .await));
    }
    let mut joins = Vec::new();
    for friend in &friends {
        let request = app
            .api(Method::POST, &format!("/members/{friend}/offer-groups"))
            .bearer_auth(&app.a.write)
            .json(&json!({"code": code}));
        joins.push(tokio::spawn(async move {
            request.send().await.expect("a response").status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for j in joins {
        statuses.push(j.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        3,
        "{statuses:?}"
    );
    let mine = app
        .get(&app.a.read, &format!("/members/{host}/offers"))
        .await
        .ok(200);
    assert_eq!(mine["items"][0]["group"]["joined"], 4);
    assert_eq!(mine["items"][0]["activated"], true);
    app.check_end_state().await;
}
