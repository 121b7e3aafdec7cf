//! The member wallet: every card a person holds, in any program of any merchant, on one phone.
//!
//! Sign-in is by a one-time six-digit code sent to the person's email (over SMTP; without a
//! configured relay the code is written to the server log, and the demo prints a link with it).
//! A session is a person's, short-lived (a day), in its own cookie; each card page checks that
//! the card is the person's (another member's card is "not found"). Redeeming, and changing the
//! preferred channel and consents, go through the same commands as the API, recorded with the
//! source `wallet`.

use super::{FormErrors, PageResult, render, unprocessable};
use crate::WebState;
use crate::error::WebError;
use crate::i18n::Lang;
use crate::session::{Fields, LANG_COOKIE, PRE_SESSION_COOKIE, cookie, language, set_cookie};
use askama::Template;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use std::collections::HashMap;
use tally_core::secrets::{new_token, same_secret, sha256_hex};
use tally_core::{Command, WALLET_TENANT};
use tally_domain::display::ProgramDisplay;
use tally_domain::ids::{MemberId, PersonId, TenantId};
use tally_domain::model::Member;
use tally_domain::program::Program;
use tally_domain::text::Email;
use tally_store::Database;

pub const WALLET_COOKIE: &str = "tally_wallet";
/// A wallet session lasts a day; then the member asks for a new code.
pub const WALLET_TTL: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);
/// A sign-in code is good for ten minutes.
pub const CODE_TTL: jiff::SignedDuration = jiff::SignedDuration::from_mins(10);

/// The person signed in to the wallet.
pub struct Wallet {
    pub person: PersonId,
    pub csrf: String,
    pub session_sha256: String,
    pub lang: Lang,
}

impl<D: Database> FromRequestParts<WebState<D>> for Wallet {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &WebState<D>,
    ) -> Result<Wallet, Response> {
        let lang = language(&parts.uri, &parts.headers, None);
        let to_sign_in =
            || Redirect::to(&format!("/wallet/sign-in?lang={}", lang.code())).into_response();
        let token = cookie(&parts.headers, WALLET_COOKIE).ok_or_else(to_sign_in)?;
        let session_sha256 = sha256_hex(&token);
        let found = state
            .tally
            .wallet_session(&session_sha256)
            .await
            .map_err(|e| WebError::from(e).into_response())?;
        let (person, csrf) = found.ok_or_else(to_sign_in)?;
        Ok(Wallet {
            person,
            csrf,
            session_sha256,
            lang,
        })
    }
}

impl Wallet {
    pub(super) fn check(&self, fields: &Fields) -> Result<(), WebError> {
        if same_secret(fields.raw("csrf"), &self.csrf) {
            Ok(())
        } else {
            Err(WebError::BadCsrf)
        }
    }
}

/// The wallet's tenant-less actor for sign-in steps.
fn wallet_tenant() -> TenantId {
    TenantId::from_trusted(WALLET_TENANT.to_owned())
}

#[derive(Template)]
#[template(path = "wallet_sign_in.html")]
struct SignInPage {
    lang: Lang,
    csrf: String,
    email: String,
    code: String,
    /// After the email: ask for the code.
    code_step: bool,
    errors: FormErrors,
}

impl SignInPage {
    fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }
}

/// One card as the wallet lists it.
pub struct Card {
    pub member: Member,
    pub program: Program,
    pub display: ProgramDisplay,
}

#[derive(Template)]
#[template(path = "wallet_cards.html")]
struct CardsPage {
    lang: Lang,
    csrf: String,
    cards: Vec<Card>,
}

impl CardsPage {
    fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }

    fn points(&self, n: i64) -> String {
        self.lang.count("unit.points", n)
    }
}

pub(super) fn with_cookies(mut response: Response, cookies: &[String]) -> PageResult {
    for c in cookies {
        response
            .headers_mut()
            .append(SET_COOKIE, c.parse().map_err(|_| WebError::BadRequest)?);
    }
    Ok(response)
}

/// The browser's pre-session token (double-submit CSRF for the sign-in forms).
pub(super) fn pre_session(headers: &HeaderMap) -> (String, Option<String>) {
    match cookie(headers, PRE_SESSION_COOKIE).filter(|t| t.len() == 64) {
        Some(t) => (t, None),
        None => {
            let t = new_token();
            (t.clone(), Some(t))
        }
    }
}

pub async fn sign_in_form<D: Database>(
    State(state): State<WebState<D>>,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
    headers: HeaderMap,
) -> PageResult {
    let (csrf, fresh) = pre_session(&headers);
    let lang = language(&uri, &headers, None);
    let code = q.get("code").cloned().unwrap_or_default();
    let response = render(&SignInPage {
        lang,
        csrf: csrf.clone(),
        email: q.get("email").cloned().unwrap_or_default(),
        code_step: !code.is_empty(),
        code,
        errors: FormErrors::default(),
    })?;
    let mut cookies = Vec::new();
    if let Some(t) = fresh {
        cookies.push(set_cookie(
            PRE_SESSION_COOKIE,
            &t,
            3600,
            "Strict",
            state.secure_cookies,
        ));
    }
    if let Some(l) = q.get("lang").and_then(|l| Lang::parse(l)) {
        cookies.push(set_cookie(
            LANG_COOKIE,
            l.code(),
            365 * 86_400,
            "Lax",
            state.secure_cookies,
        ));
    }
    with_cookies(response, &cookies)
}

/// Checks the double-submit token of a sign-in form.
pub(super) fn check_pre_session(headers: &HeaderMap, fields: &Fields) -> Result<(), WebError> {
    let expected = cookie(headers, PRE_SESSION_COOKIE).ok_or(WebError::BadCsrf)?;
    if expected.len() == 64 && same_secret(fields.raw("csrf"), &expected) {
        Ok(())
    } else {
        Err(WebError::BadCsrf)
    }
}

/// Six random digits.
fn new_code() -> String {
    format!("{:06}", rand::random::<u32>() % 1_000_000)
}

/// What is stored of a sign-in code: the SHA-256 of the email and the code together.
pub fn code_sha256(email: &Email, code: &str) -> String {
    sha256_hex(&format!("{}:{}", email.as_str(), code.trim()))
}

/// Step one: an email. A code goes out if a person has that email; the next page is the same
/// either way, so the form tells nobody who has a card.
pub async fn send_code<D: Database>(
    State(state): State<WebState<D>>,
    uri: Uri,
    headers: HeaderMap,
    axum::extract::Form(pairs): axum::extract::Form<Vec<(String, String)>>,
) -> PageResult {
    let fields = Fields::from_pairs(pairs)?;
    check_pre_session(&headers, &fields)?;
    let lang = language(&uri, &headers, None);
    let csrf = fields.raw("csrf").to_owned();
    let email = match Email::parse(fields.raw("email")) {
        Ok(e) => e,
        Err(message) => {
            let mut errors = FormErrors::default();
            errors.add("email", message);
            return Ok(unprocessable(render(&SignInPage {
                lang,
                csrf,
                email: fields.raw("email").to_owned(),
                code: String::new(),
                code_step: false,
                errors,
            })?));
        }
    };
    let code = new_code();
    let command = Command::IssueWalletCode {
        email: email.clone(),
        code_sha256: code_sha256(&email, &code),
        ttl: CODE_TTL,
    };
    let answer = state
        .tally
        .write(&wallet_tenant(), "wallet", None, command)
        .await?;
    if answer["send"].as_bool() == Some(true) {
        send_code_email(&state, &email, &code, lang).await;
    }
    render(&SignInPage {
        lang,
        csrf,
        email: email.to_string(),
        code: String::new(),
        code_step: true,
        errors: FormErrors::default(),
    })
}

async fn send_code_email<D: Database>(state: &WebState<D>, email: &Email, code: &str, lang: Lang) {
    let Some(mailer) = &state.mailer else {
        tracing::info!(email = %email, code, "no SMTP relay configured: the wallet sign-in code is logged instead");
        return;
    };
    let to = match tally_mail::Mailbox::parse(email.as_str()) {
        Ok(to) => to,
        Err(e) => {
            tracing::warn!(error = %e, "wallet code: bad address");
            return;
        }
    };
    let subject = lang.tf("wallet.mail_subject", &[("code", code)]);
    let text = lang.tf("wallet.mail_text", &[("code", code)]);
    let message = tally_mail::Email::new(to, &subject, &text);
    if let Err(e) = mailer.send(&message).await {
        tracing::warn!(error = %e, "sending a wallet sign-in code failed");
    }
}

/// Step two: the code. A wrong code counts against the code (five wrong tries use it up).
pub async fn check_code<D: Database>(
    State(state): State<WebState<D>>,
    uri: Uri,
    headers: HeaderMap,
    axum::extract::Form(pairs): axum::extract::Form<Vec<(String, String)>>,
) -> PageResult {
    let fields = Fields::from_pairs(pairs)?;
    check_pre_session(&headers, &fields)?;
    let lang = language(&uri, &headers, None);
    let email = Email::parse(fields.raw("email")).map_err(|_| WebError::BadRequest)?;
    let token = new_token();
    let command = Command::StartWalletSession {
        email: email.clone(),
        code_sha256: code_sha256(&email, fields.raw("code")),
        token_sha256: sha256_hex(&token),
        csrf_token: new_token(),
        ttl: WALLET_TTL,
    };
    let answer = state
        .tally
        .write(&wallet_tenant(), "wallet", None, command)
        .await?;
    if answer["signed_in"].as_bool() == Some(true) {
        let cookie = set_cookie(
            WALLET_COOKIE,
            &token,
            WALLET_TTL.as_secs(),
            "Lax",
            state.secure_cookies,
        );
        return with_cookies(Redirect::to("/wallet").into_response(), &[cookie]);
    }
    let mut errors = FormErrors::default();
    errors.add("code", lang.t("wallet.wrong_code"));
    Ok(unprocessable(render(&SignInPage {
        lang,
        csrf: fields.raw("csrf").to_owned(),
        email: email.to_string(),
        code: String::new(),
        code_step: true,
        errors,
    })?))
}

pub async fn sign_out<D: Database>(
    State(state): State<WebState<D>>,
    wallet: Wallet,
    axum::extract::Form(pairs): axum::extract::Form<Vec<(String, String)>>,
) -> PageResult {
    wallet.check(&Fields::from_pairs(pairs)?)?;
    let command = Command::EndWalletSession {
        token_sha256: wallet.session_sha256.clone(),
    };
    state
        .tally
        .write(&wallet_tenant(), "wallet", None, command)
        .await?;
    let cleared = set_cookie(WALLET_COOKIE, "", 0, "Lax", state.secure_cookies);
    with_cookies(Redirect::to("/wallet/sign-in").into_response(), &[cleared])
}

/// A card of the person's, with its program and how the program shows itself.
pub(super) async fn card<D: Database>(
    state: &WebState<D>,
    tenant: &TenantId,
    member: &MemberId,
) -> Result<Card, WebError> {
    let member = state.tally.member(tenant, member).await?;
    let program = state.tally.program(tenant, &member.program_id).await?;
    let display = state.tally.program_display(&program.id).await?;
    Ok(Card {
        member,
        program,
        display,
    })
}

/// All of the person's cards.
async fn cards<D: Database>(state: &WebState<D>, person: &PersonId) -> Result<Vec<Card>, WebError> {
    let mut out = Vec::new();
    for m in state.tally.memberships(person).await? {
        out.push(card(state, &m.tenant, &m.member).await?);
    }
    Ok(out)
}

pub async fn home<D: Database>(State(state): State<WebState<D>>, wallet: Wallet) -> PageResult {
    let cards = cards(&state, &wallet.person).await?;
    render(&CardsPage {
        lang: wallet.lang,
        csrf: wallet.csrf.clone(),
        cards,
    })
}

/// The tenant of one of the person's cards, or "not found" for anyone else's.
pub(super) async fn own_card<D: Database>(
    state: &WebState<D>,
    wallet: &Wallet,
    member: &str,
) -> Result<(TenantId, MemberId), WebError> {
    let id = MemberId::parse(member).map_err(|_| WebError::NotFound)?;
    state
        .tally
        .memberships(&wallet.person)
        .await?
        .into_iter()
        .find(|m| m.member == id)
        .map(|m| (m.tenant, m.member))
        .ok_or(WebError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..100 {
            let c = new_code();
            assert!(c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit()));
        }
    }
}
