//! The backtest: replay the program's real purchases of the last N days against a draft rule set
//! and report what the drafts would have given, per rule and per tier, next to what the
//! purchases actually earned. A read: nothing is written.
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
use tally_domain::{DomainError, Money, Timestamp};
use tally_rules::{RuleDoc, RuleRef, Trigger, Usage};
use tally_store::Database;
use tally_store::queries::{members, programs, purchases};

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

impl<D: Database> Tally<D> {
    pub async fn backtest(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
        days: i64,
        drafts: Vec<RuleDoc>,
    ) -> Result<Value, CoreError> {
        let mut c = self.read().await?;
        let program = programs::get_program(&mut c, tenant, program)
            .await?
            .ok_or_else(|| DomainError::not_found("program"))?;
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
        // Awards given in the replay: (rule, member) → [(when, points)], and per rule in all.
        let mut awards: HashMap<(String, MemberId), Vec<(Timestamp, i64)>> = HashMap::new();
        // Per rule: its name, the points it gave, the purchases it gave them on.
        let mut rule_totals: BTreeMap<String, (String, i64, i64)> = BTreeMap::new();
        let mut by_tier: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        let (mut base_total, mut tier_total, mut actual_total) = (0i64, 0i64, 0i64);
        for p in &replayed {
            if !seen.contains_key(&p.member_id) {
                let mut profile = members::rule_facts(&mut c, &p.member_id)
                    .await?
                    .map(earning::Profile::from)
                    .unwrap_or_default();
                // Purchases before the window; those inside it are counted as the replay goes.
                profile.purchases_before -= in_window[&p.member_id];
                let tier =
                    crate::tiers::current_name(&mut c, compiled.tier_plan.as_ref(), &p.member_id)
                        .await?;
                seen.insert(p.member_id.clone(), Seen { profile, tier });
            }
            let member = &seen[&p.member_id];
            let request = as_request(p);
            let base = base_points(&program, &request);
            let view = PurchaseView::new(&request);
            let windows = tally_rules::windows(p.occurred_at, &compiled.time_zone);
            let usage = |r: &RuleRef| {
                let mut u = Usage {
                    total: rule_totals.get(&r.id).map_or(0, |(_, points, _)| *points),
                    ..Usage::default()
                };
                let mine = awards.get(&(r.id.clone(), p.member_id.clone()));
                for (at, points) in mine.into_iter().flatten() {
                    u.member_lifetime += points;
                    u.member_month += if *at >= windows.month { *points } else { 0 };
                    u.member_week += if *at >= windows.week { *points } else { 0 };
                    u.member_day += if *at >= windows.day { *points } else { 0 };
                }
                u
            };
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
            let mut drafted = 0;
            for d in outcome.awarded().filter(|d| d.points > 0) {
                let entry = rule_totals
                    .entry(d.rule.id.clone())
                    .or_insert_with(|| (d.name.clone(), 0, 0));
                entry.1 += d.points;
                entry.2 += 1;
                drafted += d.points;
                awards
                    .entry((d.rule.id.clone(), p.member_id.clone()))
                    .or_default()
                    .push((p.occurred_at, d.points));
            }
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
        let drafts_total: i64 = rule_totals.values().map(|(_, points, _)| points).sum();
        Ok(json!({
            "since": since,
            "purchases": replayed.len(),
            "truncated": replayed.len() as i64 == MAX_PURCHASES,
            "members": seen.len(),
            "rules": rule_totals.iter().map(|(id, (name, points, awarded))| json!({
                "rule_id": id,
                "name": name,
                "points": points,
                "purchases": awarded,
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
            "actually_issued": actual_total,
        }))
    }
}
