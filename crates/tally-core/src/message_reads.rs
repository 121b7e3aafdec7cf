//! Message reads: a program's messaging settings, one message, a member's messages and in-app
//! inbox, and the message a link's token names.

use crate::reads::{found, member_of, program_of};
use crate::usecases::messages::{settings, view};
use crate::{CoreError, Tally};
use serde_json::{Value, json};
use tally_domain::ids::{MemberId, MessageId, ProgramId, TenantId};
use tally_store::Database;
use tally_store::queries::Page;
use tally_store::queries::messages::{self as store, MessageRow};

fn page(p: Page<MessageRow>, show: impl Fn(&MessageRow) -> Value) -> Page<Value> {
    Page {
        items: p.items.iter().map(show).collect(),
        next_cursor: p.next_cursor,
    }
}

/// What became of the messages of a campaign or journey (`source_id`): how many per status
/// (`held_out` only for a campaign), and how many were opened, clicked and unsubscribed from.
pub(crate) async fn delivery_figures<C: tally_store::Conn>(
    c: &mut C,
    source_id: &str,
    with_held_out: bool,
) -> Result<Value, tally_store::StoreError> {
    let (statuses, [opened, clicked, unsubscribed]) = store::by_source(c, source_id).await?;
    let mut figures = json!({
        "queued": 0, "sent": 0, "bounced": 0, "failed": 0, "suppressed": 0,
        "opened": opened, "clicked": clicked, "unsubscribed": unsubscribed,
    });
    if with_held_out {
        figures["held_out"] = json!(0);
    }
    for (status, n) in statuses {
        figures[status] = json!(n);
    }
    Ok(figures)
}

/// An in-app message as the wallet shows it.
pub fn inbox_view(m: &MessageRow) -> Value {
    json!({
        "id": m.id,
        "subject": m.subject,
        "text": m.text,
        "sent_at": m.settled_at,
        "read_at": m.read_at,
    })
}

impl<D: Database> Tally<D> {
    pub async fn messaging_settings(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
    ) -> Result<Value, CoreError> {
        let mut c = self.read().await?;
        program_of(&mut c, tenant, program).await?;
        Ok(settings(&mut c, program).await?.to_json())
    }

    pub async fn message(&self, tenant: &TenantId, id: &MessageId) -> Result<Value, CoreError> {
        let row = found(
            store::get(&mut self.read().await?, tenant, id).await?,
            "message",
        )?;
        Ok(view(&row))
    }

    /// A member's messages, newest first.
    pub async fn member_messages(
        &self,
        tenant: &TenantId,
        member: &MemberId,
        cursor: Option<i64>,
        limit: Option<i64>,
    ) -> Result<Page<Value>, CoreError> {
        let mut c = self.read().await?;
        member_of(&mut c, tenant, member).await?;
        Ok(page(
            store::for_member(&mut c, member, cursor, limit).await?,
            view,
        ))
    }

    /// A member's in-app inbox, newest first.
    pub async fn member_inbox(
        &self,
        tenant: &TenantId,
        member: &MemberId,
        cursor: Option<i64>,
        limit: Option<i64>,
    ) -> Result<Page<Value>, CoreError> {
        let mut c = self.read().await?;
        member_of(&mut c, tenant, member).await?;
        Ok(page(
            store::inbox(&mut c, member, cursor, limit).await?,
            inbox_view,
        ))
    }

    /// A member's browsers subscribed to push notifications, newest first.
    pub async fn push_subscriptions(
        &self,
        tenant: &TenantId,
        member: &MemberId,
    ) -> Result<Value, CoreError> {
        let mut c = self.read().await?;
        member_of(&mut c, tenant, member).await?;
        let rows = tally_store::queries::push::of_member(&mut c, member).await?;
        Ok(json!({ "items": crate::usecases::push::views(&rows) }))
    }

    /// A value every node shares (`vapid`: the push key pair), if one was kept.
    pub async fn server_key(&self, name: &str) -> Result<Option<String>, CoreError> {
        let mut c = self.read().await?;
        Ok(tally_store::queries::push::server_key(&mut c, name).await?)
    }

    /// The message a link's token names, with its tenant (links carry no API key).
    pub async fn message_by_token(
        &self,
        token: &str,
    ) -> Result<Option<(TenantId, Value, Option<String>)>, CoreError> {
        let row = store::by_token(&mut self.read().await?, token).await?;
        Ok(row.map(|m| (m.tenant_id.clone(), view(&m), m.html.clone())))
    }
}
