//! One-off campaigns: created as drafts, launched (now or at `send_at`), fanned out into the
//! outbox chunk by chunk, cancelled while not all out.
//!
//! Fanning out is a command over one chunk of one due campaign: the next members of the
//! audience in `seq` order become messages (or `held_out` rows for the random control group),
//! each due at the campaign's time or at the member's best send hour within the window. The
//! chunk ends with a conditional move of the campaign's cursor, so of two nodes fanning out the
//! same chunk one wins and the other's writes roll back; each message's dedupe key
//! (`campaign:{id}:{member}`) would refuse a second copy anyway.

use super::load_program;
use super::messages::{NewMessage, enqueue_many};
use crate::StepResult;
use crate::commands::Ctx;
use crate::earning::zone;
use crate::usecases::admin::record;
use serde_json::{Value, json};
use tally_domain::DomainError;
use tally_domain::campaigns::{CampaignInput, due_at, held_out};
use tally_domain::ids::{CampaignId, ProgramId};
use tally_domain::model::Channel;
use tally_store::Conn;
use tally_store::queries::campaigns::{self as store, CampaignRow};
use tally_store::queries::{messages, programs, segments, templates};

/// Members per fan-out command.
pub const FAN_OUT_CHUNK: i64 = 2000;

pub(crate) fn view(k: &CampaignRow) -> Value {
    json!({
        "id": k.id,
        "program_id": k.program_id,
        "name": k.name,
        "template_id": k.template_id,
        "segment_id": k.segment_id,
        "channel": k.channel,
        "send_at": k.send_at,
        "best_hour_within_hours": k.best_hour_within_hours,
        "holdout_percent": k.holdout_percent,
        "conversion_days": k.conversion_days,
        "status": k.status,
        "queued": k.queued,
        "held_out": k.held_out,
        "created_at": k.created_at,
        "launched_at": k.launched_at,
        "fanned_out_at": k.fanned_out_at,
    })
}

pub async fn create<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    input: &CampaignInput,
) -> StepResult<Value> {
    load_program(c, ctx, program).await?;
    let template = templates::get(c, &ctx.tenant, &input.template).await?;
    if template.is_none_or(|t| &t.program_id != program) {
        return Err(DomainError::invalid("/template", "is not a template of the program").into());
    }
    let segment_id = match &input.segment {
        None => None,
        Some(key) => Some(
            segments::get_by_key(c, program, key)
                .await?
                .ok_or_else(|| DomainError::invalid("/segment", "is not a segment of the program"))?
                .id,
        ),
    };
    let row = CampaignRow {
        id: CampaignId::generate(),
        program_id: program.clone(),
        name: input.name.clone(),
        template_id: input.template.clone(),
        segment_id,
        channel: input.channel.map(|c| c.as_str().to_owned()),
        send_at: input.send_at,
        best_hour_within_hours: input.best_hour_within_hours,
        holdout_percent: input.holdout_percent,
        conversion_days: input.conversion_days,
        status: "draft".into(),
        cursor: 0,
        queued: 0,
        held_out: 0,
        created_at: ctx.now,
        launched_at: None,
        fanned_out_at: None,
    };
    store::insert(c, &ctx.tenant, &row).await?;
    record(
        c,
        ctx,
        "campaign.created",
        row.id.as_str(),
        json!({ "name": row.name }),
    )
    .await?;
    Ok(view(&row))
}

async fn load<C: Conn>(c: &mut C, ctx: &Ctx, id: &CampaignId) -> StepResult<CampaignRow> {
    store::get(c, &ctx.tenant, id)
        .await?
        .ok_or_else(|| DomainError::not_found("campaign").into())
}

/// A draft goes out at its `send_at` (now when it has none or it has passed).
pub async fn launch<C: Conn>(c: &mut C, ctx: &Ctx, id: &CampaignId) -> StepResult<Value> {
    let row = load(c, ctx, id).await?;
    let send_at = row.send_at.unwrap_or(ctx.now).max(ctx.now);
    if !store::launch(c, id, send_at, ctx.now).await? {
        return Err(DomainError::refused(
            "campaign_not_draft",
            format!(
                "the campaign is {}; only a draft can be launched",
                row.status
            ),
        )
        .into());
    }
    record(
        c,
        ctx,
        "campaign.launched",
        id.as_str(),
        json!({ "send_at": send_at }),
    )
    .await?;
    Ok(view(&load(c, ctx, id).await?))
}

/// Stops a campaign: what was not yet fanned out never is, and its queued messages are
/// suppressed (`campaign_cancelled`); what was sent stays sent.
pub async fn cancel<C: Conn>(c: &mut C, ctx: &Ctx, id: &CampaignId) -> StepResult<Value> {
    load(c, ctx, id).await?;
    if !store::cancel(c, id).await? {
        return Err(DomainError::refused(
            "campaign_not_cancellable",
            "the campaign was cancelled already".to_owned(),
        )
        .into());
    }
    let stopped = messages::suppress_source(c, id.as_str(), "campaign_cancelled", ctx.now).await?;
    record(
        c,
        ctx,
        "campaign.cancelled",
        id.as_str(),
        json!({ "messages_stopped": stopped }),
    )
    .await?;
    let mut answer = view(&load(c, ctx, id).await?);
    answer["messages_stopped"] = json!(stopped);
    Ok(answer)
}

/// Fans out the next chunk of the campaign due first: `{"campaign", "members", "done"}`, or
/// `{"campaign": null}` when none is due.
pub async fn fan_out<C: Conn>(c: &mut C, ctx: &Ctx, limit: i64) -> StepResult<Value> {
    let Some((tenant, k)) = store::due(c, ctx.now, 1).await?.into_iter().next() else {
        return Ok(json!({ "campaign": null, "members": 0, "done": true }));
    };
    let program = programs::get_program(c, &tenant, &k.program_id)
        .await?
        .ok_or_else(|| DomainError::not_found("program"))?;
    let program_zone = zone(&program)?;
    let send_at = k.send_at.unwrap_or(ctx.now);
    let channel = k.channel.as_deref().map(Channel::parse).transpose();
    let channel =
        channel.map_err(|e| tally_store::StoreError::Decode(format!("campaign channel: {e}")))?;
    let audience =
        store::audience(c, &k.program_id, k.segment_id.as_ref(), k.cursor, limit).await?;
    let mut news = Vec::with_capacity(audience.len());
    for r in &audience {
        let member_zone = r
            .time_zone
            .as_deref()
            .and_then(|tz| jiff::tz::TimeZone::get(tz).ok())
            .unwrap_or_else(|| program_zone.clone());
        let is_held = held_out(k.id.as_str(), r.member_id.as_str(), k.holdout_percent);
        let new = NewMessage {
            tenant: &tenant,
            program: &k.program_id,
            member: &r.member_id,
            template: &k.template_id,
            channel,
            source: "campaign",
            source_id: Some(k.id.to_string()),
            dedupe_key: format!("campaign:{}:{}", k.id, r.member_id),
            due_at: due_at(
                send_at,
                k.best_hour_within_hours,
                r.best_hour_of_week,
                &member_zone,
            ),
            held_out: is_held,
        };
        news.push(new);
    }
    let (queued, held) = enqueue_many(c, ctx, news).await?;
    let done = (audience.len() as i64) < limit;
    let to = audience.last().map_or(k.cursor, |r| r.seq);
    if !store::advance(c, &k.id, k.cursor, to, (queued, held), done, ctx.now).await? {
        // Another node fanned out this chunk first: roll this one back.
        return Err(DomainError::conflict(
            "campaign_chunk_taken",
            "another node fanned out this part of the campaign",
        )
        .into());
    }
    Ok(json!({ "campaign": k.id, "members": audience.len(), "done": done }))
}
