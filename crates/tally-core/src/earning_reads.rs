//! Reads of earning rules, tiers and expiry, and the dry run: what a purchase would earn, and by which rules,
//! under the active rules or a draft set. Nothing is written.

use crate::earning::{self, PurchaseView};
use crate::tiers::TierStatus;
use crate::usecases::purchases::base_points;
use crate::{CoreError, Tally};
use serde_json::{Value, json};
use tally_domain::DomainError;
use tally_domain::events::NewEvent;
use tally_domain::expiry::ExpiryPolicy;
use tally_domain::ids::{MemberId, ProgramId, RuleId, TenantId};
use tally_domain::inputs::{MemberRef, NewPurchase, NewReturn};
use tally_rules::{RuleDoc, Trigger};
use tally_store::Database;
use tally_store::queries::members::{self, MemberKey};
use tally_store::queries::rules::{self, RuleVersion};
use tally_store::queries::tiers::TierChange;
use tally_store::queries::{Page, events, lots, purchases, tiers};

use crate::reads::{member_of, program_of};

impl<D: Database> Tally<D> {
    /// The program's rules as the API shows them (see `usecases::rules::view`).
    pub async fn rules(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
        cursor: Option<i64>,
        limit: Option<i64>,
    ) -> Result<Page<Value>, CoreError> {
        let mut c = self.read().await?;
        program_of(&mut c, tenant, program).await?;
        let page = rules::list_rules(&mut c, tenant, program, cursor, limit).await?;
        Ok(Page {
            items: page
                .items
                .iter()
                .map(crate::usecases::rules::view)
                .collect(),
            next_cursor: page.next_cursor,
        })
    }

    pub async fn rule(&self, tenant: &TenantId, id: &RuleId) -> Result<Value, CoreError> {
        let rule = rules::get_rule(&mut self.read().await?, tenant, id)
            .await?
            .ok_or_else(|| DomainError::not_found("rule"))?;
        Ok(crate::usecases::rules::view(&rule))
    }

    /// Every version of a rule, oldest first.
    pub async fn rule_versions(
        &self,
        tenant: &TenantId,
        id: &RuleId,
    ) -> Result<Vec<RuleVersion>, CoreError> {
        let mut c = self.read().await?;
        rules::get_rule(&mut c, tenant, id)
            .await?
            .ok_or_else(|| DomainError::not_found("rule"))?;
        Ok(rules::versions(&mut c, id).await?)
    }

    /// What `purchase` would earn now: base points and each rule's decision, with the usage
    /// limits count as it stands. `drafts` replaces the active rules (to try rules before
    /// switching them on).
    pub async fn simulate_purchase(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
        purchase: &NewPurchase,
        drafts: Option<Vec<RuleDoc>>,
    ) -> Result<Value, CoreError> {
        let mut c = self.read().await?;
        let program = program_of(&mut c, tenant, program).await?;
        if purchase.total.currency != program.currency {
            return Err(DomainError::invalid(
                "/purchase/total/currency",
                format!("must be {}, the program's currency", program.currency),
            )
            .into());
        }
        let (key, pointer) = match &purchase.member {
            MemberRef::Id(id) => (MemberKey::Id(id), "/purchase/member/id"),
            MemberRef::ExternalId(x) => (MemberKey::ExternalId(x), "/purchase/member/external_id"),
            MemberRef::CardNumber(x) => (MemberKey::CardNumber(x), "/purchase/member/card_number"),
        };
        let member_id = members::find_member_id(&mut c, tenant, &program.id, key)
            .await?
            .ok_or_else(|| DomainError::invalid(pointer, "no member of this program has it"))?;
        let member = member_of(&mut c, tenant, &member_id).await?;
        let compiled = match drafts {
            Some(docs) => {
                std::sync::Arc::new(earning::compile_drafts(&mut c, &program, docs).await?)
            }
            None => earning::active_rules(&mut c, &program).await?,
        };
        let level =
            crate::tiers::current_name(&mut c, compiled.tier_plan.as_ref(), &member.id).await?;
        let profile = earning::profile(&mut c, &compiled, &member.id).await?;
        let base = base_points(&program, purchase);
        let view = PurchaseView::new(purchase);
        let occurred_at = purchase.occurred_at.unwrap_or_else(|| self.clock.now());
        let outcome = earning::evaluate(
            &mut c,
            &program,
            &compiled,
            Trigger::Purchase,
            &member.id,
            &profile,
            level.as_deref(),
            Some(&view),
            base,
            occurred_at,
            false,
        )
        .await?;
        Ok(json!({
            "member_id": member.id,
            "base_points": base,
            "rule_points": outcome.total_points(),
            "points_earned": base.value() + outcome.total_points(),
            "rules": decisions(&outcome),
        }))
    }

    /// What a return would give now by the rules with trigger `return` (mistakes named under
    /// `/return`): the points it would take back and each rule's decision. `drafts` replaces
    /// the active rules. Nothing is written.
    pub async fn simulate_return(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
        r: &NewReturn,
        drafts: Option<Vec<RuleDoc>>,
    ) -> Result<Value, CoreError> {
        let mut c = self.read().await?;
        let program = program_of(&mut c, tenant, program).await?;
        let purchase = purchases::get_purchase_by_order(&mut c, tenant, &program.id, &r.order_id)
            .await?
            .ok_or_else(|| {
                DomainError::invalid(
                    "/return/order_id",
                    "no purchase of this program has this order id",
                )
            })?;
        let (amount, line_returns) = crate::usecases::returns::what_comes_back(&purchase, &r.scope)
            .map_err(|e| under("/return", e))?;
        let reversal = tally_ledger::reversal_for_return(
            purchase.points_earned,
            purchase.points_reversed,
            purchase.total_minor,
            purchase.returned_minor + amount,
        );
        let occurred_at = r.occurred_at.unwrap_or_else(|| self.clock.now());
        let compiled = match drafts {
            Some(docs) => {
                std::sync::Arc::new(earning::compile_drafts(&mut c, &program, docs).await?)
            }
            None => earning::active_rules(&mut c, &program).await?,
        };
        let outcome = crate::usecases::returns::decide_return_rules(
            &mut c,
            &program,
            &compiled,
            &purchase,
            (&line_returns, amount),
            reversal,
            occurred_at,
            false,
        )
        .await?;
        Ok(json!({
            "member_id": purchase.member_id,
            "returned_minor": amount,
            "points_reversed": reversal,
            "points_earned": outcome.total_points(),
            "rules": decisions(&outcome),
        }))
    }

    /// What a custom event would earn now, and by which rules: its type must be declared and
    /// its properties valid (mistakes named under `/event`). `drafts` replaces the active rules.
    pub async fn simulate_event(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
        e: &NewEvent,
        drafts: Option<Vec<RuleDoc>>,
    ) -> Result<Value, CoreError> {
        let mut c = self.read().await?;
        let program = program_of(&mut c, tenant, program).await?;
        let Some(event_type) = events::get_type(&mut c, &program.id, e.event_type.as_str()).await?
        else {
            let refusal = crate::usecases::events::undeclared(
                &mut c,
                &program.id,
                "/event/type",
                e.event_type.as_str(),
            )
            .await?;
            return Err(refusal.into());
        };
        let properties = event_type
            .doc
            .validate_properties(&Value::Object(e.properties.clone()))
            .map_err(|err| under("/event", err))?;
        let (key, pointer) = match &e.member {
            MemberRef::Id(id) => (MemberKey::Id(id), "/event/member/id"),
            MemberRef::ExternalId(x) => (MemberKey::ExternalId(x), "/event/member/external_id"),
            MemberRef::CardNumber(x) => (MemberKey::CardNumber(x), "/event/member/card_number"),
        };
        let member_id = members::find_member_id(&mut c, tenant, &program.id, key)
            .await?
            .ok_or_else(|| DomainError::invalid(pointer, "no member of this program has it"))?;
        let compiled = match drafts {
            Some(docs) => {
                std::sync::Arc::new(earning::compile_drafts(&mut c, &program, docs).await?)
            }
            None => earning::active_rules(&mut c, &program).await?,
        };
        let tier =
            crate::tiers::current_name(&mut c, compiled.tier_plan.as_ref(), &member_id).await?;
        let profile = earning::profile(&mut c, &compiled, &member_id).await?;
        let facts = earning::Facts {
            member: &member_id,
            profile: &profile,
            tier: tier.as_deref(),
            purchase: None,
            base_points: tally_domain::Points::ZERO,
            occurred_at: e.occurred_at.unwrap_or_else(|| self.clock.now()),
        };
        let mut event = facts.event(&program, &compiled, Trigger::Event);
        event.custom = Some(tally_rules::CustomFacts {
            event_type: e.event_type.as_str(),
            properties: &properties,
        });
        let outcome = earning::decide(&mut c, &compiled, &event, &member_id, false).await?;
        Ok(json!({
            "member_id": member_id,
            "points_earned": outcome.total_points(),
            "rules": decisions(&outcome),
        }))
    }
}

/// Each rule's decision as the dry run shows it; a stamp or reward rule says what it grants.
fn decisions(outcome: &tally_rules::Outcome) -> Vec<Value> {
    outcome
        .decisions
        .iter()
        .map(|d| {
            let mut v = json!({
                "rule_id": d.rule.id,
                "version": d.rule.version,
                "name": d.name,
                "matched": d.matched,
                "points": d.points,
                "uncapped_points": d.uncapped_points,
                "capped_by": d.capped_by,
                "why": d.why,
            });
            match &d.grant {
                Some(tally_rules::Grant::Stamps { card }) => {
                    v["points"] = json!(0);
                    v["grant"] = json!({ "stamps": d.points, "card_id": card });
                }
                Some(tally_rules::Grant::Reward { reward }) => {
                    v["points"] = json!(0);
                    v["grant"] = json!({ "rewards": d.points, "reward_id": reward });
                }
                Some(tally_rules::Grant::Cashback) => {
                    v["points"] = json!(0);
                    v["grant"] = json!({ "cashback_minor": d.points });
                }
                None => {}
            }
            v
        })
        .collect()
}

impl<D: Database> Tally<D> {
    /// The program's tier plan (404 when it has none).
    pub async fn tier_plan(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
    ) -> Result<Value, CoreError> {
        let mut c = self.read().await?;
        program_of(&mut c, tenant, program).await?;
        let plan = tiers::get_plan(&mut c, program)
            .await?
            .ok_or_else(|| DomainError::not_found("tier plan"))?;
        Ok(plan.to_json())
    }

    /// A member's tier, qualifying value and what the next level needs; `None` when the
    /// program has no tiers.
    pub async fn member_tier(
        &self,
        tenant: &TenantId,
        member: &MemberId,
    ) -> Result<Option<TierStatus>, CoreError> {
        let mut c = self.read().await?;
        let member = member_of(&mut c, tenant, member).await?;
        let program = program_of(&mut c, tenant, &member.program_id).await?;
        let compiled = earning::active_rules(&mut c, &program).await?;
        let Some(plan) = compiled.tier_plan.as_ref() else {
            return Ok(None);
        };
        let status = crate::tiers::status(
            &mut c,
            plan,
            &compiled.time_zone,
            &member.id,
            self.clock.now(),
        )
        .await?;
        Ok(Some(status))
    }

    /// The changes of a member's tier, oldest first.
    pub async fn member_tier_history(
        &self,
        tenant: &TenantId,
        member: &MemberId,
        cursor: Option<i64>,
        limit: Option<i64>,
    ) -> Result<Page<TierChange>, CoreError> {
        let mut c = self.read().await?;
        member_of(&mut c, tenant, member).await?;
        Ok(tiers::changes(&mut c, member, cursor, limit).await?)
    }
}

impl<D: Database> Tally<D> {
    /// The program's expiry policy (`never` when none was set).
    pub async fn expiry_policy(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
    ) -> Result<Value, CoreError> {
        let mut c = self.read().await?;
        program_of(&mut c, tenant, program).await?;
        let policy = lots::get_policy(&mut c, program).await?;
        Ok(policy.unwrap_or(ExpiryPolicy::Never).to_json())
    }

    /// What of a member's points expires when, soonest first: `[{"expires_at", "points"}]`.
    pub async fn upcoming_expiries(
        &self,
        tenant: &TenantId,
        member: &MemberId,
    ) -> Result<Vec<Value>, CoreError> {
        let mut c = self.read().await?;
        member_of(&mut c, tenant, member).await?;
        Ok(lots::upcoming(&mut c, member)
            .await?
            .into_iter()
            .map(|(at, points)| json!({ "expires_at": at, "points": points }))
            .collect())
    }

    /// When the member's pending points become available: `{"available_at", "points"}`,
    /// soonest first.
    pub async fn upcoming_releases(
        &self,
        tenant: &TenantId,
        member: &MemberId,
    ) -> Result<Vec<Value>, CoreError> {
        let mut c = self.read().await?;
        member_of(&mut c, tenant, member).await?;
        Ok(tally_store::queries::pending::upcoming(&mut c, member)
            .await?
            .into_iter()
            .map(|(at, points)| json!({ "available_at": at, "points": points }))
            .collect())
    }
}

/// A refusal of part of a request body, with its pointers under `prefix` (`/event/...`).
fn under(prefix: &str, e: DomainError) -> DomainError {
    match e {
        DomainError::Invalid { fields } => DomainError::Invalid {
            fields: fields
                .into_iter()
                .map(|mut f| {
                    f.pointer = format!("{prefix}{}", f.pointer);
                    f
                })
                .collect(),
        },
        other => other,
    }
}
