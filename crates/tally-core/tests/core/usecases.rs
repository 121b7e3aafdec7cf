//! The core flows: earn, return, redeem, cancel, adjust — on the backend the environment picks.

use crate::common;

use common::{Fixture, refusal};
use serde_json::json;
use tally_core::{Command, CoreError, IdempotencyKey};
use tally_domain::inputs::{AdjustmentRequest, NewPurchase, NewReturn};

#[tokio::test]
async fn a_purchase_earns_points_and_a_retry_is_answered_the_same() {
    let f = Fixture::with_program(json!({"name": "Shop", "currency": "USD", "earning": {"points_per_unit": "1.5", "rounding": "down"}})).await;
    let ann = f
        .enroll(json!({"name": "Ann", "email": "ann@example.com"}))
        .await;
    let first = f.purchase(&ann, "A-1", 2599).await.unwrap();
    assert_eq!(
        first["points_earned"], 38,
        "25.99 × 1.5 = 38.985, rounded down"
    );
    assert_eq!(first["balance"]["available"], 38);
    let again = f.purchase(&ann, "A-1", 2599).await.unwrap();
    assert_eq!(
        again, first,
        "same order, same content: the original answer"
    );
    assert_eq!(f.balance(&ann).await, 38, "and no second earning");
    assert_eq!(
        refusal(f.purchase(&ann, "A-1", 9999).await),
        "order_conflict"
    );
    f.assert_ledger_ok().await;
}

#[tokio::test]
async fn excluded_categories_and_minimum_order_earn_nothing() {
    let f = Fixture::with_program(json!({
        "name": "Shop", "currency": "USD",
        "earning": {"points_per_unit": "1", "excluded_categories": ["gift-cards"], "min_order_minor": 1000}
    }))
    .await;
    let ann = f.enroll(json!({})).await;
    let body = json!({
        "order_id": "B-1", "member": {"id": ann}, "total": {"amount_minor": 5000, "currency": "USD"},
        "lines": [
            {"sku": "cd", "category": "jazz", "quantity": 1, "unit_price_minor": 3000},
            {"sku": "gift", "category": "gift-cards", "quantity": 1, "unit_price_minor": 2000}
        ]
    });
    let out = f
        .run(Command::RecordPurchase {
            program: f.program.clone(),
            purchase: NewPurchase::parse(&body).unwrap(),
        })
        .await
        .unwrap();
    assert_eq!(out["points_earned"], 30, "only the CD earns");
    let small = f.purchase(&ann, "B-2", 999).await.unwrap();
    assert_eq!(small["points_earned"], 0, "below the minimum order");
    let wrong_currency = json!({"order_id": "B-3", "member": {"id": ann}, "total": {"amount_minor": 100, "currency": "EUR"}});
    let err = f
        .run(Command::RecordPurchase {
            program: f.program.clone(),
            purchase: NewPurchase::parse(&wrong_currency).unwrap(),
        })
        .await;
    assert_eq!(refusal(err), "invalid /total/currency");
    f.assert_ledger_ok().await;
}

#[tokio::test]
async fn partial_returns_take_back_proportional_points_once() {
    let f = Fixture::new().await;
    let ann = f.enroll(json!({})).await;
    let body = json!({
        "order_id": "R-1", "member": {"id": ann}, "total": {"amount_minor": 10000, "currency": "USD"},
        "lines": [
            {"sku": "a", "quantity": 2, "unit_price_minor": 2500},
            {"sku": "b", "quantity": 1, "unit_price_minor": 5000}
        ]
    });
    f.run(Command::RecordPurchase {
        program: f.program.clone(),
        purchase: NewPurchase::parse(&body).unwrap(),
    })
    .await
    .unwrap();
    assert_eq!(f.balance(&ann).await, 100);
    let ret = |b: serde_json::Value| Command::RecordReturn {
        program: f.program.clone(),
        ret: NewReturn::parse(&b).unwrap(),
    };
    let one_a = f
        .run(ret(
            json!({"order_id": "R-1", "lines": [{"sku": "a", "quantity": 1}]}),
        ))
        .await
        .unwrap();
    assert_eq!(one_a["points_reversed"], 25);
    assert_eq!(f.balance(&ann).await, 75);
    let too_many = f
        .run(ret(
            json!({"order_id": "R-1", "lines": [{"sku": "a", "quantity": 2}]}),
        ))
        .await;
    assert_eq!(refusal(too_many), "invalid /lines/0/quantity");
    let amount = f
        .run(ret(json!({"order_id": "R-1", "amount_minor": 5000})))
        .await
        .unwrap();
    assert_eq!(amount["points_reversed"], 50);
    let rest = f.run(ret(json!({"order_id": "R-1"}))).await.unwrap();
    assert_eq!(
        rest["points_reversed"], 25,
        "the full return takes exactly what is left"
    );
    assert_eq!(f.balance(&ann).await, 0);
    assert_eq!(
        refusal(f.run(ret(json!({"order_id": "R-1"}))).await),
        "already_returned"
    );
    f.assert_ledger_ok().await;
}

#[tokio::test]
async fn returning_spent_points_follows_the_negative_balance_policy() {
    for (policy, expected_balance, unrecovered) in
        [("allow_negative", -60, 0), ("floor_at_zero", 0, 60)]
    {
        let f = Fixture::with_program(
            json!({"name": "Shop", "currency": "USD", "negative_balance": policy}),
        )
        .await;
        let ann = f.enroll(json!({})).await;
        f.purchase(&ann, "N-1", 10000).await.unwrap();
        let reward = f.reward(json!({"name": "Mug", "cost_points": 60})).await;
        f.run(f.redeem_command(&ann, &reward)).await.unwrap();
        let out = f
            .run(Command::RecordReturn {
                program: f.program.clone(),
                ret: NewReturn::parse(&json!({"order_id": "N-1"})).unwrap(),
            })
            .await
            .unwrap();
        assert_eq!(f.balance(&ann).await, expected_balance, "{policy}");
        assert_eq!(out["unrecovered_points"], unrecovered, "{policy}");
        if policy == "allow_negative" {
            f.purchase(&ann, "N-2", 3000).await.unwrap();
            let blocked = f.run(f.redeem_command(&ann, &reward)).await;
            assert_eq!(
                refusal(blocked),
                "insufficient_points",
                "redemption blocked until the balance is positive"
            );
        }
        f.assert_ledger_ok().await;
    }
}

#[tokio::test]
async fn redeem_then_cancel_refunds_and_restocks() {
    let f = Fixture::new().await;
    let ann = f.enroll(json!({})).await;
    f.purchase(&ann, "C-1", 10000).await.unwrap();
    let reward = f
        .reward(json!({"name": "Tote bag", "cost_points": 40, "stock": 1, "per_member_limit": 1}))
        .await;
    let redemption = f.run(f.redeem_command(&ann, &reward)).await.unwrap();
    assert_eq!(redemption["status"], "issued");
    assert_eq!(redemption["balance"]["available"], 60);
    assert!(
        redemption["code"].as_str().unwrap().len() == 11,
        "code like R7K-3QF-X9P"
    );
    assert_eq!(
        refusal(f.run(f.redeem_command(&ann, &reward)).await),
        "limit_reached"
    );
    let id = tally_domain::ids::RedemptionId::parse(redemption["id"].as_str().unwrap()).unwrap();
    let cancelled = f
        .run(Command::CancelRedemption {
            redemption: id.clone(),
        })
        .await
        .unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(f.balance(&ann).await, 100);
    assert_eq!(
        refusal(f.run(Command::CancelRedemption { redemption: id }).await),
        "redemption_not_cancellable"
    );
    let again = f.run(f.redeem_command(&ann, &reward)).await.unwrap();
    assert_eq!(
        again["status"], "issued",
        "stock and the member's claim came back with the cancellation"
    );
    f.assert_ledger_ok().await;
}

#[tokio::test]
async fn adjustments_need_a_reason_and_are_audited() {
    let f = Fixture::with_program(
        json!({"name": "Shop", "currency": "USD", "negative_balance": "floor_at_zero"}),
    )
    .await;
    let ann = f.enroll(json!({})).await;
    let give =
        AdjustmentRequest::parse(&json!({"points": 25, "reason": "goodwill: late delivery"}))
            .unwrap();
    f.run(Command::Adjust {
        member: ann.clone(),
        request: give,
    })
    .await
    .unwrap();
    let take_too_much =
        AdjustmentRequest::parse(&json!({"points": -30, "reason": "correction"})).unwrap();
    assert_eq!(
        refusal(
            f.run(Command::Adjust {
                member: ann.clone(),
                request: take_too_much
            })
            .await
        ),
        "insufficient_points"
    );
    assert_eq!(f.balance(&ann).await, 25);
    let mut c = f.tally.read().await.unwrap();
    let log = tally_store::queries::audit::list(&mut c, &f.tenant, None, None)
        .await
        .unwrap();
    assert!(
        log.items
            .iter()
            .any(|e| e.action == "member.points_adjusted"
                && e.detail["reason"] == "goodwill: late delivery")
    );
    f.assert_ledger_ok().await;
}

#[tokio::test]
async fn an_idempotency_key_replays_errors_too_and_refuses_another_body() {
    let f = Fixture::new().await;
    let ann = f.enroll(json!({})).await;
    let reward = f.reward(json!({"name": "Mug", "cost_points": 10})).await;
    let key = IdempotencyKey {
        key: "k-1".into(),
        request_sha256: "hash-a".into(),
    };
    let first = f
        .tally
        .write(
            &f.tenant,
            "test",
            Some(key.clone()),
            f.redeem_command(&ann, &reward),
        )
        .await;
    assert_eq!(refusal(first), "insufficient_points");
    f.purchase(&ann, "I-1", 5000).await.unwrap();
    let replay = f
        .tally
        .write(
            &f.tenant,
            "test",
            Some(key),
            f.redeem_command(&ann, &reward),
        )
        .await;
    assert_eq!(
        refusal(replay),
        "insufficient_points",
        "the stored answer, even though it would now succeed"
    );
    let other = IdempotencyKey {
        key: "k-1".into(),
        request_sha256: "hash-b".into(),
    };
    let mismatch = f
        .tally
        .write(
            &f.tenant,
            "test",
            Some(other),
            f.redeem_command(&ann, &reward),
        )
        .await;
    assert!(matches!(mismatch, Err(CoreError::IdempotencyMismatch)));
    f.assert_ledger_ok().await;
}

#[tokio::test]
async fn an_idempotency_key_is_honoured_for_a_day_then_starts_afresh() {
    let f = Fixture::new().await;
    let ann = f.enroll(json!({})).await;
    let purchase = |order: &str| Command::RecordPurchase {
        program: f.program.clone(),
        purchase: NewPurchase::parse(&json!({
            "order_id": order,
            "member": {"id": ann},
            "total": {"amount_minor": 5000, "currency": "USD"},
        }))
        .unwrap(),
    };
    let key = |hash: &str| IdempotencyKey {
        key: "k-day".into(),
        request_sha256: hash.into(),
    };
    let write = |hash: &'static str, order: &'static str| {
        f.tally
            .write(&f.tenant, "test", Some(key(hash)), purchase(order))
    };
    let first = write("a", "D-1").await.unwrap();
    f.clock.advance(jiff::SignedDuration::from_hours(23));
    assert_eq!(
        write("a", "D-1").await.unwrap(),
        first,
        "a retry within the day"
    );
    f.clock.advance(jiff::SignedDuration::from_hours(2));
    let later = write("b", "D-2").await.unwrap();
    assert_ne!(
        later["purchase_id"], first["purchase_id"],
        "a day on, the key names a new request"
    );
    assert_eq!(
        write("b", "D-2").await.unwrap(),
        later,
        "and replays that one"
    );
    let earned =
        first["points_earned"].as_i64().unwrap() + later["points_earned"].as_i64().unwrap();
    assert!(earned > 0);
    assert_eq!(f.balance(&ann).await, earned);
    f.assert_ledger_ok().await;
}

#[tokio::test]
async fn another_tenant_sees_nothing() {
    let f = Fixture::new().await;
    let ann = f.enroll(json!({})).await;
    let g = tally_domain::ids::TenantId::generate();
    let err = f
        .tally
        .write(
            &g,
            "intruder",
            None,
            Command::Adjust {
                member: ann.clone(),
                request: AdjustmentRequest::parse(&json!({"points": 5, "reason": "x"})).unwrap(),
            },
        )
        .await;
    assert_eq!(refusal(err), "member not found");
    assert_eq!(f.balance(&ann).await, 0);
}

#[tokio::test]
async fn a_bulk_import_records_new_orders_once_and_keeps_the_ledger_exact() {
    let f = Fixture::new().await;
    let ann = f.enroll(json!({"external_id": "ann"})).await;
    let bob = f.enroll(json!({"external_id": "bob"})).await;
    let earlier = f.purchase(&ann, "O-1", 1000).await.unwrap();
    let row = |order: &str, member: &str, amount: i64| {
        NewPurchase::parse(&json!({
            "order_id": order, "member": {"external_id": member},
            "total": {"amount_minor": amount, "currency": "USD"}, "occurred_at": "2026-04-01T12:00:00Z"
        }))
        .unwrap()
    };
    let mut same_as_earlier = row("O-1", "ann", 1000);
    same_as_earlier.occurred_at = None; // exactly what the single purchase sent
    let chunk = vec![
        row("I-1", "ann", 2550),
        row("I-2", "bob", 999),
        row("I-3", "ann", 0),
        same_as_earlier,
        row("O-1", "ann", 5000),   // other content for a recorded order
        row("I-4", "nobody", 100), // unknown member
        row("I-2", "bob", 999),    // the same order again inside the chunk
    ];
    let out = f
        .run(Command::ImportPurchases {
            program: f.program.clone(),
            purchases: chunk,
        })
        .await
        .unwrap();
    assert_eq!(out["recorded"], 3);
    assert_eq!(out["already_present"], 2);
    let refused: Vec<(u64, String)> = out["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["index"].as_u64().unwrap(),
                r["problem"]["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        refused,
        [(4, "conflict".to_owned()), (5, "invalid".to_owned())]
    );
    assert_eq!(f.balance(&ann).await, 10 + 25);
    assert_eq!(f.balance(&bob).await, 9);
    f.assert_ledger_ok().await;
    // Each imported order answers a retry through the single-purchase path with its stored answer.
    let body = json!({"order_id": "I-1", "member": {"external_id": "ann"}, "total": {"amount_minor": 2550, "currency": "USD"}, "occurred_at": "2026-04-01T12:00:00Z"});
    let replay = f
        .run(Command::RecordPurchase {
            program: f.program.clone(),
            purchase: NewPurchase::parse(&body).unwrap(),
        })
        .await
        .unwrap();
    assert_eq!(replay["points_earned"], 25);
    assert_eq!(
        replay["balance"]["available"], 35,
        "the balance right after that import row"
    );
    assert_eq!(f.purchase(&ann, "O-1", 1000).await.unwrap(), earlier);
}
