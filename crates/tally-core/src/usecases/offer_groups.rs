//! Friend deals: an offer with a `group` (size, hours) is not clipped alone. A member starts a
//! group and shares its code; members of the same program join it; when the group is full within
//! its window, the offer is activated for every one of them (and applies at their next
//! qualifying purchase, like any clipped offer).
//!
//! Abuse rules as for referrals: one group per member per offer at a time, and nobody joins a
//! group holding the same person, email or phone. Places are a conditional write on the
//! group's counter, so concurrent joins never overfill it.

use super::offers::unavailable_reason;
use super::{load_member, load_program, require_active};
use crate::StepResult;
use crate::commands::Ctx;
use serde_json::{Value, json};
use tally_domain::DomainError;
use tally_domain::ids::{MemberId, OfferId, new_ulid};
use tally_domain::offers::{OfferDoc, stored_doc};
use tally_store::Conn;
use tally_store::queries::offer_groups::{self as store, GroupRow};
use tally_store::queries::offers;

/// How a group is shown.
pub(crate) fn view(g: &GroupRow) -> Value {
    json!({
        "id": g.id,
        "offer_id": g.offer_id,
        "code": g.code,
        "size": g.size,
        "joined": g.joined,
        "expires_at": g.expires_at,
        "unlocked": g.unlocked_at.is_some(),
        "unlocked_at": g.unlocked_at,
    })
}

fn refused(detail: impl Into<String>) -> crate::StepError {
    DomainError::refused("friend_group_refused", detail).into()
}

/// The offer as a member of `member`'s program may have it, with its group rule.
async fn group_offer<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    member: &MemberId,
    offer: &OfferId,
) -> StepResult<(offers::OfferRow, OfferDoc, tally_domain::offers::Group)> {
    let m = load_member(c, ctx, member).await?;
    require_active(&m)?;
    let row = offers::get(c, &ctx.tenant, offer)
        .await?
        .filter(|o| o.program_id == m.program_id)
        .ok_or_else(|| DomainError::not_found("offer"))?;
    let value: Value = serde_json::from_str(&row.definition)
        .map_err(|e| tally_store::StoreError::Decode(e.to_string()))?;
    let doc = stored_doc(&value)?;
    let Some(group) = doc.group else {
        return Err(DomainError::refused(
            "offer_not_activatable",
            format!("`{}` is not a friend deal", row.name),
        )
        .into());
    };
    let program = load_program(c, ctx, &m.program_id).await?;
    let setup = crate::earning::active_rules(c, &program).await?;
    let tier = crate::tiers::current_name(c, setup.tier_plan.as_ref(), member).await?;
    if let Some(why) = unavailable_reason(c, &row, &doc, member, tier.as_deref(), ctx.now).await? {
        return Err(DomainError::refused("offer_not_available", why).into());
    }
    Ok((row, doc, group))
}

/// Starts a group for a friend deal (or answers the member's group that still counts).
pub async fn start<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    member: &MemberId,
    offer: &OfferId,
) -> StepResult<Value> {
    let (row, _, group) = group_offer(c, ctx, member, offer).await?;
    if let Some(existing) = store::of_member(c, offer, member, ctx.now).await? {
        return Ok(view(&existing));
    }
    let g = GroupRow {
        id: format!("ogr_{}", new_ulid()),
        offer_id: row.id.clone(),
        program_id: row.program_id.clone(),
        initiator: member.clone(),
        code: crate::secrets::random_code(10),
        size: group.size,
        joined: 1,
        created_at: ctx.now,
        expires_at: ctx.now + jiff::SignedDuration::from_hours(group.within_hours),
        unlocked_at: None,
    };
    store::insert(c, &g).await?;
    Ok(view(&g))
}

/// A member joins the group with this code; the last place unlocks the offer for everyone in it.
pub async fn join<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    member: &MemberId,
    code: &str,
) -> StepResult<Value> {
    let g = store::by_code(c, &code.trim().to_ascii_uppercase())
        .await?
        .ok_or_else(|| DomainError::not_found("group"))?;
    let m = load_member(c, ctx, member).await?;
    if m.program_id != g.program_id {
        return Err(DomainError::not_found("group").into());
    }
    group_offer(c, ctx, member, &g.offer_id).await?;
    if let Some(mine) = store::of_member(c, &g.offer_id, member, ctx.now).await? {
        if mine.id == g.id {
            return Ok(view(&mine));
        }
        return Err(refused("the member is already in a group for this offer"));
    }
    if store::has_lookalike(c, &g.id, member).await? {
        return Err(refused(
            "someone in the group is the same person, or has the same email or phone",
        ));
    }
    if !store::take_place(c, &g.id, ctx.now).await? {
        let why = if g.unlocked_at.is_some() || g.joined >= g.size {
            "the group is full"
        } else {
            "the group's time is over"
        };
        return Err(refused(why));
    }
    store::add_member(c, &g.id, &g.offer_id, member, ctx.now).await?;
    let mut g = store::get(c, &g.id).await?.expect("read above");
    if g.joined == g.size {
        store::set_unlocked(c, &g.id, ctx.now).await?;
        for m in store::members(c, &g.id).await? {
            offers::activate(c, &g.offer_id, &m, ctx.now).await?;
        }
        g.unlocked_at = Some(ctx.now);
    }
    Ok(view(&g))
}
