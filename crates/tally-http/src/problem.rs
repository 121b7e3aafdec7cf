//! Errors as RFC 9457 `application/problem+json`, mapped here and only here.
//!
//! Policy: a client error says what is wrong and, for invalid input, names every field with a
//! JSON pointer (`errors[].pointer`) or query parameter (`errors[].parameter`). A server error
//! says nothing about internals: it is logged with its cause and answered with an opaque 500
//! carrying the request id (added by the request-id middleware), so support can find the log.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tally_core::CoreError;
use tally_domain::{DomainError, FieldError};

#[derive(Debug)]
pub enum ApiError {
    Domain(DomainError),
    BadRequest {
        code: &'static str,
        detail: String,
    },
    BadParameter {
        parameter: String,
        detail: String,
    },
    Unauthorized(&'static str),
    Forbidden(&'static str),
    PayloadTooLarge {
        limit_bytes: usize,
    },
    UnsupportedMediaType,
    MethodNotAllowed,
    IdempotencyMismatch,
    Unavailable,
    /// Locked out after too many failed look-ups (voucher codes).
    TooManyFailures {
        retry_after_seconds: i64,
    },
    Internal(String),
}

pub const PROBLEM_JSON: &str = "application/problem+json";

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> ApiError {
        ApiError::Domain(e)
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> ApiError {
        match e {
            CoreError::Domain(d) => ApiError::Domain(d),
            CoreError::IdempotencyMismatch => ApiError::IdempotencyMismatch,
            CoreError::Unavailable => ApiError::Unavailable,
            CoreError::Store(s) => ApiError::Internal(s.to_string()),
            CoreError::Internal(s) => ApiError::Internal(s),
            CoreError::LockedOut {
                retry_after_seconds,
            } => ApiError::TooManyFailures {
                retry_after_seconds,
            },
        }
    }
}

impl ApiError {
    pub fn not_found(entity: &str) -> ApiError {
        ApiError::Domain(DomainError::not_found(entity))
    }

    /// Status, problem code and title of each kind of error.
    fn parts(&self) -> (StatusCode, String, String) {
        let (status, code, title): (StatusCode, &str, &str) = match self {
            ApiError::Domain(DomainError::Invalid { .. }) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "The request has invalid fields",
            ),
            ApiError::Domain(DomainError::NotFound { .. }) => {
                (StatusCode::NOT_FOUND, "not_found", "Not found")
            }
            ApiError::Domain(DomainError::Conflict { code, .. }) => {
                (StatusCode::CONFLICT, code, "Conflict with what is recorded")
            }
            ApiError::Domain(DomainError::Refused { code, .. }) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                code,
                "Refused by a program rule",
            ),
            ApiError::BadRequest { code, .. } => {
                (StatusCode::BAD_REQUEST, code, "Malformed request")
            }
            ApiError::BadParameter { .. } => (
                StatusCode::BAD_REQUEST,
                "bad_parameter",
                "Invalid query parameter",
            ),
            ApiError::Unauthorized(_) => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Missing or invalid API key",
            ),
            ApiError::Forbidden(_) => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "The API key's scope does not allow this",
            ),
            ApiError::PayloadTooLarge { .. } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "Request body too large",
            ),
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Send JSON",
            ),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Method not allowed",
            ),
            ApiError::IdempotencyMismatch => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "Idempotency-Key reused",
            ),
            ApiError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Temporarily unavailable",
            ),
            ApiError::TooManyFailures { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_failures",
                "Too many failed look-ups",
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
        };
        (status, code.to_owned(), title.to_owned())
    }

    fn detail(&self) -> String {
        match self {
            ApiError::Domain(DomainError::Invalid { fields }) => {
                format!(
                    "{} invalid field{}; see errors",
                    fields.len(),
                    if fields.len() == 1 { "" } else { "s" }
                )
            }
            ApiError::Domain(DomainError::NotFound { entity }) => format!("no such {entity}"),
            ApiError::Domain(
                DomainError::Conflict { detail, .. } | DomainError::Refused { detail, .. },
            ) => detail.clone(),
            ApiError::BadRequest { detail, .. } | ApiError::BadParameter { detail, .. } => {
                detail.clone()
            }
            ApiError::Unauthorized(d) | ApiError::Forbidden(d) => (*d).to_owned(),
            ApiError::PayloadTooLarge { limit_bytes } => {
                format!("the body must be at most {limit_bytes} bytes")
            }
            ApiError::UnsupportedMediaType => {
                "send the body as JSON with Content-Type: application/json".into()
            }
            ApiError::MethodNotAllowed => "this path does not accept this method".into(),
            ApiError::IdempotencyMismatch => {
                "this Idempotency-Key was used with a different request; use a new key".into()
            }
            ApiError::Unavailable => {
                "the service is busy or restarting; retry with the same Idempotency-Key".into()
            }
            ApiError::TooManyFailures {
                retry_after_seconds,
            } => format!(
                "too many unknown codes from this caller; try again in {retry_after_seconds} seconds"
            ),
            ApiError::Internal(_) => {
                "something went wrong on our side; quote the request_id when asking for help".into()
            }
        }
    }
}

fn field_errors(fields: &[FieldError]) -> Vec<Value> {
    fields
        .iter()
        .map(|f| json!({ "pointer": f.pointer, "detail": f.message }))
        .collect()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            tracing::error!(%cause, "internal error");
        }
        let (status, code, title) = self.parts();
        let mut body = json!({
            "type": format!("/problems/{code}"),
            "title": title,
            "status": status.as_u16(),
            "detail": self.detail(),
            "code": code,
        });
        match &self {
            ApiError::Domain(DomainError::Invalid { fields }) => {
                body["errors"] = Value::Array(field_errors(fields))
            }
            ApiError::BadParameter { parameter, detail } => {
                body["errors"] = json!([{ "parameter": parameter, "detail": detail }])
            }
            _ => {}
        }
        let mut response = (status, body.to_string()).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let ApiError::TooManyFailures {
            retry_after_seconds,
        } = &self
            && let Ok(value) = HeaderValue::from_str(&retry_after_seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The problem types, for the `/problems/{code}` pages that `type` links to.
pub const PROBLEM_CODES: &[(&str, &str)] = &[
    (
        "validation",
        "One or more fields are invalid; `errors[]` names each with a JSON pointer and what to fix.",
    ),
    (
        "not_found",
        "The resource does not exist, or belongs to another tenant.",
    ),
    (
        "order_conflict",
        "The order id was already recorded with other content.",
    ),
    (
        "event_conflict",
        "The event's idempotency_key was already recorded with other content.",
    ),
    (
        "external_id_taken",
        "Another member of the program has this external id.",
    ),
    (
        "insufficient_points",
        "The member does not have enough available points.",
    ),
    ("out_of_stock", "The reward has no stock left."),
    (
        "limit_reached",
        "The member has reached the reward's per-member limit.",
    ),
    (
        "reward_not_available",
        "The reward is inactive or outside its active window.",
    ),
    ("member_not_active", "The member is suspended or closed."),
    (
        "rule_archived",
        "The rule is archived; archived rules stay only for the history.",
    ),
    (
        "stamp_card_archived",
        "The stamp card is archived; archived cards stay only for the history.",
    ),
    (
        "stamp_card_not_active",
        "The stamp card is paused or archived: it gives no stamps.",
    ),
    (
        "stamp_limit_reached",
        "The member already got as many stamps on this card today as the card allows.",
    ),
    (
        "stamp_code_used",
        "The store's code was already used or has expired: each code gives one stamp, for a minute. Scan the code on the screen again.",
    ),
    (
        "qr_stamps_off",
        "This stamp card is not stamped by the store's QR code.",
    ),
    (
        "stamp_reward_missing",
        "The reward a stamp card gives is no longer in the program's catalog.",
    ),
    (
        "segment_key_taken",
        "The program already has a segment with this key; keys never change and are unique per program.",
    ),
    (
        "insights_running",
        "Customer insights are being computed for this program right now; ask again when that run has finished.",
    ),
    (
        "already_returned",
        "The whole order has already been returned.",
    ),
    (
        "redemption_not_cancellable",
        "The redemption was already consumed or cancelled.",
    ),
    (
        "redemption_not_consumable",
        "The redemption was already consumed or cancelled.",
    ),
    ("malformed_json", "The body is not valid JSON."),
    ("bad_parameter", "A query parameter is invalid."),
    (
        "unauthorized",
        "Send `Authorization: Bearer <API key>` with a valid, unrevoked key.",
    ),
    (
        "forbidden",
        "The API key's scope (read, write, admin) does not allow this call.",
    ),
    ("payload_too_large", "The body exceeds the size limit."),
    (
        "unsupported_media_type",
        "Send JSON with `Content-Type: application/json`.",
    ),
    (
        "idempotency_key_reused",
        "The Idempotency-Key was used before with a different request.",
    ),
    (
        "unavailable",
        "Temporarily unavailable; retry with the same Idempotency-Key.",
    ),
    (
        "internal",
        "An error on the server; it was logged with the request id.",
    ),
    (
        "member_closed",
        "A closed membership cannot be reopened; enrol the person again.",
    ),
    ("tenant_exists", "A tenant with this name exists."),
    ("malformed_body", "The body could not be read."),
    (
        "method_not_allowed",
        "This path does not accept this method.",
    ),
    (
        "voucher_used",
        "The voucher code was already used for another order (a retry for the same order gets the original answer).",
    ),
    (
        "voucher_other_order",
        "The voucher code was used for another order than the one being cancelled.",
    ),
    (
        "voucher_not_yet_valid",
        "The voucher's validity period has not started.",
    ),
    ("voucher_expired", "The voucher's validity period is over."),
    (
        "voucher_not_applicable",
        "The voucher does not apply: none of the basket's lines are in its categories, or its pool was archived.",
    ),
    (
        "voucher_basket_too_small",
        "The basket (its eligible part) is below the voucher's minimum.",
    ),
    (
        "voucher_pool_archived",
        "The voucher pool is archived: resume it to add or hand out codes.",
    ),
    (
        "voucher_pool_empty",
        "The voucher pool has no free code left to hand to a member; add codes.",
    ),
    (
        "charity_not_active",
        "The charity is archived: it takes no gifts now.",
    ),
    (
        "settlement_exceeds_owed",
        "A payout to a charity may not be more than the program owes it (the money given less what was paid).",
    ),
    (
        "too_many_failures",
        "Too many unknown voucher codes from this API key, member or address: look-ups are refused until the window ends (see Retry-After).",
    ),
    (
        "offer_not_available",
        "The offer cannot be activated by this member now: it is paused, over or not started, or it is not for them.",
    ),
    (
        "offer_not_activatable",
        "The offer is automatic: every member of its audience has it, so there is nothing to activate.",
    ),
    (
        "friend_group_refused",
        "The member cannot join this group: it is full or its time is over, they are in another group for the offer, or someone in it is the same person or has the same email or phone.",
    ),
    (
        "fulfilment_not_allowed",
        "The redemption is not a physical reward, is cancelled or delivered, or cannot move to that fulfilment status (requested → shipped → delivered).",
    ),
    (
        "insufficient_cashback",
        "The member's cashback does not cover the amount to pay; nothing was taken.",
    ),
    (
        "offer_ended",
        "An ended offer cannot start again; create a new one.",
    ),
    (
        "message_exists",
        "A message with this dedupe_key was already queued for the program; it is not queued twice.",
    ),
    (
        "playbook_on",
        "The playbook is on already in this program; pause or archive its journey first.",
    ),
    (
        "campaign_not_draft",
        "Only a draft campaign can be launched; this one was launched or cancelled already.",
    ),
    (
        "campaign_not_cancellable",
        "The campaign was cancelled already.",
    ),
    (
        "delivery_not_dead",
        "Only a dead webhook delivery is replayed; this one is pending or was delivered.",
    ),
];
