//! The earning rules at work: a program's active rules, compiled once per rules revision and
//! shared by every writer and reader of this process; the facts of an event as the rules see
//! them; the usage that limits and budgets count; and the awards, posted as ledger transfers.
//!
//! Base earning (the program's rate) stays where it is; rules add to it. Each award is its own
//! `earn` transfer naming the rule and the version that gave it, so editing a rule never
//! changes what it gave before.

use crate::StepResult;
use crate::commands::Ctx;
use crate::usecases::{Guard, Posting, post};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use tally_domain::ids::{MemberId, ProgramId, PurchaseId};
use tally_domain::inputs::NewPurchase;
use tally_domain::model::{Member, TransferKind, TransferReason};
use tally_domain::program::Program;
use tally_domain::tiers::TierPlan;
use tally_domain::{Points, Timestamp};
use tally_ledger::AccountKind;
use tally_rules::{
    Event, ItemFacts, MemberFacts, Outcome, PurchaseFacts, RuleDoc, RuleRef, RuleSet, Trigger,
    Usage,
};
use tally_store::queries::{ledger, purchases, rules, tiers};
use tally_store::{Conn, StoreError};

/// A program's earning set-up beyond the base rate: its active rules, compiled, with what the
/// writer needs to know about their limits, and its tier plan.
pub struct CompiledRules {
    pub set: RuleSet,
    pub tier_plan: Option<TierPlan>,
    pub time_zone: jiff::tz::TimeZone,
    /// Rules with per-member limits: their awards are recorded and summed.
    limited: Vec<String>,
    /// Rules with a budget: the budget row is locked and spent.
    budgeted: Vec<String>,
}

type Cache = Mutex<HashMap<ProgramId, (i64, Arc<CompiledRules>)>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(Cache::default)
}

/// The program's active rules, compiled, and its tier plan. Programs that never had a rule or a
/// plan cost nothing.
pub async fn active_rules<C: Conn>(c: &mut C, program: &Program) -> StepResult<Arc<CompiledRules>> {
    if let Some((revision, compiled)) = cache().lock().expect("not poisoned").get(&program.id)
        && *revision == program.rules_revision
    {
        return Ok(compiled.clone());
    }
    let mut docs = Vec::new();
    let mut tier_plan = None;
    if program.rules_revision > 0 {
        tier_plan = tiers::get_plan(c, &program.id).await?;
        for row in rules::active_rules(c, &program.id).await? {
            let doc = RuleDoc::parse(&row.document).map_err(|e| {
                StoreError::Decode(format!("stored rule {} does not parse: {e}", row.id))
            })?;
            docs.push((
                RuleRef {
                    id: row.id.to_string(),
                    version: row.version,
                },
                doc,
            ));
        }
    }
    let mut compiled = compile(program, docs)?;
    compiled.tier_plan = tier_plan;
    let compiled = Arc::new(compiled);
    let mut cache = cache().lock().expect("not poisoned");
    if cache.len() > 10_000 {
        cache.clear(); // many programs on one node: start over rather than grow without end
    }
    cache.insert(
        program.id.clone(),
        (program.rules_revision, compiled.clone()),
    );
    Ok(compiled)
}

/// Compiles rule documents for a program (the active ones, or a draft set to simulate).
pub fn compile(program: &Program, docs: Vec<(RuleRef, RuleDoc)>) -> StepResult<CompiledRules> {
    let time_zone = jiff::tz::TimeZone::get(program.time_zone.as_str())
        .map_err(|e| StoreError::Decode(format!("program time zone {}: {e}", program.time_zone)))?;
    let limited = docs
        .iter()
        .filter(|(_, d)| d.has_limits_per_member())
        .map(|(r, _)| r.id.clone())
        .collect();
    let budgeted = docs
        .iter()
        .filter(|(_, d)| d.limits.budget.is_some())
        .map(|(r, _)| r.id.clone())
        .collect();
    Ok(CompiledRules {
        set: RuleSet::compile(docs),
        tier_plan: None,
        time_zone,
        limited,
        budgeted,
    })
}

/// What a purchase looks like to the rules. Borrowed from the request, so building it is cheap.
pub struct PurchaseView<'a> {
    items: Vec<ItemFacts<'a>>,
    p: &'a NewPurchase,
}

impl<'a> PurchaseView<'a> {
    pub fn new(p: &'a NewPurchase) -> PurchaseView<'a> {
        let items = p
            .lines
            .iter()
            .map(|l| ItemFacts {
                sku: &l.sku,
                name: l.name.as_deref(),
                category: l.category.as_deref(),
                brand: l.brand.as_deref(),
                quantity: l.quantity,
                unit_price_minor: l.unit_price_minor,
            })
            .collect();
        PurchaseView { items, p }
    }

    fn facts(&self) -> PurchaseFacts<'_> {
        PurchaseFacts {
            total_minor: self.p.total.amount_minor,
            minor_per_major: self.p.total.currency.minor_per_major(),
            currency: self.p.total.currency.code(),
            channel: self.p.channel.as_str(),
            location: self.p.location_id.as_ref().map(|l| l.as_str()),
            items: &self.items,
        }
    }
}

/// Evaluates the rules of `trigger` for a member. `lock` is true in the writer: budget rows are
/// then locked until the transaction ends, so the usage read is the usage that holds.
#[allow(clippy::too_many_arguments)]
pub async fn evaluate<C: Conn>(
    c: &mut C,
    program: &Program,
    compiled: &CompiledRules,
    trigger: Trigger,
    member: &Member,
    tier: Option<&str>,
    purchase: Option<&PurchaseView<'_>>,
    base_points: Points,
    occurred_at: Timestamp,
    lock: bool,
) -> StepResult<Outcome> {
    let mut usage: HashMap<String, Usage> = HashMap::new();
    if compiled.set.for_trigger(trigger) {
        let windows = tally_rules::windows(occurred_at, &compiled.time_zone);
        // Rules with per-member limits or a budget, of this trigger: their usage so far. In
        // the writer the member's account is locked first, so two purchases of one member on
        // two writers cannot both read the usage before either has added to it.
        let limited = compiled.set.limited(trigger);
        if lock && limited.iter().any(|r| compiled.limited.contains(&r.id)) {
            let account =
                tally_ledger::account_id(member.id.as_str(), AccountKind::MemberAvailable);
            ledger::lock_balance(c, &account).await?;
        }
        for rule in limited {
            let mut u = Usage::default();
            if compiled.limited.contains(&rule.id) {
                let sums = rules::member_usage(
                    c,
                    &rule.id,
                    &member.id,
                    &[
                        windows.day,
                        windows.week,
                        windows.month,
                        Timestamp::UNIX_EPOCH,
                    ],
                )
                .await?;
                (
                    u.member_day,
                    u.member_week,
                    u.member_month,
                    u.member_lifetime,
                ) = (sums[0], sums[1], sums[2], sums[3]);
            }
            if compiled.budgeted.contains(&rule.id) {
                u.total = if lock {
                    rules::lock_budget(c, &rule.id).await?
                } else {
                    rules::awarded_total(c, &rule.id).await?
                };
            }
            usage.insert(rule.id.clone(), u);
        }
    }
    let purchases_before = if compiled.set.for_trigger(trigger) {
        purchases::count_for_member(c, &member.id).await?
    } else {
        0
    };
    let purchase_facts = purchase.map(PurchaseView::facts);
    let event = Event {
        trigger,
        occurred_at,
        time_zone: &compiled.time_zone,
        rounding: program.earning.rounding,
        base_points: base_points.value(),
        purchase: purchase_facts,
        member: MemberFacts {
            id: member.id.as_str(),
            tier,
            tags: &member.tags,
            segments: &[],
            attributes: &member.attributes,
            enrolled_at: member.enrolled_at,
            birthday: member.birthday,
            purchases_before,
        },
    };
    Ok(compiled.set.evaluate(&event, &|r: &RuleRef| {
        usage.get(&r.id).copied().unwrap_or_default()
    }))
}

/// Why an award was given, beyond the rule: the order it came with.
pub struct AwardContext<'a> {
    pub program: &'a ProgramId,
    pub member: &'a MemberId,
    pub order_id: Option<&'a str>,
    pub purchase_id: Option<&'a PurchaseId>,
    pub occurred_at: Timestamp,
}

/// Posts each award of `outcome` as an `earn` transfer naming its rule and version, records the
/// awards that limits count, and spends budgets. Returns the points given and the balance after
/// (`None` when nothing was given).
pub async fn post_awards<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    compiled: &CompiledRules,
    outcome: &Outcome,
    at: &AwardContext<'_>,
) -> StepResult<(Points, Option<Points>)> {
    let mut given = Points::ZERO;
    let mut balance = None;
    let mut counted: Vec<(&str, i64)> = Vec::new();
    for award in outcome.awarded().filter(|d| d.points > 0) {
        let id = award.rule.id.as_str();
        if compiled.budgeted.iter().any(|b| b == id)
            && !rules::spend_budget(c, id, award.points).await?
        {
            // The budget row was locked when usage was read, so this cannot happen; refuse
            // loudly rather than give points past a budget.
            return Err(
                StoreError::Decode(format!("rule {id}: budget changed under a lock")).into(),
            );
        }
        if compiled.limited.iter().any(|l| l == id) {
            counted.push((id, award.points));
        }
        let reason = TransferReason {
            order_id: at.order_id.map(str::to_owned),
            purchase_id: at.purchase_id.cloned(),
            rule: Some(award.rule.id.clone()),
            rule_version: Some(award.rule.version),
            actor: Some(ctx.actor.clone()),
            note: Some(award.name.clone()),
            ..TransferReason::default()
        };
        let posting = Posting {
            program: at.program,
            member: at.member,
            kind: TransferKind::Earn,
            amount: Points(award.points),
            adjustment_positive: false,
            reason: &reason,
            occurred_at: at.occurred_at,
        };
        balance = post(c, ctx, &posting, Guard::MayGoNegative).await?;
        given = given + Points(award.points);
    }
    rules::insert_awards(c, at.member, &counted, at.occurred_at).await?;
    Ok((given, balance))
}

/// What a purchase earned beyond its base points.
pub struct Beyond {
    pub points: Points,
    /// The balance after the last transfer posted here (`None`: none was).
    pub balance: Option<Points>,
    /// `{"rule_id", "version", "name", "points"}` per rule that gave points.
    pub awards: Vec<serde_json::Value>,
    /// `{"name", "upgraded"}` when the program has tiers.
    pub tier: Option<serde_json::Value>,
}

/// Everything a purchase earns beyond the base rate, in order: the tier's multiplier (the tier
/// held before this purchase), the rules (which see that tier), then the upgrade this purchase
/// may bring.
#[allow(clippy::too_many_arguments)]
pub async fn earn_beyond_base<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &Program,
    member_id: &MemberId,
    p: &NewPurchase,
    purchase_id: &PurchaseId,
    base: Points,
    occurred_at: Timestamp,
) -> StepResult<Beyond> {
    let mut beyond = Beyond {
        points: Points::ZERO,
        balance: None,
        awards: Vec::new(),
        tier: None,
    };
    let compiled = active_rules(c, program).await?;
    let level = match &compiled.tier_plan {
        Some(plan) => crate::tiers::current_level(c, plan, member_id).await?.0,
        None => None,
    };
    let tier_name = level.and_then(|i| {
        let plan = compiled.tier_plan.as_ref()?;
        Some(plan.levels[i].name.as_str())
    });
    if let (Some(plan), Some(i)) = (&compiled.tier_plan, level) {
        let tier = &plan.levels[i];
        let extra =
            program
                .earning
                .rounding
                .scale(base.value(), tier.multiplier_permille - 1000, 1000);
        if extra > 0 {
            let reason = TransferReason {
                order_id: Some(p.order_id.clone()),
                purchase_id: Some(purchase_id.clone()),
                rule: Some(TIER_RULE.into()),
                actor: Some(ctx.actor.clone()),
                note: Some(format!(
                    "{} ×{}",
                    tier.name,
                    tier.multiplier_permille as f64 / 1000.0
                )),
                ..TransferReason::default()
            };
            let posting = Posting {
                program: &program.id,
                member: member_id,
                kind: TransferKind::Earn,
                amount: Points(extra),
                adjustment_positive: false,
                reason: &reason,
                occurred_at,
            };
            beyond.balance = post(c, ctx, &posting, Guard::MayGoNegative).await?;
            beyond.points = Points(extra);
        }
    }
    if compiled.set.for_trigger(Trigger::Purchase) {
        let full = crate::usecases::load_member(c, ctx, member_id).await?;
        let view = PurchaseView::new(p);
        let outcome = evaluate(
            c,
            program,
            &compiled,
            Trigger::Purchase,
            &full,
            tier_name,
            Some(&view),
            base,
            occurred_at,
            true,
        )
        .await?;
        let at = AwardContext {
            program: &program.id,
            member: member_id,
            order_id: Some(&p.order_id),
            purchase_id: Some(purchase_id),
            occurred_at,
        };
        let (given, balance) = post_awards(c, ctx, &compiled, &outcome, &at).await?;
        beyond.points = beyond.points + given;
        beyond.balance = balance.or(beyond.balance);
        beyond.awards = outcome
            .awarded()
            .filter(|d| d.points > 0)
            .map(|d| serde_json::json!({ "rule_id": d.rule.id, "version": d.rule.version, "name": d.name, "points": d.points }))
            .collect();
    }
    if let Some(plan) = &compiled.tier_plan {
        let upgraded = crate::tiers::upgrade_after_purchase(
            c,
            ctx,
            &program.id,
            plan,
            &compiled.time_zone,
            member_id,
            level,
            (p.total.amount_minor, occurred_at),
        )
        .await?;
        let name = upgraded.clone().or(tier_name.map(str::to_owned));
        beyond.tier = Some(serde_json::json!({ "name": name, "upgraded": upgraded.is_some() }));
    }
    Ok(beyond)
}

/// The name tier multipliers carry on their transfers, in place of a rule id.
pub const TIER_RULE: &str = "tier";
