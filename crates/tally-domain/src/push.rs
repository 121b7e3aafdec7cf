//! A browser's push subscription as the Push API gives it (`PushSubscription.toJSON()`):
//! `{"endpoint", "keys": {"p256dh", "auth"}}`, checked before it is kept.

use crate::error::{DomainError, Fields};
use crate::inputs::{Obj, string};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushSubscriptionInput {
    /// The push service's URL for this browser.
    pub endpoint: String,
    /// The browser's P-256 public key, base64url (65 bytes, uncompressed).
    pub p256dh: String,
    /// The browser's auth secret, base64url (16 bytes).
    pub auth: String,
}

/// An `https://` URL; `http://` only on this machine (a push service stand-in for tests).
fn endpoint(v: &Value) -> Result<String, String> {
    let raw = string(v)?.trim();
    let loopback = ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"];
    let ok = raw.starts_with("https://") || loopback.iter().any(|p| raw.starts_with(p));
    if !ok || raw.len() > 2000 || raw.chars().any(char::is_whitespace) {
        return Err("must be the https:// URL of a push service".into());
    }
    Ok(raw.to_owned())
}

/// Base64url (padded or not) of exactly `len` bytes, the first of which is `first` if given.
fn key(len: usize, first: Option<u8>) -> impl Fn(&Value) -> Result<String, String> {
    move |v| {
        let raw = string(v)?.trim().trim_end_matches('=');
        let bytes = URL_SAFE_NO_PAD
            .decode(raw)
            .map_err(|_| "must be base64url".to_owned())?;
        if bytes.len() != len || first.is_some_and(|f| bytes[0] != f) {
            return Err(format!("must be {len} bytes in base64url"));
        }
        Ok(raw.to_owned())
    }
}

impl PushSubscriptionInput {
    pub fn parse(body: &Value) -> Result<PushSubscriptionInput, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        // Browsers add `expirationTime`; it is read and not needed.
        o.only(&mut f, &["endpoint", "keys", "expirationTime"]);
        let endpoint = o.req(&mut f, "endpoint", endpoint);
        let keys = o.obj(&mut f, "keys", true);
        let (p256dh, auth) = match &keys {
            Some(k) => {
                k.only(&mut f, &["p256dh", "auth"]);
                (
                    k.req(&mut f, "p256dh", key(65, Some(4))),
                    k.req(&mut f, "auth", key(16, None)),
                )
            }
            None => (None, None),
        };
        f.finish()?;
        Ok(PushSubscriptionInput {
            endpoint: endpoint.expect("checked"),
            p256dh: p256dh.expect("checked"),
            auth: auth.expect("checked"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const P256DH: &str =
        "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";

    #[test]
    fn a_browser_subscription_is_read_and_checked() {
        let ok = PushSubscriptionInput::parse(&json!({
            "endpoint": "https://fcm.googleapis.com/fcm/send/abc", "expirationTime": null,
            "keys": {"p256dh": P256DH, "auth": "BTBZMqHH6r4Tts7J_aSIgg=="}}))
        .unwrap();
        assert_eq!(ok.auth, "BTBZMqHH6r4Tts7J_aSIgg");
        let bad = PushSubscriptionInput::parse(&json!({
            "endpoint": "http://push.example/abc",
            "keys": {"p256dh": "BTBZMqHH6r4Tts7J_aSIgg", "auth": "not base64!"}}))
        .unwrap_err();
        let text = format!("{bad:?}");
        for field in ["/endpoint", "/keys/p256dh", "/keys/auth"] {
            assert!(text.contains(field), "{text}");
        }
        assert!(
            PushSubscriptionInput::parse(&json!({"endpoint": "http://127.0.0.1:9/p",
                "keys": {"p256dh": P256DH, "auth": "BTBZMqHH6r4Tts7J_aSIgg"}}))
            .is_ok()
        );
    }
}
