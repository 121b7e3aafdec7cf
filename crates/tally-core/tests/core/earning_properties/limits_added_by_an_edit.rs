//! A limit or a budget added to a rule by an edit counts what the rule gave before the edit
//! (the smallest cases the property once found giving past such a limit). Point awards of a
//! rule that nothing counts are in the ledger alone; the version that starts counting copies
//! them into `rule_awards`, once.

use super::common::{Fixture, refusal};
use serde_json::{Value, json};
use tally_core::Command;
use tally_domain::ids::RuleId;

async fn twenty_a_visit(f: &Fixture) -> RuleId {
    let rule = f
        .run(Command::CreateRule {
            program: f.program.clone(),
            document: json!({"name": "Twenty a visit", "trigger": "purchase", "effect": {"bonus": 20}}),
            status: "active".into(),
        })
        .await
        .expect("a valid rule");
    RuleId::parse(rule["id"].as_str().unwrap()).unwrap()
}

fn rule_points(answer: &Value) -> i64 {
    answer["points_earned"].as_i64().unwrap() - answer["base_points"].as_i64().unwrap()
}

async fn edit(f: &Fixture, rule: &RuleId, limits: Value) -> Result<Value, tally_core::CoreError> {
    let document = json!({"name": "Twenty a visit", "trigger": "purchase", "effect": {"bonus": 20}, "limits": limits});
    f.run(Command::UpdateRule {
        rule: rule.clone(),
        document: Some(document),
        status: None,
    })
    .await
}

#[tokio::test]
async fn a_budget_added_by_an_edit_counts_what_the_rule_gave_before() {
    let f = Fixture::new().await;
    let rule = twenty_a_visit(&f).await;
    let member = f.enroll(json!({})).await;
    let first = f.purchase(&member, "A-1", 1000).await.unwrap();
    assert_eq!(rule_points(&first), 20);
    // The rule has given 20: a budget of 10 is already spent.
    let edited = edit(&f, &rule, json!({"budget": 10})).await;
    let second = f.purchase(&member, "A-2", 1000).await.unwrap();
    match edited {
        Ok(_) => assert_eq!(
            rule_points(&second),
            0,
            "a rule that gave 20 gave more after its budget was set to 10"
        ),
        Err(e) => assert_eq!(refusal(Err(e)), "invalid /limits/budget"),
    }
    f.assert_ledger_ok().await;
}

#[tokio::test]
async fn a_daily_limit_added_by_an_edit_counts_what_the_rule_gave_that_day() {
    let f = Fixture::new().await;
    let rule = twenty_a_visit(&f).await;
    let member = f.enroll(json!({})).await;
    let first = f.purchase(&member, "A-1", 1000).await.unwrap();
    assert_eq!(rule_points(&first), 20);
    edit(&f, &rule, json!({"per_member": {"day": 25}}))
        .await
        .expect("a valid edit");
    // Same day: 20 of the 25 are used, 5 are left.
    let second = f.purchase(&member, "A-2", 1000).await.unwrap();
    assert_eq!(
        rule_points(&second),
        5,
        "the member got 20 + {} from the rule today, limit 25 a day",
        rule_points(&second)
    );
    f.assert_ledger_ok().await;
}

#[tokio::test]
async fn a_limit_removed_and_added_again_counts_each_award_once() {
    let f = Fixture::new().await;
    let rule = twenty_a_visit(&f).await;
    let member = f.enroll(json!({})).await;
    edit(&f, &rule, json!({"per_member": {"day": 100}}))
        .await
        .expect("a valid edit");
    let counted = f.purchase(&member, "A-1", 1000).await.unwrap();
    assert_eq!(rule_points(&counted), 20);
    edit(&f, &rule, json!({})).await.expect("a valid edit");
    let uncounted = f.purchase(&member, "A-2", 1000).await.unwrap();
    assert_eq!(rule_points(&uncounted), 20);
    edit(&f, &rule, json!({"per_member": {"day": 50}}))
        .await
        .expect("a valid edit");
    // 40 given today, each counted once: 10 of the 50 are left.
    let third = f.purchase(&member, "A-3", 1000).await.unwrap();
    assert_eq!(rule_points(&third), 10);
    f.assert_ledger_ok().await;
}
