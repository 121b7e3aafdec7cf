//! Offers and deals: creating them, a member activating one, and what a purchase gets from them.
//!
//! A program's active offers are part of its compiled earning set-up (creating one or changing
//! its status bumps the program's rules revision), so a purchase in a program without offers
//! costs nothing more. At a purchase, each open offer whose audience includes the member and
//! whose conditions admit the purchase is used once if the member has it (activated, or an
//! automatic offer) and the limits allow: points join the purchase's own credits (pending or
//! available like them, reversed proportionally by returns); a charity deal records the
//! merchant's gift. A loyalty deal counts qualifying purchases and gives its benefit on the Nth.

use super::rewards::{check_segments, check_tiers};
use super::{load_member, load_program, require_active};
use crate::StepResult;
use crate::commands::Ctx;
use crate::usecases::admin::record;
use serde_json::{Value, json};
use tally_domain::ids::{MemberId, OfferId, ProgramId, PurchaseId, new_ulid};
use tally_domain::model::TransferReason;
use tally_domain::offers::{Activation, Benefit, OfferDoc, OfferInput, PurchaseFacts, stored_doc};
use tally_domain::{DomainError, Points, Timestamp};
use tally_store::queries::offers::{self as store, ActivationRow, OfferRow};
use tally_store::queries::{charities, locations, members, segments};
use tally_store::{Conn, StoreError};

/// An active offer as the earning set-up keeps it.
#[derive(Clone, Debug)]
pub struct ActiveOffer {
    pub id: OfferId,
    pub name: String,
    pub starts_at: Option<Timestamp>,
    pub ends_at: Option<Timestamp>,
    pub doc: OfferDoc,
}

impl ActiveOffer {
    pub fn from_row(row: &OfferRow) -> Result<ActiveOffer, StoreError> {
        Ok(ActiveOffer {
            id: row.id.clone(),
            name: row.name.clone(),
            starts_at: row.starts_at,
            ends_at: row.ends_at,
            doc: parse_definition(&row.definition)?,
        })
    }

    pub fn open_at(&self, t: Timestamp) -> bool {
        self.starts_at.is_none_or(|s| t >= s) && self.ends_at.is_none_or(|e| t < e)
    }
}

fn parse_definition(raw: &str) -> Result<OfferDoc, StoreError> {
    let value: Value =
        serde_json::from_str(raw).map_err(|e| StoreError::Decode(format!("offer: {e}")))?;
    stored_doc(&value).map_err(|e| StoreError::Decode(format!("offer: {e}")))
}

/// How an offer is shown: its definition, window, status and counters.
pub(crate) fn view(row: &OfferRow) -> Value {
    let mut v = json!({
        "id": row.id,
        "program_id": row.program_id,
        "name": row.name,
        "description": row.description,
        "status": row.status,
        "starts_at": row.starts_at,
        "ends_at": row.ends_at,
        "uses": row.uses,
        "spent": row.spent,
        "created_at": row.created_at,
    });
    if let Ok(doc) = parse_definition(&row.definition) {
        v["deal"] = doc.deal().into();
        if let (Value::Object(out), Value::Object(def)) = (&mut v, doc.to_json()) {
            out.extend(def);
        }
    }
    v
}

async fn load<C: Conn>(c: &mut C, ctx: &Ctx, id: &OfferId) -> StepResult<OfferRow> {
    store::get(c, &ctx.tenant, id)
        .await?
        .ok_or_else(|| DomainError::not_found("offer").into())
}

pub async fn create<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program_id: &ProgramId,
    input: &OfferInput,
) -> StepResult<Value> {
    let program = load_program(c, ctx, program_id).await?;
    let doc = &input.doc;
    check_tiers(c, &program, &doc.audience.tiers, "/audience/tiers").await?;
    check_segments(c, program_id, &doc.audience.segments, "/audience/segments").await?;
    let mut f = tally_domain::error::Fields::new();
    for (i, m) in doc.audience.members.iter().enumerate() {
        let found = members::get_member(c, &ctx.tenant, m).await?;
        if found.is_none_or(|m| &m.program_id != program_id) {
            f.push(
                format!("/audience/members/{i}"),
                "no member of this program has this id",
            );
        }
    }
    for (i, l) in doc.qualify.locations.iter().enumerate() {
        let found = locations::get_location(c, &ctx.tenant, l).await?;
        if found.is_none_or(|l| &l.program_id != program_id) {
            f.push(
                format!("/qualify/locations/{i}"),
                "no location of this program has this id",
            );
        }
    }
    if let Benefit::Charity { charity_id, .. } = &doc.benefit {
        let found = charities::get(c, &ctx.tenant, charity_id).await?;
        match found {
            Some(ch) if &ch.program_id == program_id && ch.status == "active" => {}
            Some(ch) if &ch.program_id == program_id => {
                f.push("/benefit/charity/charity_id", "the charity is archived")
            }
            _ => f.push(
                "/benefit/charity/charity_id",
                "no charity of this program has this id",
            ),
        }
    }
    f.finish()?;
    let row = OfferRow {
        id: OfferId::generate(),
        program_id: program_id.clone(),
        name: input.name.clone(),
        description: input.description.clone(),
        definition: doc.to_json().to_string(),
        status: "active".into(),
        starts_at: input.starts_at,
        ends_at: input.ends_at,
        max_uses: doc.limits.total_uses,
        budget: doc.limits.budget,
        uses: 0,
        spent: 0,
        created_at: ctx.now,
    };
    store::insert(c, &ctx.tenant, &row).await?;
    tally_store::queries::rules::bump_revision(c, program_id).await?;
    record(
        c,
        ctx,
        "offer.created",
        row.id.as_str(),
        json!({ "name": row.name, "deal": doc.deal() }),
    )
    .await?;
    Ok(view(&row))
}

/// `active`, `paused` (applies to nobody until resumed) or `ended` (for good).
pub async fn set_status<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    id: &OfferId,
    status: &str,
) -> StepResult<Value> {
    let row = load(c, ctx, id).await?;
    if row.status == "ended" && status != "ended" {
        return Err(
            DomainError::refused("offer_ended", "an ended offer cannot start again").into(),
        );
    }
    store::set_status(c, id, status).await?;
    tally_store::queries::rules::bump_revision(c, &row.program_id).await?;
    record(
        c,
        ctx,
        "offer.status_set",
        id.as_str(),
        json!({ "status": status }),
    )
    .await?;
    Ok(view(&load(c, ctx, id).await?))
}

/// Why a member may not have an offer now, if they may not.
pub(crate) async fn unavailable_reason<C: Conn>(
    c: &mut C,
    row: &OfferRow,
    doc: &OfferDoc,
    member: &MemberId,
    tier: Option<&str>,
    now: Timestamp,
) -> StepResult<Option<String>> {
    if row.status != "active" {
        return Ok(Some(format!("`{}` is {}", row.name, row.status)));
    }
    if row.starts_at.is_some_and(|s| now < s) {
        return Ok(Some(format!("`{}` starts later", row.name)));
    }
    if row.ends_at.is_some_and(|e| now >= e) || row.max_uses.is_some_and(|m| row.uses >= m) {
        return Ok(Some(format!("`{}` is over", row.name)));
    }
    let keys = if doc.audience.segments.is_empty() {
        Vec::new()
    } else {
        segments::keys_of_member(c, member).await?
    };
    if !doc.audience.includes(member, tier, &keys) {
        return Ok(Some(format!(
            "`{}` is not offered to this member",
            row.name
        )));
    }
    Ok(None)
}

/// A member activates ("clips") an offer. Activating it again answers the same.
pub async fn activate<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    member_id: &MemberId,
    offer_id: &OfferId,
) -> StepResult<Value> {
    let member = load_member(c, ctx, member_id).await?;
    require_active(&member)?;
    let row = store::get(c, &ctx.tenant, offer_id)
        .await?
        .filter(|o| o.program_id == member.program_id)
        .ok_or_else(|| DomainError::not_found("offer"))?;
    let doc = parse_definition(&row.definition)?;
    if doc.group.is_some() {
        return Err(DomainError::refused(
            "offer_not_activatable",
            format!("`{}` is a friend deal: start a group or join one", row.name),
        )
        .into());
    }
    if doc.activation == Activation::Automatic {
        return Err(DomainError::refused(
            "offer_not_activatable",
            format!(
                "`{}` applies by itself; there is nothing to activate",
                row.name
            ),
        )
        .into());
    }
    let program = load_program(c, ctx, &member.program_id).await?;
    let setup = crate::earning::active_rules(c, &program).await?;
    let tier = crate::tiers::current_name(c, setup.tier_plan.as_ref(), member_id).await?;
    if let Some(why) =
        unavailable_reason(c, &row, &doc, member_id, tier.as_deref(), ctx.now).await?
    {
        return Err(DomainError::refused("offer_not_available", why).into());
    }
    let new = store::activate(c, offer_id, member_id, ctx.now).await?;
    let activation = store::activations_of(c, member_id)
        .await?
        .into_iter()
        .find(|a| &a.offer_id == offer_id)
        .expect("just written");
    Ok(json!({
        "offer_id": offer_id,
        "member_id": member_id,
        "activated": true,
        "newly_activated": new,
        "activated_at": activation.activated_at,
        "uses": activation.uses,
        "uses_left": (doc.limits.per_member - activation.uses).max(0),
    }))
}

/// What the offers gave a purchase: points to credit with it, and its answer's `offers`.
#[derive(Default)]
pub(crate) struct Applied {
    pub credits: Vec<(Points, TransferReason)>,
    pub answer: Vec<Value>,
}

impl Applied {
    pub fn points(&self) -> Points {
        Points(self.credits.iter().map(|(p, _)| p.value()).sum())
    }
}

/// The purchase, as offers look at it.
pub(crate) struct OfferPurchase<'a> {
    pub id: &'a PurchaseId,
    pub order_id: &'a str,
    pub facts: PurchaseFacts<'a>,
    pub base: Points,
    pub occurred_at: Timestamp,
}

/// Uses the offers a purchase qualifies for (see the module's comment).
pub(crate) async fn apply<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    offers: &[ActiveOffer],
    member: &MemberId,
    tier: Option<&str>,
    p: &OfferPurchase<'_>,
) -> StepResult<Applied> {
    let mut applied = Applied::default();
    let candidates: Vec<&ActiveOffer> = offers
        .iter()
        .filter(|o| o.open_at(p.occurred_at) && o.doc.qualify.admits(&p.facts))
        .collect();
    if candidates.is_empty() {
        return Ok(applied);
    }
    let keys = if candidates
        .iter()
        .any(|o| !o.doc.audience.segments.is_empty())
    {
        segments::keys_of_member(c, member).await?
    } else {
        Vec::new()
    };
    let mut activations: Option<Vec<ActivationRow>> = None;
    for offer in candidates {
        let doc = &offer.doc;
        if !doc.audience.includes(member, tier, &keys) {
            continue;
        }
        if activations.is_none() {
            activations = Some(store::activations_of(c, member).await?);
        }
        let mine = activations
            .as_ref()
            .expect("just read")
            .iter()
            .find(|a| a.offer_id == offer.id);
        if doc.activation == Activation::Clip && mine.is_none() {
            continue;
        }
        if mine.is_some_and(|a| a.uses >= doc.limits.per_member) {
            continue;
        }
        if let Some(visits) = doc.qualify.visits {
            // A round counts qualifying purchases within `within_days` of its first one.
            let (count, since) = match mine.and_then(|a| a.progress_since.map(|s| (a.progress, s)))
            {
                Some((n, since))
                    if n > 0
                        && p.occurred_at
                            < since + jiff::SignedDuration::from_hours(24 * visits.within_days) =>
                {
                    (n + 1, since)
                }
                _ => (1, p.occurred_at),
            };
            if count < visits.count {
                store::set_progress(c, &offer.id, member, count, since, ctx.now).await?;
                applied.answer.push(json!({
                    "offer_id": offer.id, "name": offer.name,
                    "progress": { "count": count, "of": visits.count },
                }));
                continue;
            }
        }
        let cost = doc.benefit.cost(p.base);
        if cost == 0 {
            continue; // double points on a purchase that earned none
        }
        if !store::take_member_use(c, &offer.id, member, doc.limits.per_member, ctx.now).await? {
            continue;
        }
        if !store::take_use(c, &offer.id, cost).await? {
            store::give_back_member_use(c, &offer.id, member).await?;
            continue;
        }
        let points = doc.benefit.points(p.base);
        let (amount_minor, charity) = match &doc.benefit {
            Benefit::Charity {
                charity_id,
                amount_minor,
            } => (*amount_minor, Some(charity_id)),
            _ => (0, None),
        };
        let use_id = format!("ofu_{}", new_ulid());
        store::insert_use(
            c,
            &store::NewUse {
                id: &use_id,
                offer: &offer.id,
                member,
                purchase: p.id,
                points: points.value(),
                amount_minor,
                charity,
                at: ctx.now,
            },
        )
        .await?;
        if points.is_positive() {
            let reason = TransferReason {
                order_id: Some(p.order_id.to_owned()),
                purchase_id: Some(p.id.clone()),
                offer_id: Some(offer.id.clone()),
                actor: Some(ctx.actor.clone()),
                ..TransferReason::default()
            };
            applied.credits.push((points, reason));
        }
        applied.answer.push(json!({
            "offer_id": offer.id, "name": offer.name, "deal": doc.deal(),
            "points": points, "charity_id": charity, "amount_minor": amount_minor,
        }));
    }
    Ok(applied)
}
