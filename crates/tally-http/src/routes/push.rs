//! Push subscriptions: a member's browsers that agreed to notifications, one added (as the
//! browser's Push API gives it), listed, and removed.

use super::{ApiResult, created, ok, write};
use crate::AppState;
use crate::auth::{Caller, Scope};
use crate::body::{JsonBody, NoBody};
use crate::params::path_id;
use axum::extract::{Path, State};
use tally_core::Command;
use tally_core::push::PushCommand;
use tally_domain::ids::{MemberId, PushSubscriptionId};
use tally_domain::push::PushSubscriptionInput;
use tally_store::Database;

fn member_id(raw: &str) -> Result<MemberId, crate::problem::ApiError> {
    path_id(raw, MemberId::parse, "member")
}

/// The body is `PushSubscription.toJSON()`. Push consent is not granted here: record it
/// with the member's consents (the wallet's button does both).
pub async fn subscribe<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(member): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Write)?;
    let member = member_id(&member)?;
    let input = PushSubscriptionInput::parse(&body.value)?;
    let command = Command::Push(PushCommand::Subscribe {
        member,
        input,
        consent: None,
    });
    created(write(&app, &caller, body.idempotency, command).await?)
}

pub async fn list<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(member): Path<String>,
) -> ApiResult {
    let member = member_id(&member)?;
    ok(app
        .tally
        .push_subscriptions(&caller.tenant, &member)
        .await?)
}

pub async fn remove<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path((member, subscription)): Path<(String, String)>,
    body: NoBody,
) -> ApiResult {
    caller.require(Scope::Write)?;
    let member = member_id(&member)?;
    let subscription = path_id(
        &subscription,
        PushSubscriptionId::parse,
        "push subscription",
    )?;
    let command = Command::Push(PushCommand::Unsubscribe {
        member,
        subscription,
    });
    ok(write(&app, &caller, body.idempotency, command).await?)
}
