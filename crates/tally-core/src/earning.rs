//! The earning rules at work: a program's active rules, compiled once per rules revision and
//! shared by every writer and reader of this process; the facts of an event as the rules see
//! them; the usage that limits and budgets count; and the awards, posted as ledger transfers.
//!
//! Base earning (the program's rate) stays where it is; rules add to it. Each award is its own
//! `earn` transfer naming the rule and the version that gave it, so editing a rule never
//! changes what it gave before.

use crate::StepResult;
use crate::lots::Expiry;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use tally_domain::ids::{MemberId, ProgramId};
use tally_domain::inputs::NewPurchase;
use tally_domain::model::Member;
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
    pub(crate) limited: Vec<String>,
    /// Rules with a budget: the budget row is locked and spent.
    pub(crate) budgeted: Vec<String>,
    /// Whether some rule reads the member's profile (tags, attributes, enrolment, birthday,
    /// purchase count), so it must be loaded for an evaluation.
    pub needs_profile: bool,
    /// Whether some rule's audience names segments or a condition reads `member.segments`.
    pub needs_segments: bool,
    /// Active stamp cards that purchases stamp.
    pub stamp_cards: Vec<crate::stamps::Card>,
    /// The referral policy, if the program has one.
    pub referral: Option<tally_domain::referrals::ReferralPolicy>,
    /// Active offers and deals (`usecases::offers`).
    pub offers: Vec<crate::usecases::offers::ActiveOffer>,
    /// Active journeys, which purchases, enrolments and events may start.
    pub journeys: Vec<crate::usecases::journeys::ActiveJourney>,
    /// Active webhook endpoints, to which events are published.
    pub webhooks: Vec<crate::usecases::webhooks::ActiveEndpoint>,
}

type Cache = Mutex<HashMap<ProgramId, (i64, Arc<CompiledRules>)>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(Cache::default)
}

/// Empties the cache. The writer calls it before it rolls anything back: a command may have
/// cached the set-up of a revision it wrote itself, and once that is undone the same revision
/// number will be written again with other content (new rule ids, say).
pub(crate) fn forget_uncommitted() {
    cache().lock().expect("not poisoned").clear();
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
    let mut offers = Vec::new();
    let mut journeys = Vec::new();
    let mut webhooks = Vec::new();
    if program.rules_revision > 0 {
        for row in tally_store::queries::webhooks::active_endpoints(c, &program.id).await? {
            webhooks.push(crate::usecases::webhooks::ActiveEndpoint::from_row(&row));
        }
        for row in tally_store::queries::journeys::active(c, &program.id).await? {
            journeys.push(crate::usecases::journeys::ActiveJourney::from_row(&row)?);
        }
        for row in tally_store::queries::offers::active(c, &program.id).await? {
            offers.push(crate::usecases::offers::ActiveOffer::from_row(&row)?);
        }
        referral = tally_store::queries::referrals::get_policy(c, &program.id).await?;
        tier_plan = tiers::get_plan(c, &program.id).await?;
        policy = lots::get_policy(c, &program.id).await?;
        for row in tally_store::queries::stamps::active_cards(c, &program.id).await? {
            let card = crate::stamps::Card::from_row(&row)?;
            if card.doc.purchases.is_some() {
                stamp_cards.push(card);
            }
        }
        for (row, doc) in active_rule_docs(c, &program.id).await? {
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
    compiled.offers = offers;
    compiled.journeys = journeys;
    compiled.webhooks = webhooks;
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

/// The program's active rules with their documents parsed (a stored document always parsed
/// when it was saved, so one that does not is a decode error).
pub(crate) async fn active_rule_docs<C: Conn>(
    c: &mut C,
    program: &ProgramId,
) -> StepResult<Vec<(rules::RuleRow, RuleDoc)>> {
    let mut out = Vec::new();
    for row in rules::active_rules(c, program).await? {
        let doc = RuleDoc::parse(&row.document).map_err(|e| {
            StoreError::Decode(format!("stored rule {} does not parse: {e}", row.id))
        })?;
        out.push((row, doc));
    }
    Ok(out)
}

/// The program's time zone (a stored name that no longer resolves is a decode error).
pub fn zone(program: &Program) -> Result<jiff::tz::TimeZone, StoreError> {
    jiff::tz::TimeZone::get(program.time_zone.as_str())
        .map_err(|e| StoreError::Decode(format!("program time zone {}: {e}", program.time_zone)))
}

/// Compiles rule documents for a program (the active ones, or a draft set to simulate).
pub fn compile(program: &Program, docs: Vec<(RuleRef, RuleDoc)>) -> StepResult<CompiledRules> {
    let time_zone = zone(program)?;
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
    let segment_audience = docs.iter().any(|(_, d)| !d.audience.segments.is_empty());
    let set = RuleSet::compile(docs);
    let needs_segments = segment_audience || set.reads("member.segments");
    let needs_profile = needs_profile
        || needs_segments
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
        needs_segments,
        tier_plan: None,
        expiry: None,
        time_zone,
        limited,
        budgeted,
        stamp_cards: Vec::new(),
        referral: None,
        offers: Vec::new(),
        journeys: Vec::new(),
        webhooks: Vec::new(),
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
    /// The keys of the segments the member is in, when some rule reads them (see
    /// [`member_segments`]).
    pub segments: Vec<String>,
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
            segments: Vec::new(),
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
    let mut profile = Profile::from(facts);
    profile.segments = member_segments(c, compiled, member).await?;
    Ok(profile)
}

/// The keys of the active segments the member is in, when some rule's audience names a
/// segment or a condition reads `member.segments`; empty otherwise (one query saved).
pub async fn member_segments<C: Conn>(
    c: &mut C,
    compiled: &CompiledRules,
    member: &MemberId,
) -> StepResult<Vec<String>> {
    if !compiled.needs_segments {
        return Ok(Vec::new());
    }
    Ok(tally_store::queries::segments::keys_of_member(c, member).await?)
}

impl From<members::RuleFacts> for Profile {
    fn from(facts: members::RuleFacts) -> Profile {
        Profile {
            tags: facts.tags,
            segments: Vec::new(),
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
                segments: &self.profile.segments,
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
