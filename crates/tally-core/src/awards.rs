//! What rules give, once decided: their points as `earn` transfers naming rule and version,
//! the usage that limits and budgets count, and the grants of `stamp`, `reward` and `cashback`
//! rules.

use crate::StepResult;
use crate::commands::Ctx;
use crate::earning::CompiledRules;
use crate::pending::Credit;
use tally_domain::ids::{EventId, MemberId, ProgramId, PurchaseId, ReturnId};
use tally_domain::model::TransferReason;
use tally_domain::{Points, Timestamp};
use tally_rules::Outcome;
use tally_store::queries::{programs, rules};
use tally_store::{Conn, StoreError};

/// Why an award was given, beyond the rule: the order it came with.
pub struct AwardContext<'a> {
    pub program: &'a ProgramId,
    pub member: &'a MemberId,
    pub order_id: Option<&'a str>,
    pub purchase_id: Option<&'a PurchaseId>,
    /// The custom event an event rule's award came with.
    pub event_id: Option<&'a EventId>,
    /// The return a return rule's award came with.
    pub return_id: Option<&'a ReturnId>,
    pub occurred_at: Timestamp,
}

/// The transfers the awards of `outcome` become: one per rule that gave points, naming the rule
/// and its version.
pub fn award_credits(ctx: &Ctx, outcome: &Outcome, at: &AwardContext<'_>) -> Vec<Credit> {
    outcome
        .awarded()
        .filter(|d| d.points > 0)
        .map(|award| {
            let reason = TransferReason {
                order_id: at.order_id.map(str::to_owned),
                purchase_id: at.purchase_id.cloned(),
                event_id: at.event_id.cloned(),
                return_id: at.return_id.cloned(),
                rule: Some(award.rule.id.clone()),
                rule_version: Some(award.rule.version),
                actor: Some(ctx.actor.clone()),
                note: Some(award.name.clone()),
                ..TransferReason::default()
            };
            (Points(award.points), reason)
        })
        .collect()
}

/// The awards of `outcome` as an answer shows them: `{"rule_id", "version", "name", "points"}`
/// per rule that gave points.
pub fn award_answers(outcome: &Outcome) -> Vec<serde_json::Value> {
    outcome
        .awarded()
        .map(|d| serde_json::json!({ "rule_id": d.rule.id, "version": d.rule.version, "name": d.name, "points": d.points }))
        .collect()
}

/// Records what limits and budgets count of `outcome`: spends budgets (their rows were locked
/// when usage was read) and writes to `rule_awards` the awards of rules with a limit per
/// member or a budget, and every grant. The point awards of other rules are in the ledger
/// alone: a version that adds a limit or a budget copies them from there first
/// (`usecases::rules::update`), so each purchase pays for counting only when something counts.
pub async fn record_usage<C: Conn>(
    c: &mut C,
    compiled: &CompiledRules,
    outcome: &Outcome,
    member: &MemberId,
    occurred_at: Timestamp,
) -> StepResult<()> {
    let mut counted: Vec<(&str, i64)> = Vec::new();
    for award in outcome.counted() {
        let id = award.rule.id.as_str();
        let budgeted = compiled.budgeted.iter().any(|b| b == id);
        let limited = compiled.limited.iter().any(|l| l == id);
        if !budgeted && !limited && award.grant.is_none() {
            continue;
        }
        if budgeted && !rules::spend_budget(c, id, award.points).await? {
            // The budget row was locked when usage was read, so this cannot happen; refuse
            // loudly rather than give points past a budget.
            return Err(
                StoreError::Decode(format!("rule {id}: budget changed under a lock")).into(),
            );
        }
        counted.push((id, award.points));
    }
    rules::insert_awards(c, member, &counted, occurred_at).await?;
    Ok(())
}

/// Posts the awards of `outcome`, records their usage and gives its grants. Returns the points
/// given, the balance after (`None` when nothing was given) and the grants (see
/// [`give_grants`]).
pub async fn post_awards<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    compiled: &CompiledRules,
    outcome: &Outcome,
    at: &AwardContext<'_>,
) -> StepResult<(Points, Option<Points>, Vec<serde_json::Value>)> {
    let credits = award_credits(ctx, outcome, at);
    let given = credits.iter().fold(Points::ZERO, |sum, (p, _)| sum + *p);
    let balance = crate::pending::post_credits(
        c,
        ctx,
        at.program,
        at.member,
        &credits,
        at.occurred_at,
        crate::pending::CreditTo::Available(compiled.expiry.as_ref()),
        None,
    )
    .await?;
    record_usage(c, compiled, outcome, at.member, at.occurred_at).await?;
    let grants = give_grants(
        c,
        ctx,
        at.program,
        outcome,
        at.member,
        at.purchase_id,
        at.occurred_at,
    )
    .await?;
    Ok((given, balance, grants))
}

/// Gives what the `stamp` and `reward` rules of `outcome` decided (their usage is recorded
/// with the awards): `{"rule_id", "version", "name", "stamps": …}` for stamps on a card (none
/// while the card is paused, or when its daily cap allows none), `{…, "reward": …}` for a free
/// reward.
pub async fn give_grants<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    outcome: &Outcome,
    member: &MemberId,
    purchase: Option<&PurchaseId>,
    occurred_at: Timestamp,
) -> StepResult<Vec<serde_json::Value>> {
    let mut given = Vec::new();
    if outcome.granted().next().is_none() {
        return Ok(given);
    }
    let program = programs::get_program_by_id(c, program)
        .await?
        .ok_or_else(|| StoreError::Decode(format!("program {program} is gone")))?;
    for d in outcome.granted() {
        let head =
            serde_json::json!({ "rule_id": d.rule.id, "version": d.rule.version, "name": d.name });
        let gift = match d.grant.as_ref().expect("granted decisions carry a grant") {
            tally_rules::Grant::Stamps { card } => {
                let id = tally_domain::ids::StampCardId::from_trusted(card.clone());
                let Some(row) = tally_store::queries::stamps::get_card(c, &program.tenant_id, &id)
                    .await?
                    .filter(|r| r.status == "active" && r.program_id == program.id)
                else {
                    continue;
                };
                let card = crate::stamps::Card::from_row(&row)?;
                let source = crate::stamps::Source::Rule(purchase);
                match crate::stamps::give(
                    c,
                    ctx,
                    &program,
                    &card,
                    member,
                    d.points,
                    source,
                    None,
                    Some(&d.name),
                    occurred_at,
                )
                .await?
                {
                    Some(stamps) => ("stamps", stamps),
                    None => continue,
                }
            }
            tally_rules::Grant::Reward { reward } => {
                let id = tally_domain::ids::RewardId::from_trusted(reward.clone());
                let Some(reward) =
                    tally_store::queries::rewards::get_reward(c, &program.tenant_id, &id)
                        .await?
                        .filter(|r| r.program_id == program.id)
                else {
                    continue;
                };
                let free = crate::usecases::rewards::grant_free(
                    c,
                    ctx,
                    &program.tenant_id,
                    &reward,
                    member,
                )
                .await?;
                ("reward", free)
            }
            tally_rules::Grant::Cashback => {
                let reason = TransferReason {
                    purchase_id: purchase.cloned(),
                    rule: Some(d.rule.id.clone()),
                    rule_version: Some(d.rule.version),
                    actor: Some(ctx.actor.clone()),
                    note: Some(d.name.clone()),
                    ..TransferReason::default()
                };
                if d.points == 0 {
                    continue;
                }
                let balance = crate::usecases::cashback::credit(
                    c,
                    ctx,
                    &program.id,
                    member,
                    d.points,
                    &reason,
                    occurred_at,
                )
                .await?;
                (
                    "cashback",
                    serde_json::json!({ "amount_minor": d.points, "balance_minor": balance }),
                )
            }
        };
        let mut entry = head;
        entry[gift.0] = gift.1;
        given.push(entry);
    }
    Ok(given)
}
