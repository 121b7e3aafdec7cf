//! The journey triggers that follow a member's state, driven by the injected clock on SQLite
//! or PostgreSQL: points reaching a threshold, a tier lost at its review, a lapse of N days
//! (once per lapse), entering or leaving a segment, and the anniversary of joining. Each journey tags the member, so the
//! tags show who entered what, and how often. And the steps that give: a free reward, an offer
//! clipped (one that cannot be is skipped). And a random holdout with its report.

use crate::common;

use common::*;
use jiff::SignedDuration;
use serde_json::{Value, json};
use tally_core::Command;
use tally_domain::ids::{MemberId, SegmentId};
use tally_domain::tiers::TierPlan;
use tally_mail::sink::SmtpSink;

impl World {
    /// A journey that only tags the member.
    async fn tagging(&self, trigger: Value, tag: &str) {
        let body = json!({"name": tag, "trigger": trigger, "steps": [{"add_tag": tag}]});
        self.journey(body).await;
    }

    /// The member's tags, sorted, after the due journey steps ran.
    async fn tags(&self, member: &MemberId) -> Vec<String> {
        self.tally.run_journeys().await.unwrap();
        let mut tags = self.tally.member(&self.tenant, member).await.unwrap().tags;
        tags.sort();
        tags
    }
}

#[tokio::test]
async fn points_reached_and_a_tier_lost_start_their_journeys_once() {
    let w = world(SmtpSink::options()).await;
    let plan = TierPlan::parse(
        &json!({"metric": "points_earned", "window": "calendar_year",
        "levels": [{"name": "Member", "threshold": 0}, {"name": "Gold", "threshold": 20}]}),
    )
    .unwrap();
    w.write(Command::SetTierPlan {
        program: w.program.clone(),
        plan,
    })
    .await;
    w.tagging(json!({"type": "points_reached", "points": 40}), "forty")
        .await;
    w.tagging(json!({"type": "tier_down"}), "fell").await;
    let m = w.member(json!({"name": "Ola"})).await;
    let first = w.purchase(&m.id, "o-1", "2026-12-02T10:00:00Z").await;
    assert_eq!(first["points_earned"], 25);
    assert!(w.tags(&m.id).await.is_empty(), "25 points: not yet forty");
    w.purchase(&m.id, "o-2", "2026-12-02T10:30:00Z").await;
    assert_eq!(w.tags(&m.id).await, ["forty"], "50 points crossed forty");
    w.purchase(&m.id, "o-3", "2026-12-02T10:45:00Z").await;
    assert_eq!(w.tags(&m.id).await, ["forty"], "once");

    // Gold for 2026; kept at the review of 2026, lost at the review of 2027 (nothing bought).
    for (at, tags) in [
        ("2027-01-02T12:00:00Z", vec!["forty"]),
        ("2028-01-02T12:00:00Z", vec!["fell", "forty"]),
    ] {
        w.clock.set(ts(at));
        let review = Command::ReviewTiers {
            program: w.program.clone(),
            limit: 100,
        };
        w.write(review).await;
        assert_eq!(w.tags(&m.id).await, tags, "at {at}");
    }
}

#[tokio::test]
async fn a_lapse_of_thirty_days_starts_its_journey_once_per_lapse() {
    let w = world(SmtpSink::options()).await;
    w.tagging(json!({"type": "inactive", "days": 30}), "lapsed")
        .await;
    let m = w.member(json!({"name": "Ola"})).await;
    let quiet = w.member(json!({"name": "Never bought"})).await;
    w.purchase(&m.id, "o-1", "2026-12-02T10:00:00Z").await;
    w.clock.advance(SignedDuration::from_hours(24 * 29));
    assert_eq!(
        w.tally.enter_scheduled_journeys().await.unwrap(),
        0,
        "29 days"
    );
    w.clock.advance(SignedDuration::from_hours(24 * 2));
    assert_eq!(
        w.tally.enter_scheduled_journeys().await.unwrap(),
        1,
        "31 days"
    );
    assert_eq!(w.tally.enter_scheduled_journeys().await.unwrap(), 0, "once");
    assert_eq!(w.tags(&m.id).await, ["lapsed"]);
    assert!(w.tags(&quiet.id).await.is_empty(), "no purchase, no lapse");
    // They come back, then lapse again: a new lapse enters again (the journey's run ends, its
    // tag stays; the second run is a new occurrence).
    w.purchase(&m.id, "o-2", "2027-01-03T10:00:00Z").await;
    w.clock.set(ts("2027-02-03T12:00:00Z"));
    assert_eq!(
        w.tally.enter_scheduled_journeys().await.unwrap(),
        1,
        "the second lapse"
    );
    let runs = w
        .tally
        .member_journeys(&w.tenant, &m.id, None, None)
        .await
        .unwrap();
    assert_eq!(runs.items.len(), 2);
}

#[tokio::test]
async fn entering_and_leaving_a_segment_start_their_journeys() {
    let w = world(SmtpSink::options()).await;
    let input = tally_domain::segments::SegmentInput::parse(&json!({"key": "vip", "name": "VIPs",
        "definition": {"field": "tags", "op": "has_any", "value": ["vip"]}}))
    .unwrap();
    let segment = w
        .write(Command::CreateSegment {
            program: w.program.clone(),
            input,
        })
        .await;
    let segment = SegmentId::parse(segment["id"].as_str().unwrap()).unwrap();
    w.tagging(
        json!({"type": "segment_entered", "segment": "vip"}),
        "welcomed_vip",
    )
    .await;
    w.tagging(
        json!({"type": "segment_left", "segment": "vip"}),
        "missed_vip",
    )
    .await;
    let m = w.member(json!({"name": "Ola", "tags": ["vip"]})).await;
    w.tally.evaluate_segment(&w.tenant, &segment).await.unwrap();
    assert_eq!(w.tags(&m.id).await, ["vip", "welcomed_vip"]);
    let patch =
        tally_domain::inputs::MemberPatch::parse(&json!({"tags": ["welcomed_vip"]})).unwrap();
    w.write(Command::UpdateMember {
        member: m.id.clone(),
        patch,
        source: "test".into(),
    })
    .await;
    w.tally.evaluate_segment(&w.tenant, &segment).await.unwrap();
    assert_eq!(w.tags(&m.id).await, ["missed_vip", "welcomed_vip"]);
}

#[tokio::test]
async fn a_journey_gives_a_reward_and_clips_an_offer_and_skips_one_it_cannot() {
    let w = world(SmtpSink::options()).await;
    let reward = tally_domain::inputs::NewReward::parse(
        &json!({"name": "Welcome coffee", "cost_points": 300}),
    );
    let reward = w
        .write(Command::CreateReward {
            program: w.program.clone(),
            reward: reward.unwrap(),
        })
        .await;
    let offer = |body: Value| Command::CreateOffer {
        program: w.program.clone(),
        input: tally_domain::offers::OfferInput::parse(&body).unwrap(),
    };
    let clip = w
        .write(offer(
            json!({"name": "Double notes", "benefit": {"points": 50}}),
        ))
        .await;
    let auto = w
        .write(offer(
            json!({"name": "Always on", "benefit": {"points": 10}, "activation": "automatic"}),
        ))
        .await;
    w.journey(json!({"name": "Welcome gifts", "trigger": {"type": "enrolled"}, "steps": [
        {"grant_reward": reward["id"]}, {"activate_offer": auto["id"]}, {"activate_offer": clip["id"]},
        {"add_tag": "gifted"}]}))
        .await;
    let m = w.member(json!({"name": "Ola"})).await;
    assert_eq!(
        w.tags(&m.id).await,
        ["gifted"],
        "the automatic offer was skipped, the rest ran"
    );
    let gifts = w
        .tally
        .member_redemptions(&w.tenant, &m.id, None, None)
        .await
        .unwrap();
    assert_eq!(gifts.items.len(), 1);
    assert_eq!(gifts.items[0].reward_name, "Welcome coffee");
    assert_eq!(gifts.items[0].cost.value(), 0, "free");
    let offers = w.tally.member_offers(&w.tenant, &m.id).await.unwrap();
    let clipped = offers["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["offer_id"] == clip["id"]);
    assert_eq!(clipped.unwrap()["activated"], true, "{offers}");

    let wrong = Command::CreateJourney {
        program: w.program.clone(),
        document: json!({"name": "Bad", "trigger": {"type": "enrolled"},
            "steps": [{"grant_reward": "rwd_01J8Z3Q4R5S6T7V8W9X0Y1Z2C5"}]}),
    };
    let e = w
        .tally
        .write(&w.tenant, "test", None, wrong)
        .await
        .unwrap_err();
    assert!(format!("{e:?}").contains("/steps/0/grant_reward"), "{e:?}");
}

#[tokio::test]
async fn a_journey_keeps_a_random_holdout_and_reports_the_uplift() {
    let w = world(SmtpSink::options()).await;
    let journey = w
        .journey(
            json!({"name": "Thanks", "trigger": {"type": "enrolled"}, "holdout_percent": 50,
            "conversion_days": 7, "steps": [{"add_tag": "thanked"}]}),
        )
        .await;
    let id = tally_domain::ids::JourneyId::parse(journey["id"].as_str().unwrap()).unwrap();
    let mut members = Vec::new();
    for i in 0..40 {
        members.push(w.member(json!({"name": format!("M {i}")})).await);
    }
    w.tally.run_journeys().await.unwrap();
    let detail = w.tally.journey(&w.tenant, &id).await.unwrap();
    let (treated, held) = (
        detail["runs"]["done"].as_i64().unwrap(),
        detail["runs"]["held_out"].as_i64().unwrap(),
    );
    assert_eq!(treated + held, 40, "{detail}");
    // Half at random: outside 8–32 of 40 is a one-in-100,000 chance.
    assert!((8..=32).contains(&held), "{detail}");
    // Held-out members never reach a step; the treated ones buy within the week.
    w.clock.advance(SignedDuration::from_hours(24));
    let mut tagged = 0;
    for (i, m) in members.iter().enumerate() {
        if w.tags(&m.id).await == ["thanked"] {
            tagged += 1;
            w.purchase(&m.id, &format!("t-{i}"), "2026-12-03T10:00:00Z")
                .await;
        }
    }
    assert_eq!(tagged, treated);
    let report = w.tally.journey_report(&w.tenant, &id).await.unwrap();
    let conversion = &report["conversion"];
    assert_eq!(conversion["treated"]["members"], treated);
    assert_eq!(conversion["treated"]["converted"], treated);
    assert_eq!(conversion["holdout"]["members"], held);
    assert_eq!(conversion["holdout"]["converted"], 0);
    assert_eq!(conversion["uplift"]["conversion"]["estimate"], 1.0);
    assert_eq!(
        conversion["uplift"]["conversion"]["significant"], true,
        "{report}"
    );
    assert_eq!(report["journey"]["holdout_percent"], 50);
}

#[tokio::test]
async fn the_anniversary_of_joining_starts_its_journey_once_a_year() {
    let w = world(SmtpSink::options()).await;
    w.tagging(json!({"type": "anniversary"}), "anniversary")
        .await;
    // Joined on 1 December 2025 (Warsaw); the clock is at 2 December 2026, noon.
    let old = w
        .member(json!({"name": "Ola", "enrolled_at": "2025-12-01T10:00:00Z"}))
        .await;
    let new = w.member(json!({"name": "New"})).await;
    assert_eq!(
        w.tally.enter_scheduled_journeys().await.unwrap(),
        1,
        "caught up the day after"
    );
    assert_eq!(w.tally.enter_scheduled_journeys().await.unwrap(), 0, "once");
    assert_eq!(w.tags(&old.id).await, ["anniversary"]);
    assert!(
        w.tags(&new.id).await.is_empty(),
        "joining today is not an anniversary"
    );
    // A year on: Ola's (yesterday) and New's (today), each once.
    w.clock.set(ts("2027-12-02T12:00:00Z"));
    assert_eq!(
        w.tally.enter_scheduled_journeys().await.unwrap(),
        2,
        "a year on: both"
    );
    assert_eq!(w.tally.enter_scheduled_journeys().await.unwrap(), 0);
}
