//! Errors of the browser interface, and how each is shown.
//!
//! Policy: a handler returns a [`WebError`]; it becomes a status code and a marker, and the
//! [`error_pages`] middleware (which knows the request's language) renders the page. Being signed
//! out is a redirect to the sign-in page, not an error page. A form with invalid input is not an
//! error at all: the handler renders the form again with a message next to each field. Internal
//! errors are logged with their cause and shown as an opaque page.

use crate::i18n::Lang;
use crate::session::language;
use askama::Template;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use tally_core::CoreError;
use tally_domain::DomainError;

#[derive(Debug)]
pub enum WebError {
    NotSignedIn {
        next: String,
        lang: Lang,
    },
    Forbidden,
    NotFound,
    /// A form without a valid CSRF token (or an expired page).
    BadCsrf,
    BadRequest,
    Internal(String),
}

impl From<CoreError> for WebError {
    fn from(e: CoreError) -> WebError {
        match e {
            CoreError::Domain(DomainError::NotFound { .. }) => WebError::NotFound,
            other => WebError::Internal(other.to_string()),
        }
    }
}

/// Which error page to render, left on the response for [`error_pages`].
#[derive(Clone, Copy, Debug)]
struct ErrorPage(StatusCode);

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = match self {
            WebError::NotSignedIn { next, lang } => {
                let target = format!(
                    "/console/sign-in?lang={}&next={}",
                    lang.code(),
                    crate::pages::url_encode(&next)
                );
                return Redirect::to(&target).into_response();
            }
            WebError::Forbidden | WebError::BadCsrf => StatusCode::FORBIDDEN,
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::BadRequest => StatusCode::BAD_REQUEST,
            WebError::Internal(cause) => {
                tracing::error!(%cause, "console page failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let mut response = status.into_response();
        response.extensions_mut().insert(ErrorPage(status));
        response
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorTemplate {
    lang: Lang,
    title: &'static str,
    detail: &'static str,
}

impl ErrorTemplate {
    fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }
}

/// Renders error pages in the language of the request.
pub async fn error_pages(req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let lang = language(&parts.uri, &parts.headers, None);
    let response = next.run(Request::from_parts(parts, body)).await;
    let Some(ErrorPage(status)) = response.extensions().get::<ErrorPage>().copied() else {
        return response;
    };
    let (title, detail) = match status {
        StatusCode::NOT_FOUND => ("error.not_found", "error.not_found_detail"),
        StatusCode::FORBIDDEN => ("error.forbidden", "error.forbidden_detail"),
        StatusCode::BAD_REQUEST => ("error.bad_request", "error.bad_request_detail"),
        _ => ("error.internal", "error.internal_detail"),
    };
    let page = ErrorTemplate {
        lang,
        title: lang.t(title),
        detail: lang.t(detail),
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => status.into_response(),
    }
}
