//! Signing in and out: by email and password, or by a one-time link (which is also how a new
//! operator, invited, chooses a password).

use super::{FormErrors, PageResult, render};
use crate::WebState;
use crate::error::WebError;
use crate::i18n::Lang;
use crate::secrets::{self, new_token, sha256_hex};
use crate::session::{
    Console, ConsoleForm, PRE_SESSION_COOKIE, PublicForm, SESSION_COOKIE, SESSION_TTL, cookie,
    language, set_cookie,
};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Redirect};
use std::collections::HashMap;
use tally_core::{Command, CoreError, NewSession};
use tally_domain::operators::{Operator, Role};
use tally_domain::text::Email;
use tally_store::Database;
use tally_store::queries::operators::LinkPurpose;

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    lang: Lang,
    csrf: String,
    next: String,
    email: String,
    errors: FormErrors,
}

#[derive(Template)]
#[template(path = "link.html")]
struct LinkPage {
    lang: Lang,
    csrf: String,
    token: String,
    operator: Operator,
    invite: bool,
    errors: FormErrors,
}

impl SignInPage {
    fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }
}

impl LinkPage {
    fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }
}

/// Only paths inside the console are followed after signing in (no open redirect).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/console") && !n.starts_with("//") && !n.contains('\\') => {
            n.to_owned()
        }
        _ => "/console".to_owned(),
    }
}

/// The pre-session token of this browser, or a new one (sent back as a cookie).
fn pre_session(headers: &HeaderMap) -> (String, bool) {
    match cookie(headers, PRE_SESSION_COOKIE).filter(|t| t.len() == 64) {
        Some(t) => (t, false),
        None => (new_token(), true),
    }
}

fn with_pre_cookie<D: Database>(
    state: &WebState<D>,
    page: PageResult,
    token: &str,
    fresh: bool,
) -> PageResult {
    let mut response = page?;
    if fresh {
        let value = set_cookie(
            PRE_SESSION_COOKIE,
            token,
            3600,
            "Strict",
            state.secure_cookies,
        );
        response
            .headers_mut()
            .append(SET_COOKIE, value.parse().map_err(|_| WebError::BadRequest)?);
    }
    Ok(response)
}

pub async fn sign_in_form<D: Database>(
    State(state): State<WebState<D>>,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
    headers: HeaderMap,
) -> PageResult {
    let (csrf, fresh) = pre_session(&headers);
    let page = SignInPage {
        lang: language(&uri, &headers, None),
        csrf: csrf.clone(),
        next: safe_next(q.get("next").map(String::as_str)),
        email: String::new(),
        errors: FormErrors::default(),
    };
    with_pre_cookie(&state, render(&page), &csrf, fresh)
}

pub async fn sign_in<D: Database>(
    State(state): State<WebState<D>>,
    form: PublicForm,
) -> PageResult {
    let f = &form.fields;
    let next = safe_next(f.get("next"));
    let email = Email::parse(f.raw("email"));
    let found = match &email {
        Ok(e) => state.tally.operator_by_email(e).await?,
        Err(_) => None,
    };
    let (operator, hash) = match found {
        Some((op, hash)) if op.active => (Some(op), hash),
        _ => (None, None),
    };
    // Verified even when the operator is unknown, so both answers take the same time.
    let matches = secrets::verify_password(f.raw("password").to_owned(), hash).await;
    let Some(operator) = operator.filter(|_| matches) else {
        tracing::info!(email = f.raw("email"), "console sign-in refused");
        let mut errors = FormErrors::default();
        errors.add("general", form.lang.t("sign_in.wrong"));
        return render(&SignInPage {
            lang: form.lang,
            csrf: f.raw("csrf").to_owned(),
            next,
            email: f.raw("email").to_owned(),
            errors,
        });
    };
    start_session(&state, &operator, None, None, &next).await
}

/// Starts a session (using up `link` if given) and sends the browser on with its cookie.
async fn start_session<D: Database>(
    state: &WebState<D>,
    operator: &Operator,
    link_sha256: Option<String>,
    password_hash: Option<String>,
    next: &str,
) -> PageResult {
    let token = new_token();
    let session = NewSession {
        operator: operator.id.clone(),
        token_sha256: sha256_hex(&token),
        csrf_token: new_token(),
        ttl: SESSION_TTL,
        link_sha256,
        password_hash,
    };
    match state
        .tally
        .write(
            &operator.tenant_id,
            &format!("operator:{}", operator.email),
            None,
            Command::StartOperatorSession(session),
        )
        .await
    {
        Ok(_) => {}
        Err(CoreError::Domain(tally_domain::DomainError::Refused { .. })) => {
            return Err(WebError::NotFound);
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(operator = %operator.id, "console session started");
    let cookie = set_cookie(
        SESSION_COOKIE,
        &token,
        SESSION_TTL.as_secs(),
        "Lax",
        state.secure_cookies,
    );
    Ok(([(SET_COOKIE, cookie)], Redirect::to(next)).into_response())
}

pub async fn link_page<D: Database>(
    State(state): State<WebState<D>>,
    Path(token): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> PageResult {
    let (operator, purpose) = state
        .tally
        .operator_link(&sha256_hex(&token))
        .await?
        .ok_or(WebError::NotFound)?;
    let (csrf, fresh) = pre_session(&headers);
    let page = LinkPage {
        lang: language(&uri, &headers, Some(&operator)),
        csrf: csrf.clone(),
        token,
        operator,
        invite: purpose == LinkPurpose::Invite,
        errors: FormErrors::default(),
    };
    with_pre_cookie(&state, render(&page), &csrf, fresh)
}

/// Uses a one-time link. A link is shown as a page with a button rather than used by the GET
/// itself, so a mail scanner that follows links does not use it up.
pub async fn use_link<D: Database>(
    State(state): State<WebState<D>>,
    Path(token): Path<String>,
    form: PublicForm,
) -> PageResult {
    let link_sha256 = sha256_hex(&token);
    let (operator, purpose) = state
        .tally
        .operator_link(&link_sha256)
        .await?
        .ok_or(WebError::NotFound)?;
    let mut password_hash = None;
    if purpose == LinkPurpose::Invite {
        let password = form.fields.raw("password");
        let mut errors = FormErrors::default();
        if let Err(key) = secrets::check_password_policy(password) {
            errors.add("password", form.lang.t(key));
        } else if password != form.fields.raw("password_again") {
            errors.add("password_again", form.lang.t("form.password_mismatch"));
        }
        if !errors.is_empty() {
            return render(&LinkPage {
                lang: form.lang,
                csrf: form.fields.raw("csrf").to_owned(),
                token,
                operator,
                invite: true,
                errors,
            });
        }
        password_hash = Some(
            secrets::hash_password(password.to_owned())
                .await
                .map_err(WebError::Internal)?,
        );
    }
    start_session(
        &state,
        &operator,
        Some(link_sha256),
        password_hash,
        "/console",
    )
    .await
}

pub async fn sign_out<D: Database>(
    State(state): State<WebState<D>>,
    form: ConsoleForm,
) -> PageResult {
    let console = form.console;
    state
        .tally
        .write(
            &console.operator.tenant_id,
            &console.actor(),
            None,
            Command::EndOperatorSession {
                token_sha256: console.session_sha256.clone(),
            },
        )
        .await?;
    let cleared = set_cookie(SESSION_COOKIE, "", 0, "Lax", state.secure_cookies);
    Ok((
        [(SET_COOKIE, cleared)],
        Redirect::to(&format!("/console/sign-in?lang={}", console.lang.code())),
    )
        .into_response())
}

/// `/console`: the operator's program (or a choice of programs), by role.
pub async fn home<D: Database>(State(state): State<WebState<D>>, console: Console) -> PageResult {
    let programs = state.tally.programs(&console.operator.tenant_id).await?;
    let landing = if console.operator.role == Role::Cashier {
        "cashier"
    } else {
        "dashboard"
    };
    match programs.first() {
        Some(p) => Ok(Redirect::to(&format!("/console/{}/{landing}", p.id)).into_response()),
        // A new tenant's owner starts with the setup wizard.
        None if console.operator.role.can_administer() => {
            Ok(Redirect::to("/console/setup").into_response())
        }
        None => Err(WebError::NotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_console_paths_are_followed_after_sign_in() {
        assert_eq!(
            safe_next(Some("/console/prg_1/members")),
            "/console/prg_1/members"
        );
        assert_eq!(safe_next(Some("https://evil.example")), "/console");
        assert_eq!(safe_next(Some("//evil.example")), "/console");
        assert_eq!(safe_next(Some("/console\\..\\x")), "/console");
        assert_eq!(safe_next(None), "/console");
    }
}
