//! Program totals as a snapshot plus the transfers after it: the snapshot takes only transfers
//! older than the margin, and the totals are the same whether or not it has moved.

use crate::common;

use common::Fixture;
use jiff::SignedDuration;
use tally_core::Command;
use tally_domain::Clock;
use tally_store::queries::flows;

const MARGIN: SignedDuration = SignedDuration::from_secs(60);

async fn advance(f: &Fixture) -> i64 {
    let answer = f
        .run(Command::AdvanceProgramTotals {
            program: f.program.clone(),
            margin: MARGIN,
        })
        .await
        .unwrap();
    answer["folded"].as_i64().unwrap()
}

async fn flows_agree(f: &Fixture) {
    let mut c = f.tally.read().await.unwrap();
    let fast = flows::flows(&mut c, &f.program).await.unwrap();
    let scanned = flows::flows_scanned(&mut c, &f.program).await.unwrap();
    assert_eq!(
        fast, scanned,
        "snapshot plus later transfers = the whole history"
    );
}

#[tokio::test]
async fn the_snapshot_takes_only_transfers_older_than_the_margin() {
    let f = Fixture::new().await;
    let ann = f.enroll(serde_json::json!({"external_id": "ann"})).await;
    f.purchase(&ann, "o-1", 10_000).await.unwrap();
    assert_eq!(
        advance(&f).await,
        0,
        "the purchase is newer than the margin"
    );
    flows_agree(&f).await;

    f.clock.advance(SignedDuration::from_secs(61));
    f.purchase(&ann, "o-2", 5_000).await.unwrap();
    assert_eq!(advance(&f).await, 1, "only the older purchase goes in");
    flows_agree(&f).await;
    let totals = f.tally.program_totals(&f.tenant, &f.program).await.unwrap();
    assert_eq!(
        (totals.issued.value(), totals.outstanding.value()),
        (150, 150)
    );

    assert_eq!(
        advance(&f).await,
        0,
        "nothing new is old enough: nothing is counted twice"
    );
    f.clock.advance(SignedDuration::from_secs(61));
    assert_eq!(advance(&f).await, 1);
    flows_agree(&f).await;
    let totals = f.tally.program_totals(&f.tenant, &f.program).await.unwrap();
    assert_eq!(
        (totals.issued.value(), totals.outstanding.value()),
        (150, 150)
    );
    f.assert_ledger_ok().await;
}

#[tokio::test]
async fn a_late_transfer_with_a_lower_sequence_number_holds_the_snapshot_back() {
    // On PostgreSQL a transaction can take its sequence number, then commit after a later one.
    // Here the clock goes back for one purchase to give an older `seq` a newer `recorded_at`.
    let f = Fixture::new().await;
    let ann = f.enroll(serde_json::json!({"external_id": "ann"})).await;
    let start = f.clock.now();
    f.clock.advance(SignedDuration::from_secs(600));
    f.purchase(&ann, "late", 1_000).await.unwrap();
    f.clock.set(start);
    f.purchase(&ann, "early", 2_000).await.unwrap();
    f.clock.set(start + SignedDuration::from_secs(120));
    assert_eq!(
        advance(&f).await,
        0,
        "the first transfer in order is not old enough yet"
    );
    flows_agree(&f).await;
    f.clock.set(start + SignedDuration::from_secs(700));
    assert_eq!(advance(&f).await, 2);
    flows_agree(&f).await;
}
