//! The wallet's inbox: the messages the program delivered in the app, newest first, unread ones
//! marked, and marking one read.

use super::wallet::{Wallet, own_card};
use super::wallet_card::card_page;
use super::{FormErrors, PageResult, write_as};
use crate::WebState;
use crate::error::WebError;
use crate::session::Fields;
use axum::extract::{Path, State};
use tally_core::Command;
use tally_domain::ids::{MemberId, MessageId, TenantId};
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
