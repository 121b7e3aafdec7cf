//! Property: whatever sequence of enrolments, purchases, returns, redemptions, cancellations,
//! adjustments, payments from cashback and their refunds, and idempotent retries a program sees
//! (with or without a rule giving cashback), every answer is the one a small model of
//! the rules predicts, and after every step the ledger balances, each balance is what the
//! answers add up to, stock is never negative and no member holds more of a reward than its
//! per-member limit.
//!
//! Cases: `TALLY_PROPTEST_CASES` (default 2,000), in four shards that the test harness runs in
//! parallel, each with a seed of its own. Each shard has one database; each case gets a tenant
//! and a program of its own, alternating between the `allow_negative` and `floor_at_zero`
//! policies.

use crate::common;
mod generate;
mod model;

use common::{ACTOR, Fixture, domain_code};
use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};
use serde_json::{Value, json};
use std::cell::RefCell;
use std::collections::BTreeMap;
use tally_core::{Command, CoreError, IdempotencyKey};
use tally_domain::DomainError;
use tally_domain::cashback::CashbackPayment;
use tally_domain::ids::{MemberId, RedemptionId, RewardId};
use tally_domain::inputs::{AdjustmentRequest, NewMember, NewPurchase, NewReturn, RedeemRequest};
use tally_domain::model::RedemptionStatus;
use tally_store::queries::{members, purchases, rewards};

use generate::*;
use model::*;

/// Line skus a purchase may have; a return may also name `z`, which no order has.
pub(crate) const SKUS: [&str; 4] = ["a", "b", "c", "z"];
/// Order ids are drawn from a small pool so that they are often reused.
pub(crate) const ORDER_IDS: usize = 10;

// ---- running a case ----------------------------------------------------------------------

macro_rules! check {
    ($cond:expr, $($fmt:tt)*) => {
        if !$cond {
            return Err(TestCaseError::fail(format!($($fmt)*)));
        }
    };
}

macro_rules! check_eq {
    ($left:expr, $right:expr, $($fmt:tt)*) => {{
        let (left, right) = (&$left, &$right);
        if left != right {
            return Err(TestCaseError::fail(format!("{}: {:?} != {:?}", format!($($fmt)*), left, right)));
        }
    }};
}

// After the macros, so the checks can use them.
mod checks;
use checks::check_all;

fn int(v: &Value, pointer: &str) -> Result<i64, TestCaseError> {
    v.pointer(pointer)
        .and_then(Value::as_i64)
        .ok_or_else(|| TestCaseError::fail(format!("answer has no integer {pointer}: {v}")))
}

async fn send(
    f: &Fixture,
    key: &IdempotencyKey,
    command: Command,
) -> Result<Result<Value, DomainError>, TestCaseError> {
    match f
        .tally
        .write(&f.tenant, ACTOR, Some(key.clone()), command)
        .await
    {
        Ok(v) => Ok(Ok(v)),
        Err(CoreError::Domain(e)) => Ok(Err(e)),
        Err(other) => Err(TestCaseError::fail(format!(
            "a store or writer failure, not a domain outcome: {other:?}"
        ))),
    }
}

/// Runs one case in a program of its own (a new tenant in the shared database).
async fn run_case(base: &Fixture, setup: Setup, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let policy = if setup.floor_at_zero {
        "floor_at_zero"
    } else {
        "allow_negative"
    };
    let rate = format!("{}.{:03}", setup.rate_milli / 1000, setup.rate_milli % 1000);
    let f = base
        .another_program(json!({
            "name": "Props", "currency": "USD", "negative_balance": policy,
            "earning": {"points_per_unit": rate, "rounding": setup.rounding, "excluded_categories": ["gift"]},
        }))
        .await;
    let mut rewards_state = Vec::new();
    for (i, r) in setup.rewards.iter().enumerate() {
        let id = f.reward(json!({"name": format!("Reward {i}"), "cost_points": r.cost, "stock": r.stock, "per_member_limit": r.limit})).await;
        rewards_state.push(RewardState {
            id: RewardId::parse(&id).unwrap(),
            cost: r.cost,
            stock: r.stock,
            limit: r.limit,
        });
    }
    if setup.cashback_bp > 0 {
        let percent = setup.cashback_bp as f64 / 100.0;
        let rule = Command::CreateRule {
            program: f.program.clone(),
            document: json!({"name": "Cashback", "trigger": "purchase",
                             "effect": {"cashback": {"percent": percent}}}),
            status: "active".into(),
        };
        f.tally
            .write(&f.tenant, ACTOR, None, rule)
            .await
            .map_err(|e| TestCaseError::fail(format!("a cashback rule: {e:?}")))?;
    }
    let mut m = Model {
        members: vec![None; setup.pool],
        setup,
        rewards: rewards_state,
        orders: BTreeMap::new(),
        redemptions: Vec::new(),
        sent_purchases: Vec::new(),
        payments: Vec::new(),
        last: None,
    };
    check_all(&f, &m, "after set-up").await?;

    for (step, op) in ops.iter().enumerate() {
        let at = format!("step {step} {op:?}");
        let key = IdempotencyKey {
            key: format!("k-{step}"),
            request_sha256: format!("h-{step}"),
        };
        let (command, expect) = match op {
            Op::Replay { same_request } => {
                let Some(last) = &m.last else { continue };
                if *same_request {
                    let again = send(&f, &last.key, last.command.clone()).await?;
                    check_eq!(
                        again,
                        last.outcome,
                        "{at}: a replay gets the stored outcome"
                    );
                } else {
                    let other = IdempotencyKey {
                        key: last.key.key.clone(),
                        request_sha256: "another request".into(),
                    };
                    let r = f
                        .tally
                        .write(&f.tenant, ACTOR, Some(other), last.command.clone())
                        .await;
                    check!(
                        matches!(r, Err(CoreError::IdempotencyMismatch)),
                        "{at}: same key, other request: {r:?}"
                    );
                }
                check_all(&f, &m, &at).await?;
                continue;
            }
            Op::Enroll { fresh } => {
                let free = m.members.iter().position(Option::is_none);
                let slot = if *fresh { free.unwrap_or(0) } else { 0 };
                let body =
                    json!({"external_id": format!("m-{slot}"), "name": format!("Member {slot}")});
                let expect = if m.member(slot).is_some() {
                    Expect::Refused("external_id_taken".into())
                } else {
                    Expect::Enrolled { slot }
                };
                (
                    Command::Enroll {
                        program: f.program.clone(),
                        member: NewMember::parse(&body).unwrap(),
                        source: "test".into(),
                    },
                    expect,
                )
            }
            Op::Purchase { who, order, basket } => {
                let member = m.member_id(m.pick_member(*who));
                let order = format!("O-{order}");
                let expect = m.expect_purchase(&member, &order, basket);
                m.sent_purchases
                    .push((member.clone(), order.clone(), basket.clone()));
                let body = purchase_body(&member, &order, basket);
                (
                    Command::RecordPurchase {
                        program: f.program.clone(),
                        purchase: NewPurchase::parse(&body).unwrap(),
                    },
                    expect,
                )
            }
            Op::RepeatPurchase { pick } => {
                if m.sent_purchases.is_empty() {
                    continue;
                }
                let (member, order, basket) =
                    m.sent_purchases[pick % m.sent_purchases.len()].clone();
                let expect = m.expect_purchase(&member, &order, &basket);
                let body = purchase_body(&member, &order, &basket);
                (
                    Command::RecordPurchase {
                        program: f.program.clone(),
                        purchase: NewPurchase::parse(&body).unwrap(),
                    },
                    expect,
                )
            }
            Op::Return { order, spec } => {
                let (body, expect) = m.expect_return(&m.pick_order(*order), spec);
                (
                    Command::RecordReturn {
                        program: f.program.clone(),
                        ret: NewReturn::parse(&body).unwrap(),
                    },
                    expect,
                )
            }
            Op::Redeem { who, reward } => {
                let slot = m.pick_member(*who);
                let body = json!({"member": {"id": m.member_id(slot)}, "reward_id": m.rewards[*reward].id});
                (
                    Command::Redeem {
                        program: f.program.clone(),
                        request: RedeemRequest::parse(&body).unwrap(),
                    },
                    m.expect_redeem(slot, *reward),
                )
            }
            Op::RedeemAgain => {
                let Some(last) = m.redemptions.last() else {
                    continue;
                };
                let (slot, reward) = (last.slot, last.reward);
                let body = json!({"member": {"id": m.member_id(Some(slot))}, "reward_id": m.rewards[reward].id});
                (
                    Command::Redeem {
                        program: f.program.clone(),
                        request: RedeemRequest::parse(&body).unwrap(),
                    },
                    m.expect_redeem(Some(slot), reward),
                )
            }
            Op::Cancel { pick } => {
                if m.redemptions.is_empty() {
                    (
                        Command::CancelRedemption {
                            redemption: RedemptionId::generate(),
                        },
                        Expect::Refused("redemption not found".into()),
                    )
                } else {
                    let index = pick % m.redemptions.len();
                    let r = &m.redemptions[index];
                    let expect = if r.cancelled {
                        Expect::Refused("redemption_not_cancellable".into())
                    } else {
                        Expect::Cancelled { index }
                    };
                    (
                        Command::CancelRedemption {
                            redemption: r.id.clone(),
                        },
                        expect,
                    )
                }
            }
            Op::PayCashback { who, amount } => {
                let slot = m.pick_member(*who);
                let order = format!("P-{step}");
                let body = json!({"member": {"id": m.member_id(slot)}, "order_id": order, "amount_minor": amount});
                (
                    Command::PayWithCashback {
                        program: f.program.clone(),
                        request: CashbackPayment::parse(&body).unwrap(),
                    },
                    m.expect_pay(slot, &order, *amount),
                )
            }
            Op::RefundCashback { pick } => {
                if m.payments.is_empty() {
                    (
                        Command::RefundCashback {
                            program: f.program.clone(),
                            order_id: "P-none".into(),
                        },
                        Expect::Refused("invalid /order_id".into()),
                    )
                } else {
                    let index = pick % m.payments.len();
                    (
                        Command::RefundCashback {
                            program: f.program.clone(),
                            order_id: m.payments[index].order.clone(),
                        },
                        Expect::RefundedCashback { index },
                    )
                }
            }
            Op::Adjust { who, points } => {
                let slot = m.pick_member(*who);
                let request = AdjustmentRequest::parse(
                    &json!({"points": points, "reason": format!("test adjustment at step {step}")}),
                )
                .unwrap();
                (
                    Command::Adjust {
                        member: m.member_id(slot),
                        request,
                    },
                    m.expect_adjust(slot, *points),
                )
            }
        };
        let outcome = send(&f, &key, command.clone()).await?;
        apply(&mut m, &at, &expect, &outcome)?;
        m.last = Some(Last {
            key,
            command,
            outcome,
        });
        // Every third step the totals snapshot moves on, so `check_all` compares the totals as
        // snapshot plus later transfers in every mix against the model.
        if step % 3 == 2 {
            // The test's clock stands still: a negative margin lets every transfer so far in.
            let advance = Command::AdvanceProgramTotals {
                program: f.program.clone(),
                margin: jiff::SignedDuration::from_secs(-1),
            };
            let folded = f
                .tally
                .write(&f.tenant, ACTOR, None, advance)
                .await
                .map_err(|e| TestCaseError::fail(format!("{at}: advancing totals: {e}")))?;
            if folded["folded"].as_i64().unwrap_or(0) > 0 {
                seen("totals snapshot advanced".into());
            }
        }
        check_all(&f, &m, &at).await?;
    }
    Ok(())
}

thread_local! {
    /// How often each kind of outcome was seen over a shard's cases (each runs on its own test
    /// thread), so that the test can show it did not merely watch refusals.
    static SEEN: RefCell<BTreeMap<String, usize>> = const { RefCell::new(BTreeMap::new()) };
}

fn seen(what: String) {
    SEEN.with_borrow_mut(|seen| *seen.entry(what).or_default() += 1);
}

/// Compares an outcome with what the model expected and moves the model on.
fn apply(
    m: &mut Model,
    at: &str,
    expect: &Expect,
    outcome: &Result<Value, DomainError>,
) -> Result<(), TestCaseError> {
    seen(match expect {
        Expect::Refused(code) => format!("refused {code}"),
        Expect::Returned {
            taken, reversal, ..
        } if taken < reversal => "returned (partly unrecovered)".into(),
        other => format!("{other:?}")
            .split([' ', '('])
            .next()
            .unwrap_or_default()
            .to_lowercase(),
    });
    let answer = match (expect, outcome) {
        (Expect::Refused(code), Err(e)) => {
            check_eq!(domain_code(e), *code, "{at}: refusal");
            return Ok(());
        }
        (Expect::Refused(code), Ok(v)) => {
            return Err(TestCaseError::fail(format!(
                "{at}: expected {code}, got {v}"
            )));
        }
        (_, Err(e)) => {
            return Err(TestCaseError::fail(format!(
                "{at}: expected {expect:?}, got refusal {e:?}"
            )));
        }
        (_, Ok(v)) => v,
    };
    match expect {
        Expect::Refused(_) => unreachable!(),
        Expect::Enrolled { slot } => {
            let id = MemberId::parse(answer["id"].as_str().unwrap_or_default())
                .map_err(TestCaseError::fail)?;
            check_eq!(
                answer["balance"]["available"],
                json!(0),
                "{at}: a new member has no points"
            );
            m.members[*slot] = Some(MemberState {
                id,
                balance: 0,
                reported: Reported::default(),
                cashback: 0,
            });
        }
        Expect::Earned {
            slot,
            order,
            basket,
            points,
        } => {
            check_eq!(
                int(answer, "/points_earned")?,
                *points,
                "{at}: points earned"
            );
            let cashback = m.cashback_for(basket.total());
            let given: i64 = answer["granted"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|g| g["cashback"]["amount_minor"].as_i64())
                .sum();
            check_eq!(given, cashback, "{at}: cashback given");
            let member = m.members[*slot].as_mut().unwrap();
            member.balance += points;
            member.cashback += cashback;
            member.reported.earned += int(answer, "/points_earned")?;
            check_eq!(
                int(answer, "/balance/available")?,
                member.balance,
                "{at}: balance in the answer"
            );
            let lines = basket
                .lines()
                .iter()
                .map(|l| OrderLine {
                    sku: SKUS[l.sku],
                    quantity: l.quantity,
                    unit_price_minor: l.unit_price_minor,
                    returned: 0,
                })
                .collect();
            m.orders.insert(
                order.clone(),
                Order {
                    slot: *slot,
                    member: member.id.clone(),
                    basket: basket.clone(),
                    total: basket.total(),
                    earned: *points,
                    reversed: 0,
                    returned_minor: 0,
                    lines,
                    answer: answer.clone(),
                    cashback_earned: cashback,
                    cashback_reversed: 0,
                },
            );
        }
        Expect::Replayed(original) => check_eq!(
            answer,
            original,
            "{at}: a repeated purchase gets the original answer"
        ),
        Expect::Returned {
            order,
            amount,
            reversal,
            taken,
            lines,
        } => {
            let o = m.orders.get_mut(order).unwrap();
            check_eq!(
                int(answer, "/returned_minor")?,
                *amount,
                "{at}: amount returned"
            );
            check_eq!(
                int(answer, "/points_reversed")?,
                *taken,
                "{at}: points taken back"
            );
            check_eq!(
                int(answer, "/unrecovered_points")?,
                reversal - taken,
                "{at}: points not recovered"
            );
            let cashback_due = reversal_of(
                o.cashback_earned,
                o.cashback_reversed,
                o.total,
                o.returned_minor + amount,
            );
            o.returned_minor += amount;
            o.reversed += reversal;
            o.cashback_reversed += cashback_due;
            for (n, q) in lines {
                o.lines[*n].returned += q;
            }
            let member = m.members[o.slot].as_mut().unwrap();
            let cashback_taken = cashback_due.min(member.cashback.max(0));
            check_eq!(
                int(answer, "/cashback_reversed_minor")?,
                cashback_taken,
                "{at}: cashback taken back"
            );
            check_eq!(
                int(answer, "/cashback_unrecovered_minor")?,
                cashback_due - cashback_taken,
                "{at}: cashback not recovered"
            );
            member.cashback -= cashback_taken;
            member.balance -= taken;
            member.reported.reversed += int(answer, "/points_reversed")?;
            check_eq!(
                int(answer, "/balance/available")?,
                member.balance,
                "{at}: balance in the answer"
            );
        }
        Expect::Redeemed { slot, reward } => {
            let r = &mut m.rewards[*reward];
            check_eq!(answer["status"], json!("issued"), "{at}: status");
            check_eq!(int(answer, "/cost")?, r.cost, "{at}: cost");
            r.stock = r.stock.map(|s| s - 1);
            let member = m.members[*slot].as_mut().unwrap();
            member.balance -= r.cost;
            member.reported.redeemed += int(answer, "/cost")?;
            check_eq!(
                int(answer, "/balance/available")?,
                member.balance,
                "{at}: balance in the answer"
            );
            let id = RedemptionId::parse(answer["id"].as_str().unwrap_or_default())
                .map_err(TestCaseError::fail)?;
            m.redemptions.push(RedemptionState {
                id,
                slot: *slot,
                reward: *reward,
                cost: r.cost,
                cancelled: false,
            });
        }
        Expect::Cancelled { index } => {
            let r = &mut m.redemptions[*index];
            check_eq!(answer["status"], json!("cancelled"), "{at}: status");
            r.cancelled = true;
            let reward = &mut m.rewards[r.reward];
            reward.stock = reward.stock.map(|s| s + 1);
            let member = m.members[r.slot].as_mut().unwrap();
            member.balance += r.cost;
            member.reported.refunded += int(answer, "/cost")?;
            check_eq!(
                int(answer, "/balance/available")?,
                member.balance,
                "{at}: balance in the answer"
            );
        }
        Expect::PaidCashback {
            slot,
            order,
            amount,
        } => {
            check_eq!(answer["status"], json!("paid"), "{at}: status");
            check_eq!(int(answer, "/amount_minor")?, *amount, "{at}: amount paid");
            let member = m.members[*slot].as_mut().unwrap();
            member.cashback -= amount;
            check_eq!(
                int(answer, "/cashback_balance_minor")?,
                member.cashback,
                "{at}: cashback in the answer"
            );
            m.payments.push(PaymentState {
                order: order.clone(),
                slot: *slot,
                amount: *amount,
                refunded: false,
            });
        }
        Expect::RefundedCashback { index } => {
            let p = &mut m.payments[*index];
            check_eq!(answer["status"], json!("refunded"), "{at}: status");
            let member = m.members[p.slot].as_mut().unwrap();
            if !p.refunded {
                p.refunded = true;
                member.cashback += p.amount;
            }
            check_eq!(
                int(answer, "/cashback_balance_minor")?,
                member.cashback,
                "{at}: cashback in the answer"
            );
        }
        Expect::Adjusted { slot, points } => {
            check_eq!(int(answer, "/points")?, *points, "{at}: points adjusted");
            let member = m.members[*slot].as_mut().unwrap();
            member.balance += points;
            member.reported.adjusted += int(answer, "/points")?;
            check_eq!(
                int(answer, "/balance/available")?,
                member.balance,
                "{at}: balance in the answer"
            );
        }
    }
    Ok(())
}

/// Random histories in all (the issue asks for thousands), and the shards they are run in.
const CASES: u32 = 2_000;
const SHARDS: u32 = 4;

#[test]
fn random_histories_keep_the_ledger_and_the_model_in_step_1() {
    random_histories(0);
}

#[test]
fn random_histories_keep_the_ledger_and_the_model_in_step_2() {
    random_histories(1);
}

#[test]
fn random_histories_keep_the_ledger_and_the_model_in_step_3() {
    random_histories(2);
}

#[test]
fn random_histories_keep_the_ledger_and_the_model_in_step_4() {
    random_histories(3);
}

fn random_histories(shard: u32) {
    let mut runner = TestRunner::new(common::proptest_config(512, CASES, (shard, SHARDS)));
    // Sequences of 1 to 39 operations; the first always enrols someone, so that the rest is not
    // mostly refusals for want of a member.
    let ops = prop::collection::vec(op(), 0..39).prop_map(|mut ops| {
        ops.insert(0, Op::Enroll { fresh: true });
        ops
    });
    let strategy = (setup(), ops);
    // One runtime and one database for all cases (and shrinking runs); each case gets its own
    // tenant and program.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let base = rt.block_on(Fixture::new());
    let result = runner.run(&strategy, |(setup, ops)| {
        rt.block_on(run_case(&base, setup, ops))
    });
    rt.block_on(async move { drop(base) });
    if let Err(e) = result {
        panic!("{e}");
    }
    let seen = SEEN.with_borrow(|seen| seen.clone());
    eprintln!("outcomes over {} cases: {seen:#?}", runner.config().cases);
    // A shard of 64 cases or more shows that every kind of outcome came up (a handful of cases
    // need not; the default shards have 500 each).
    if runner.config().cases >= 64 {
        for kind in [
            "enrolled",
            "earned",
            "replayed",
            "returned",
            "redeemed",
            "cancelled",
            "adjusted",
            "paidcashback",
            "refundedcashback",
            "totals snapshot advanced",
        ] {
            assert!(
                seen.get(kind).is_some_and(|n| *n > 0),
                "no `{kind}` outcome in {} cases: {seen:?}",
                runner.config().cases
            );
        }
        for code in [
            "insufficient_points",
            "out_of_stock",
            "limit_reached",
            "already_returned",
            "order_conflict",
            "invalid /amount_minor",
            "insufficient_cashback",
        ] {
            assert!(
                seen.contains_key(&format!("refused {code}")),
                "no `{code}` refusal in {} cases: {seen:?}",
                runner.config().cases
            );
        }
    }
}

/// A return naming the same sku twice is refused when it is parsed (like a purchase listing a
/// sku twice), so it never reaches the writer.
#[test]
fn a_return_naming_a_sku_twice_is_refused() {
    let twice = NewReturn::parse(
        &json!({"order_id": "D-1", "lines": [{"sku": "a", "quantity": 1}, {"sku": "a", "quantity": 1}]}),
    );
    match twice {
        Err(tally_domain::DomainError::Invalid { fields }) => {
            assert_eq!(fields[0].pointer, "/lines")
        }
        other => panic!("expected an invalid /lines, got {other:?}"),
    }
}
