//! The smallest cases the property found: a limit added to a rule by an edit does not count
//! what the rule gave before the edit, so the rule gives past it.
//!
//! `rules.awarded_total` is only added to while a rule has a budget (`spend_budget` is called
//! for budgeted rules only), and `rule_awards` only gets the awards of rules that have
//! per-member limits. A rule that gave points without a limit and then gets one by a new
//! version starts from zero, although the docs define the budget as "the points this rule may
//! give in all" and the update's own check says "must be at least …, the points this rule has
//! already given".

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
