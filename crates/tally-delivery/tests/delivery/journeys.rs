//! Journeys driven by the injected clock, against the SMTP sink on SQLite or PostgreSQL: a
//! welcome series that branches on a purchase, grants points and tags; waits to a local time
//! across a daylight-saving change; birthdays every year (29 February included, and caught up
//! after downtime); a restart (a new engine) carrying on where members stand; two nodes
//! running one journey with every step once.

use crate::common;

use common::*;
use jiff::SignedDuration;
use serde_json::{Value, json};
use tally_core::{Command, Tally};
use tally_domain::ids::MemberId;
use tally_mail::sink::SmtpSink;

impl World {
    async fn runs(&self, member: &MemberId) -> Vec<Value> {
        self.tally
            .member_journeys(&self.tenant, member, None, None)
            .await
            .unwrap()
            .items
    }

    /// Runs due steps and delivers what they queued.
    async fn tick(&self) -> usize {
        self.tally.run_journeys().await.unwrap();
        self.deliverer.drain().await.unwrap().sent
    }
}

#[tokio::test]
async fn a_welcome_series_waits_branches_on_a_purchase_grants_points_and_tags_once() {
    let w = world(SmtpSink::options()).await;
    let t = w.template.clone();
    let journey = w
        .journey(json!({
            "name": "Welcome series",
            "trigger": {"type": "enrolled"},
            "steps": [
                {"send": {"template": t}},
                {"wait": {"days": 3}},
                {"branch": {"if": {"purchased_since_entry": true}, "then": 6}},
                {"grant_points": {"points": 50, "reason": "a nudge to come back"}},
                {"send": {"template": t}},
                {"add_tag": "nudged"},
                {"exit": true},
            ],
        }))
        .await;
    assert_eq!(journey["reentry"], "never");
    let quiet = w
        .member(json!({"name": "Quiet Quinn", "email": "quinn@example.com", "consents": {"email": true}}))
        .await;
    let buyer = w
        .member(
            json!({"name": "Busy Bea", "email": "bea@example.com", "consents": {"email": true}}),
        )
        .await;
    // On the journey from the enrolment's own transaction.
    assert_eq!(w.runs(&quiet.id).await[0]["status"], "active");
    assert_eq!(w.tick().await, 2, "both welcomed");
    assert_eq!(w.runs(&quiet.id).await[0]["step"], 2);
    w.purchase(&buyer.id, "bea-1", "2026-12-03T10:00:00Z").await;
    assert_eq!(w.tick().await, 0, "nothing before three days");

    w.clock.set(ts("2026-12-05T11:00:00Z"));
    assert_eq!(w.tick().await, 1, "only the one who did not buy is nudged");
    let quinn = w.tally.member(&w.tenant, &quiet.id).await.unwrap();
    assert_eq!(quinn.balance.available.value(), 50);
    assert_eq!(quinn.tags, vec!["nudged".to_owned()]);
    let bea = w.tally.member(&w.tenant, &buyer.id).await.unwrap();
    assert_eq!(
        bea.balance.available.value(),
        25,
        "only the purchase's points"
    );
    assert!(bea.tags.is_empty());
    assert_eq!(w.runs(&quiet.id).await[0]["status"], "exited");
    assert_eq!(w.runs(&buyer.id).await[0]["status"], "exited");
    let mails_to_quinn = w
        .sink
        .messages()
        .iter()
        .filter(|m| m.is_to("quinn@example.com"))
        .count();
    assert_eq!(mails_to_quinn, 2);

    // Nothing runs twice, however often the runner runs; a re-enrolment is not possible, and a
    // purchase does not start an enrolment journey.
    w.clock.set(ts("2026-12-20T11:00:00Z"));
    assert_eq!(w.tick().await, 0);
    let id = tally_domain::ids::JourneyId::parse(journey["id"].as_str().unwrap()).unwrap();
    let report = w.tally.journey(&w.tenant, &id).await.unwrap();
    assert_eq!(
        report["runs"],
        json!({"active": 0, "done": 0, "exited": 2, "held_out": 0})
    );
    assert_eq!(report["messages"]["sent"], 3);
    let quinn = w.tally.member(&w.tenant, &quiet.id).await.unwrap();
    assert_eq!(quinn.balance.available.value(), 50);
}

#[tokio::test]
async fn a_wait_until_a_local_time_survives_a_restart_and_the_clock_change() {
    let w = world(SmtpSink::options()).await;
    w.write(Command::PutMessagingSettings {
        program: w.program.clone(),
        settings: tally_domain::messaging::MessagingSettings::parse(&json!({"quiet_hours": null}))
            .unwrap(),
    })
    .await;
    w.journey(json!({
        "name": "Thank you next morning",
        "trigger": {"type": "purchase"},
        "reentry": "always",
        "steps": [{"wait_until": "09:00"}, {"send": {"template": w.template}}],
    }))
    .await;
    let m = w
        .member(json!({"name": "Ola", "email": "ola@example.com", "consents": {"email": true}}))
        .await;
    // Saturday 28 March 2026, 22:00 in Warsaw; the clocks go forward that night.
    w.clock.set(ts("2026-03-28T21:00:00Z"));
    w.purchase(&m.id, "ola-1", "2026-03-28T21:00:00Z").await;
    w.purchase(&m.id, "ola-2", "2026-03-28T21:00:00Z").await;
    assert_eq!(w.tick().await, 0);
    let runs = w.runs(&m.id).await;
    assert_eq!(runs.len(), 2, "re-entered for each purchase");
    assert!(
        runs.iter().all(|r| r["due_at"] == "2026-03-29T07:00:00Z"),
        "{runs:?}"
    );

    // A restart: a new engine on the same database carries on.
    let restarted = Tally::start(w.tally.db.clone(), w.clock.clone());
    w.clock.set(ts("2026-03-29T07:00:00Z"));
    assert_eq!(restarted.run_journeys().await.unwrap(), 2);
    assert_eq!(w.deliverer.drain().await.unwrap().sent, 2);
    assert!(w.runs(&m.id).await.iter().all(|r| r["status"] == "done"));
}

#[tokio::test]
async fn birthdays_come_every_year_on_the_local_day_once_even_after_downtime() {
    let w = world(SmtpSink::options()).await;
    w.journey(json!({
        "name": "Birthday letter",
        "trigger": {"type": "birthday"},
        "steps": [{"send": {"template": w.template}}, {"grant_points": {"points": 100, "reason": "happy birthday"}}],
    }))
    .await;
    let ada = w
        .member(json!({"name": "Ada", "email": "ada@example.com", "consents": {"email": true}, "birthday": "1990-12-02"}))
        .await;
    let leap = w
        .member(json!({"name": "Leo", "email": "leo@example.com", "consents": {"email": true}, "birthday": "2000-02-29"}))
        .await;
    // 2 December 2026, 12:00 in Warsaw.
    assert_eq!(w.tick().await, 1);
    assert_eq!(w.tick().await, 0, "once");
    assert_eq!(w.runs(&ada.id).await[0]["occurrence"], "2026");
    // The server is down from 1 to 4 December 2027: caught up on the 4th, once.
    w.clock.set(ts("2027-12-04T09:00:00Z"));
    assert_eq!(w.tick().await, 1);
    assert_eq!(w.tick().await, 0);
    let runs = w.runs(&ada.id).await;
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["occurrence"], "2027");
    assert_eq!(
        w.tally
            .member(&w.tenant, &ada.id)
            .await
            .unwrap()
            .balance
            .available
            .value(),
        200
    );
    // 29 February: on 28 February in 2027, then on the 29th in 2028.
    w.clock.set(ts("2027-02-28T10:00:00Z"));
    assert_eq!(w.tick().await, 1);
    w.clock.set(ts("2028-02-28T10:00:00Z"));
    assert_eq!(w.tick().await, 0, "2028 has a 29 February");
    w.clock.set(ts("2028-02-29T10:00:00Z"));
    assert_eq!(w.tick().await, 1);
    let years: Vec<Value> = w
        .runs(&leap.id)
        .await
        .iter()
        .map(|r| r["occurrence"].clone())
        .collect();
    assert_eq!(years, vec![json!("2028"), json!("2027")]);
}

#[tokio::test]
async fn two_nodes_run_one_journey_and_every_step_happens_once() {
    let w = world(SmtpSink::options()).await;
    w.journey(json!({
        "name": "Welcome",
        "trigger": {"type": "enrolled"},
        "steps": [{"send": {"template": w.template}}, {"grant_points": {"points": 10, "reason": "welcome"}}],
    }))
    .await;
    let mut members = Vec::new();
    for i in 0..40 {
        members.push(
            w.member(json!({"name": format!("N {i}"), "email": format!("n{i}@example.com"), "consents": {"email": true}}))
                .await,
        );
    }
    let other = Tally::start(w.tally.db.clone(), w.clock.clone());
    let (a, b) = tokio::join!(w.tally.run_journeys(), other.run_journeys());
    assert_eq!(a.unwrap() + b.unwrap(), 40);
    assert_eq!(w.deliverer.drain().await.unwrap().sent, 40);
    assert_eq!(w.sink.messages().len(), 40);
    for m in &members {
        let m = w.tally.member(&w.tenant, &m.id).await.unwrap();
        assert_eq!(m.balance.available.value(), 10);
    }
    w.clock.advance(SignedDuration::from_hours(48));
    assert_eq!(w.tick().await, 0);
}

#[tokio::test]
async fn a_reminder_goes_once_per_expiry_when_points_are_about_to_expire() {
    let w = world(SmtpSink::options()).await;
    w.write(Command::SetExpiryPolicy {
        program: w.program.clone(),
        policy: tally_domain::expiry::ExpiryPolicy::parse(
            &json!({"kind": "days_after_earning", "days": 30}),
        )
        .unwrap(),
    })
    .await;
    w.journey(json!({
        "name": "Points expiring",
        "trigger": {"type": "points_expiring", "within_days": 7},
        "steps": [{"send": {"template": w.template}}],
    }))
    .await;
    let m = w
        .member(json!({"name": "Eve", "email": "eve@example.com", "consents": {"email": true}}))
        .await;
    w.purchase(&m.id, "eve-1", "2026-12-02T11:00:00Z").await;
    // They expire on 1 January; a week before, the reminder goes, once.
    assert_eq!(w.tick().await, 0, "not yet within a week");
    w.clock.set(ts("2026-12-26T12:00:00Z"));
    assert_eq!(w.tick().await, 1);
    w.clock.set(ts("2026-12-28T12:00:00Z"));
    assert_eq!(w.tick().await, 0, "once per expiry");
    let runs = w.runs(&m.id).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["occurrence"], "expiry:2027-01-01");
}

#[tokio::test]
async fn the_welcome_playbook_greets_a_new_member_in_one_click() {
    let w = world(SmtpSink::options()).await;
    let on = w
        .write(Command::SwitchOnPlaybook {
            program: w.program.clone(),
            playbook: "welcome_series".into(),
        })
        .await;
    assert_eq!(on["journey"]["trigger"]["type"], "enrolled");
    w.member(
        json!({"name": "Nina Nowak", "email": "nina@example.com", "consents": {"email": true}}),
    )
    .await;
    assert_eq!(w.tick().await, 1);
    let mail = w.sink.message_to("nina@example.com").unwrap();
    assert_eq!(mail.subject().unwrap(), "Welcome to Vinyl Vault Club, Nina");
    let text = mail.text().unwrap();
    assert!(text.contains(&format!("{PUBLIC}/wallet/cards/")), "{text}");
    assert!(text.contains(&format!("{PUBLIC}/unsubscribe/")), "{text}");
    // Three days later, without a purchase, the reminder.
    w.clock.advance(SignedDuration::from_hours(72));
    assert_eq!(w.tick().await, 1);
}
