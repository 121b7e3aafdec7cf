//! Query parameters and path ids, with errors as problems.

use crate::problem::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use std::collections::HashMap;

/// The query string as key/value pairs.
pub struct Params(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Params, ApiError> {
        let axum::extract::Query(map) =
            axum::extract::Query::<HashMap<String, String>>::from_request_parts(parts, state)
                .await
                .map_err(|e| ApiError::BadParameter {
                    parameter: "query".into(),
                    detail: e.body_text(),
                })?;
        Ok(Params(map))
    }
}

impl Params {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Refuses parameters the endpoint does not know, so a typo is not silently ignored.
    pub fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        match self.0.keys().find(|k| !known.contains(&k.as_str())) {
            Some(unknown) => Err(ApiError::BadParameter {
                parameter: unknown.clone(),
                detail: format!("unknown parameter; expected one of: {}", known.join(", ")),
            }),
            None => Ok(()),
        }
    }

    /// `cursor` (opaque, from `next_cursor`) and `limit` (1 to 200, default 50).
    pub fn page(&self) -> Result<(Option<i64>, Option<i64>), ApiError> {
        let cursor = self
            .get("cursor")
            .map(|c| {
                c.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    bad("cursor", "must be a next_cursor value from an earlier page")
                })
            })
            .transpose()?;
        let limit = self
            .get("limit")
            .map(|l| {
                l.parse::<i64>()
                    .ok()
                    .filter(|n| (1..=200).contains(n))
                    .ok_or_else(|| bad("limit", "must be a whole number from 1 to 200"))
            })
            .transpose()?;
        Ok((cursor, limit))
    }
}

pub fn bad(parameter: &str, detail: &str) -> ApiError {
    ApiError::BadParameter {
        parameter: parameter.into(),
        detail: detail.into(),
    }
}

/// Parses an id from the path; a malformed id is simply not found.
pub fn path_id<T>(
    raw: &str,
    parse: fn(&str) -> Result<T, String>,
    entity: &str,
) -> Result<T, ApiError> {
    parse(raw).map_err(|_| ApiError::not_found(entity))
}
