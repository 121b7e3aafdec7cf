//! Who is signed in, in which language, and the CSRF check every form goes through.
//!
//! The session cookie (`tally_session`) holds a 256-bit token; the database keeps its SHA-256,
//! the operator and a CSRF token. Cookies are `HttpOnly` and `SameSite=Lax`, and `Secure` when
//! the server is configured for HTTPS. Every POST carries the session's CSRF token in a hidden
//! field, compared in constant time ([`ConsoleForm`]); a form without a session (sign-in) carries
//! a token that must match a `SameSite=Strict` pre-session cookie (double submit).

use crate::WebState;
use crate::error::WebError;
use crate::i18n::Lang;
use crate::secrets::{same_secret, sha256_hex};
use axum::extract::{Form, FromRequest, FromRequestParts, Request};
use axum::http::header::{ACCEPT_LANGUAGE, COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Uri};
use std::collections::HashMap;
use tally_domain::operators::{Operator, Role};
use tally_store::Database;

pub const SESSION_COOKIE: &str = "tally_session";
pub const PRE_SESSION_COOKIE: &str = "tally_pre";
pub const LANG_COOKIE: &str = "tally_lang";
/// How long a console session lasts: a working day.
pub const SESSION_TTL: jiff::SignedDuration = jiff::SignedDuration::from_hours(12);
/// Most form fields read from one request.
const MAX_FORM_FIELDS: usize = 64;

/// The value of one cookie of the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A `Set-Cookie` value with our defaults.
pub fn set_cookie(
    name: &str,
    value: &str,
    max_age_s: i64,
    same_site: &str,
    secure: bool,
) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; Max-Age={max_age_s}; HttpOnly; SameSite={same_site}{secure}")
}

/// The language of a request: `?lang=` (remembered in a cookie by the page), the cookie, then
/// the operator's own, then the browser's `Accept-Language`, then English.
pub fn language(uri: &Uri, headers: &HeaderMap, operator: Option<&Operator>) -> Lang {
    let query_lang = uri.query().and_then(|q| {
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == "lang")
            .and_then(|(_, v)| Lang::parse(v))
    });
    query_lang
        .or_else(|| cookie(headers, LANG_COOKIE).and_then(|c| Lang::parse(&c)))
        .or_else(|| operator.and_then(|o| Lang::parse(&o.locale)))
        .or_else(|| {
            headers
                .get(ACCEPT_LANGUAGE)
                .and_then(|h| h.to_str().ok())
                .and_then(Lang::from_accept_language)
        })
        .unwrap_or(Lang::En)
}

/// A signed-in operator, for pages that need one.
#[derive(Clone, Debug)]
pub struct Console {
    pub operator: Operator,
    pub csrf_token: String,
    pub session_sha256: String,
    pub lang: Lang,
}

impl Console {
    /// The actor recorded on transfers and in the audit log.
    pub fn actor(&self) -> String {
        format!("operator:{}", self.operator.email)
    }

    pub fn require(&self, allowed: impl Fn(Role) -> bool) -> Result<(), WebError> {
        if allowed(self.operator.role) {
            Ok(())
        } else {
            Err(WebError::Forbidden)
        }
    }
}

impl<D: Database> FromRequestParts<WebState<D>> for Console {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &WebState<D>,
    ) -> Result<Console, WebError> {
        let next = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default();
        let lang = language(&parts.uri, &parts.headers, None);
        let not_signed_in = || WebError::NotSignedIn {
            next: next.clone(),
            lang,
        };
        let token = cookie(&parts.headers, SESSION_COOKIE).ok_or_else(not_signed_in)?;
        let session_sha256 = sha256_hex(&token);
        let session = state
            .tally
            .operator_session(&session_sha256)
            .await?
            .ok_or_else(not_signed_in)?;
        let lang = language(&parts.uri, &parts.headers, Some(&session.operator));
        Ok(Console {
            operator: session.operator,
            csrf_token: session.csrf_token,
            session_sha256,
            lang,
        })
    }
}

/// The fields of a submitted form, after the CSRF check.
#[derive(Clone, Debug, Default)]
pub struct Fields(pub HashMap<String, String>);

impl Fields {
    /// The fields of a submitted form; a form with absurdly many fields is a bad request.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<Fields, WebError> {
        if pairs.len() > MAX_FORM_FIELDS {
            return Err(WebError::BadRequest);
        }
        Ok(Fields(pairs.into_iter().collect()))
    }

    /// A field's value, trimmed; empty counts as absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    pub fn raw(&self, name: &str) -> &str {
        self.0.get(name).map(String::as_str).unwrap_or("")
    }
}

async fn read_form<S: Send + Sync>(req: Request, state: &S) -> Result<Fields, WebError> {
    let Form(pairs): Form<Vec<(String, String)>> = Form::from_request(req, state)
        .await
        .map_err(|_| WebError::BadRequest)?;
    Fields::from_pairs(pairs)
}

/// A form posted by a signed-in operator, with its CSRF token checked.
pub struct ConsoleForm {
    pub console: Console,
    pub fields: Fields,
}

impl<D: Database> FromRequest<WebState<D>> for ConsoleForm {
    type Rejection = WebError;

    async fn from_request(req: Request, state: &WebState<D>) -> Result<ConsoleForm, WebError> {
        let (mut parts, body) = req.into_parts();
        let console = Console::from_request_parts(&mut parts, state).await?;
        let fields = read_form(Request::from_parts(parts, body), state).await?;
        if !same_secret(fields.raw("csrf"), &console.csrf_token) {
            return Err(WebError::BadCsrf);
        }
        Ok(ConsoleForm { console, fields })
    }
}

/// A form posted without a session (sign-in, a one-time link), checked against the
/// pre-session cookie.
pub struct PublicForm {
    pub lang: Lang,
    pub fields: Fields,
}

impl<D: Database> FromRequest<WebState<D>> for PublicForm {
    type Rejection = WebError;

    async fn from_request(req: Request, state: &WebState<D>) -> Result<PublicForm, WebError> {
        let (parts, body) = req.into_parts();
        let lang = language(&parts.uri, &parts.headers, None);
        let expected = cookie(&parts.headers, PRE_SESSION_COOKIE).ok_or(WebError::BadCsrf)?;
        let fields = read_form(Request::from_parts(parts, body), state).await?;
        if expected.len() != 64 || !same_secret(fields.raw("csrf"), &expected) {
            return Err(WebError::BadCsrf);
        }
        Ok(PublicForm { lang, fields })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_name_among_several() {
        let mut h = HeaderMap::new();
        h.append(COOKIE, "a=1; tally_session=abc".parse().unwrap());
        h.append(COOKIE, "tally_lang=pl".parse().unwrap());
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, LANG_COOKIE).as_deref(), Some("pl"));
        assert_eq!(cookie(&h, "missing"), None);
    }
}
