//! Web push: a member's browsers subscribe (and agree to notifications, in the wallet), and
//! the keys every node shares (the VAPID key pair browsers subscribe against). Sending is in
//! `usecases::messages` (the claim picks the member's newest subscription) and in
//! `tally-delivery` (encryption and the push service).

use super::load_member;
use crate::StepResult;
use crate::commands::Ctx;
use crate::usecases::admin::record;
use serde_json::{Value, json};
use tally_domain::DomainError;
use tally_domain::ids::{MemberId, PushSubscriptionId};
use tally_domain::model::{Channel, Consent};
use tally_domain::push::PushSubscriptionInput;
use tally_store::Conn;
use tally_store::queries::members as member_rows;
use tally_store::queries::push::{self as store, SubscriptionRow};

/// Every push write, as data.
#[derive(Clone, Debug)]
pub enum PushCommand {
    /// Keeps a browser's subscription; with `consent` (the wallet's button), push consent is
    /// granted too, with that source.
    Subscribe {
        member: MemberId,
        input: PushSubscriptionInput,
        consent: Option<String>,
    },
    Unsubscribe {
        member: MemberId,
        subscription: PushSubscriptionId,
    },
    /// Keeps a server-wide value unless one is kept already (the first node's wins).
    KeepServerKey { name: String, value: String },
}

impl PushCommand {
    pub async fn apply<C: Conn>(&self, c: &mut C, ctx: &Ctx) -> StepResult<Value> {
        match self {
            PushCommand::Subscribe {
                member,
                input,
                consent,
            } => subscribe(c, ctx, member, input, consent.as_deref()).await,
            PushCommand::Unsubscribe {
                member,
                subscription,
            } => unsubscribe(c, ctx, member, subscription).await,
            PushCommand::KeepServerKey { name, value } => {
                let kept = store::keep_server_key(c, name, value, ctx.now).await?;
                Ok(json!({ "name": name, "value": kept }))
            }
        }
    }
}

/// How a subscription is shown (without its keys).
pub(crate) fn view(s: &SubscriptionRow) -> Value {
    json!({
        "id": s.id,
        "member_id": s.member_id,
        "endpoint": s.endpoint,
        "created_at": s.created_at,
        "gone_at": s.gone_at,
    })
}

async fn subscribe<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    member: &MemberId,
    input: &PushSubscriptionInput,
    consent: Option<&str>,
) -> StepResult<Value> {
    let m = load_member(c, ctx, member).await?;
    let row = SubscriptionRow {
        id: PushSubscriptionId::generate(),
        tenant_id: ctx.tenant.clone(),
        member_id: m.id.clone(),
        endpoint: input.endpoint.clone(),
        p256dh: input.p256dh.clone(),
        auth: input.auth.clone(),
        created_at: ctx.now,
        gone_at: None,
    };
    let kept = store::upsert(c, &row).await?;
    if let Some(source) = consent
        && !tally_domain::messaging::consents(&m, Channel::Push)
    {
        let granted = Consent {
            channel: Channel::Push,
            granted: true,
            changed_at: ctx.now,
            source: source.to_owned(),
        };
        member_rows::upsert_consent(c, &m.id, &granted).await?;
    }
    let answer = view(&kept);
    record(
        c,
        ctx,
        "member.push_subscribed",
        m.id.as_str(),
        answer.clone(),
    )
    .await?;
    Ok(answer)
}

async fn unsubscribe<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    member: &MemberId,
    id: &PushSubscriptionId,
) -> StepResult<Value> {
    load_member(c, ctx, member).await?;
    let mut row = store::get(c, id)
        .await?
        .filter(|s| &s.member_id == member && s.tenant_id == ctx.tenant)
        .ok_or_else(|| DomainError::not_found("push subscription"))?;
    store::set_gone(c, id, ctx.now).await?;
    record(
        c,
        ctx,
        "member.push_unsubscribed",
        member.as_str(),
        json!({ "id": id }),
    )
    .await?;
    // Gone now, unless it was gone already (then it keeps that time, as the store does).
    row.gone_at.get_or_insert(ctx.now);
    Ok(view(&row))
}

/// A member's subscriptions in use (for reads).
pub(crate) fn views(rows: &[SubscriptionRow]) -> Value {
    Value::Array(rows.iter().map(view).collect())
}
