//! One-off campaigns end to end, against the SMTP sink on SQLite or PostgreSQL: the audience
//! (a segment) with a random holdout that gets nothing, the report's delivery figures and
//! uplift, each member at their best send hour, a campaign that waits for its time, two nodes
//! fanning out one campaign, and a cancellation that stops what was not yet sent.

use crate::common;

use common::*;
use jiff::SignedDuration;
use serde_json::{Value, json};
use std::collections::HashSet;
use tally_core::{Command, Tally};
use tally_domain::campaigns::{CampaignInput, held_out};
use tally_domain::ids::{CampaignId, MemberId};
use tally_domain::inputs::{MemberRef, NewPurchase};
use tally_domain::model::Member;
use tally_mail::sink::SmtpSink;

impl World {
    async fn members(&self, n: usize) -> Vec<Member> {
        let mut out = Vec::new();
        for i in 0..n {
            out.push(
                self.member(json!({"name": format!("Member {i}"), "email": format!("m{i}@example.com"), "consents": {"email": true}}))
                    .await,
            );
        }
        out
    }

    async fn campaign(&self, extra: Value) -> CampaignId {
        let mut body = json!({"name": "Winter records", "template": self.template});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let created = self
            .write(Command::CreateCampaign {
                program: self.program.clone(),
                input: CampaignInput::parse(&body).unwrap(),
            })
            .await;
        assert_eq!(created["status"], "draft");
        CampaignId::parse(created["id"].as_str().unwrap()).unwrap()
    }

    async fn launch(&self, id: &CampaignId) -> Value {
        self.write(Command::LaunchCampaign {
            campaign: id.clone(),
        })
        .await
    }

    async fn report(&self, id: &CampaignId) -> Value {
        self.tally.campaign_report(&self.tenant, id).await.unwrap()
    }

    async fn buy(&self, member: &MemberId, order: &str, amount_minor: i64, at: &str) {
        let purchase = NewPurchase::parse(&json!({
            "order_id": order, "member": {"id": member},
            "total": {"amount_minor": amount_minor, "currency": "EUR"}, "occurred_at": at,
        }))
        .unwrap();
        self.write(Command::RecordPurchase {
            program: self.program.clone(),
            purchase,
        })
        .await;
    }
}

#[tokio::test]
async fn a_campaign_reaches_its_segment_but_not_the_holdout_and_reports_the_uplift() {
    let w = world(SmtpSink::options()).await;
    let members = w.members(120).await;
    let outsider = w
        .member(
            json!({"name": "Not in it", "email": "out@example.com", "consents": {"email": true}}),
        )
        .await;
    let segment = w
        .write(Command::CreateSegment {
            program: w.program.clone(),
            input: tally_domain::segments::SegmentInput::parse(
                &json!({"key": "winter", "name": "Winter list", "kind": "static"}),
            )
            .unwrap(),
        })
        .await;
    let segment_id = tally_domain::ids::SegmentId::parse(segment["id"].as_str().unwrap()).unwrap();
    w.write(Command::SetStaticSegmentMembers {
        segment: segment_id,
        members: members
            .iter()
            .map(|m| MemberRef::Id(m.id.clone()))
            .collect(),
    })
    .await;

    let k = w
        .campaign(json!({"segment": "winter", "holdout_percent": 25, "conversion_days": 7}))
        .await;
    // A draft sends nothing.
    assert_eq!(w.tally.run_campaigns().await.unwrap(), 0);
    let launched = w.launch(&k).await;
    assert_eq!(launched["status"], "scheduled");
    assert_eq!(launched["send_at"], "2026-12-02T11:00:00Z");
    assert_eq!(w.tally.run_campaigns().await.unwrap(), 120);
    // Running again queues nothing more.
    assert_eq!(w.tally.run_campaigns().await.unwrap(), 0);
    let held: HashSet<&MemberId> = members
        .iter()
        .filter(|m| held_out(k.as_str(), m.id.as_str(), 25))
        .map(|m| &m.id)
        .collect();
    assert!(
        (15..=45).contains(&held.len()),
        "{} held out of 120",
        held.len()
    );
    let campaign = w.tally.campaign(&w.tenant, &k).await.unwrap();
    assert_eq!(campaign["status"], "queued");
    assert_eq!(campaign["held_out"], held.len());
    assert_eq!(campaign["queued"], 120 - held.len());

    let round = w.deliverer.drain().await.unwrap();
    assert_eq!(round.sent, 120 - held.len());
    let received: HashSet<String> = w
        .sink
        .messages()
        .iter()
        .map(|m| m.header("To").unwrap())
        .collect();
    assert_eq!(received.len(), 120 - held.len());
    for (i, m) in members.iter().enumerate() {
        let to = format!("m{i}@example.com");
        assert_eq!(
            received.iter().any(|r| r.contains(&to)),
            !held.contains(&m.id),
            "{to}"
        );
    }
    assert!(
        w.sink
            .message_to(&outsider.email.unwrap().to_string())
            .is_none()
    );

    // Every treated member with an even number buys 20 EUR within the week, every held-out
    // member with an even number too; treated odd ones buy as well: treated convert more.
    for (i, m) in members.iter().enumerate() {
        let buys = i % 2 == 0 || !held.contains(&m.id);
        if buys {
            w.buy(&m.id, &format!("o-{i}"), 2000, "2026-12-04T12:00:00Z")
                .await;
        }
    }
    // A purchase after the window does not count.
    w.buy(&members[1].id, "late", 9900, "2026-12-10T12:00:00Z")
        .await;
    let report = w.report(&k).await;
    let d = &report["delivery"];
    assert_eq!(d["sent"], 120 - held.len());
    assert_eq!(d["held_out"], held.len());
    assert_eq!(d["suppressed"], 0);
    let c = &report["conversion"];
    assert_eq!(c["from"], "2026-12-02T11:00:00Z");
    assert_eq!(c["until"], "2026-12-09T11:00:00Z");
    let treated = 120 - held.len();
    assert_eq!(c["treated"]["members"], treated);
    assert_eq!(c["treated"]["converted"], treated);
    assert_eq!(c["treated"]["revenue_minor"], 2000 * treated as i64);
    let held_even = members
        .iter()
        .enumerate()
        .filter(|(i, m)| i % 2 == 0 && held.contains(&m.id))
        .count();
    assert_eq!(c["holdout"]["members"], held.len());
    assert_eq!(c["holdout"]["converted"], held_even);
    let uplift = &c["uplift"]["conversion"];
    let expected = 1.0 - held_even as f64 / held.len() as f64;
    assert!(
        (uplift["estimate"].as_f64().unwrap() - expected).abs() < 1e-9,
        "{uplift}"
    );
    assert_eq!(uplift["significant"], true, "{uplift}");
    assert!(
        c["uplift"]["revenue_per_member_minor"]["estimate"]
            .as_f64()
            .unwrap()
            > 0.0
    );
}

#[tokio::test]
async fn each_member_gets_the_campaign_at_their_best_send_hour() {
    let w = world(SmtpSink::options()).await;
    let members = w.members(6).await;
    // Everyone buys on Thursdays at 18:00 in Warsaw (17:00 UTC) over several weeks.
    for (i, m) in members.iter().enumerate() {
        for (week, day) in ["2026-11-05", "2026-11-12", "2026-11-19", "2026-11-26"]
            .iter()
            .enumerate()
        {
            w.buy(
                &m.id,
                &format!("t-{i}-{week}"),
                1500,
                &format!("{day}T17:00:00Z"),
            )
            .await;
        }
    }
    w.tally
        .run_insights(&w.tenant, "test", &w.program, None)
        .await
        .unwrap();
    // Launched on Wednesday 10:00 in Warsaw, spread over two days: Thursday 18:00 local.
    let k = w.campaign(json!({"best_hour_within_hours": 48})).await;
    w.launch(&k).await;
    w.tally.run_campaigns().await.unwrap();
    for m in &members {
        let page = w
            .tally
            .member_messages(&w.tenant, &m.id, None, None)
            .await
            .unwrap();
        assert_eq!(
            page.items[0]["due_at"], "2026-12-03T17:00:00Z",
            "{}",
            page.items[0]
        );
    }
    assert_eq!(
        w.deliverer.drain().await.unwrap().claimed(),
        0,
        "not before its hour"
    );
    w.clock.set(ts("2026-12-03T17:00:00Z"));
    assert_eq!(w.deliverer.drain().await.unwrap().sent, 6);
}

#[tokio::test]
async fn a_campaign_waits_for_its_time_and_two_nodes_queue_it_once() {
    let w = world(SmtpSink::options()).await;
    w.members(150).await;
    let k = w.campaign(json!({"send_at": "2026-12-02T15:00:00Z"})).await;
    w.launch(&k).await;
    assert_eq!(w.tally.run_campaigns().await.unwrap(), 0, "not yet");
    w.clock.set(ts("2026-12-02T15:00:00Z"));
    let other = Tally::start(w.tally.db.clone(), w.clock.clone());
    let (a, b) = tokio::join!(w.tally.run_campaigns(), other.run_campaigns());
    assert_eq!(a.unwrap() + b.unwrap(), 150);
    let campaign = w.tally.campaign(&w.tenant, &k).await.unwrap();
    assert_eq!(campaign["queued"], 150);
    assert_eq!(campaign["status"], "queued");
    assert_eq!(w.deliverer.drain().await.unwrap().sent, 150);
    assert_eq!(w.sink.messages().len(), 150);
}

#[tokio::test]
async fn cancelling_stops_what_was_not_yet_sent() {
    let w = world(SmtpSink::options()).await;
    w.members(10).await;
    let k = w.campaign(json!({"best_hour_within_hours": 24})).await;
    w.launch(&k).await;
    w.tally.run_campaigns().await.unwrap();
    // Nobody has insights: every message is due at once; send three of them.
    let mut small = tally_delivery::DeliveryConfig::new(PUBLIC);
    small.batch = 3;
    let config = tally_mail::MailConfig::parse(&w.sink.url(), "club@vinylvault.example").unwrap();
    let three = tally_delivery::Deliverer::new(
        w.tally.clone(),
        Some(tally_mail::Mailer::new(&config).unwrap()),
        small,
    );
    assert_eq!(three.round().await.unwrap().sent, 3);
    let cancelled = w
        .write(Command::CancelCampaign {
            campaign: k.clone(),
        })
        .await;
    assert_eq!(cancelled["messages_stopped"], 7);
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(w.deliverer.drain().await.unwrap().claimed(), 0);
    assert_eq!(w.sink.messages().len(), 3);
    let report = w.report(&k).await;
    assert_eq!(report["delivery"]["sent"], 3);
    assert_eq!(report["delivery"]["suppressed"], 7);
    // Neither a cancelled campaign nor a launched one launches again.
    let again = w
        .tally
        .write(
            &w.tenant,
            "test",
            None,
            Command::LaunchCampaign { campaign: k },
        )
        .await
        .unwrap_err();
    assert!(again.to_string().contains("only a draft"), "{again}");
    w.clock.advance(SignedDuration::from_hours(1));
}
