//! Stamp cards at work: giving stamps (from a qualifying purchase, the cashier or the store's
//! QR code), completing cards, and taking stamps back when a purchase is returned in full.
//!
//! A member's progress row is locked before it is read, so concurrent stamps add up; each
//! completion gives the card's reward at once — a free redemption of a catalog reward (cost 0,
//! not taken from stock or the per-member limit: the card promised it) or a points bonus —
//! and the stamps beyond the card start the next one. Every change is a `stamp_events` row.

use crate::StepResult;
use crate::commands::Ctx;
use crate::pending::{CreditTo, post_credits};
use serde_json::{Value, json};
use tally_domain::DomainError;
use tally_domain::ids::{LocationId, MemberId, PurchaseId, StampCardId};
use tally_domain::model::TransferReason;
use tally_domain::program::Program;
use tally_domain::stamps::{CompletionReward, StampCardDoc};
use tally_domain::{Points, Timestamp};
use tally_store::queries::{rewards, stamps};
use tally_store::{Conn, StoreError};

/// An active stamp card.
#[derive(Clone, Debug)]
pub struct Card {
    pub id: StampCardId,
    pub doc: StampCardDoc,
}

impl Card {
    pub fn from_row(row: &stamps::CardRow) -> Result<Card, StoreError> {
        let doc = StampCardDoc::parse(&row.document)
            .map_err(|e| StoreError::Decode(format!("stored stamp card {}: {e}", row.id)))?;
        Ok(Card {
            id: row.id.clone(),
            doc,
        })
    }
}

/// Where stamps come from.
#[derive(Clone, Copy, Debug)]
pub enum Source<'a> {
    Purchase(&'a PurchaseId),
    Cashier,
    Qr(&'a str),
    /// A rule's `stamp` effect, for the purchase that triggered it if any.
    Rule(Option<&'a PurchaseId>),
}

impl Source<'_> {
    fn name(self) -> &'static str {
        match self {
            Source::Purchase(_) => "purchase",
            Source::Cashier => "cashier",
            Source::Qr(_) => "qr",
            Source::Rule(_) => "rule",
        }
    }
}

/// Gives up to `count` stamps; the card's daily cap may allow fewer. Answers the member's
/// progress and what completing gave, or `None` when the cap allowed none (nothing written).
#[allow(clippy::too_many_arguments)]
pub async fn give<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &Program,
    card: &Card,
    member: &MemberId,
    count: i64,
    source: Source<'_>,
    location: Option<&LocationId>,
    note: Option<&str>,
    occurred_at: Timestamp,
) -> StepResult<Option<Value>> {
    let progress = stamps::lock_progress(c, &card.id, member, ctx.now).await?;
    let allowed = match card.doc.max_per_day {
        Some(cap) => {
            let zone = crate::earning::zone(program)?;
            let day = tally_rules::windows(occurred_at, &zone).day;
            let given = stamps::given_since(c, &card.id, member, day).await?;
            count.min(cap - given)
        }
        None => count,
    };
    if allowed <= 0 {
        return Ok(None);
    }
    let required = card.doc.stamps_required;
    let total = progress.stamps + allowed;
    let completed = total / required;
    let after = stamps::Progress {
        stamps: total % required,
        completions: progress.completions + completed,
    };
    let purchase = match source {
        Source::Purchase(p) | Source::Rule(Some(p)) => Some(p),
        _ => None,
    };
    let rewards = complete(
        c,
        ctx,
        program,
        card,
        member,
        completed,
        purchase,
        occurred_at,
    )
    .await?;
    stamps::set_progress(c, &card.id, member, after, ctx.now).await?;
    stamps::insert_event(
        c,
        &stamps::StampEvent {
            card: &card.id,
            member,
            source: source.name(),
            stamps: allowed,
            completions: completed,
            purchase,
            location,
            code: match source {
                Source::Qr(code) => Some(code),
                _ => None,
            },
            actor: &ctx.actor,
            note,
            occurred_at,
            recorded_at: ctx.now,
        },
    )
    .await?;
    Ok(Some(json!({
        "card_id": card.id,
        "name": card.doc.name,
        "member_id": member,
        "stamps_added": allowed,
        "stamps": after.stamps,
        "stamps_required": required,
        "completed": completed,
        "rewards": rewards,
    })))
}

/// Gives what `times` completions of the card give: `[{"redemption_id", "code", "reward_name"}]`
/// or `[{"points"}]`.
#[allow(clippy::too_many_arguments)]
async fn complete<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &Program,
    card: &Card,
    member: &MemberId,
    times: i64,
    purchase: Option<&PurchaseId>,
    occurred_at: Timestamp,
) -> StepResult<Vec<Value>> {
    let mut given = Vec::new();
    if times == 0 {
        return Ok(given);
    }
    match &card.doc.reward {
        CompletionReward::Points(points) => {
            let reason = TransferReason {
                purchase_id: purchase.cloned(),
                rule: Some(card.id.to_string()),
                actor: Some(ctx.actor.clone()),
                note: Some(format!("{} completed", card.doc.name)),
                ..TransferReason::default()
            };
            let credits: Vec<_> = (0..times)
                .map(|_| (Points(*points), reason.clone()))
                .collect();
            let expiry = crate::earning::active_rules(c, program)
                .await?
                .expiry
                .clone();
            post_credits(
                c,
                ctx,
                &program.id,
                member,
                &credits,
                occurred_at,
                CreditTo::Available(expiry.as_ref()),
                None,
            )
            .await?;
            given.extend((0..times).map(|_| json!({ "points": points })));
        }
        CompletionReward::Reward(reward_id) => {
            let reward = rewards::get_reward(c, &program.tenant_id, reward_id)
                .await?
                .filter(|r| r.program_id == program.id)
                .ok_or_else(|| {
                    DomainError::refused(
                        "stamp_reward_missing",
                        format!(
                            "the reward of `{}` is no longer in the catalog",
                            card.doc.name
                        ),
                    )
                })?;
            for _ in 0..times {
                given.push(
                    crate::usecases::rewards::grant_free(
                        c,
                        ctx,
                        &program.tenant_id,
                        &reward,
                        member,
                    )
                    .await?,
                );
            }
        }
    }
    Ok(given)
}

/// After a purchase: one stamp on each active card it qualifies for. Answers the cards
/// stamped (see [`give`]).
pub async fn after_purchase<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &Program,
    cards: &[Card],
    member: &MemberId,
    purchase: &tally_domain::model::Purchase,
) -> StepResult<Vec<Value>> {
    let categories: Vec<Option<&str>> = purchase
        .lines
        .iter()
        .map(|l| l.category.as_deref())
        .collect();
    let mut stamped = Vec::new();
    for card in cards {
        let Some(q) = &card.doc.purchases else {
            continue;
        };
        if !q.admits(
            purchase.total_minor,
            &categories,
            purchase.channel,
            purchase.location_id.as_ref(),
        ) {
            continue;
        }
        let source = Source::Purchase(&purchase.id);
        let at = purchase.occurred_at;
        let location = purchase.location_id.as_ref();
        if let Some(answer) =
            give(c, ctx, program, card, member, 1, source, location, None, at).await?
        {
            stamped.push(answer);
        }
    }
    Ok(stamped)
}

/// After a purchase was returned in full: takes back the stamps it gave, from the member's
/// progress towards the next completion (a card already completed with them stays completed).
pub async fn after_full_return<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    member: &MemberId,
    purchase: &PurchaseId,
) -> StepResult<()> {
    for (card, given) in stamps::stamps_of_purchase(c, purchase).await? {
        if given <= 0 {
            continue;
        }
        let progress = stamps::lock_progress(c, &card, member, ctx.now).await?;
        let taken = given.min(progress.stamps);
        if taken == 0 {
            continue;
        }
        let after = stamps::Progress {
            stamps: progress.stamps - taken,
            ..progress
        };
        stamps::set_progress(c, &card, member, after, ctx.now).await?;
        stamps::insert_event(
            c,
            &stamps::StampEvent {
                card: &card,
                member,
                source: "return",
                stamps: -taken,
                completions: 0,
                purchase: Some(purchase),
                location: None,
                code: None,
                actor: &ctx.actor,
                note: None,
                occurred_at: ctx.now,
                recorded_at: ctx.now,
            },
        )
        .await?;
    }
    Ok(())
}
