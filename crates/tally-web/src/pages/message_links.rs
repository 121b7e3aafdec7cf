//! The links inside messages, which work without signing in (the token in the link is the
//! secret): the unsubscribe page, where a person confirms with one button and a mail client's
//! one-click POST (RFC 8058) lands; the open pixel; and tracked links, which redirect only to
//! a link the message itself carries.

use super::{PageResult, render};
use crate::WebState;
use crate::error::WebError;
use crate::i18n::Lang;
use crate::session::language;
use axum::extract::{Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use std::collections::HashMap;
use tally_core::Command;
use tally_core::messages::Reaction;
use tally_domain::ids::{ProgramId, TenantId};
use tally_store::Database;

#[derive(askama::Template)]
#[template(path = "unsubscribe.html")]
struct UnsubscribePage {
    lang: Lang,
    token: String,
    program_name: String,
    done: bool,
}

impl UnsubscribePage {
    fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }
}

/// The message's tenant and program, when the token names one.
async fn message_of<D: Database>(
    state: &WebState<D>,
    token: &str,
) -> Result<(TenantId, ProgramId, Option<String>), WebError> {
    let (tenant, message, html) = state
        .tally
        .message_by_token(token)
        .await?
        .ok_or(WebError::NotFound)?;
    let program =
        ProgramId::from_trusted(message["program_id"].as_str().unwrap_or_default().into());
    Ok((tenant, program, html))
}

async fn page<D: Database>(
    state: &WebState<D>,
    token: String,
    lang: Lang,
    done: bool,
) -> PageResult {
    let (tenant, program, _) = message_of(state, &token).await?;
    let program = state.tally.program(&tenant, &program).await?;
    render(&UnsubscribePage {
        lang,
        token,
        program_name: program.name,
        done,
    })
}

/// `GET /unsubscribe/{token}`: asks. A GET never unsubscribes: link scanners open every link.
pub async fn confirm<D: Database>(
    State(state): State<WebState<D>>,
    Path(token): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> PageResult {
    page(&state, token, language(&uri, &headers, None), false).await
}

/// `POST /unsubscribe/{token}`: the button, or a mail client's one-click POST
/// (`List-Unsubscribe=One-Click`). No session or CSRF token: the link's token is the secret,
/// and unsubscribing twice is harmless.
pub async fn unsubscribe<D: Database>(
    State(state): State<WebState<D>>,
    Path(token): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> PageResult {
    react(&state, &token, Reaction::Unsubscribed).await?;
    page(&state, token, language(&uri, &headers, None), true).await
}

async fn react<D: Database>(
    state: &WebState<D>,
    token: &str,
    reaction: Reaction,
) -> Result<Option<String>, WebError> {
    let (tenant, _, html) = message_of(state, token).await?;
    let command = Command::ReactToMessage {
        token: token.to_owned(),
        reaction,
    };
    state.tally.write(&tenant, "member", None, command).await?;
    Ok(html)
}

/// The smallest transparent GIF.
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// `GET /m/{token}/open.gif`: records the first open; always the pixel (an unknown token
/// learns nothing).
pub async fn opened<D: Database>(
    State(state): State<WebState<D>>,
    Path(token): Path<String>,
) -> Response {
    if let Err(e) = react(&state, &token, Reaction::Opened).await {
        tracing::debug!(error = ?e, "an open was not recorded");
    }
    (
        [(CONTENT_TYPE, "image/gif"), (CACHE_CONTROL, "no-store")],
        PIXEL,
    )
        .into_response()
}

/// `GET /m/{token}/click?to=…`: records the first click and goes on to `to`, which must be a
/// link of that message (never an open redirect).
pub async fn clicked<D: Database>(
    State(state): State<WebState<D>>,
    Path(token): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, WebError> {
    let to = query.get("to").ok_or(WebError::NotFound)?;
    let (_, _, html) = message_of(&state, &token).await?;
    let carried = html.is_some_and(|h| tally_domain::tracking::carries_link(&h, to));
    if !carried {
        return Err(WebError::NotFound);
    }
    react(&state, &token, Reaction::Clicked).await?;
    Ok(Redirect::to(to).into_response())
}
