//! Webhooks against a real HTTP endpoint on loopback, on SQLite or PostgreSQL: events written
//! with the change they report and signed as Standard Webhooks; an endpoint that fails tried
//! on the schedule until the delivery is dead, then replayed under the same `webhook-id`; a
//! disabled endpoint's deliveries kept as dead letters; a journey's webhook step; and two
//! deliverers (two nodes) posting each delivery once.

use crate::common;

use common::receiver::{Received, Receiver};
use common::*;
use jiff::SignedDuration;
use serde_json::{Value, json};
use std::collections::HashSet;
use tally_core::webhooks::{MAX_ATTEMPTS, WebhookCommand, backoff};
use tally_core::{Command, Tally};
use tally_delivery::webhooks::sign;
use tally_delivery::{Deliverer, DeliveryConfig};
use tally_domain::Clock;
use tally_domain::ids::{WebhookDeliveryId, WebhookId};
use tally_domain::webhooks::{WebhookInput, WebhookPatch};
use tally_mail::sink::SmtpSink;

impl World {
    async fn webhook(&self, body: Value) -> Value {
        self.write(Command::Webhooks(WebhookCommand::Create {
            program: self.program.clone(),
            input: WebhookInput::parse(&body).unwrap(),
        }))
        .await
    }

    async fn hook(&self, command: WebhookCommand) -> Value {
        self.write(Command::Webhooks(command)).await
    }

    async fn deliveries(&self, webhook: &Value, status: Option<&str>) -> Vec<Value> {
        let id = WebhookId::parse(webhook["id"].as_str().unwrap()).unwrap();
        let page = self
            .tally
            .webhook_deliveries(&self.tenant, &id, status, None, None);
        page.await.unwrap().items
    }
}

fn webhook_id(v: &Value) -> WebhookId {
    WebhookId::parse(v["id"].as_str().unwrap()).unwrap()
}

/// The request's signatures (space-separated) for its id, timestamp and body.
fn signatures(r: &Received) -> Vec<String> {
    r.headers["webhook-signature"]
        .split(' ')
        .map(str::to_owned)
        .collect()
}

/// The request carries exactly the signatures of these secrets, in this order.
fn check_signature(r: &Received, secret: &str) {
    check_signatures(r, &[secret]);
}

fn check_signatures(r: &Received, secrets: &[&str]) {
    let id = &r.headers["webhook-id"];
    let timestamp: i64 = r.headers["webhook-timestamp"].parse().unwrap();
    let expected: Vec<String> = secrets
        .iter()
        .map(|s| sign(s, id, timestamp, &r.body).unwrap())
        .collect();
    assert_eq!(signatures(r), expected);
    assert_eq!(r.headers["content-type"], "application/json");
}

#[tokio::test]
async fn events_go_out_signed_once_each_to_the_endpoints_that_want_them() {
    let w = world(SmtpSink::options()).await;
    let erp = Receiver::start().await;
    let crm = Receiver::start().await;
    let all = w.webhook(json!({"url": format!("{}/all", erp.url)})).await;
    let secret = all["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{all}");
    let enrolments = w
        .webhook(
            json!({"url": format!("{}/crm", crm.url), "event_types": ["member.enrolled"],
                         "description": "CRM"}),
        )
        .await;
    let ada = w.ada().await;
    w.purchase(&ada.id, "A-1", "2026-12-02T10:00:00Z").await;

    let round = w.deliverer.drain_webhooks().await.unwrap();
    assert_eq!((round.delivered, round.failed), (3, 0), "{round:?}");
    let got = erp.received();
    let types: Vec<String> = got
        .iter()
        .map(|r| {
            serde_json::from_str::<Value>(&r.body).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(types, ["member.enrolled", "purchase.recorded"]);
    for r in &got {
        check_signature(r, &secret);
        assert_eq!(r.path, "/all");
        assert_eq!(
            r.headers["webhook-timestamp"],
            w.clock.now().as_second().to_string()
        );
    }
    let purchase: Value = serde_json::from_str(&got[1].body).unwrap();
    assert_eq!(purchase["timestamp"], "2026-12-02T11:00:00Z");
    assert_eq!(purchase["data"]["order_id"], "A-1");
    assert_eq!(purchase["data"]["member_id"], ada.id.as_str());
    let crm_got = crm.received();
    assert_eq!(crm_got.len(), 1);
    let enrolled: Value = serde_json::from_str(&crm_got[0].body).unwrap();
    assert_eq!(enrolled["data"]["id"], ada.id.as_str());
    assert_eq!(enrolled["data"]["email"], "ada@example.com");
    let crm_id = webhook_id(&enrolments);
    let crm_secret = w.tally.webhook_secret(&w.tenant, &crm_id).await.unwrap()["secret"].clone();
    check_signature(&crm_got[0], crm_secret.as_str().unwrap());

    // Nothing is due any more; a purchase sent again (the same order) publishes nothing new.
    w.purchase(&ada.id, "A-1", "2026-12-02T10:00:00Z").await;
    assert_eq!(w.deliverer.drain_webhooks().await.unwrap().claimed(), 0);
    let delivered = w.deliverer_view(&all).await;
    assert_eq!(
        delivered["deliveries"],
        json!({"pending": 0, "delivered": 2, "dead": 0})
    );
}

impl World {
    async fn deliverer_view(&self, webhook: &Value) -> Value {
        self.tally
            .webhook(&self.tenant, &webhook_id(webhook))
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn a_failing_endpoint_is_tried_on_schedule_then_dead_then_replayed_under_the_same_id() {
    let w = world(SmtpSink::options()).await;
    let erp = Receiver::start().await;
    erp.answer(&[500; MAX_ATTEMPTS as usize]);
    let hook = w.webhook(json!({"url": erp.url})).await;
    w.ada().await;
    for attempt in 1..=MAX_ATTEMPTS {
        let round = w.deliverer.drain_webhooks().await.unwrap();
        assert_eq!(round.failed, 1, "attempt {attempt}: {round:?}");
        let d = &w.deliveries(&hook, None).await[0];
        assert_eq!(d["attempts"], attempt);
        assert_eq!(d["last_status"], 500);
        assert_eq!(d["last_error"], "HTTP 500: no thanks");
        if attempt < MAX_ATTEMPTS {
            assert_eq!(d["status"], "pending");
            // Not before its time, then due.
            w.clock
                .advance(backoff(attempt) - SignedDuration::from_secs(1));
            assert_eq!(w.deliverer.drain_webhooks().await.unwrap().claimed(), 0);
            w.clock.advance(SignedDuration::from_secs(1));
        } else {
            assert_eq!(d["status"], "dead");
        }
    }
    let dead = w.deliveries(&hook, Some("dead")).await;
    assert_eq!(dead.len(), 1);
    let id = WebhookDeliveryId::parse(dead[0]["id"].as_str().unwrap()).unwrap();
    let replayed = w
        .hook(WebhookCommand::Replay {
            delivery: id.clone(),
        })
        .await;
    assert_eq!(
        (replayed["status"].as_str(), replayed["replays"].as_i64()),
        (Some("pending"), Some(1))
    );
    assert_eq!(w.deliverer.drain_webhooks().await.unwrap().delivered, 1);
    let ids: HashSet<String> = erp
        .received()
        .iter()
        .map(|r| r.headers["webhook-id"].clone())
        .collect();
    assert_eq!(
        ids,
        HashSet::from([id.to_string()]),
        "one id on every attempt and the replay"
    );
    assert_eq!(erp.received().len(), MAX_ATTEMPTS as usize + 1);
    // A delivered delivery is not replayed.
    let again = w
        .tally
        .write(
            &w.tenant,
            "test",
            None,
            Command::Webhooks(WebhookCommand::Replay { delivery: id }),
        )
        .await
        .unwrap_err();
    assert!(
        again.to_string().contains("delivery_not_dead")
            || format!("{again:?}").contains("delivery_not_dead"),
        "{again:?}"
    );
}

#[tokio::test]
async fn a_disabled_endpoint_keeps_its_deliveries_as_dead_letters_until_replayed() {
    let w = world(SmtpSink::options()).await;
    let erp = Receiver::start().await;
    let hook = w
        .webhook(json!({"url": erp.url, "event_types": ["member.enrolled"]}))
        .await;
    w.ada().await;
    let disable = WebhookPatch::parse(&json!({"status": "disabled"})).unwrap();
    w.hook(WebhookCommand::Update {
        webhook: webhook_id(&hook),
        patch: disable,
    })
    .await;
    let round = w.deliverer.drain_webhooks().await.unwrap();
    assert_eq!(round.disabled, 1, "{round:?}");
    let dead = w.deliveries(&hook, Some("dead")).await;
    assert_eq!(dead[0]["last_error"], "the endpoint is disabled");
    // Disabled, it hears of nothing new.
    w.member(json!({"name": "Bo"})).await;
    assert_eq!(w.deliveries(&hook, None).await.len(), 1);
    let enable = WebhookPatch::parse(&json!({"status": "active"})).unwrap();
    w.hook(WebhookCommand::Update {
        webhook: webhook_id(&hook),
        patch: enable,
    })
    .await;
    let replayed = w
        .hook(WebhookCommand::ReplayDead {
            webhook: webhook_id(&hook),
        })
        .await;
    assert_eq!(replayed["replayed"], 1);
    assert_eq!(w.deliverer.drain_webhooks().await.unwrap().delivered, 1);
    assert_eq!(erp.received().len(), 1);
    // After a rotation, the new secret and, for a day, the old one sign what follows.
    let rotated = w
        .hook(WebhookCommand::RotateSecret {
            webhook: webhook_id(&hook),
        })
        .await;
    let test = w
        .hook(WebhookCommand::SendTest {
            webhook: webhook_id(&hook),
        })
        .await;
    assert_eq!(test["event_type"], "webhook.test");
    w.deliverer.drain_webhooks().await.unwrap();
    let last = erp.received().pop().unwrap();
    let (new, old) = (
        rotated["secret"].as_str().unwrap(),
        hook["secret"].as_str().unwrap(),
    );
    check_signatures(&last, &[new, old]);
    assert_eq!(last.headers["webhook-id"], test["id"].as_str().unwrap());
    w.clock
        .advance(tally_core::webhooks::ROTATION_GRACE + SignedDuration::from_secs(1));
    let test = w
        .hook(WebhookCommand::SendTest {
            webhook: webhook_id(&hook),
        })
        .await;
    w.deliverer.drain_webhooks().await.unwrap();
    let last = erp.received().pop().unwrap();
    check_signature(&last, new);
    assert_eq!(last.headers["webhook-id"], test["id"].as_str().unwrap());
}

#[tokio::test]
async fn a_journey_calls_a_webhook_with_the_member_once() {
    let w = world(SmtpSink::options()).await;
    let erp = Receiver::start().await;
    let hook = w
        .webhook(json!({"url": erp.url, "event_types": ["webhook.test"]}))
        .await;
    w.journey(json!({"name": "Tell the CRM", "trigger": {"type": "enrolled"},
        "steps": [{"webhook": {"endpoint": hook["id"], "label": "new member"}}, {"wait": {"days": 1}}]}))
        .await;
    let ada = w.ada().await;
    w.tally.run_journeys().await.unwrap();
    w.tally.run_journeys().await.unwrap();
    assert_eq!(w.deliverer.drain_webhooks().await.unwrap().delivered, 1);
    let got = erp.received();
    assert_eq!(
        got.len(),
        1,
        "only the journey's call: the endpoint wants no enrolments"
    );
    let body: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(body["type"], "journey.webhook");
    assert_eq!(body["data"]["label"], "new member");
    assert_eq!(body["data"]["journey"], "Tell the CRM");
    assert_eq!(body["data"]["member"]["id"], ada.id.as_str());

    let wrong = Command::CreateJourney {
        program: w.program.clone(),
        document: json!({"name": "Bad", "trigger": {"type": "enrolled"},
            "steps": [{"webhook": {"endpoint": "whk_01J8Z3Q4R5S6T7V8W9X0Y1Z2C5"}}]}),
    };
    let e = w
        .tally
        .write(&w.tenant, "test", None, wrong)
        .await
        .unwrap_err();
    assert!(
        format!("{e:?}").contains("/steps/0/webhook/endpoint"),
        "{e:?}"
    );
}

#[tokio::test]
async fn two_deliverers_on_two_nodes_post_each_delivery_once() {
    let w = world(SmtpSink::options()).await;
    let erp = Receiver::start().await;
    w.webhook(json!({"url": erp.url, "event_types": ["member.enrolled"]}))
        .await;
    for i in 0..40 {
        w.member(json!({"name": format!("M {i}")})).await;
    }
    let other = Tally::start(w.tally.db.clone(), w.clock.clone());
    let mut small = DeliveryConfig::new(PUBLIC);
    small.batch = 7;
    let first = Deliverer::new(w.tally.clone(), None, small.clone());
    let second = Deliverer::new(other, None, small);
    let (a, b) = tokio::join!(first.drain_webhooks(), second.drain_webhooks());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.delivered + b.delivered, 40, "{a:?} {b:?}");
    let got = erp.received();
    let ids: HashSet<&String> = got.iter().map(|r| &r.headers["webhook-id"]).collect();
    assert_eq!((got.len(), ids.len()), (40, 40));
}
