//! The backtest: replay the program's real purchases (and custom events, for `event` rules) of
//! the last N days against a draft rule set and report what the drafts would have given, per
//! rule and per tier, next to what they actually earned. A read: nothing is written.
//!
//! Limits are replayed in memory from the start of the window (usage before it is not counted);
//! each member is seen with today's profile and tier (whose multiplier is counted), and with the
//! purchases they had made before each replayed one. Base points use today's rate.

use crate::earning::{self, PurchaseView};
use crate::usecases::purchases::base_points;
use crate::{CoreError, Tally};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use tally_domain::ids::{MemberId, ProgramId, TenantId};
use tally_domain::inputs::{LineInput, MemberRef, NewPurchase};
use tally_domain::model::Purchase;
use tally_domain::{Money, Timestamp};
use tally_rules::{RuleDoc, RuleRef, Trigger, Usage};
use tally_store::Database;
use tally_store::queries::{events, members, purchases};

/// Most purchases one backtest replays.
pub const MAX_PURCHASES: i64 = 100_000;

/// A stored purchase as the request that made it.
fn as_request(p: &Purchase) -> NewPurchase {
    NewPurchase {
        order_id: p.order_id.clone(),
        member: MemberRef::Id(p.member_id.clone()),
        total: Money {
            amount_minor: p.total_minor,
            currency: p.currency,
        },
        lines: p
            .lines
            .iter()
            .map(|l| LineInput {
                sku: l.sku.clone(),
                name: l.name.clone(),
                category: l.category.clone(),
                brand: l.brand.clone(),
                quantity: l.quantity,
                unit_price_minor: l.unit_price_minor,
            })
            .collect(),
        channel: p.channel,
        location_id: p.location_id.clone(),
        occurred_at: Some(p.occurred_at),
    }
}

/// What one member brings to the replay.
struct Seen {
    profile: earning::Profile,
    tier: Option<String>,
}

/// What the drafts gave so far in the replay: limits and budgets count it.
#[derive(Default)]
struct Given {
    /// (rule, member) → [(when, points)].
    awards: HashMap<(String, MemberId), Vec<(Timestamp, i64)>>,
    /// Per rule: its name, the points it gave, the purchases and the events it gave them on.
    rules: BTreeMap<String, (String, i64, i64, i64)>,
}

impl Given {
    /// A rule's usage as of `at` for `member`.
    fn usage(&self, r: &RuleRef, member: &MemberId, windows: &tally_rules::Windows) -> Usage {
        let mut u = Usage {
            total: self.rules.get(&r.id).map_or(0, |x| x.1),
            ..Usage::default()
        };
        let mine = self.awards.get(&(r.id.clone(), member.clone()));
        for (at, points) in mine.into_iter().flatten() {
            u.member_lifetime += points;
            u.member_month += if *at >= windows.month { *points } else { 0 };
            u.member_week += if *at >= windows.week { *points } else { 0 };
            u.member_day += if *at >= windows.day { *points } else { 0 };
        }
        u
    }

    /// Counts what `outcome` gave; answers its points.
    fn record(
        &mut self,
        outcome: &tally_rules::Outcome,
        member: &MemberId,
        at: Timestamp,
        event: bool,
    ) -> i64 {
        let mut given = 0;
        for d in outcome.awarded() {
            let entry = self
                .rules
                .entry(d.rule.id.clone())
                .or_insert_with(|| (d.name.clone(), 0, 0, 0));
            entry.1 += d.points;
            if event {
                entry.3 += 1;
            } else {
                entry.2 += 1;
            }
            given += d.points;
            self.awards
                .entry((d.rule.id.clone(), member.clone()))
                .or_default()
                .push((at, d.points));
        }
        given
    }
}

/// A member's profile and tier as the replay sees them: today's, with `earlier` purchases
/// taken off the count of purchases before.
async fn seen<C: tally_store::Conn>(
    c: &mut C,
    compiled: &earning::CompiledRules,
    member: &MemberId,
    earlier: i64,
) -> Result<Seen, CoreError> {
    let mut profile = members::rule_facts(c, member)
        .await?
        .map(earning::Profile::from)
        .unwrap_or_default();
    profile.purchases_before -= earlier;
    profile.segments = earning::member_segments(c, compiled, member).await?;
    let tier = crate::tiers::current_name(c, compiled.tier_plan.as_ref(), member).await?;
    Ok(Seen { profile, tier })
}

impl<D: Database> Tally<D> {
    pub async fn backtest(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
        days: i64,
        drafts: Vec<RuleDoc>,
    ) -> Result<Value, CoreError> {
        let mut c = self.read().await?;
        let program = crate::reads::program_of(&mut c, tenant, program).await?;
        let now = self.clock.now();
        let since = now - jiff::SignedDuration::from_hours(24 * days);
        let replayed =
            purchases::program_purchases_since(&mut c, &program.id, since, MAX_PURCHASES).await?;
        let compiled = earning::compile_drafts(&mut c, &program, drafts).await?;

        // Purchases each member made inside the window, to tell how many came before each one.
        let mut in_window: HashMap<&MemberId, i64> = HashMap::new();
        for p in &replayed {
            *in_window.entry(&p.member_id).or_default() += 1;
        }
        let mut seen: HashMap<MemberId, Seen> = HashMap::new();
        let mut given = Given::default();
        let mut by_tier: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        let (mut base_total, mut tier_total, mut actual_total) = (0i64, 0i64, 0i64);
        for p in &replayed {
            if !seen.contains_key(&p.member_id) {
                // Purchases before the window; those inside it are counted as the replay goes.
                let s =
                    self::seen(&mut c, &compiled, &p.member_id, in_window[&p.member_id]).await?;
                seen.insert(p.member_id.clone(), s);
            }
            let member = &seen[&p.member_id];
            let request = as_request(p);
            let base = base_points(&program, &request);
            let view = PurchaseView::new(&request);
            let windows = tally_rules::windows(p.occurred_at, &compiled.time_zone);
            let usage = |r: &RuleRef| given.usage(r, &p.member_id, &windows);
            let facts = earning::Facts {
                member: &p.member_id,
                profile: &member.profile,
                tier: member.tier.as_deref(),
                purchase: Some(&view),
                base_points: base,
                occurred_at: p.occurred_at,
            };
            let event = facts.event(&program, &compiled, Trigger::Purchase);
            let outcome = compiled.set.evaluate(&event, &usage);
            let drafted = given.record(&outcome, &p.member_id, p.occurred_at, false);
            let tier = member.tier.clone().unwrap_or_else(|| "none".into());
            let t = by_tier.entry(tier).or_default();
            t.0 += drafted;
            t.1 += 1;
            base_total += base.value();
            if let (Some(plan), Some(name)) = (&compiled.tier_plan, &member.tier)
                && let Some(level) = plan.level_named(name)
            {
                let m = plan.levels[level].multiplier_permille;
                tier_total += program.earning.rounding.scale(base.value(), m - 1000, 1000);
            }
            actual_total += p.points_earned.value();
            if let Some(member) = seen.get_mut(&p.member_id) {
                member.profile.purchases_before += 1;
            }
        }

        // Custom events, for the drafts' `event` rules, with today's profile and tier.
        let mut events_replayed = 0usize;
        let mut events_actual = 0i64;
        if compiled.set.for_trigger(Trigger::Event) {
            let stored =
                events::program_events_since(&mut c, &program.id, since, MAX_PURCHASES).await?;
            for (e, earned) in &stored {
                if !seen.contains_key(&e.member_id) {
                    let s = self::seen(&mut c, &compiled, &e.member_id, 0).await?;
                    seen.insert(e.member_id.clone(), s);
                }
                let member = &seen[&e.member_id];
                let windows = tally_rules::windows(e.occurred_at, &compiled.time_zone);
                let usage = |r: &RuleRef| given.usage(r, &e.member_id, &windows);
                let facts = earning::Facts {
                    member: &e.member_id,
                    profile: &member.profile,
                    tier: member.tier.as_deref(),
                    purchase: None,
                    base_points: tally_domain::Points::ZERO,
                    occurred_at: e.occurred_at,
                };
                let mut event = facts.event(&program, &compiled, Trigger::Event);
                event.custom = Some(tally_rules::CustomFacts {
                    event_type: &e.event_type,
                    properties: &e.properties,
                });
                let outcome = compiled.set.evaluate(&event, &usage);
                let drafted = given.record(&outcome, &e.member_id, e.occurred_at, true);
                let tier = member.tier.clone().unwrap_or_else(|| "none".into());
                by_tier.entry(tier).or_default().0 += drafted;
                events_actual += earned;
            }
            events_replayed = stored.len();
        }
        let rule_totals = &given.rules;
        let drafts_total: i64 = rule_totals.values().map(|x| x.1).sum();
        Ok(json!({
            "since": since,
            "purchases": replayed.len(),
            "truncated": replayed.len() as i64 == MAX_PURCHASES,
            "members": seen.len(),
            "events": events_replayed,
            "rules": rule_totals.iter().map(|(id, (name, points, purchases, events))| json!({
                "rule_id": id,
                "name": name,
                "points": points,
                "purchases": purchases,
                "events": events,
            })).collect::<Vec<_>>(),
            "by_tier": by_tier.iter().map(|(tier, (points, purchases))| json!({
                "tier": tier,
                "points": points,
                "purchases": purchases,
            })).collect::<Vec<_>>(),
            "would_issue": {
                "base": base_total,
                "tiers": tier_total,
                "rules": drafts_total,
                "total": base_total + tier_total + drafts_total,
            },
            "actually_issued": actual_total + events_actual,
        }))
    }
}
