//! Earning rules under concurrency: many purchases of one member (per-member limits) or of many
//! members (a program budget) at the same moment never award past a limit, on SQLite's one
//! writer and on PostgreSQL's several.

use crate::common;

use common::{Fixture, all_at_once, outcome};
use serde_json::{Value, json};
use tally_core::Command;
use tally_domain::ids::MemberId;
use tally_domain::inputs::NewPurchase;

fn purchase(f: &Fixture, member: &MemberId, order_id: &str) -> Command {
    let body = json!({"order_id": order_id, "member": {"id": member}, "total": {"amount_minor": 1000, "currency": "USD"}});
    Command::RecordPurchase {
        program: f.program.clone(),
        purchase: NewPurchase::parse(&body).unwrap(),
    }
}

async fn rule(f: &Fixture, document: Value) {
    f.run(Command::CreateRule {
        program: f.program.clone(),
        document,
        status: "active".into(),
    })
    .await
    .expect("a valid rule");
}

/// Points each answer says the rules gave.
fn rule_points(answers: &[Value]) -> Vec<i64> {
    answers
        .iter()
        .map(|a| a["points_earned"].as_i64().unwrap() - a["base_points"].as_i64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_purchases_at_once_never_pass_a_per_member_daily_limit() {
    let f = Fixture::new().await;
    rule(
        &f,
        json!({"name": "Seven a visit", "trigger": "purchase", "effect": {"bonus": 7}, "limits": {"per_member": {"day": 50}}}),
    )
    .await;
    let member = f.enroll(json!({})).await;
    let commands = (0..40)
        .map(|i| (None, purchase(&f, &member, &format!("L-{i}"))))
        .collect();
    let answers: Vec<Value> = all_at_once(&f, commands)
        .await
        .into_iter()
        .map(|r| outcome(r).expect("every purchase is recorded"))
        .collect();
    let mut given = rule_points(&answers);
    given.sort_unstable();
    // 7 × 7 = 49, then the last point, then nothing: exactly the limit, whatever the order.
    assert_eq!(given.iter().sum::<i64>(), 50, "{given:?}");
    assert_eq!(given.iter().filter(|p| **p == 7).count(), 7);
    assert_eq!(given.iter().filter(|p| **p == 1).count(), 1);
    assert_eq!(f.balance(&member).await, 40 * 10 + 50);
    f.assert_ledger_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_members_at_once_never_overspend_a_budget() {
    let f = Fixture::new().await;
    rule(
        &f,
        json!({"name": "Launch", "trigger": "purchase", "effect": {"bonus": 30}, "limits": {"budget": 500}}),
    )
    .await;
    let mut commands = Vec::new();
    for i in 0..40 {
        let member = f.enroll(json!({})).await;
        commands.push((None, purchase(&f, &member, &format!("B-{i}"))));
    }
    let answers: Vec<Value> = all_at_once(&f, commands)
        .await
        .into_iter()
        .map(|r| outcome(r).expect("every purchase is recorded"))
        .collect();
    let given = rule_points(&answers);
    assert_eq!(given.iter().sum::<i64>(), 500, "{given:?}");
    assert_eq!(given.iter().filter(|p| **p == 30).count(), 16);
    assert_eq!(given.iter().filter(|p| **p == 20).count(), 1);
    f.assert_ledger_ok().await;
}
