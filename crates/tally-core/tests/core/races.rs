//! Concurrency on the real writer: many tasks call `Tally::write` at the same moment. On SQLite
//! the one writer takes them into batches (each command in its own savepoint); on PostgreSQL
//! several writers race on the same rows, and conditional writes and retries must keep every
//! rule. Only answers and domain refusals are acceptable outcomes; a store error fails the test.

use crate::common;

use common::{Fixture, all_at_once, count_refusals, outcomes, purchase, ret};
use serde_json::{Value, json};
use std::collections::HashMap;
use tally_core::{Command, IdempotencyKey};
use tally_domain::ids::{MemberId, RedemptionId};
use tally_domain::inputs::AdjustmentRequest;
use tally_domain::model::{RedemptionStatus, TransferKind};

fn enroll_command(f: &Fixture) -> Command {
    Command::Enroll {
        program: f.program.clone(),
        member: tally_domain::inputs::NewMember::parse(&json!({})).unwrap(),
        source: "test".into(),
    }
}

fn adjust(member: &MemberId, points: i64) -> Command {
    Command::Adjust {
        member: member.clone(),
        request: AdjustmentRequest::parse(&json!({"points": points, "reason": "race test"}))
            .unwrap(),
    }
}

async fn live_redemptions(f: &Fixture, member: &MemberId) -> usize {
    let mut c = f.tally.read().await.unwrap();
    let page = tally_store::queries::rewards::member_redemptions(&mut c, member, None, Some(200))
        .await
        .unwrap();
    page.items
        .iter()
        .filter(|r| r.status != RedemptionStatus::Cancelled)
        .count()
}

async fn stock(f: &Fixture, reward: &str) -> Option<i64> {
    let mut c = f.tally.read().await.unwrap();
    let id = tally_domain::ids::RewardId::parse(reward).unwrap();
    tally_store::queries::rewards::get_reward(&mut c, &f.tenant, &id)
        .await
        .unwrap()
        .unwrap()
        .stock_remaining
}

/// (order id, points) of every transfer of `kind` in a member's history.
async fn transfers_of(f: &Fixture, member: &MemberId, kind: TransferKind) -> Vec<(String, i64)> {
    let mut c = f.tally.read().await.unwrap();
    let page = tally_store::queries::ledger::history(&mut c, member, None, Some(200))
        .await
        .unwrap();
    assert!(page.next_cursor.is_none(), "history fits in one page");
    page.items
        .iter()
        .filter(|e| e.kind == kind)
        .map(|e| {
            (
                e.reason.order_id.clone().unwrap_or_default(),
                e.points.value(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_redemptions_of_points_enough_for_one_succeed_once() {
    let f = Fixture::new().await;
    let ann = f.enroll(json!({})).await;
    f.purchase(&ann, "P-1", 10_000).await.unwrap();
    assert_eq!(f.balance(&ann).await, 100);
    let reward = f.reward(json!({"name": "Vinyl", "cost_points": 100})).await;

    let results = outcomes(
        all_at_once(
            &f,
            (0..50)
                .map(|_| (None, f.redeem_command(&ann, &reward)))
                .collect(),
        )
        .await,
    );

    let won: Vec<&Value> = results.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert_eq!(won.len(), 1, "exactly one redemption: {results:?}");
    assert_eq!(won[0]["balance"]["available"], 0);
    assert_eq!(
        count_refusals(&results),
        HashMap::from([("insufficient_points".to_owned(), 49)])
    );
    assert_eq!(f.balance(&ann).await, 0);
    assert_eq!(live_redemptions(&f, &ann).await, 1);
    let totals = f.tally.program_totals(&f.tenant, &f.program).await.unwrap();
    assert_eq!(totals.redeemed.value(), 100);
    f.assert_ledger_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_members_race_for_the_last_item_in_stock() {
    let f = Fixture::new().await;
    let reward = f
        .reward(json!({"name": "Signed poster", "cost_points": 10, "stock": 1}))
        .await;
    let mut members = Vec::new();
    for i in 0..50 {
        let m = f.enroll(json!({"external_id": format!("fan-{i}")})).await;
        f.purchase(&m, &format!("P-{i}"), 10_000).await.unwrap();
        members.push(m);
    }

    let results = outcomes(
        all_at_once(
            &f,
            members
                .iter()
                .map(|m| (None, f.redeem_command(m, &reward)))
                .collect(),
        )
        .await,
    );

    let winners: Vec<usize> = (0..50).filter(|i| results[*i].is_ok()).collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one member gets the item: {results:?}"
    );
    assert_eq!(
        count_refusals(&results),
        HashMap::from([("out_of_stock".to_owned(), 49)])
    );
    assert_eq!(stock(&f, &reward).await, Some(0));
    for (i, m) in members.iter().enumerate() {
        let expected = if i == winners[0] { 90 } else { 100 };
        assert_eq!(f.balance(m).await, expected, "member {i}");
        assert_eq!(
            live_redemptions(&f, m).await,
            usize::from(i == winners[0]),
            "member {i}"
        );
    }
    f.assert_ledger_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_retries_of_a_purchase_with_one_idempotency_key_earn_once() {
    let f = Fixture::new().await;
    let ann = f.enroll(json!({})).await;
    let key = IdempotencyKey {
        key: "till-7-receipt-1".into(),
        request_sha256: "sha-of-the-body".into(),
    };

    let results = outcomes(
        all_at_once(
            &f,
            (0..100)
                .map(|_| (Some(key.clone()), purchase(&f, &ann, "K-1", 2599)))
                .collect(),
        )
        .await,
    );

    let first = results[0].clone().expect("the purchase is recorded");
    assert_eq!(first["points_earned"], 25);
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r.as_ref(), Ok(&first), "answer {i} differs");
    }
    assert_eq!(f.balance(&ann).await, 25, "earned once");
    let mut c = f.tally.read().await.unwrap();
    let recorded = tally_store::queries::purchases::member_purchases(&mut c, &ann, None, Some(200))
        .await
        .unwrap();
    assert_eq!(recorded.items.len(), 1, "one purchase");
    drop(c);
    assert_eq!(
        transfers_of(&f, &ann, TransferKind::Earn).await.len(),
        1,
        "one earning transfer"
    );
    f.assert_ledger_ok().await;
}

/// A purchase is idempotent by order id anyway; an adjustment is not, so this shows the key
/// alone keeps a hundred simultaneous retries to one effect.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_retries_of_an_adjustment_with_one_idempotency_key_apply_once() {
    let f = Fixture::new().await;
    let ann = f.enroll(json!({})).await;
    let key = IdempotencyKey {
        key: "support-ticket-42".into(),
        request_sha256: "sha-of-the-body".into(),
    };

    let results = outcomes(
        all_at_once(
            &f,
            (0..100)
                .map(|_| (Some(key.clone()), adjust(&ann, 7)))
                .collect(),
        )
        .await,
    );

    let first = results[0].clone().expect("the adjustment is applied");
    assert_eq!(first["balance"]["available"], 7);
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r.as_ref(), Ok(&first), "answer {i} differs");
    }
    assert_eq!(f.balance(&ann).await, 7, "applied once");
    assert_eq!(
        transfers_of(&f, &ann, TransferKind::Adjust).await.len(),
        1,
        "one adjustment transfer"
    );
    let mut c = f.tally.read().await.unwrap();
    let log = tally_store::queries::audit::list(&mut c, &f.tenant, None, Some(200))
        .await
        .unwrap();
    assert_eq!(
        log.items
            .iter()
            .filter(|e| e.action == "member.points_adjusted")
            .count(),
        1,
        "audited once"
    );
    drop(c);
    f.assert_ledger_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn purchases_and_returns_of_the_same_orders_sent_together() {
    let f = Fixture::new().await;
    let members = [
        f.enroll(json!({})).await,
        f.enroll(json!({})).await,
        f.enroll(json!({})).await,
        f.enroll(json!({})).await,
    ];
    // (member, order id, amount, number of full returns sent with the purchase)
    let orders: Vec<(usize, String, i64, usize)> = (0..40)
        .map(|i| {
            (
                i % 4,
                format!("PR-{i}"),
                1_000 + 137 * i as i64,
                1 + usize::from(i % 3 == 0),
            )
        })
        .collect();
    let mut commands = Vec::new();
    let mut what = Vec::new();
    for (n, (member, order_id, amount, returns)) in orders.iter().enumerate() {
        let purchase = (None, purchase(&f, &members[*member], order_id, *amount));
        let returns = (0..*returns).map(|_| (None, ret(&f, json!({"order_id": order_id}))));
        // Half the time the return is sent first.
        if n % 2 == 0 {
            commands.push(purchase);
            what.push((n, false));
            for r in returns {
                commands.push(r);
                what.push((n, true));
            }
        } else {
            for r in returns {
                commands.push(r);
                what.push((n, true));
            }
            commands.push(purchase);
            what.push((n, false));
        }
    }

    let results = outcomes(all_at_once(&f, commands).await);

    let mut earned = vec![None; orders.len()];
    let mut reversed: Vec<Vec<i64>> = vec![Vec::new(); orders.len()];
    for ((n, is_return), result) in what.iter().zip(&results) {
        match (is_return, result) {
            (false, Ok(v)) => earned[*n] = Some(v["points_earned"].as_i64().unwrap()),
            (false, Err(code)) => panic!("purchase {n} refused: {code}"),
            (true, Ok(v)) => {
                assert_eq!(
                    v["returned_minor"], orders[*n].2,
                    "a full return takes the whole order"
                );
                reversed[*n].push(v["points_reversed"].as_i64().unwrap());
            }
            (true, Err(code)) if code == "invalid /order_id" => {}
            // Only a second return of the same order may find it returned already.
            (true, Err(code)) if code == "already_returned" && orders[*n].3 == 2 => {}
            (true, Err(code)) => panic!("return of order {n}: unexpected refusal {code}"),
        }
    }
    let mut balances = [0i64; 4];
    let mut c = f.tally.read().await.unwrap();
    for (n, (member, order_id, amount, _)) in orders.iter().enumerate() {
        let earned = earned[n].unwrap();
        assert_eq!(earned, amount / 100);
        assert!(
            reversed[n].len() <= 1,
            "order {order_id} was returned {} times",
            reversed[n].len()
        );
        let taken: i64 = reversed[n].iter().sum();
        assert!(
            taken == 0 || taken == earned,
            "order {order_id}: a full return takes back all {earned} points, took {taken}"
        );
        balances[*member] += earned - taken;
        let p = tally_store::queries::purchases::get_purchase_by_order(
            &mut c, &f.tenant, &f.program, order_id,
        )
        .await
        .unwrap()
        .unwrap();
        let returned = !reversed[n].is_empty();
        assert_eq!(
            p.returned_minor,
            if returned { *amount } else { 0 },
            "order {order_id}"
        );
        assert_eq!(p.points_reversed.value(), taken, "order {order_id}");
    }
    drop(c);
    for (i, m) in members.iter().enumerate() {
        assert_eq!(
            f.balance(m).await,
            balances[i],
            "member {i}: earned minus reversed"
        );
        // Never two reversals of one order.
        let mut per_order: HashMap<String, usize> = HashMap::new();
        for (order_id, _) in transfers_of(&f, m, TransferKind::Reverse).await {
            *per_order.entry(order_id).or_default() += 1;
        }
        assert!(
            per_order.values().all(|n| *n == 1),
            "member {i}: {per_order:?}"
        );
    }
    f.assert_ledger_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_partial_returns_of_one_order_never_return_more_than_it() {
    let f = Fixture::new().await;
    let ann = f.enroll(json!({})).await;
    // Three orders, each raced by twenty partial returns that together ask for almost three
    // times its total. 7,777 earns 77 points, so every partial reversal is rounded.
    let orders = ["T-1", "T-2", "T-3"];
    for order_id in orders {
        f.purchase(&ann, order_id, 7_777).await.unwrap();
    }
    let amounts: Vec<i64> = (0..20).map(|i| 450 + 97 * i).collect();
    assert!(amounts.iter().sum::<i64>() > 2 * 7_777);
    let mut commands = Vec::new();
    for amount in &amounts {
        for order_id in orders {
            commands.push((
                None,
                ret(&f, json!({"order_id": order_id, "amount_minor": amount})),
            ));
        }
    }

    let results = outcomes(all_at_once(&f, commands).await);

    let mut balance = 3 * 77;
    let mut c = f.tally.read().await.unwrap();
    for (k, order_id) in orders.iter().enumerate() {
        let mine: Vec<(i64, &Result<Value, String>)> = (0..20)
            .map(|i| (amounts[i], &results[i * orders.len() + k]))
            .collect();
        let returned: i64 = mine
            .iter()
            .filter_map(|(_, r)| r.as_ref().ok())
            .map(|v| v["returned_minor"].as_i64().unwrap())
            .sum();
        let reversed: i64 = mine
            .iter()
            .filter_map(|(_, r)| r.as_ref().ok())
            .map(|v| v["points_reversed"].as_i64().unwrap())
            .sum();
        for (amount, r) in &mine {
            match r {
                Ok(v) => assert_eq!(
                    v["returned_minor"], *amount,
                    "{order_id}: a return takes what it asks for"
                ),
                // A refusal is right only if the amount did not fit what was left, and what is
                // left only shrinks: so it cannot fit what is left at the end either.
                Err(code) if code == "invalid /amount_minor" => assert!(
                    *amount > 7_777 - returned,
                    "{order_id}: {amount} refused, {returned} returned"
                ),
                Err(code) if code == "already_returned" => {
                    assert_eq!(returned, 7_777, "{order_id}")
                }
                Err(code) => panic!("{order_id}: unexpected refusal {code}"),
            }
        }
        assert!(
            returned > 0 && returned <= 7_777,
            "{order_id}: returned {returned}"
        );
        assert!(reversed <= 77, "{order_id}: reversed {reversed}");
        // Reversals are computed on cumulative amounts: whatever the order they ran in, they add
        // up to the share of the points the returned share of the order earned.
        assert_eq!(reversed, 77 * returned / 7_777, "{order_id}");
        let p = tally_store::queries::purchases::get_purchase_by_order(
            &mut c, &f.tenant, &f.program, order_id,
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(
            (p.returned_minor, p.points_reversed.value()),
            (returned, reversed),
            "{order_id}"
        );
        balance -= reversed;
    }
    drop(c);
    assert_eq!(f.balance(&ann).await, balance);
    f.assert_ledger_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_cancellations_of_one_redemption_refund_once() {
    let f = Fixture::new().await;
    let ann = f.enroll(json!({})).await;
    f.purchase(&ann, "C-1", 10_000).await.unwrap();
    let reward = f
        .reward(json!({"name": "Tote bag", "cost_points": 40, "stock": 3, "per_member_limit": 1}))
        .await;
    let redemption = f.run(f.redeem_command(&ann, &reward)).await.unwrap();
    let id = RedemptionId::parse(redemption["id"].as_str().unwrap()).unwrap();

    let results = outcomes(
        all_at_once(
            &f,
            (0..20)
                .map(|_| {
                    (
                        None,
                        Command::CancelRedemption {
                            redemption: id.clone(),
                        },
                    )
                })
                .collect(),
        )
        .await,
    );

    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert_eq!(
        count_refusals(&results),
        HashMap::from([("redemption_not_cancellable".to_owned(), 19)])
    );
    assert_eq!(f.balance(&ann).await, 100, "refunded once");
    assert_eq!(stock(&f, &reward).await, Some(3), "restocked once");
    assert_eq!(transfers_of(&f, &ann, TransferKind::Refund).await.len(), 1);
    // The claim came back exactly once: one more redemption is allowed, and only one.
    f.run(f.redeem_command(&ann, &reward)).await.unwrap();
    assert_eq!(
        common::refusal(f.run(f.redeem_command(&ann, &reward)).await),
        "limit_reached"
    );
    f.assert_ledger_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_redemptions_by_one_member_respect_the_per_member_limit() {
    let f = Fixture::new().await;
    let ann = f.enroll(json!({})).await;
    f.purchase(&ann, "L-1", 100_000).await.unwrap();
    let reward = f
        .reward(json!({"name": "Coffee", "cost_points": 10, "per_member_limit": 2}))
        .await;

    let results = outcomes(
        all_at_once(
            &f,
            (0..30)
                .map(|_| (None, f.redeem_command(&ann, &reward)))
                .collect(),
        )
        .await,
    );

    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        2,
        "{results:?}"
    );
    assert_eq!(
        count_refusals(&results),
        HashMap::from([("limit_reached".to_owned(), 28)])
    );
    assert_eq!(f.balance(&ann).await, 980);
    assert_eq!(live_redemptions(&f, &ann).await, 2);
    f.assert_ledger_ok().await;
}

/// Under `floor_at_zero` a return takes back at most what the member has. Sent together with a
/// redemption of the same points, either order is fine (return first: the redemption is refused;
/// redemption first: the return recovers nothing), but the balance must never go below zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_return_racing_a_redemption_never_takes_a_floor_at_zero_balance_below_zero() {
    let f = Fixture::with_program(
        json!({"name": "Shop", "currency": "USD", "negative_balance": "floor_at_zero"}),
    )
    .await;
    let reward = f
        .reward(json!({"name": "Headphones", "cost_points": 100}))
        .await;
    const MEMBERS: usize = 30;
    for round in 0..10 {
        let enrolments = (0..MEMBERS).map(|_| (None, enroll_command(&f))).collect();
        let members: Vec<MemberId> = outcomes(all_at_once(&f, enrolments).await)
            .into_iter()
            .map(|m| MemberId::parse(m.unwrap()["id"].as_str().unwrap()).unwrap())
            .collect();
        let purchases = members
            .iter()
            .enumerate()
            .map(|(i, m)| (None, purchase(&f, m, &format!("F-{round}-{i}"), 10_000)))
            .collect();
        assert!(
            outcomes(all_at_once(&f, purchases).await)
                .iter()
                .all(Result::is_ok)
        );
        // All returns, then all redemptions: the two halves tend to land in different writers'
        // batches, which then work through the same members side by side.
        let returns =
            (0..MEMBERS).map(|i| (None, ret(&f, json!({"order_id": format!("F-{round}-{i}")}))));
        let redemptions = members.iter().map(|m| (None, f.redeem_command(m, &reward)));
        let results = outcomes(all_at_once(&f, returns.chain(redemptions).collect()).await);

        for (i, m) in members.iter().enumerate() {
            let (returned, redeemed) = (&results[i], &results[MEMBERS + i]);
            let taken = returned.as_ref().expect("the return is recorded")["points_reversed"]
                .as_i64()
                .unwrap();
            let balance = f.balance(m).await;
            let who = format!(
                "round {round} member {i} (return took {taken}, redemption {:?})",
                redeemed.as_ref().map(|v| &v["id"])
            );
            assert!(balance >= 0, "{who}: balance {balance} under floor_at_zero");
            match redeemed {
                Ok(_) => assert_eq!(
                    taken, 0,
                    "{who}: redeemed first, so nothing was left to take back"
                ),
                Err(code) => {
                    assert_eq!(code, "insufficient_points", "{who}");
                    assert_eq!(taken, 100, "{who}");
                }
            }
            assert_eq!(balance, 0, "{who}");
        }
    }
    f.assert_ledger_ok().await;
}

/// Import chunks sent together whose members overlap, two of them sent twice (a file imported
/// twice at once): on PostgreSQL they run on several writers, each locking its accounts in id
/// order. Every order is recorded once, every balance is exact, and no chunk fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn import_chunks_with_overlapping_members_record_every_order_once() {
    let f = Fixture::new().await;
    let mut members = Vec::new();
    for n in 0..20 {
        members.push(f.enroll(json!({"external_id": format!("m{n}")})).await);
    }
    let chunk = |c: usize| -> Vec<tally_domain::inputs::NewPurchase> {
        (0..100)
            .map(|i| {
                tally_domain::inputs::NewPurchase::parse(&json!({
                    "order_id": format!("c{c}-{i}"),
                    "member": {"external_id": format!("m{}", (c * 7 + i) % 20)},
                    "total": {"amount_minor": 1000, "currency": "USD"},
                    "occurred_at": "2026-04-01T12:00:00Z",
                }))
                .unwrap()
            })
            .collect()
    };
    let import = |c: usize| {
        let purchases = chunk(c);
        (
            None,
            Command::ImportPurchases {
                program: f.program.clone(),
                purchases,
            },
        )
    };
    let mut commands: Vec<_> = (0..8).map(import).collect();
    commands.extend([import(0), import(5)]);
    let results = outcomes(all_at_once(&f, commands).await);
    let (mut recorded, mut present) = (0, 0);
    for result in &results {
        let answer = result.as_ref().expect("every chunk is answered");
        assert_eq!(answer["refused"], json!([]), "{answer}");
        recorded += answer["recorded"].as_u64().unwrap();
        present += answer["already_present"].as_u64().unwrap();
    }
    assert_eq!((recorded, present), (800, 200), "each order once");
    for (n, member) in members.iter().enumerate() {
        let orders = (0..8)
            .flat_map(|c| (0..100).map(move |i| (c * 7 + i) % 20))
            .filter(|m| *m == n)
            .count() as i64;
        assert_eq!(f.balance(member).await, 10 * orders, "member m{n}");
    }
    f.assert_ledger_ok().await;
}
