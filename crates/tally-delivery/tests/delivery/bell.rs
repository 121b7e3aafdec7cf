//! The bell: a committed write that enters a member on a journey wakes the journey runner, one
//! that puts a message in the outbox wakes the deliverer, and a write that leaves them nothing
//! wakes neither.

use crate::common;

use common::*;
use serde_json::json;
use std::time::Duration;
use tally_mail::sink::SmtpSink;

/// Whether `rung` returns within a moment (a ring leaves a permit, so an earlier ring counts).
async fn rang(rung: impl std::future::Future<Output = ()>) -> bool {
    tokio::time::timeout(Duration::from_millis(200), rung)
        .await
        .is_ok()
}

#[tokio::test]
async fn writes_that_leave_work_ring_for_it_and_others_do_not() {
    let w = world(SmtpSink::options()).await;
    let ada = w.ada().await;
    assert!(
        !rang(w.tally.bell.journeys()).await,
        "no journey: nothing to run"
    );
    assert!(!rang(w.tally.bell.outbox()).await, "nothing queued");

    w.journey(json!({"name": "Welcome", "trigger": {"type": "enrolled"},
        "steps": [{"send": {"template": w.template}}]}))
        .await;
    w.member(json!({"name": "Bo"})).await;
    assert!(
        rang(w.tally.bell.journeys()).await,
        "Bo entered the journey"
    );
    assert!(
        !rang(w.tally.bell.outbox()).await,
        "its step has not run yet"
    );
    w.tally.advance_journeys().await.unwrap();
    assert!(
        rang(w.tally.bell.outbox()).await,
        "the step queued Bo's welcome"
    );

    w.queue(&ada.id, json!({})).await;
    assert!(
        rang(w.tally.bell.outbox()).await,
        "a message queued through the API"
    );
}
