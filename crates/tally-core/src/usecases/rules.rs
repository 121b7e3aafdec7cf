//! Earning rules: create, change (a new version), pause, archive. Every change bumps the
//! program's rules revision in the same transaction, so each node's compiled copy goes stale
//! exactly when the change commits.

use super::load_program;
use crate::StepResult;
use crate::commands::Ctx;
use crate::usecases::admin::record;
use serde_json::{Value, json};
use tally_domain::DomainError;
use tally_domain::ids::{ProgramId, RuleId};
use tally_rules::RuleDoc;
use tally_store::Conn;
use tally_store::queries::rules::{self, RuleRow};

/// What a rule can be: only active rules earn; archived is for good (kept for the history).
pub const STATUSES: &[&str] = &["active", "paused", "archived"];

pub async fn create<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    document: &Value,
    status: &str,
) -> StepResult<Value> {
    load_program(c, ctx, program).await?;
    let doc = RuleDoc::parse(document)?;
    require_declared(c, ctx, program, &doc).await?;
    let rule = RuleRow {
        id: RuleId::generate(),
        program_id: program.clone(),
        version: 1,
        status: status.to_owned(),
        document: doc.to_json(),
        awarded_total: 0,
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    rules::insert_rule(c, &ctx.tenant, &rule, doc.limits.budget, &ctx.actor).await?;
    rules::bump_revision(c, program).await?;
    record(
        c,
        ctx,
        "rule.created",
        rule.id.as_str(),
        json!({ "version": 1, "status": status }),
    )
    .await?;
    Ok(view(&rule))
}

/// A new document makes a new version; a status alone does not.
pub async fn update<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    id: &RuleId,
    document: Option<&Value>,
    status: Option<&str>,
) -> StepResult<Value> {
    let mut rule = rules::get_rule(c, &ctx.tenant, id)
        .await?
        .ok_or_else(|| DomainError::not_found("rule"))?;
    if rule.status == "archived" {
        return Err(DomainError::refused("rule_archived", "an archived rule cannot change").into());
    }
    let new_doc = document.map(RuleDoc::parse).transpose()?;
    if let Some(doc) = &new_doc {
        require_declared(c, ctx, &rule.program_id, doc).await?;
    }
    let current = match &new_doc {
        Some(doc) => doc.clone(),
        None => RuleDoc::parse(&rule.document)
            .map_err(|e| tally_store::StoreError::Decode(format!("stored rule {id}: {e}")))?,
    };
    // A paused rule resumed as it was: its event type may have been declared anew since.
    if new_doc.is_none() && status == Some("active") && rule.status != "active" {
        require_declared(c, ctx, &rule.program_id, &current).await?;
    }
    // Point awards are recorded only while a limit or a budget counts them: a version that
    // starts counting first copies from the ledger what the versions since the last counting
    // one gave, so a new limit or budget counts everything the rule gave.
    if let Some(doc) = &new_doc
        && doc.counts_awards()
        && let Some(versions) = unrecorded_versions(c, &rule).await?
    {
        rules::copy_awards_from_ledger(c, &rule.program_id, &rule.id, versions).await?;
    }
    // A budget counts everything the rule ever gave, also while it had no budget (only a
    // budgeted rule keeps its running total, so it is counted again from its awards).
    if current.limits.budget.is_some() {
        rule.awarded_total = rules::recount_awarded(c, &rule.id).await?;
    }
    if let Some(budget) = current.limits.budget
        && budget < rule.awarded_total
    {
        return Err(DomainError::invalid(
            "/limits/budget",
            format!(
                "must be at least {}, the points this rule has already given",
                rule.awarded_total
            ),
        )
        .into());
    }
    if let Some(doc) = &new_doc {
        rule.version += 1;
        rule.document = doc.to_json();
    }
    if let Some(status) = status {
        rule.status = status.to_owned();
    }
    rule.updated_at = ctx.now;
    rules::update_rule(
        c,
        &rule,
        current.limits.budget,
        new_doc.is_some(),
        &ctx.actor,
    )
    .await?;
    rules::bump_revision(c, &rule.program_id).await?;
    record(
        c,
        ctx,
        "rule.updated",
        rule.id.as_str(),
        json!({ "version": rule.version, "status": rule.status }),
    )
    .await?;
    Ok(view(&rule))
}

/// The saved versions of `rule` whose point awards are not in `rule_awards`: those after the
/// last version that counted them (a limit per member or a budget), up to the current one.
async fn unrecorded_versions<C: Conn>(
    c: &mut C,
    rule: &RuleRow,
) -> StepResult<Option<std::ops::RangeInclusive<i64>>> {
    let mut last_counting = 0;
    for saved in rules::versions(c, &rule.id).await? {
        let doc = RuleDoc::parse(&saved.document).map_err(|e| {
            tally_store::StoreError::Decode(format!("rule {} v{}: {e}", rule.id, saved.version))
        })?;
        if doc.counts_awards() {
            last_counting = saved.version;
        }
    }
    Ok((last_counting < rule.version).then_some(last_counting + 1..=rule.version))
}

/// What the rules crate is too pure to know: an event rule must name a type the program
/// declares (refused at `/event_type`) and read only its declared properties, as declared; an
/// audience must name tiers of the program's plan and keys of its active segments; a stamp or
/// reward rule must name a card or reward of the program.
async fn require_declared<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    doc: &RuleDoc,
) -> StepResult<()> {
    if let Some(name) = &doc.event_type {
        let Some(declared) =
            tally_store::queries::events::get_type(c, program, name.as_str()).await?
        else {
            let refusal =
                super::events::undeclared(c, program, "/event_type", name.as_str()).await?;
            return Err(refusal.into());
        };
        doc.check_event_properties(&declared.doc)?;
    }
    let mut f = tally_domain::error::Fields::new();
    if !doc.audience.tiers.is_empty() {
        let plan = tally_store::queries::tiers::get_plan(c, program).await?;
        for (i, tier) in doc.audience.tiers.iter().enumerate() {
            let message = match &plan {
                None => "the program has no tier plan".to_owned(),
                Some(plan) if plan.level_named(tier).is_none() => {
                    let names: Vec<&str> = plan.levels.iter().map(|l| l.name.as_str()).collect();
                    format!(
                        "no tier of this program has this name; tiers: {}",
                        names.join(", ")
                    )
                }
                Some(_) => continue,
            };
            f.push(format!("/audience/tiers/{i}"), message);
        }
    }
    // A segment that does not exist (or is archived) would keep the rule from ever applying.
    if !doc.audience.segments.is_empty() {
        let keys: Vec<String> = tally_store::queries::segments::active(c, program)
            .await?
            .into_iter()
            .map(|s| s.key)
            .collect();
        for (i, key) in doc.audience.segments.iter().enumerate() {
            if !keys.contains(key) {
                let known = if keys.is_empty() {
                    "the program has no active segments".to_string()
                } else {
                    format!("active segments: {}", keys.join(", "))
                };
                f.push(
                    format!("/audience/segments/{i}"),
                    format!("no active segment of this program has this key; {known}"),
                );
            }
        }
    }
    f.finish()?;
    // A stamp or reward rule names a card or reward of this program.
    match &doc.effect {
        tally_rules::Effect::Stamp { card, .. } => {
            let id = tally_domain::ids::StampCardId::from_trusted(card.clone());
            let found = tally_store::queries::stamps::get_card(c, &ctx.tenant, &id).await?;
            if found.is_none_or(|card| &card.program_id != program) {
                return Err(DomainError::invalid(
                    "/effect/stamp/card_id",
                    "no stamp card of this program has this id",
                )
                .into());
            }
        }
        tally_rules::Effect::Reward { reward } => {
            let id = tally_domain::ids::RewardId::from_trusted(reward.clone());
            let found = tally_store::queries::rewards::get_reward(c, &ctx.tenant, &id).await?;
            if found.is_none_or(|r| &r.program_id != program) {
                return Err(DomainError::invalid(
                    "/effect/reward/reward_id",
                    "no reward of this program has this id",
                )
                .into());
            }
        }
        _ => {}
    }
    Ok(())
}

/// A rule as the API shows it: its document's fields, with its id, version and status.
pub fn view(rule: &RuleRow) -> Value {
    let mut out = json!({
        "id": rule.id,
        "program_id": rule.program_id,
        "version": rule.version,
        "status": rule.status,
    });
    if let (Some(out), Some(doc)) = (out.as_object_mut(), rule.document.as_object()) {
        for (k, v) in doc {
            out.insert(k.clone(), v.clone());
        }
        if doc.get("limits").and_then(|l| l.get("budget")).is_some() {
            out.insert("budget_used".into(), json!(rule.awarded_total));
        }
        out.insert("created_at".into(), json!(rule.created_at));
        out.insert("updated_at".into(), json!(rule.updated_at));
    }
    out
}

/// A segment an active rule's audience names cannot be archived: the rule would never apply
/// again (a paused rule is checked when resumed).
pub(crate) async fn refuse_if_segment_used<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    key: &str,
) -> StepResult<()> {
    for (row, rule) in crate::earning::active_rule_docs(c, program).await? {
        if rule.audience.segments.iter().any(|s| s == key) {
            return Err(DomainError::invalid(
                "/status",
                format!(
                    "the active rule `{}` ({}) is for this segment; change or pause the rule first",
                    rule.name, row.id
                ),
            )
            .into());
        }
    }
    Ok(())
}
