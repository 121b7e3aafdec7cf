//! A purchase reads the member's state with the member's accounts locked, and with it what it
//! needs of their history (the facts rules read, the tier's qualifying value). Those must be
//! as of the lock: a writer that held the lock first, and credited the member, is waited for
//! and counted.

use crate::common::Fixture;
use serde_json::json;
use std::time::Duration;
use tally_domain::ids::{MemberId, TransferId};
use tally_domain::model::{TransferKind, TransferReason};
use tally_domain::tiers::TierMetric;
use tally_domain::{Points, Timestamp};
use tally_ledger::AccountKind;
use tally_store::queries::members::{self, MemberKey, StateExtras};
use tally_store::queries::{ledger, programs};
use tally_store::{Conn, Database};

fn history_extras() -> StateExtras<'static> {
    StateExtras {
        facts: true,
        qualifying_since: Some((TierMetric::PointsEarned, Timestamp::UNIX_EPOCH)),
        order_id: None,
        lock_accounts: true,
    }
}

/// Credits the member `points` in the open transaction of `c`, as an earning would.
async fn credit(c: &mut impl Conn, f: &Fixture, member: &MemberId, points: i64) {
    let available = tally_ledger::account_id(member.as_str(), AccountKind::MemberAvailable);
    let issuance = programs::program_account(&f.program, AccountKind::Issuance);
    let after = ledger::change_balance(c, &available, points).await.unwrap();
    let reason = TransferReason {
        note: Some("a concurrent credit".into()),
        ..TransferReason::default()
    };
    let transfer = ledger::NewTransfer {
        id: TransferId::generate(),
        program_id: &f.program,
        member_id: member,
        kind: TransferKind::Earn,
        debit_account_id: &issuance,
        credit_account_id: &available,
        amount: Points(points),
        balance_after: after,
        reason: &reason,
        occurred_at: Timestamp::now(),
        recorded_at: Timestamp::now(),
    };
    ledger::insert_transfers(c, &[transfer]).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_member_read_with_the_lock_counts_a_credit_that_held_the_lock_first() {
    let f = Fixture::new().await;
    let member = f.enroll(json!({})).await;
    let earned = f.purchase(&member, "A-1", 1000).await.unwrap();
    let before = earned["points_earned"].as_i64().unwrap();
    assert!(before > 0);

    let db = f.tally.db.clone();
    let mut first = db.connect_writer().await.unwrap();
    first.batch(first.dialect().begin_write()).await.unwrap();
    let key = MemberKey::Id(&member);
    members::find_member_state(&mut first, &f.tenant, &f.program, key, history_extras())
        .await
        .unwrap()
        .expect("the member");
    credit(&mut first, &f, &member, 7).await;
    first.flush().await.unwrap();

    let (tenant, program, reader) = (f.tenant.clone(), f.program.clone(), member.clone());
    let second = tokio::spawn(async move {
        let mut c = db.connect_writer().await.unwrap();
        c.batch(c.dialect().begin_write()).await.unwrap();
        let key = MemberKey::Id(&reader);
        let (_, state, extras) =
            members::find_member_state(&mut c, &tenant, &program, key, history_extras())
                .await
                .unwrap()
                .expect("the member");
        c.batch("ROLLBACK").await.unwrap();
        (state.balance.available.value(), extras.qualifying)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!second.is_finished(), "the second read waits for the lock");
    first.batch("COMMIT").await.unwrap();
    let (available, qualifying) = second.await.unwrap();
    assert_eq!(
        available,
        before + 7,
        "the balance is the one after the credit"
    );
    assert_eq!(
        qualifying,
        Some(before + 7),
        "the tier's value counts the credit committed while the read waited"
    );
}
