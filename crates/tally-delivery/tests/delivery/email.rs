//! The deliverer against a real SMTP server on loopback (`tally_mail::sink`), on SQLite or on
//! PostgreSQL (`TALLY_TEST_DATABASE_URL`): content and personalisation, the unsubscribe header
//! and link, consent refusal and fallback, quiet hours, weekly caps, bounces and retries, a
//! deliverer that dies after claiming, and two deliverers (two nodes) sending each message once.

use crate::common;

use common::*;
use jiff::SignedDuration;
use serde_json::{Value, json};
use std::collections::HashSet;
use tally_core::messages::{ClaimRequest, MAX_ATTEMPTS, Reaction};
use tally_core::{Command, Tally};
use tally_delivery::{Deliverer, DeliveryConfig};
use tally_domain::messaging::MessageRequest;
use tally_domain::model::Channel;
use tally_mail::sink::SmtpSink;
use tally_mail::{MailConfig, Mailer};

#[tokio::test]
async fn a_message_arrives_filled_in_with_its_id_tracking_and_unsubscribe_link() {
    let w = world(SmtpSink::options()).await;
    let ada = w.ada().await;
    let queued = w.queue(&ada.id, json!({})).await;
    assert_eq!(queued["status"], "queued");
    let round = w.deliverer.drain().await.unwrap();
    assert_eq!(round.sent, 1, "{round:?}");

    let mail = w.sink.message_to("ada@example.com").expect("delivered");
    assert_eq!(mail.subject().unwrap(), "Ada, you have 120 notes");
    let text = mail.text().unwrap();
    assert!(
        text.contains("Hello Ada, you have 120 notes at Vinyl Vault Club."),
        "{text}"
    );
    let message = w.message(&queued["id"]).await;
    let token_link = format!("{PUBLIC}/unsubscribe/");
    assert!(text.contains(&token_link), "{text}");
    assert_eq!(
        mail.message_id().unwrap(),
        format!("<{}@vinylvault.example>", queued["id"].as_str().unwrap())
    );
    let header = mail.header("List-Unsubscribe").unwrap();
    assert!(header.starts_with(&format!("<{token_link}")), "{header}");
    assert_eq!(
        mail.header("List-Unsubscribe-Post").unwrap(),
        "List-Unsubscribe=One-Click"
    );
    let html = mail.html().unwrap();
    assert!(
        html.contains("/click?to=https%3A%2F%2Fvinylvault.example%2Fnew%3Ffrom%3Dmail%26x%3D1"),
        "{html}"
    );
    assert!(html.contains("/open.gif"), "{html}");
    // The unsubscribe link is not rewritten: a click must reach it directly.
    assert!(html.contains(&format!("href=\"{token_link}")), "{html}");

    assert_eq!(message["status"], "sent");
    assert_eq!(message["sent_channel"], "email");
    assert_eq!(message["to"], "ada@example.com");
    assert_eq!(message["attempts"], 1);
    assert_eq!(message["subject"], "Ada, you have 120 notes");
}

#[tokio::test]
async fn without_tracking_the_html_is_as_written() {
    let w = world(SmtpSink::options()).await;
    w.settings(json!({"tracking": false})).await;
    let ada = w.ada().await;
    w.queue(&ada.id, json!({})).await;
    w.deliverer.drain().await.unwrap();
    let html = w
        .sink
        .message_to("ada@example.com")
        .unwrap()
        .html()
        .unwrap();
    assert!(!html.contains("/click?to="), "{html}");
    assert!(!html.contains("open.gif"), "{html}");
    assert!(
        html.contains("https://vinylvault.example/new?from=mail&amp;x=1"),
        "{html}"
    );
}

#[tokio::test]
async fn no_consent_is_recorded_and_the_message_falls_back_to_the_inbox() {
    let w = world(SmtpSink::options()).await;
    let bob = w
        .member(json!({"name": "Bob", "email": "bob@example.com", "preferred_channel": "sms"}))
        .await;
    let queued = w.queue(&bob.id, json!({})).await;
    let round = w.deliverer.drain().await.unwrap();
    assert_eq!((round.sent, round.in_app), (0, 1), "{round:?}");
    assert!(w.sink.messages().is_empty());
    let message = w.message(&queued["id"]).await;
    assert_eq!(message["status"], "sent");
    assert_eq!(message["sent_channel"], "in_app");
    let inbox = w
        .tally
        .member_inbox(&w.tenant, &bob.id, None, None)
        .await
        .unwrap();
    assert_eq!(inbox.items.len(), 1);
    assert_eq!(inbox.items[0]["subject"], "Bob, you have 0 notes");

    // Email only: the refusal is recorded, channel by channel.
    w.settings(json!({"fallback": ["email"]})).await;
    let queued = w.queue(&bob.id, json!({})).await;
    let round = w.deliverer.drain().await.unwrap();
    assert_eq!(round.suppressed, 1, "{round:?}");
    let message = w.message(&queued["id"]).await;
    assert_eq!(message["status"], "suppressed");
    assert_eq!(message["reason"], "sms: not_set_up; email: no_consent");
    // Asked for email explicitly: the same.
    let queued = w.queue(&bob.id, json!({"channel": "email"})).await;
    w.deliverer.drain().await.unwrap();
    assert_eq!(
        w.message(&queued["id"]).await["reason"],
        "email: no_consent"
    );
    assert!(w.sink.messages().is_empty());
}

#[tokio::test]
async fn quiet_hours_hold_a_message_until_the_members_morning() {
    let w = world(SmtpSink::options()).await;
    let ada = w.ada().await;
    // 22:30 in Warsaw; Ada lives in New York, where it is 16:30: she gets it now.
    w.clock.set(ts("2026-12-02T21:30:00Z"));
    let ny = w
        .member(json!({"name": "Nia", "email": "nia@example.com", "consents": {"email": true}, "time_zone": "America/New_York"}))
        .await;
    let held = w.queue(&ada.id, json!({})).await;
    w.queue(&ny.id, json!({})).await;
    let round = w.deliverer.drain().await.unwrap();
    assert_eq!((round.sent, round.put_off), (1, 1), "{round:?}");
    assert!(w.sink.message_to("nia@example.com").is_some());
    let message = w.message(&held["id"]).await;
    assert_eq!(message["status"], "queued");
    assert_eq!(message["reason"], "quiet_hours");
    assert_eq!(message["due_at"], "2026-12-03T07:00:00Z");
    // Nothing before 08:00 local…
    w.clock.set(ts("2026-12-03T06:59:00Z"));
    assert_eq!(w.deliverer.drain().await.unwrap().claimed(), 0);
    // …then it goes.
    w.clock.set(ts("2026-12-03T07:00:00Z"));
    assert_eq!(w.deliverer.drain().await.unwrap().sent, 1);
    assert!(w.sink.message_to("ada@example.com").is_some());
}

#[tokio::test]
async fn the_weekly_cap_holds_and_a_new_week_opens_it() {
    let w = world(SmtpSink::options()).await;
    w.settings(json!({"weekly_caps": {"email": 2}, "fallback": ["email"]}))
        .await;
    let ada = w.ada().await;
    for _ in 0..3 {
        w.queue(&ada.id, json!({})).await;
    }
    let round = w.deliverer.drain().await.unwrap();
    assert_eq!((round.sent, round.suppressed), (2, 1), "{round:?}");
    assert_eq!(w.sink.messages().len(), 2);
    let page = w
        .tally
        .member_messages(&w.tenant, &ada.id, None, None)
        .await
        .unwrap();
    let capped: Vec<&Value> = page
        .items
        .iter()
        .filter(|m| m["status"] == "suppressed")
        .collect();
    assert_eq!(capped.len(), 1);
    assert_eq!(capped[0]["reason"], "email: weekly_cap");
    // Monday 7 December, 09:00 in Warsaw: a new week.
    w.clock.set(ts("2026-12-07T08:00:00Z"));
    w.queue(&ada.id, json!({})).await;
    assert_eq!(w.deliverer.drain().await.unwrap().sent, 1);
}

#[tokio::test]
async fn a_refused_address_bounces_and_a_deferring_relay_is_retried_then_given_up() {
    let w = world(
        SmtpSink::options()
            .reject("gone@example.com")
            .defer("busy@example.com"),
    )
    .await;
    let gone = w
        .member(json!({"name": "Gone", "email": "gone@example.com", "consents": {"email": true}}))
        .await;
    let busy = w
        .member(json!({"name": "Busy", "email": "busy@example.com", "consents": {"email": true}}))
        .await;
    let bounced = w.queue(&gone.id, json!({})).await;
    let deferred = w.queue(&busy.id, json!({})).await;
    let round = w.deliverer.round().await.unwrap();
    assert_eq!((round.bounced, round.deferred), (1, 1), "{round:?}");
    let m = w.message(&bounced["id"]).await;
    assert_eq!(m["status"], "bounced");
    assert!(m["reason"].as_str().unwrap().contains("55"), "{m}");
    let m = w.message(&deferred["id"]).await;
    assert_eq!(m["status"], "queued");
    assert_eq!(m["attempts"], 1);
    // Tried again after a backoff, until MAX_ATTEMPTS sends have failed.
    for _ in 1..MAX_ATTEMPTS {
        assert_eq!(
            w.deliverer.drain().await.unwrap().claimed(),
            0,
            "not due yet"
        );
        w.clock.advance(SignedDuration::from_hours(1));
        assert_eq!(w.deliverer.drain().await.unwrap().deferred, 1);
    }
    let m = w.message(&deferred["id"]).await;
    assert_eq!(m["status"], "failed");
    assert_eq!(m["attempts"], MAX_ATTEMPTS);
}

#[tokio::test]
async fn a_deliverer_that_dies_after_claiming_loses_nothing() {
    let w = world(SmtpSink::options()).await;
    let ada = w.ada().await;
    let queued = w.queue(&ada.id, json!({})).await;
    // A deliverer claims it and dies before sending.
    let claim = Command::ClaimMessages(ClaimRequest {
        usable: vec![Channel::Email],
        limit: 10,
        lease: SignedDuration::from_secs(120),
        public_url: PUBLIC.into(),
    });
    let answer = w.write(claim).await;
    assert_eq!(answer["messages"].as_array().unwrap().len(), 1);
    // While the lease holds, nobody else sends it.
    assert_eq!(w.deliverer.drain().await.unwrap().claimed(), 0);
    w.clock.advance(SignedDuration::from_secs(121));
    assert_eq!(w.deliverer.drain().await.unwrap().sent, 1);
    let mail = w.sink.message_to("ada@example.com").unwrap();
    assert_eq!(
        mail.message_id().unwrap(),
        format!("<{}@vinylvault.example>", queued["id"].as_str().unwrap())
    );
    // The content is the one filled in at the first claim.
    assert_eq!(mail.subject().unwrap(), answer["messages"][0]["subject"]);
    assert_eq!(w.message(&queued["id"]).await["attempts"], 2);
}

#[tokio::test]
async fn two_deliverers_on_two_nodes_send_each_message_once() {
    let w = world(SmtpSink::options()).await;
    let mut ids = HashSet::new();
    for i in 0..60 {
        let m = w
            .member(json!({"name": format!("M {i}"), "email": format!("m{i}@example.com"), "consents": {"email": true}}))
            .await;
        ids.insert(
            w.queue(&m.id, json!({})).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    // A second node: its own engine and writers on the same database.
    let other = Tally::start(w.tally.db.clone(), w.clock.clone());
    let config = MailConfig::parse(&w.sink.url(), "club@vinylvault.example").unwrap();
    let mut small = DeliveryConfig::new(PUBLIC);
    small.batch = 7;
    let second = Deliverer::new(other, Some(Mailer::new(&config).unwrap()), small.clone());
    let first = Deliverer::new(w.tally.clone(), Some(Mailer::new(&config).unwrap()), small);
    let (a, b) = tokio::join!(first.drain(), second.drain());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.sent + b.sent, 60, "{a:?} {b:?}");
    let received = w.sink.messages();
    assert_eq!(received.len(), 60);
    let message_ids: HashSet<String> = received.iter().map(|m| m.message_id().unwrap()).collect();
    let expected: HashSet<String> = ids
        .iter()
        .map(|id| format!("<{id}@vinylvault.example>"))
        .collect();
    assert_eq!(message_ids, expected);
}

#[tokio::test]
async fn unsubscribing_withdraws_email_consent_and_later_messages_are_refused() {
    let w = world(SmtpSink::options()).await;
    w.settings(json!({"fallback": ["email"]})).await;
    let ada = w.ada().await;
    let first = w.queue(&ada.id, json!({})).await;
    w.deliverer.drain().await.unwrap();
    let mail = w.sink.message_to("ada@example.com").unwrap();
    let header = mail.header("List-Unsubscribe").unwrap();
    let token = header
        .trim_matches(|c| c == '<' || c == '>')
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let answer = w
        .write(Command::ReactToMessage {
            token: token.clone(),
            reaction: Reaction::Unsubscribed,
        })
        .await;
    assert_eq!(answer["first_time"], true);
    assert_eq!(answer["message_id"], first["id"]);
    // Twice is harmless.
    let again = w
        .write(Command::ReactToMessage {
            token,
            reaction: Reaction::Unsubscribed,
        })
        .await;
    assert_eq!(again["first_time"], false);
    let member = w.tally.member(&w.tenant, &ada.id).await.unwrap();
    let email = member
        .consents
        .iter()
        .find(|c| c.channel == Channel::Email)
        .unwrap();
    assert!(!email.granted);
    assert_eq!(email.source, "unsubscribe link");
    assert!(w.message(&first["id"]).await["unsubscribed_at"].is_string());

    w.sink.clear();
    let second = w.queue(&ada.id, json!({})).await;
    w.deliverer.drain().await.unwrap();
    assert!(w.sink.messages().is_empty());
    assert_eq!(
        w.message(&second["id"]).await["reason"],
        "email: no_consent"
    );
}

#[tokio::test]
async fn a_dedupe_key_queues_one_message() {
    let w = world(SmtpSink::options()).await;
    let ada = w.ada().await;
    w.queue(&ada.id, json!({"dedupe_key": "order-1-thanks"}))
        .await;
    let again = w
        .tally
        .write(
            &w.tenant,
            "test",
            None,
            Command::QueueMessage {
                member: ada.id.clone(),
                request: MessageRequest::parse(
                    &json!({"template": w.template, "dedupe_key": "order-1-thanks"}),
                )
                .unwrap(),
            },
        )
        .await
        .unwrap_err();
    assert!(again.to_string().contains("dedupe_key"), "{again}");
    assert_eq!(w.deliverer.drain().await.unwrap().sent, 1);
    assert_eq!(w.sink.messages().len(), 1);
}
