//! Health, readiness, the API description, and problem pages.

use crate::AppState;
use crate::problem::{ApiError, PROBLEM_CODES};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use tally_store::Database;

pub async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the database answers.
pub async fn readyz<D: Database>(State(app): State<AppState<D>>) -> Response {
    match app.tally.ping().await {
        Ok(()) => "ready".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

pub const OPENAPI_JSON: &str = include_str!("../../openapi.json");

pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response()
}

const DOCS_HTML: &str = include_str!("../../docs.html");

pub async fn docs() -> Html<&'static str> {
    Html(DOCS_HTML)
}

pub async fn problem_page(Path(code): Path<String>) -> Response {
    match PROBLEM_CODES.iter().find(|(c, _)| *c == code) {
        Some((c, text)) => Html(format!(
            "<!doctype html><meta charset=utf-8><title>{c}</title><h1>{c}</h1><p>{}</p>",
            text.replace('<', "&lt;")
        ))
        .into_response(),
        None => ApiError::not_found("problem type").into_response(),
    }
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("path")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
