//! Concurrency on the real writer for what the earning engine adds: pending points released
//! while their orders are returned, the store's one-use stamp code and a card's daily cap, and
//! a referrer's cap. Only answers and domain refusals are acceptable outcomes.

use crate::common;

use common::{Fixture, all_at_once, count_refusals, outcomes, purchase, ret};
use serde_json::json;
use tally_core::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn returns_racing_the_release_of_their_points_take_them_back_once() {
    let f = Fixture::with_program(
        json!({"name": "Returns", "currency": "USD", "earning": {"pending_days": 7}}),
    )
    .await;
    let mut members = Vec::new();
    for i in 0..10 {
        let m = f.enroll(json!({})).await;
        f.purchase(&m, &format!("OLD-{i}"), 5_000).await.unwrap();
        members.push(m);
    }
    f.clock
        .advance(jiff::SignedDuration::from_hours(7 * 24 + 1));
    // Each member's old order is returned while the release job runs (on several "nodes") and
    // the member buys again; the new points stay pending.
    let mut commands = Vec::new();
    for (i, m) in members.iter().enumerate() {
        commands.push((None, ret(&f, json!({"order_id": format!("OLD-{i}")}))));
        commands.push((None, purchase(&f, m, &format!("NEW-{i}"), 3_000)));
    }
    for _ in 0..4 {
        commands.push((
            None,
            Command::ReleasePending {
                program: f.program.clone(),
                limit: 1000,
            },
        ));
    }
    let results = outcomes(all_at_once(&f, commands).await);
    let released: i64 = results[20..]
        .iter()
        .map(|r| r.as_ref().unwrap()["released"].as_i64().unwrap())
        .sum();
    assert!(released <= 500, "released {released}");
    let mut c = f.tally.read().await.unwrap();
    for (i, m) in members.iter().enumerate() {
        let back = results[2 * i].as_ref().expect("the return is recorded");
        assert_eq!(back["points_reversed"], 50, "all of OLD-{i} comes back");
        let member = tally_store::queries::members::get_member(&mut c, &f.tenant, m)
            .await
            .unwrap()
            .unwrap();
        // Released first and then reversed, or reversed while pending: either way exactly once.
        assert_eq!(
            (
                member.balance.available.value(),
                member.balance.pending.value()
            ),
            (0, 30),
            "member {i}"
        );
    }
    let pending = tally_core::invariants::check_pending(&mut c, &f.program)
        .await
        .unwrap();
    assert_eq!(pending, vec![]);
    drop(c);
    f.assert_ledger_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_code_scanned_by_twenty_members_at_once_stamps_one_card_once() {
    let f = Fixture::new().await;
    let location = tally_domain::inputs::NewLocation::parse(
        &json!({"name": "Main St", "latitude": 1, "longitude": 2}),
    )
    .unwrap();
    let store = f
        .run(Command::CreateLocation {
            program: f.program.clone(),
            location,
        })
        .await
        .unwrap();
    let store = tally_domain::ids::LocationId::parse(store["id"].as_str().unwrap()).unwrap();
    let card = tally_domain::stamps::StampCardDoc::parse(&json!({
        "name": "Visits", "stamps_required": 5, "reward": {"points": 10}, "qr_stamps": true,
        "max_per_day": 3
    }))
    .unwrap();
    let card = f
        .run(Command::CreateStampCard {
            program: f.program.clone(),
            card,
        })
        .await
        .unwrap();
    let card = tally_domain::ids::StampCardId::parse(card["id"].as_str().unwrap()).unwrap();
    let code = f
        .run(Command::StampDisplayCode {
            card: card.clone(),
            location: store,
        })
        .await
        .unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut members = Vec::new();
    for _ in 0..20 {
        members.push(f.enroll(json!({})).await);
    }
    let scans = members
        .iter()
        .map(|m| {
            let command = Command::ScanStampCode {
                member: m.clone(),
                code: code.clone(),
            };
            (None, command)
        })
        .collect();
    let results = outcomes(all_at_once(&f, scans).await);
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    assert_eq!(
        count_refusals(&results).get("stamp_code_used"),
        Some(&19),
        "{results:?}"
    );

    // Ten cashiers stamp one member at once: the daily cap of 3 holds.
    let ann = &members[0];
    let stamps = (0..10)
        .map(|_| {
            let request = tally_domain::stamps::StampRequest::parse(
                &json!({"member": {"id": ann}, "count": 1}),
            )
            .unwrap();
            let command = Command::GiveStamps {
                card: card.clone(),
                request,
            };
            (None, command)
        })
        .collect();
    let results = outcomes(all_at_once(&f, stamps).await);
    let mut c = f.tally.read().await.unwrap();
    let given: i64 = tally_store::queries::stamps::member_progress(&mut c, ann)
        .await
        .unwrap()
        .iter()
        .map(|(_, p)| p.stamps)
        .sum();
    assert_eq!(given, 3, "{results:?}");
    drop(c);
    f.assert_ledger_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn referrals_qualifying_at_once_never_pass_the_referrers_cap() {
    let f = Fixture::new().await;
    let policy = tally_domain::referrals::ReferralPolicy::parse(
        &json!({"referrer_points": 100, "referred_points": 10, "max_per_referrer": 2}),
    )
    .unwrap();
    f.run(Command::SetReferralPolicy {
        program: f.program.clone(),
        policy,
    })
    .await
    .unwrap();
    let ann = f.enroll(json!({"name": "Ann"})).await;
    let mut c = f.tally.read().await.unwrap();
    let code = tally_store::queries::referrals::code_of(&mut c, &ann)
        .await
        .unwrap()
        .unwrap();
    drop(c);
    let mut friends = Vec::new();
    for i in 0..6 {
        friends.push(
            f.enroll(json!({"name": format!("F{i}"), "referral_code": code}))
                .await,
        );
    }
    let buys = friends
        .iter()
        .enumerate()
        .map(|(i, m)| (None, purchase(&f, m, &format!("R-{i}"), 1000)))
        .collect();
    let results = outcomes(all_at_once(&f, buys).await);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(
        f.balance(&ann).await,
        200,
        "two referrals rewarded, not six"
    );
    let rewarded: i64 = {
        let mut c = f.tally.read().await.unwrap();
        tally_store::queries::referrals::rewarded_count(&mut c, &ann)
            .await
            .unwrap()
    };
    assert_eq!(rewarded, 2);
    f.assert_ledger_ok().await;
}
