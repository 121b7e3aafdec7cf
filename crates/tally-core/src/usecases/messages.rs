//! Messages: queue one for a member, claim the due ones for delivery, settle what happened,
//! and what members do with them (unsubscribe, open, click, read).
//!
//! Claiming decides everything a send depends on, in the transaction that takes the message:
//! the channel (the one asked for, or the member's preferred one then the program's fallback
//! order), consent and address, quiet hours in the member's time zone (the message is put off
//! to their end), and the weekly cap (a conditional write on `message_counts`, so it holds
//! with several deliverers). A message no channel can carry is `suppressed` with the reason of
//! each channel. The content is filled in from the template at the first claim and kept, so a
//! retry sends the same message under the same id. In-app messages are delivered right there:
//! the inbox is the table.

use super::{load_member, load_program};
use crate::StepResult;
use crate::commands::Ctx;
use crate::earning::zone;
use crate::template_reads::placeholder_values;
use crate::usecases::admin::record;
use jiff::SignedDuration;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use tally_domain::DomainError;
use tally_domain::ids::{MemberId, MessageId, ProgramId, PushSubscriptionId, TenantId};
use tally_domain::messaging::{self, MessageRequest, MessagingSettings, Refusal};
use tally_domain::model::{Channel, Consent, Member};
use tally_domain::program::Program;
use tally_domain::templates::TemplateInput;
use tally_domain::tracking;
use tally_store::Conn;
use tally_store::queries::messages::{self as store, Delivery, Mark, MessageRow};
use tally_store::queries::{members as member_rows, programs, push as push_rows, templates};

/// Sends a message is tried before it is given up as `failed`.
pub const MAX_ATTEMPTS: i64 = 8;

/// How a message is shown.
pub(crate) fn view(m: &MessageRow) -> Value {
    json!({
        "id": m.id,
        "program_id": m.program_id,
        "member_id": m.member_id,
        "template_id": m.template_id,
        "channel": m.channel,
        "source": m.source,
        "source_id": m.source_id,
        "status": m.status,
        "reason": m.reason,
        "due_at": m.due_at,
        "attempts": m.attempts,
        "sent_channel": m.sent_channel,
        "to": m.address,
        "subject": m.subject,
        "created_at": m.created_at,
        "settled_at": m.settled_at,
        "opened_at": m.opened_at,
        "clicked_at": m.clicked_at,
        "unsubscribed_at": m.unsubscribed_at,
        "read_at": m.read_at,
    })
}

/// A program's messaging settings (the defaults until some are saved).
pub(crate) async fn settings<C: Conn>(
    c: &mut C,
    program: &ProgramId,
) -> StepResult<MessagingSettings> {
    match store::settings(c, program).await? {
        None => Ok(MessagingSettings::default()),
        Some(raw) => {
            let value: Value = serde_json::from_str(&raw)
                .map_err(|e| tally_store::StoreError::Decode(format!("messaging settings: {e}")))?;
            Ok(MessagingSettings::parse(&value)?)
        }
    }
}

pub async fn put_settings<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    new: &MessagingSettings,
) -> StepResult<Value> {
    load_program(c, ctx, program).await?;
    let value = new.to_json();
    store::put_settings(c, program, &value.to_string(), ctx.now).await?;
    record(
        c,
        ctx,
        "messaging.settings",
        program.as_str(),
        value.clone(),
    )
    .await?;
    Ok(value)
}

/// A message row, queued (or held out) for a member.
pub(crate) struct NewMessage<'a> {
    pub tenant: &'a TenantId,
    pub program: &'a ProgramId,
    pub member: &'a MemberId,
    pub template: &'a tally_domain::ids::TemplateId,
    pub channel: Option<Channel>,
    pub source: &'a str,
    pub source_id: Option<String>,
    pub dedupe_key: String,
    pub due_at: tally_domain::Timestamp,
    pub held_out: bool,
}

/// Queues a message unless its dedupe key was used in the program; returns it if queued.
pub(crate) async fn enqueue<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    new: NewMessage<'_>,
) -> StepResult<Option<MessageRow>> {
    let held_out = new.held_out;
    let row = row_of(ctx, new);
    let queued = store::insert(c, &row).await?;
    if queued && !held_out {
        ctx.marks.outbox();
    }
    Ok(queued.then_some(row))
}

/// Queues many messages at once (a campaign's chunk), skipping dedupe keys used in the
/// program. Answers how many were queued and how many held out.
pub(crate) async fn enqueue_many<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    news: Vec<NewMessage<'_>>,
) -> StepResult<(i64, i64)> {
    let rows: Vec<MessageRow> = news.into_iter().map(|n| row_of(ctx, n)).collect();
    let statuses = store::insert_many(c, &rows).await?;
    let held = statuses.iter().filter(|s| *s == "held_out").count() as i64;
    let queued = statuses.len() as i64 - held;
    if queued > 0 {
        ctx.marks.outbox();
    }
    Ok((queued, held))
}

/// The outbox row for a new message.
fn row_of(ctx: &Ctx, new: NewMessage<'_>) -> MessageRow {
    MessageRow {
        id: MessageId::generate(),
        tenant_id: new.tenant.clone(),
        program_id: new.program.clone(),
        member_id: new.member.clone(),
        template_id: new.template.clone(),
        channel: new.channel.map(|c| c.as_str().to_owned()),
        source: new.source.to_owned(),
        source_id: new.source_id,
        dedupe_key: new.dedupe_key,
        status: if new.held_out { "held_out" } else { "queued" }.into(),
        reason: None,
        due_at: new.due_at,
        attempts: 0,
        sent_channel: None,
        address: None,
        subject: None,
        html: None,
        text: None,
        token: crate::secrets::new_token(),
        created_at: ctx.now,
        settled_at: new.held_out.then_some(ctx.now),
        opened_at: None,
        clicked_at: None,
        unsubscribed_at: None,
        read_at: None,
    }
}

/// `POST /members/{m}/messages`: one message to one member, now or at `send_at`.
pub async fn queue<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    member: &MemberId,
    request: &MessageRequest,
) -> StepResult<Value> {
    let m = load_member(c, ctx, member).await?;
    let template = templates::get(c, &ctx.tenant, &request.template).await?;
    if template.is_none_or(|t| t.program_id != m.program_id) {
        return Err(
            DomainError::invalid("/template", "is not a template of the member's program").into(),
        );
    }
    let id_key = MessageId::generate();
    let dedupe_key = match &request.dedupe_key {
        Some(key) => format!("api:{key}"),
        None => format!("api:{id_key}"),
    };
    let new = NewMessage {
        tenant: &ctx.tenant,
        program: &m.program_id,
        member: &m.id,
        template: &request.template,
        channel: request.channel,
        source: "api",
        source_id: None,
        dedupe_key,
        due_at: request.send_at.unwrap_or(ctx.now).max(ctx.now),
        held_out: false,
    };
    match enqueue(c, ctx, new).await? {
        Some(row) => Ok(view(&row)),
        None => Err(DomainError::conflict(
            "message_exists",
            "a message with this dedupe_key was already queued for the program",
        )
        .into()),
    }
}

/// What the deliverer asks for: the channels it can send on, how many messages, how long it
/// keeps each before another deliverer may take it, and the public URL links start with.
#[derive(Clone, Debug)]
pub struct ClaimRequest {
    pub usable: Vec<Channel>,
    pub limit: i64,
    pub lease: SignedDuration,
    pub public_url: String,
}

/// A message the deliverer is to send now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outgoing {
    pub id: MessageId,
    pub channel: Channel,
    pub to: String,
    pub subject: String,
    pub html: Option<String>,
    pub text: String,
    /// For `List-Unsubscribe` (email).
    pub unsubscribe_url: String,
    /// Where a push message goes, and the keys it is encrypted for.
    pub push: Option<PushTarget>,
    /// The wallet's address, which a push notification opens.
    pub wallet_url: String,
}

/// A browser's push subscription, as the deliverer needs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushTarget {
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
}

struct ProgramCache {
    program: Program,
    settings: MessagingSettings,
    zone: jiff::tz::TimeZone,
    /// Templates read so far in this claim (most messages of a round share a few).
    templates: HashMap<tally_domain::ids::TemplateId, TemplateInput>,
}

/// Takes up to `limit` due messages, decides each (suppress, put off, deliver in-app, or hand
/// to the deliverer) and answers `{"messages": [Outgoing…], "suppressed", "put_off", "in_app"}`.
pub async fn claim<C: Conn>(c: &mut C, ctx: &Ctx, request: &ClaimRequest) -> StepResult<Value> {
    let mut cache: HashMap<ProgramId, ProgramCache> = HashMap::new();
    let mut outgoing = Vec::new();
    let (mut suppressed, mut put_off, mut in_app) = (0, 0, 0);
    let until = ctx.now + request.lease;
    for row in store::due(c, ctx.now, request.limit).await? {
        if !store::lease(c, &row.id, ctx.now, until).await? {
            continue; // another deliverer took it
        }
        if !cache.contains_key(&row.program_id) {
            let Some(program) = programs::get_program(c, &row.tenant_id, &row.program_id).await?
            else {
                continue;
            };
            let entry = ProgramCache {
                settings: settings(c, &program.id).await?,
                zone: zone(&program)?,
                program,
                templates: Default::default(),
            };
            cache.insert(row.program_id.clone(), entry);
        }
        let p = cache.get_mut(&row.program_id).expect("just cached");
        match decide(c, ctx, request, p, &row).await? {
            Decision::Suppressed => suppressed += 1,
            Decision::PutOff => put_off += 1,
            Decision::InApp => in_app += 1,
            Decision::Send(o) => outgoing.push(*o),
        }
    }
    Ok(json!({
        "messages": outgoing,
        "suppressed": suppressed,
        "put_off": put_off,
        "in_app": in_app,
    }))
}

enum Decision {
    Suppressed,
    PutOff,
    InApp,
    Send(Box<Outgoing>),
}

async fn decide<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    request: &ClaimRequest,
    p: &mut ProgramCache,
    row: &MessageRow,
) -> StepResult<Decision> {
    let Some(member) = member_rows::get_member(c, &row.tenant_id, &row.member_id).await? else {
        store::settle(c, &row.id, "suppressed", Some("member_gone"), ctx.now).await?;
        return Ok(Decision::Suppressed);
    };
    if !messaging::reachable(&member) {
        let reason = format!("member_{}", member.status.as_str());
        store::settle(c, &row.id, "suppressed", Some(&reason), ctx.now).await?;
        return Ok(Decision::Suppressed);
    }
    let asked = row.channel.as_deref().map(Channel::parse).transpose();
    let asked =
        asked.map_err(|e| tally_store::StoreError::Decode(format!("message channel: {e}")))?;
    let zone = match &member.time_zone {
        Some(tz) => jiff::tz::TimeZone::get(tz.as_str()).unwrap_or_else(|_| p.zone.clone()),
        None => p.zone.clone(),
    };
    let mut refusals = Vec::new();
    // The newest browser subscribed, looked up only when this server can push.
    let push = match request.usable.contains(&Channel::Push) {
        true => push_rows::of_member(c, &member.id)
            .await?
            .into_iter()
            .next(),
        false => None,
    };
    let push_id = push.as_ref().map(|s| s.id.as_str());
    for candidate in messaging::candidates(asked, &member, &p.settings, &request.usable, push_id) {
        let channel = candidate.channel;
        let address = match candidate.route {
            Ok(address) => address,
            Err(refusal) => {
                refusals.push(format!("{}: {}", channel.as_str(), refusal.as_str()));
                continue;
            }
        };
        if let Some(until) = p.settings.hold_until(channel, ctx.now, &zone) {
            store::put_off(c, &row.id, until, "quiet_hours").await?;
            return Ok(Decision::PutOff);
        }
        // A cap counts messages, not attempts: a retry has its place already.
        let first_attempt = row.attempts == 0;
        if let Some(cap) = p
            .settings
            .weekly_caps
            .get(&channel)
            .filter(|_| first_attempt)
        {
            let week = messaging::week_of(ctx.now, &zone);
            if !store::take_weekly_place(c, &member.id, channel.as_str(), &week, *cap).await? {
                refusals.push(format!(
                    "{}: {}",
                    channel.as_str(),
                    Refusal::WeeklyCap.as_str()
                ));
                continue;
            }
        }
        let (subject, html, text) = content(c, ctx, request, p, row, &member).await?;
        let unsubscribe_url = unsubscribe_url(&request.public_url, &row.token);
        let delivery = Delivery {
            channel: channel.as_str(),
            address: &address,
            subject: &subject,
            html: html.as_deref(),
            text: &text,
        };
        store::prepare(c, &row.id, &delivery).await?;
        if channel == Channel::InApp {
            store::settle(c, &row.id, "sent", None, ctx.now).await?;
            return Ok(Decision::InApp);
        }
        return Ok(Decision::Send(Box::new(Outgoing {
            id: row.id.clone(),
            channel,
            to: address,
            subject,
            html,
            text,
            unsubscribe_url,
            push: push
                .filter(|_| channel == Channel::Push)
                .map(|s| PushTarget {
                    endpoint: s.endpoint,
                    p256dh: s.p256dh,
                    auth: s.auth,
                }),
            wallet_url: format!("{}/wallet", request.public_url.trim_end_matches('/')),
        })));
    }
    let reason = if refusals.is_empty() {
        "no_channel".to_owned()
    } else {
        refusals.join("; ")
    };
    store::settle(c, &row.id, "suppressed", Some(&reason), ctx.now).await?;
    Ok(Decision::Suppressed)
}

pub fn unsubscribe_url(public_url: &str, token: &str) -> String {
    format!("{}/unsubscribe/{token}", public_url.trim_end_matches('/'))
}

/// The message's subject, HTML and text: kept from an earlier attempt, or filled in now.
async fn content<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    request: &ClaimRequest,
    p: &mut ProgramCache,
    row: &MessageRow,
    member: &Member,
) -> StepResult<(String, Option<String>, String)> {
    if let (Some(subject), Some(text)) = (&row.subject, &row.text) {
        return Ok((subject.clone(), row.html.clone(), text.clone()));
    }
    if !p.templates.contains_key(&row.template_id) {
        let t = templates::get(c, &row.tenant_id, &row.template_id)
            .await?
            .ok_or_else(|| DomainError::not_found("template"))?;
        let parsed = TemplateInput::parse(&json!({
            "name": t.name, "subject": t.subject, "html": t.html, "text": t.text,
        }))?;
        p.templates.insert(row.template_id.clone(), parsed);
    }
    let template = &p.templates[&row.template_id];
    let parts = [
        Some(&template.subject),
        template.html.as_ref(),
        Some(&template.text),
    ];
    let named: Vec<&str> = parts
        .into_iter()
        .flatten()
        .flat_map(|p| p.placeholders())
        .collect();
    let uses = |placeholder: &str| named.iter().any(|n| n.starts_with(placeholder));
    let mut values = placeholder_values(c, &p.program, member, ctx.now, &uses).await?;
    let base = request.public_url.trim_end_matches('/');
    values.insert("unsubscribe_url", unsubscribe_url(base, &row.token));
    let wallet = format!("{base}{}", values["wallet_url"]);
    values.insert("wallet_url", wallet);
    let (subject, html, text) = template.render(&values);
    let html = match html {
        Some(h) if p.settings.tracking => Some(tracking::with_tracking(&h, base, &row.token)),
        other => other,
    };
    Ok((subject, html, text))
}

/// What became of a send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The relay or gateway took it.
    Sent,
    /// Refused for good (an unknown address): `bounced`.
    Rejected(String),
    /// Not now (a busy relay, a timeout): tried again later, up to [`MAX_ATTEMPTS`] sends.
    Deferred(String),
}

/// How long after the `attempts`-th failed send the next one is tried: 1, 2, 4 … minutes,
/// at most an hour.
pub fn backoff(attempts: i64) -> SignedDuration {
    let minutes = 1i64 << attempts.clamp(1, 7).saturating_sub(1);
    SignedDuration::from_mins(minutes.min(60))
}

pub async fn settle<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    id: &MessageId,
    outcome: &Outcome,
) -> StepResult<Value> {
    // Most sends succeed: one conditional write, no read.
    if *outcome == Outcome::Sent && store::settle(c, id, "sent", None, ctx.now).await? {
        return Ok(json!({ "id": id, "status": "sent" }));
    }
    let row = store::by_id(c, id)
        .await?
        .ok_or_else(|| DomainError::not_found("message"))?;
    let status = match outcome {
        Outcome::Sent => store::settle(c, id, "sent", None, ctx.now)
            .await?
            .then_some("sent"),
        Outcome::Rejected(why) => {
            // A push service that no longer knows the subscription: it is not used again.
            let gone = why.starts_with("HTTP 404") || why.starts_with("HTTP 410");
            if gone
                && row.sent_channel.as_deref() == Some("push")
                && let Some(address) = &row.address
            {
                let subscription = PushSubscriptionId::from_trusted(address.clone());
                push_rows::set_gone(c, &subscription, ctx.now).await?;
            }
            store::settle(c, id, "bounced", Some(why), ctx.now)
                .await?
                .then_some("bounced")
        }
        Outcome::Deferred(why) if row.attempts >= MAX_ATTEMPTS => {
            store::settle(c, id, "failed", Some(why), ctx.now)
                .await?
                .then_some("failed")
        }
        Outcome::Deferred(why) => {
            store::put_off(c, id, ctx.now + backoff(row.attempts), why).await?;
            Some("queued")
        }
    };
    Ok(json!({ "id": id, "status": status.unwrap_or(row.status.as_str()) }))
}

/// What a member did with a message (through a link carrying its token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reaction {
    Opened,
    Clicked,
    /// One-click unsubscribe: the program's emails stop (email consent withdrawn).
    Unsubscribed,
}

pub async fn react<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    token: &str,
    reaction: &Reaction,
) -> StepResult<Value> {
    let row = store::by_token(c, token)
        .await?
        .filter(|m| m.tenant_id == ctx.tenant)
        .ok_or_else(|| DomainError::not_found("message"))?;
    let mark = match reaction {
        Reaction::Opened => Mark::Opened,
        Reaction::Clicked => Mark::Clicked,
        Reaction::Unsubscribed => Mark::Unsubscribed,
    };
    let first = store::mark(c, &row.id, mark, ctx.now).await?;
    if *reaction == Reaction::Unsubscribed {
        let member = load_member(c, ctx, &row.member_id).await?;
        if messaging::consents(&member, Channel::Email) {
            let consent = Consent {
                channel: Channel::Email,
                granted: false,
                changed_at: ctx.now,
                source: "unsubscribe link".into(),
            };
            member_rows::upsert_consent(c, &member.id, &consent).await?;
            record(
                c,
                ctx,
                "member.unsubscribed",
                member.id.as_str(),
                json!({ "message_id": row.id, "channel": "email" }),
            )
            .await?;
        }
    }
    Ok(json!({ "message_id": row.id, "member_id": row.member_id, "first_time": first }))
}

/// The inbox keeps in-app messages, and pushed ones (a notification is gone once dismissed).
fn shown_in_inbox(channel: Option<&str>) -> bool {
    matches!(channel, Some("in_app" | "push"))
}

/// The member read an in-app message.
pub async fn read<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    member: &MemberId,
    id: &MessageId,
) -> StepResult<Value> {
    let row = store::get(c, &ctx.tenant, id)
        .await?
        .filter(|m| &m.member_id == member && shown_in_inbox(m.sent_channel.as_deref()))
        .ok_or_else(|| DomainError::not_found("message"))?;
    store::mark(c, &row.id, Mark::Read, ctx.now).await?;
    Ok(json!({ "id": row.id, "read": true }))
}
