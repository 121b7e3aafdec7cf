//! The request body: JSON only, size-limited, with its `Idempotency-Key`.

use crate::problem::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use sha2::{Digest, Sha256};
use tally_core::IdempotencyKey;

/// Bodies above this are refused with 413 before they are read in full.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
const MAX_KEY_CHARS: usize = 255;

pub struct JsonBody {
    pub value: serde_json::Value,
    pub idempotency: Option<IdempotencyKey>,
}

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<JsonBody, ApiError> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .next()
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
            });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let key = match req.headers().get("idempotency-key") {
            None => None,
            Some(v) => {
                let key = v
                    .to_str()
                    .ok()
                    .map(str::trim)
                    .filter(|k| !k.is_empty() && k.len() <= MAX_KEY_CHARS)
                    .ok_or_else(|| ApiError::BadParameter {
                        parameter: "Idempotency-Key".into(),
                        detail: format!("must be 1 to {MAX_KEY_CHARS} visible ASCII characters"),
                    })?;
                Some(key.to_owned())
            }
        };
        let request_line = format!("{} {}\n", req.method(), req.uri().path());
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge {
                    limit_bytes: MAX_BODY_BYTES,
                }
            } else {
                ApiError::BadRequest {
                    code: "malformed_body",
                    detail: e.body_text(),
                }
            }
        })?;
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| ApiError::BadRequest {
                code: "malformed_json",
                detail: format!("the body is not valid JSON: {e}"),
            })?;
        let idempotency = key.map(|key| {
            let mut hash = Sha256::new();
            hash.update(request_line.as_bytes());
            hash.update(&bytes);
            IdempotencyKey {
                key,
                request_sha256: tally_domain::text::hex(&hash.finalize()),
            }
        });
        Ok(JsonBody { value, idempotency })
    }
}

/// POST endpoints without a body (cancel, rotate) still honour `Idempotency-Key`.
pub struct NoBody {
    pub idempotency: Option<IdempotencyKey>,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for NoBody {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<NoBody, ApiError> {
        let idempotency = match parts.headers.get("idempotency-key") {
            None => None,
            Some(v) => {
                let key = v
                    .to_str()
                    .ok()
                    .map(str::trim)
                    .filter(|k| !k.is_empty() && k.len() <= MAX_KEY_CHARS)
                    .ok_or_else(|| ApiError::BadParameter {
                        parameter: "Idempotency-Key".into(),
                        detail: format!("must be 1 to {MAX_KEY_CHARS} visible ASCII characters"),
                    })?;
                let line = format!("{} {}\n", parts.method, parts.uri.path());
                let hash = tally_domain::text::hex(&Sha256::digest(line.as_bytes()));
                Some(IdempotencyKey {
                    key: key.to_owned(),
                    request_sha256: hash,
                })
            }
        };
        Ok(NoBody { idempotency })
    }
}
