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

/// Swagger UI, vendored from the npm package `swagger-ui-dist` (see `assets/swagger-ui/README.md`)
/// and embedded, so the docs work offline. `docs.html` asks for it with `?v=<version>`, so the
/// long cache lifetime is safe across upgrades.
const SWAGGER_UI_JS: &[u8] = include_bytes!("../../assets/swagger-ui/swagger-ui-bundle.js");
const SWAGGER_UI_CSS: &[u8] = include_bytes!("../../assets/swagger-ui/swagger-ui.css");
const ASSET_CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

pub async fn swagger_ui_js() -> Response {
    static_asset("text/javascript; charset=utf-8", SWAGGER_UI_JS)
}

pub async fn swagger_ui_css() -> Response {
    static_asset("text/css; charset=utf-8", SWAGGER_UI_CSS)
}

fn static_asset(content_type: &'static str, body: &'static [u8]) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, ASSET_CACHE_CONTROL),
        ],
        body,
    )
        .into_response()
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
