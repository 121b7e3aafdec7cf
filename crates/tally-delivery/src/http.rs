//! What an HTTP answer means for a send (SMS gateways, push services).

use tally_core::messages::Outcome;

/// What an HTTP answer means for a send.
pub(crate) fn outcome(status: u16, body: Option<String>) -> Outcome {
    match status {
        200..=299 => Outcome::Sent,
        408 | 429 | 500..=599 => Outcome::Deferred(said(status, body)),
        _ => Outcome::Rejected(said(status, body)),
    }
}

/// `HTTP 503: the start of the answer`, for the record.
pub(crate) fn said(status: u16, body: Option<String>) -> String {
    let body = body.map(|b| b.trim().chars().take(200).collect::<String>());
    match body.filter(|b| !b.is_empty()) {
        Some(b) => format!("HTTP {status}: {b}"),
        None => format!("HTTP {status}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_decide_the_outcome() {
        assert_eq!(outcome(202, None), Outcome::Sent);
        assert!(matches!(outcome(429, None), Outcome::Deferred(_)));
        assert!(matches!(outcome(503, None), Outcome::Deferred(_)));
        assert_eq!(
            outcome(400, Some("unknown number\n".into())),
            Outcome::Rejected("HTTP 400: unknown number".into())
        );
    }
}
