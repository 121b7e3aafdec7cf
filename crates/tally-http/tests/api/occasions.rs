//! Birthday and anniversary bonuses: on the right local day, once a year, caught up after days
//! without a run, and 29 February handled.

use super::*;
use tally_domain::ids::ProgramId;

async fn run(app: &TestApp) -> Value {
    let command = Command::AwardOccasions {
        program: ProgramId::parse(&app.a.program).unwrap(),
    };
    app.tally
        .write(&app.a.id, "housekeeping", None, command)
        .await
        .expect("the occasions job")
}

#[tokio::test]
async fn birthdays_and_anniversaries_come_once_a_year_on_their_day() {
    let app = TestApp::new().await;
    let rules = format!("/programs/{}/rules", app.a.program);
    for rule in [
        json!({"name": "Happy birthday", "trigger": "birthday", "effect": {"bonus": 100}}),
        json!({"name": "Thank you for another year", "trigger": "anniversary", "effect": {"bonus": 10},
               "condition": "member.days_since_enrolment >= 365"}),
    ] {
        app.post(&app.a.admin, &rules, &rule).await.ok(201);
    }
    let leap = id(&app.enroll(json!({"birthday": "1992-02-29"})).await);
    let may = id(&app.enroll(json!({"birthday": "1990-05-03"})).await);
    let loyal = id(&app
        .enroll(json!({"enrolled_at": "2024-05-02T12:00:00Z"}))
        .await);
    // 1 May 2026: nobody's day.
    assert_eq!(run(&app).await, json!({"members": 0, "points": 0}));

    // 2 May: the second anniversary of an enrolment; once only.
    app.clock.set("2026-05-02T08:00:00Z".parse().unwrap());
    assert_eq!(run(&app).await, json!({"members": 1, "points": 10}));
    assert_eq!(run(&app).await, json!({"members": 0, "points": 0}));
    assert_eq!(app.balance(&loyal).await, 10);

    // No run on 3, 4 or 5 May: the birthday of 3 May is caught up on the 6th, once.
    app.clock.set("2026-05-06T09:00:00Z".parse().unwrap());
    assert_eq!(run(&app).await, json!({"members": 1, "points": 100}));
    assert_eq!(run(&app).await, json!({"members": 0, "points": 0}));
    assert_eq!(app.balance(&may).await, 100);

    // Born on 29 February: on 28 February in 2027, on 29 February in 2028.
    app.clock.set("2027-02-27T12:00:00Z".parse().unwrap());
    run(&app).await;
    assert_eq!(app.balance(&leap).await, 0);
    app.clock.set("2027-02-28T12:00:00Z".parse().unwrap());
    run(&app).await;
    assert_eq!(app.balance(&leap).await, 100);
    app.clock.set("2028-02-28T12:00:00Z".parse().unwrap());
    run(&app).await;
    assert_eq!(
        app.balance(&leap).await,
        100,
        "not on the 28th in a leap year"
    );
    app.clock.set("2028-02-29T12:00:00Z".parse().unwrap());
    run(&app).await;
    assert_eq!(app.balance(&leap).await, 200);

    // Each bonus names its rule in the history.
    let history = app
        .get(&app.a.read, &format!("/members/{leap}/history"))
        .await
        .ok(200);
    let notes: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["reason"]["note"].as_str())
        .collect();
    assert_eq!(notes, vec!["Happy birthday", "Happy birthday"]);
    app.check_end_state().await;
}
