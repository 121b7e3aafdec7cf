//! Stamp cards: create, change, pause or archive a card; the cashier's stamps; the store's
//! one-use QR codes and a member scanning one. Every change of a card bumps the program's rules
//! revision (cards that purchases stamp are cached with the rules).

use super::{load_member, load_program, require_active, resolve_member};
use crate::StepResult;
use crate::commands::Ctx;
use crate::stamps::{Card, Source, give};
use crate::usecases::admin::record;
use serde_json::{Value, json};
use tally_domain::DomainError;
use tally_domain::ids::{LocationId, MemberId, ProgramId, StampCardId};
use tally_domain::inputs::MemberRef;
use tally_domain::stamps::{CompletionReward, StampCardDoc};
use tally_store::Conn;
use tally_store::queries::stamps::{self, CardRow, CodeRow};
use tally_store::queries::{locations, rewards, rules};

/// What a card can be: only active cards take stamps; archived is for good.
pub const STATUSES: &[&str] = &["active", "paused", "archived"];

/// How long a store's QR code can be scanned.
pub const CODE_TTL: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

/// A card as the API shows it: its document with its id, status and dates.
pub fn view(row: &CardRow) -> Value {
    let mut v = row.document.clone();
    v["id"] = json!(row.id);
    v["program_id"] = json!(row.program_id);
    v["status"] = json!(row.status);
    v["created_at"] = json!(row.created_at);
    v["updated_at"] = json!(row.updated_at);
    v
}

async fn check_reward<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    doc: &StampCardDoc,
) -> StepResult<()> {
    if let CompletionReward::Reward(id) = &doc.reward
        && rewards::get_reward(c, &ctx.tenant, id)
            .await?
            .is_none_or(|r| &r.program_id != program)
    {
        return Err(DomainError::invalid(
            "/reward/reward_id",
            "no reward of this program has this id",
        )
        .into());
    }
    Ok(())
}

pub async fn create<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    doc: &StampCardDoc,
) -> StepResult<Value> {
    load_program(c, ctx, program).await?;
    check_reward(c, ctx, program, doc).await?;
    let card = CardRow {
        id: StampCardId::generate(),
        program_id: program.clone(),
        document: doc.to_json(),
        status: "active".into(),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    stamps::insert_card(c, &ctx.tenant, &card).await?;
    rules::bump_revision(c, program).await?;
    record(
        c,
        ctx,
        "stamp_card.created",
        card.id.as_str(),
        card.document.clone(),
    )
    .await?;
    Ok(view(&card))
}

async fn load_card<C: Conn>(c: &mut C, ctx: &Ctx, id: &StampCardId) -> StepResult<CardRow> {
    Ok(stamps::get_card(c, &ctx.tenant, id)
        .await?
        .ok_or_else(|| DomainError::not_found("stamp card"))?)
}

/// Replaces the card's document and/or its status. Progress is kept: members keep their
/// stamps when the card changes (a lower `stamps_required` completes at the next stamp).
pub async fn update<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    id: &StampCardId,
    doc: Option<&StampCardDoc>,
    status: Option<&str>,
) -> StepResult<Value> {
    let mut card = load_card(c, ctx, id).await?;
    if card.status == "archived" {
        return Err(DomainError::refused(
            "stamp_card_archived",
            "an archived stamp card cannot change",
        )
        .into());
    }
    if let Some(doc) = doc {
        check_reward(c, ctx, &card.program_id, doc).await?;
        card.document = doc.to_json();
    }
    if let Some(status) = status {
        card.status = status.to_owned();
    }
    card.updated_at = ctx.now;
    stamps::update_card(c, &card).await?;
    rules::bump_revision(c, &card.program_id).await?;
    record(
        c,
        ctx,
        "stamp_card.updated",
        card.id.as_str(),
        json!({ "status": card.status, "document": card.document }),
    )
    .await?;
    Ok(view(&card))
}

/// An active card, parsed, with its program; anything else is a refusal.
async fn active_card<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    id: &StampCardId,
) -> StepResult<(Card, ProgramId)> {
    let row = load_card(c, ctx, id).await?;
    if row.status != "active" {
        return Err(DomainError::refused(
            "stamp_card_not_active",
            format!("the stamp card is {}", row.status),
        )
        .into());
    }
    Ok((Card::from_row(&row)?, row.program_id))
}

fn limit_reached(card: &Card) -> crate::StepError {
    DomainError::refused(
        "stamp_limit_reached",
        format!(
            "`{}` gives at most {} stamp(s) a day",
            card.doc.name,
            card.doc.max_per_day.unwrap_or_default()
        ),
    )
    .into()
}

async fn check_location<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    location: &LocationId,
) -> StepResult<()> {
    if locations::get_location(c, &ctx.tenant, location)
        .await?
        .is_none_or(|l| &l.program_id != program)
    {
        return Err(DomainError::invalid(
            "/location_id",
            "no location of this program has this id",
        )
        .into());
    }
    Ok(())
}

/// The cashier gives stamps by hand.
pub async fn stamp_by_cashier<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    id: &StampCardId,
    member: &MemberRef,
    count: i64,
    location: Option<&LocationId>,
    note: Option<&str>,
) -> StepResult<Value> {
    let (card, program) = active_card(c, ctx, id).await?;
    let program = load_program(c, ctx, &program).await?;
    if let Some(location) = location {
        check_location(c, ctx, &program.id, location).await?;
    }
    let member_id = resolve_member(c, ctx, &program.id, member).await?;
    require_active(&load_member(c, ctx, &member_id).await?)?;
    give(
        c,
        ctx,
        &program,
        &card,
        &member_id,
        count,
        Source::Cashier,
        location,
        note,
        ctx.now,
    )
    .await?
    .ok_or_else(|| limit_reached(&card))
}

/// The code a store's display shows for a card: the current one while it is unused and has
/// more than 10 seconds to live, else a new one. Each code gives one stamp to one member.
pub async fn display_code<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    id: &StampCardId,
    location: &LocationId,
) -> StepResult<Value> {
    let (card, program) = active_card(c, ctx, id).await?;
    if !card.doc.qr_stamps {
        return Err(DomainError::refused(
            "qr_stamps_off",
            format!("`{}` is not stamped by QR code", card.doc.name),
        )
        .into());
    }
    check_location(c, ctx, &program, location).await?;
    let margin = jiff::SignedDuration::from_secs(10);
    let code = match stamps::latest_code(c, id, location).await? {
        Some(code) if !code.used && code.expires_at > ctx.now + margin => code,
        _ => {
            let code = CodeRow {
                code: crate::secrets::random_code(16),
                program_id: program,
                card_id: id.clone(),
                location_id: location.clone(),
                expires_at: ctx.now + CODE_TTL,
                used: false,
            };
            stamps::insert_code(c, &code, ctx.now).await?;
            code
        }
    };
    Ok(json!({
        "code": code.code,
        "card_id": code.card_id,
        "location_id": code.location_id,
        "expires_at": code.expires_at,
    }))
}

/// A member scans the store's code: one stamp, if the code is live and unused and the card's
/// daily cap allows it. A refusal writes nothing, so the code stays good for someone else.
pub async fn scan<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    member: &MemberId,
    code: &str,
) -> StepResult<Value> {
    let unusable = || {
        DomainError::refused(
            "stamp_code_used",
            "this code was already used or has expired: scan the code on the screen again",
        )
    };
    let row = stamps::get_code(c, code).await?.ok_or_else(unusable)?;
    let m = load_member(c, ctx, member).await?;
    if m.program_id != row.program_id {
        return Err(unusable().into());
    }
    require_active(&m)?;
    let (card, _) = active_card(c, ctx, &row.card_id).await?;
    if !stamps::use_code(c, code, member, ctx.now).await? {
        return Err(unusable().into());
    }
    let program = load_program(c, ctx, &row.program_id).await?;
    give(
        c,
        ctx,
        &program,
        &card,
        member,
        1,
        Source::Qr(code),
        Some(&row.location_id),
        None,
        ctx.now,
    )
    .await?
    .ok_or_else(|| limit_reached(&card))
}
