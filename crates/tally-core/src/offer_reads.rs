//! Offer reads: a program's offers, one offer, the offers a member can have, and an offer's
//! report.

use crate::reads::{found, member_of, program_of};
use crate::usecases::offers::{unavailable_reason, view};
use crate::{CoreError, Tally};
use serde_json::{Value, json};
use tally_domain::ids::{MemberId, OfferId, ProgramId, TenantId};
use tally_domain::offers::{Activation, Benefit, stored_doc};
use tally_store::Database;
use tally_store::queries::offers::{self as store, AudienceFilter, GroupFigures};
use tally_store::queries::{Page, charities, programs};

fn decode_doc(raw: &str) -> Result<tally_domain::offers::OfferDoc, CoreError> {
    let value: Value = serde_json::from_str(raw)
        .map_err(|e| tally_store::StoreError::Decode(format!("offer: {e}")))?;
    Ok(stored_doc(&value)?)
}

/// A group's figures with its averages per member.
fn group(g: &GroupFigures) -> Value {
    let per = |n: i64| {
        if g.members == 0 {
            Value::Null
        } else {
            json!((n as f64 / g.members as f64 * 100.0).round() / 100.0)
        }
    };
    json!({
        "members": g.members,
        "purchases": g.purchases,
        "revenue_minor": g.revenue_minor,
        "purchases_per_member": per(g.purchases),
        "revenue_per_member_minor": per(g.revenue_minor),
    })
}

impl<D: Database> Tally<D> {
    pub async fn offers(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
        cursor: Option<i64>,
        limit: Option<i64>,
    ) -> Result<Page<Value>, CoreError> {
        let mut c = self.read().await?;
        program_of(&mut c, tenant, program).await?;
        let page = store::list(&mut c, program, cursor, limit).await?;
        Ok(Page {
            items: page.items.iter().map(view).collect(),
            next_cursor: page.next_cursor,
        })
    }

    pub async fn offer(&self, tenant: &TenantId, id: &OfferId) -> Result<Value, CoreError> {
        let row = found(
            store::get(&mut self.read().await?, tenant, id).await?,
            "offer",
        )?;
        Ok(view(&row))
    }

    /// The offers a member can have now, with their state for the member:
    /// `{"items": [{"offer_id", "name", "description", "deal", "benefit", "activation",
    /// "ends_at", "activated", "uses", "uses_left", "progress"?, "charity_name"?}]}`.
    pub async fn member_offers(
        &self,
        tenant: &TenantId,
        member: &MemberId,
    ) -> Result<Value, CoreError> {
        let now = self.clock.now();
        let mut c = self.read().await?;
        let m = member_of(&mut c, tenant, member).await?;
        let program = program_of(&mut c, tenant, &m.program_id).await?;
        let setup = crate::earning::active_rules(&mut c, &program).await?;
        let tier = crate::tiers::current_name(&mut c, setup.tier_plan.as_ref(), member).await?;
        let activations = store::activations_of(&mut c, member).await?;
        let mut items = Vec::new();
        for row in store::active(&mut c, &m.program_id).await? {
            let doc = decode_doc(&row.definition)?;
            let reason =
                unavailable_reason(&mut c, &row, &doc, member, tier.as_deref(), now).await?;
            if reason.is_some() {
                continue;
            }
            let mine = activations.iter().find(|a| a.offer_id == row.id);
            let uses = mine.map_or(0, |a| a.uses);
            let charity_name = match &doc.benefit {
                Benefit::Charity { charity_id, .. } => charities::get(&mut c, tenant, charity_id)
                    .await?
                    .map(|ch| ch.name),
                _ => None,
            };
            let def = doc.to_json();
            items.push(json!({
                "offer_id": row.id,
                "name": row.name,
                "description": row.description,
                "deal": doc.deal(),
                "benefit": def["benefit"],
                "qualify": def["qualify"],
                "activation": doc.activation.as_str(),
                "ends_at": row.ends_at,
                "activated": doc.activation == Activation::Automatic || mine.is_some(),
                "activated_at": mine.map(|a| a.activated_at),
                "uses": uses,
                "uses_left": (doc.limits.per_member - uses).max(0),
                "progress": doc.qualify.visits.map(|v| json!({
                    "count": mine.map_or(0, |a| a.progress), "of": v.count,
                    "within_days": v.within_days,
                })),
                "charity_name": charity_name,
                "group": match doc.group {
                    Some(_) => tally_store::queries::offer_groups::of_member(&mut c, &row.id, member, now)
                        .await?
                        .map(|g| crate::usecases::offer_groups::view(&g)),
                    None => None,
                },
                "group_size": doc.group.map(|g| g.size),
            }));
        }
        Ok(json!({ "items": items }))
    }

    /// A friend deal's group by its code, for the page its share link opens: `{"group",
    /// "offer_name", "program_id", "open"}` (`open`: it takes members now).
    pub async fn offer_group(&self, code: &str) -> Result<Option<Value>, CoreError> {
        let now = self.clock.now();
        let mut c = self.read().await?;
        let code = code.trim().to_ascii_uppercase();
        let Some(g) = tally_store::queries::offer_groups::by_code(&mut c, &code).await? else {
            return Ok(None);
        };
        let name = tally_store::queries::offer_groups::offer_name(&mut c, &g.offer_id).await?;
        let open = g.unlocked_at.is_none() && g.joined < g.size && g.expires_at > now;
        Ok(Some(json!({
            "group": crate::usecases::offer_groups::view(&g),
            "offer_name": name,
            "program_id": g.program_id,
            "open": open,
        })))
    }

    /// What an offer did: activations, uses and their cost, and the purchases in its window of
    /// the audience's members who took it next to those who did not. The comparison is
    /// observational (members chose to activate), so it shows association, not proof.
    pub async fn offer_report(&self, tenant: &TenantId, id: &OfferId) -> Result<Value, CoreError> {
        let now = self.clock.now();
        let mut c = self.read().await?;
        let row = found(store::get(&mut c, tenant, id).await?, "offer")?;
        let doc = decode_doc(&row.definition)?;
        let display = programs::get_display(&mut c, &row.program_id).await?;
        let uses = store::use_figures(&mut c, id).await?;
        let from = row.starts_at.unwrap_or(row.created_at);
        let until = row.ends_at.map_or(now, |e| e.min(now)).max(from);
        let (users, others) = store::compare_groups(
            &mut c,
            &AudienceFilter {
                program: &row.program_id,
                offer: id,
                tiers: &doc.audience.tiers,
                segments: &doc.audience.segments,
                members: &doc.audience.members,
                from,
                until,
            },
        )
        .await?;
        let points_minor = tally_domain::charities::amount_minor(
            tally_domain::Points(uses.points),
            display.point_value_milli,
        );
        Ok(json!({
            "offer": view(&row),
            "window": { "from": from, "until": until },
            "activations": uses.activations,
            "uses": row.uses,
            "members_used": uses.members_used,
            "points_given": uses.points,
            "charity_minor": uses.amount_minor,
            "cost_minor": points_minor + uses.amount_minor,
            "budget_left": row.budget.map(|b| b - row.spent),
            "users": group(&users),
            "non_users": group(&others),
        }))
    }
}
