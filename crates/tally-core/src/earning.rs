//! The earning rules at work: a program's active rules, compiled once per rules revision and
//! shared by every writer and reader of this process; the facts of an event as the rules see
//! them; the usage that limits and budgets count; and the awards, posted as ledger transfers.
//!
//! Base earning (the program's rate) stays where it is; rules add to it. Each award is its own
//! `earn` transfer naming the rule and the version that gave it, so editing a rule never
//! changes what it gave before.

use crate::StepResult;
use crate::commands::Ctx;
use crate::lots::Expiry;
use crate::pending::Credit;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use tally_domain::ids::{EventId, MemberId, ProgramId, PurchaseId};
use tally_domain::inputs::NewPurchase;
use tally_domain::model::{Member, TransferReason};
use tally_domain::program::Program;
use tally_domain::tiers::TierPlan;
use tally_domain::{Points, Timestamp};
use tally_ledger::AccountKind;
use tally_rules::{
    Event, ItemFacts, MemberFacts, Outcome, PurchaseFacts, RuleDoc, RuleRef, RuleSet, Trigger,
    Usage,
};
use tally_store::queries::{ledger, lots, members, programs, rules, tiers};
use tally_store::{Conn, StoreError};

/// A program's earning set-up beyond the base rate: its active rules, compiled, with what the
/// writer needs to know about their limits; its tier plan; its expiry policy.
pub struct CompiledRules {
    pub set: RuleSet,
    pub tier_plan: Option<TierPlan>,
    /// The expiry policy, unless points never expire.
    pub expiry: Option<Expiry>,
    pub time_zone: jiff::tz::TimeZone,
    /// Rules with per-member limits: the member's account is locked before their usage is read.
    limited: Vec<String>,
    /// Rules with a budget: the budget row is locked and spent.
    budgeted: Vec<String>,
    /// Whether some rule reads the member's profile (tags, attributes, enrolment, birthday,
    /// purchase count), so it must be loaded for an evaluation.
    pub needs_profile: bool,
    /// Active stamp cards that purchases stamp.
    pub stamp_cards: Vec<crate::stamps::Card>,
    /// The referral policy, if the program has one.
    pub referral: Option<tally_domain::referrals::ReferralPolicy>,
}

type Cache = Mutex<HashMap<ProgramId, (i64, Arc<CompiledRules>)>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(Cache::default)
}

/// The compiled set-up of a program, if this process has it for this revision.
fn cached(program: &ProgramId, revision: i64) -> Option<Arc<CompiledRules>> {
    let cache = cache().lock().expect("not poisoned");
    let (cached, compiled) = cache.get(program)?;
    (*cached == revision).then(|| compiled.clone())
}

/// The earning set-up of a program known only by id (postings outside a purchase): `None`
/// for a program that never had rules, tiers or an expiry policy, at the cost of one small
/// query; otherwise [`active_rules`].
pub async fn setup_by_id<C: Conn>(
    c: &mut C,
    program: &ProgramId,
) -> StepResult<Option<Arc<CompiledRules>>> {
    let Some(revision) = programs::rules_revision(c, program).await? else {
        return Ok(None);
    };
    if revision == 0 {
        return Ok(None);
    }
    if let Some(compiled) = cached(program, revision) {
        return Ok(Some(compiled));
    }
    let program = programs::get_program_by_id(c, program)
        .await?
        .ok_or_else(|| StoreError::Decode(format!("program {program} is gone")))?;
    Ok(Some(active_rules(c, &program).await?))
}

/// The program's active rules, compiled, its tier plan and its expiry policy. Programs that
/// never had any of them cost nothing.
pub async fn active_rules<C: Conn>(c: &mut C, program: &Program) -> StepResult<Arc<CompiledRules>> {
    if let Some(compiled) = cached(&program.id, program.rules_revision) {
        return Ok(compiled);
    }
    let mut docs = Vec::new();
    let mut tier_plan = None;
    let mut policy = None;
    let mut stamp_cards = Vec::new();
    let mut referral = None;
    if program.rules_revision > 0 {
        referral = tally_store::queries::referrals::get_policy(c, &program.id).await?;
        tier_plan = tiers::get_plan(c, &program.id).await?;
        policy = lots::get_policy(c, &program.id).await?;
        for row in tally_store::queries::stamps::active_cards(c, &program.id).await? {
            let card = crate::stamps::Card::from_row(&row)?;
            if card.doc.purchases.is_some() {
                stamp_cards.push(card);
            }
        }
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
    compiled.stamp_cards = stamp_cards;
    compiled.referral = referral;
    compiled.expiry = policy.filter(|p| !p.is_never()).map(|policy| Expiry {
        policy,
        time_zone: compiled.time_zone.clone(),
    });
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
    let needs_profile = docs.iter().any(|(_, d)| !d.audience.tags.is_empty());
    let set = RuleSet::compile(docs);
    let needs_profile = needs_profile
        || [
            "member.tags",
            "member.attributes",
            "member.days_since_enrolment",
            "member.purchases_before",
            "member.birthday_month",
            "member.is_birthday_month",
        ]
        .iter()
        .any(|path| set.reads(path));
    Ok(CompiledRules {
        set,
        needs_profile,
        tier_plan: None,
        expiry: None,
        time_zone,
        limited,
        budgeted,
        stamp_cards: Vec::new(),
        referral: None,
    })
}

/// Draft rules to try (the dry run, the backtest), named `draft_1`, `draft_2`, … in order,
/// with the program's tier plan (drafts never expire anything).
pub async fn compile_drafts<C: Conn>(
    c: &mut C,
    program: &Program,
    drafts: Vec<RuleDoc>,
) -> StepResult<CompiledRules> {
    let refs = drafts
        .into_iter()
        .enumerate()
        .map(|(i, doc)| {
            let id = format!("draft_{}", i + 1);
            (RuleRef { id, version: 0 }, doc)
        })
        .collect();
    let mut compiled = compile(program, refs)?;
    compiled.tier_plan = tiers::get_plan(c, &program.id).await?;
    Ok(compiled)
}

/// What the rules may read of a member beyond their id and tier.
#[derive(Default)]
pub struct Profile {
    pub tags: Vec<String>,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub enrolled_at: Timestamp,
    pub birthday: Option<jiff::civil::Date>,
    pub purchases_before: i64,
}

impl Profile {
    /// A member already loaded (enrolment: no purchases yet).
    pub fn of(member: &Member) -> Profile {
        Profile {
            tags: member.tags.clone(),
            attributes: member.attributes.clone(),
            enrolled_at: member.enrolled_at,
            birthday: member.birthday,
            purchases_before: 0,
        }
    }
}

/// The member's profile, in one query, when some rule reads it; empty otherwise.
pub async fn profile<C: Conn>(
    c: &mut C,
    compiled: &CompiledRules,
    member: &MemberId,
) -> StepResult<Profile> {
    if !compiled.needs_profile {
        return Ok(Profile::default());
    }
    let facts = members::rule_facts(c, member)
        .await?
        .ok_or_else(|| StoreError::Decode(format!("member {member} is gone")))?;
    Ok(Profile::from(facts))
}

impl From<members::RuleFacts> for Profile {
    fn from(facts: members::RuleFacts) -> Profile {
        Profile {
            tags: facts.tags,
            attributes: facts.attributes,
            enrolled_at: facts.enrolled_at,
            birthday: facts.birthday,
            purchases_before: facts.purchases,
        }
    }
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

    pub(crate) fn facts(&self) -> PurchaseFacts<'_> {
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

/// Everything an event is made of, borrowed.
pub struct Facts<'a> {
    pub member: &'a MemberId,
    pub profile: &'a Profile,
    pub tier: Option<&'a str>,
    pub purchase: Option<&'a PurchaseView<'a>>,
    pub base_points: Points,
    pub occurred_at: Timestamp,
}

impl<'a> Facts<'a> {
    /// The event the rules of `trigger` see.
    pub fn event(
        &self,
        program: &Program,
        compiled: &'a CompiledRules,
        trigger: Trigger,
    ) -> Event<'a> {
        Event {
            trigger,
            occurred_at: self.occurred_at,
            time_zone: &compiled.time_zone,
            rounding: program.earning.rounding,
            base_points: self.base_points.value(),
            purchase: self.purchase.map(PurchaseView::facts),
            custom: None,
            member: MemberFacts {
                id: self.member.as_str(),
                tier: self.tier,
                tags: &self.profile.tags,
                segments: &[],
                attributes: &self.profile.attributes,
                enrolled_at: self.profile.enrolled_at,
                birthday: self.profile.birthday,
                purchases_before: self.profile.purchases_before,
            },
        }
    }
}

/// Evaluates the rules of `trigger` for a member. `lock` is true in the writer: the member's
/// account and budget rows are then locked until the transaction ends, so the usage read is the
/// usage that holds.
///
/// Facts cost queries, so only what some rule reads is gathered (see [`profile`]), and the
/// usage of limited rules is read only for the rules that match. A first
/// evaluation assumes no usage; the limited rules it matched get their usage read and the rules
/// are decided again, until every limited rule that matched had its usage (a capped rule can
/// stop stopping later rules, which may be limited too).
#[allow(clippy::too_many_arguments)]
pub async fn evaluate<C: Conn>(
    c: &mut C,
    program: &Program,
    compiled: &CompiledRules,
    trigger: Trigger,
    member: &MemberId,
    profile: &Profile,
    tier: Option<&str>,
    purchase: Option<&PurchaseView<'_>>,
    base_points: Points,
    occurred_at: Timestamp,
    lock: bool,
) -> StepResult<Outcome> {
    if !compiled.set.for_trigger(trigger) {
        return Ok(Outcome::default());
    }
    let facts = Facts {
        member,
        profile,
        tier,
        purchase,
        base_points,
        occurred_at,
    };
    let event = facts.event(program, compiled, trigger);
    decide(c, compiled, &event, member, lock).await
}

/// [`evaluate`] for an event already built (a custom event carries its properties).
pub async fn decide<C: Conn>(
    c: &mut C,
    compiled: &CompiledRules,
    event: &Event<'_>,
    member: &MemberId,
    lock: bool,
) -> StepResult<Outcome> {
    let occurred_at = event.occurred_at;
    let limited: Vec<&RuleRef> = compiled.set.limited(event.trigger);
    let mut usage: HashMap<String, Usage> = HashMap::new();
    let mut locked = false;
    loop {
        let outcome = compiled.set.evaluate(event, &|r: &RuleRef| {
            usage.get(&r.id).copied().unwrap_or_default()
        });
        let unread: Vec<&RuleRef> = outcome
            .decisions
            .iter()
            // A rule that gives nothing (a per-item rule with no such item) needs no usage.
            .filter(|d| d.matched && d.uncapped_points > 0 && !usage.contains_key(&d.rule.id))
            .filter_map(|d| limited.iter().find(|r| r.id == d.rule.id).copied())
            .collect();
        if unread.is_empty() {
            return Ok(outcome);
        }
        for rule in unread {
            if lock && !locked && compiled.limited.contains(&rule.id) {
                // Two purchases of one member on two writers must not both read the usage
                // before either has added to it.
                let account =
                    tally_ledger::account_id(member.as_str(), AccountKind::MemberAvailable);
                ledger::lock_balance(c, &account).await?;
                locked = true;
            }
            let u = read_usage(c, compiled, &rule.id, member, occurred_at, lock).await?;
            usage.insert(rule.id.clone(), u);
        }
    }
}

/// A limited rule's usage: what it gave the member in each window, and in all (budgets).
async fn read_usage<C: Conn>(
    c: &mut C,
    compiled: &CompiledRules,
    rule: &str,
    member: &MemberId,
    at: Timestamp,
    lock: bool,
) -> StepResult<Usage> {
    let mut u = Usage::default();
    if compiled.limited.iter().any(|l| l == rule) {
        let w = tally_rules::windows(at, &compiled.time_zone);
        let since = [w.day, w.week, w.month, Timestamp::UNIX_EPOCH];
        let sums = rules::member_usage(c, rule, member, &since).await?;
        (
            u.member_day,
            u.member_week,
            u.member_month,
            u.member_lifetime,
        ) = (sums[0], sums[1], sums[2], sums[3]);
    }
    if compiled.budgeted.iter().any(|b| b == rule) {
        u.total = if lock {
            rules::lock_budget(c, rule).await?
        } else {
            rules::awarded_total(c, rule).await?
        };
    }
    Ok(u)
}

/// Why an award was given, beyond the rule: the order it came with.
pub struct AwardContext<'a> {
    pub program: &'a ProgramId,
    pub member: &'a MemberId,
    pub order_id: Option<&'a str>,
    pub purchase_id: Option<&'a PurchaseId>,
    /// The custom event an event rule's award came with.
    pub event_id: Option<&'a EventId>,
    pub occurred_at: Timestamp,
}

impl Beyond {
    /// The rules' decisions for the purchase, when the program has purchase rules.
    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    /// The program's referral policy.
    pub fn referral(&self) -> Option<&tally_domain::referrals::ReferralPolicy> {
        self.compiled.referral.as_ref()
    }

    /// The program's stamp cards that purchases stamp.
    pub fn stamp_cards(&self) -> &[crate::stamps::Card] {
        &self.compiled.stamp_cards
    }

    /// The program's expiry, for posting these credits.
    pub fn expiry(&self) -> Option<&Expiry> {
        self.compiled.expiry.as_ref()
    }
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

/// Records what limits and budgets count of `outcome`: spends budgets (their rows were locked
/// when usage was read) and writes every award to `rule_awards`, whether or not the rule has
/// limits today: an edit may add a limit or a budget later, and it must count what the rule
/// already gave.
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
        if compiled.budgeted.iter().any(|b| b == id)
            && !rules::spend_budget(c, id, award.points).await?
        {
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
                for _ in 1..d.points {
                    // A rule gives one reward per match; more units come only from a hand-built
                    // document, and are given all the same.
                    let extra = crate::usecases::rewards::grant_free(
                        c,
                        ctx,
                        &program.tenant_id,
                        &reward,
                        member,
                    )
                    .await?;
                    let mut entry = head.clone();
                    entry["reward"] = extra;
                    given.push(entry);
                }
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
        };
        let mut entry = head;
        entry[gift.0] = gift.1;
        given.push(entry);
    }
    Ok(given)
}

/// What a purchase earns beyond its base points, decided but not yet posted.
pub struct Beyond {
    /// The transfers to post after the base: the tier's multiplier, then each rule's award.
    pub credits: Vec<Credit>,
    /// `{"rule_id", "version", "name", "points"}` per rule that gave points.
    pub awards: Vec<serde_json::Value>,
    compiled: Arc<CompiledRules>,
    outcome: Option<Outcome>,
    level: Option<usize>,
}

impl Beyond {
    pub fn points(&self) -> Points {
        self.credits
            .iter()
            .fold(Points::ZERO, |sum, (p, _)| sum + *p)
    }
}

/// Decides everything a purchase earns beyond the base rate: the tier's multiplier (the tier
/// held before this purchase) and the rules (which see that tier). Nothing is written yet but
/// locks (usage), so the caller posts base and these credits together; then
/// [`finish_beyond_base`] records usage and the upgrade this purchase may bring.
#[allow(clippy::too_many_arguments)]
pub async fn plan_beyond_base<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &Program,
    member_id: &MemberId,
    stored_tier: Option<&str>,
    p: &NewPurchase,
    purchase_id: &PurchaseId,
    base: Points,
    occurred_at: Timestamp,
) -> StepResult<Beyond> {
    let compiled = active_rules(c, program).await?;
    let level = compiled
        .tier_plan
        .as_ref()
        .and_then(|plan| crate::tiers::level_of(plan, stored_tier));
    let mut beyond = Beyond {
        credits: Vec::new(),
        awards: Vec::new(),
        compiled: compiled.clone(),
        outcome: None,
        level,
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
            beyond.credits.push((Points(extra), reason));
        }
    }
    if compiled.set.for_trigger(Trigger::Purchase) {
        let profile = profile(c, &compiled, member_id).await?;
        let view = PurchaseView::new(p);
        let outcome = evaluate(
            c,
            program,
            &compiled,
            Trigger::Purchase,
            member_id,
            &profile,
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
            event_id: None,
            occurred_at,
        };
        beyond.credits.extend(award_credits(ctx, &outcome, &at));
        beyond.awards = outcome
            .awarded()
            .filter(|d| d.points > 0)
            .map(|d| serde_json::json!({ "rule_id": d.rule.id, "version": d.rule.version, "name": d.name, "points": d.points }))
            .collect();
        beyond.outcome = Some(outcome);
    }
    Ok(beyond)
}

/// After the credits are posted: records the usage limits count, and raises the tier when
/// this purchase reached a higher level. Answers `{"name", "upgraded"}` when the program has
/// tiers.
pub async fn finish_beyond_base<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    beyond: &Beyond,
    program: &ProgramId,
    member_id: &MemberId,
    p: &NewPurchase,
    occurred_at: Timestamp,
) -> StepResult<Option<serde_json::Value>> {
    let compiled = &beyond.compiled;
    if let Some(outcome) = &beyond.outcome {
        record_usage(c, compiled, outcome, member_id, occurred_at).await?;
    }
    let Some(plan) = &compiled.tier_plan else {
        return Ok(None);
    };
    let upgraded = crate::tiers::upgrade_after_purchase(
        c,
        ctx,
        program,
        plan,
        &compiled.time_zone,
        member_id,
        beyond.level,
        (p.total.amount_minor, occurred_at),
    )
    .await?;
    let name = upgraded
        .clone()
        .or_else(|| beyond.level.map(|i| plan.levels[i].name.clone()));
    Ok(Some(
        serde_json::json!({ "name": name, "upgraded": upgraded.is_some() }),
    ))
}

/// The name tier multipliers carry on their transfers, in place of a rule id.
pub const TIER_RULE: &str = "tier";
