//! The wallet's inbox: the messages the program delivered in the app (or pushed), newest first,
//! unread ones marked, and marking one read; and turning push notifications on for this
//! browser.

use super::wallet::{Wallet, own_card};
use super::wallet_card::card_page;
use super::{FormErrors, PageResult, unprocessable, write_as};
use crate::WebState;
use crate::error::WebError;
use crate::session::Fields;
use axum::extract::{Path, State};
use tally_core::Command;
use tally_core::push::PushCommand;
use tally_domain::ids::{MemberId, MessageId, TenantId};
use tally_domain::push::PushSubscriptionInput;
use tally_store::Database;

/// An inbox message as the wallet shows it.
pub struct InboxItem {
    pub id: String,
    pub subject: String,
    pub text: String,
    pub unread: bool,
}

/// The member's latest inbox messages.
pub async fn inbox<D: Database>(
    state: &WebState<D>,
    tenant: &TenantId,
    member: &MemberId,
) -> Result<Vec<InboxItem>, WebError> {
    let page = state
        .tally
        .member_inbox(tenant, member, None, Some(20))
        .await?;
    Ok(page
        .items
        .iter()
        .map(|m| InboxItem {
            id: m["id"].as_str().unwrap_or_default().to_owned(),
            subject: m["subject"].as_str().unwrap_or_default().to_owned(),
            text: m["text"].as_str().unwrap_or_default().to_owned(),
            unread: m["read_at"].is_null(),
        })
        .collect())
}

/// What the card page needs for push notifications: the server's public key browsers
/// subscribe with (none until a `tally serve` made it), and how many of the member's browsers
/// have them on.
pub struct PushState {
    pub key: Option<String>,
    pub devices: usize,
}

pub async fn push_state<D: Database>(
    state: &WebState<D>,
    tenant: &TenantId,
    member: &MemberId,
) -> Result<PushState, WebError> {
    let kept = state.tally.server_key(tally_core::push::VAPID_KEY).await?;
    let key = kept.and_then(|k| k.split_once('.').map(|(_, public)| public.to_owned()));
    let subscriptions = state.tally.push_subscriptions(tenant, member).await?;
    let devices = subscriptions["items"].as_array().map_or(0, Vec::len);
    Ok(PushState { key, devices })
}

/// This browser's push subscription (the fields `endpoint`, `p256dh` and `auth`, filled in by
/// `wallet.js` from the Push API): kept, and push consent granted with the source `wallet`.
pub async fn subscribe<D: Database>(
    State(state): State<WebState<D>>,
    Path(member): Path<String>,
    wallet: Wallet,
    axum::extract::Form(pairs): axum::extract::Form<Vec<(String, String)>>,
) -> PageResult {
    let fields = Fields::from_pairs(pairs)?;
    wallet.check(&fields)?;
    let (tenant, id) = own_card(&state, &wallet, &member).await?;
    let body = serde_json::json!({
        "endpoint": fields.raw("endpoint"),
        "keys": {"p256dh": fields.raw("p256dh"), "auth": fields.raw("auth")},
    });
    let command = PushSubscriptionInput::parse(&body).map(|input| {
        Command::Push(PushCommand::Subscribe {
            member: id,
            input,
            consent: Some("wallet".into()),
        })
    });
    match write_as(&state, &tenant, "wallet", wallet.lang, command, &[]).await? {
        Ok(_) => {
            let notice = wallet.lang.t("wallet.push_on").to_owned();
            let errors = FormErrors::default();
            card_page(&state, &wallet, &member, None, notice, errors).await
        }
        Err(errors) => Ok(unprocessable(
            card_page(&state, &wallet, &member, None, String::new(), errors).await?,
        )),
    }
}

/// The member read a message: it is no longer marked new.
pub async fn read<D: Database>(
    State(state): State<WebState<D>>,
    Path((member, message)): Path<(String, String)>,
    wallet: Wallet,
    axum::extract::Form(pairs): axum::extract::Form<Vec<(String, String)>>,
) -> PageResult {
    let fields = Fields::from_pairs(pairs)?;
    wallet.check(&fields)?;
    let (tenant, id) = own_card(&state, &wallet, &member).await?;
    let message = MessageId::parse(&message).map_err(|_| WebError::NotFound)?;
    let command = Ok(Command::ReadMessage {
        member: id,
        message,
    });
    let errors = match write_as(&state, &tenant, "wallet", wallet.lang, command, &[]).await? {
        Ok(_) => FormErrors::default(),
        Err(errors) => errors,
    };
    card_page(&state, &wallet, &member, None, String::new(), errors).await
}
