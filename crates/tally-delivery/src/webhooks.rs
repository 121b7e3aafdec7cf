//! Webhook deliveries: claimed from their outbox, signed as Standard Webhooks and posted.
//!
//! Every attempt carries `webhook-id` (the delivery's id, the same on every attempt and replay,
//! so a receiver can drop a duplicate), `webhook-timestamp` (seconds since 1970, the time of
//! the attempt) and `webhook-signature`: `v1,` and the base64 HMAC-SHA256, keyed with the
//! endpoint's secret (the base64 after `whsec_`), of `{id}.{timestamp}.{body}`. For a day
//! after a rotation it carries two, space-separated: one with each secret.

use crate::{Deliverer, SYSTEM};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use tally_core::webhooks::{Attempt, OutgoingWebhook, WebhookCommand};
use tally_core::{Command, CoreError};
use tally_domain::ids::TenantId;
use tally_store::Database;
use tokio::task::JoinSet;

/// HMAC-SHA256 (RFC 2104), which is all a signature needs.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| k.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// The `webhook-signature` value for one attempt.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> Result<String, String> {
    let key = secret.strip_prefix("whsec_").unwrap_or(secret);
    let key = STANDARD
        .decode(key)
        .map_err(|e| format!("the webhook secret is not base64: {e}"))?;
    let signed = format!("{id}.{timestamp}.{body}");
    Ok(format!(
        "v1,{}",
        STANDARD.encode(hmac_sha256(&key, signed.as_bytes()))
    ))
}

/// What one round of webhook deliveries did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WebhookRound {
    /// Answered with a 2xx.
    pub delivered: usize,
    /// Not delivered now: tried again later, or dead after the last attempt.
    pub failed: usize,
    /// Their endpoint was disabled: kept as dead letters.
    pub disabled: usize,
}

impl WebhookRound {
    pub fn claimed(&self) -> usize {
        self.delivered + self.failed + self.disabled
    }
}

impl<D: Database> Deliverer<D> {
    /// One round of webhooks: claim, sign and post, settle.
    pub async fn webhook_round(&self) -> Result<WebhookRound, CoreError> {
        let system = TenantId::from_trusted(SYSTEM.into());
        let claim = Command::Webhooks(WebhookCommand::Claim {
            limit: self.config.batch,
            lease: self.config.lease,
        });
        let answer = self.tally.write(&system, "deliverer", None, claim).await?;
        let mut round = WebhookRound {
            disabled: answer["disabled"].as_u64().unwrap_or(0) as usize,
            ..WebhookRound::default()
        };
        let outgoing: Vec<OutgoingWebhook> =
            serde_json::from_value(answer["deliveries"].clone())
                .map_err(|e| CoreError::Store(tally_store::StoreError::Decode(e.to_string())))?;
        let mut posts = JoinSet::new();
        for delivery in outgoing {
            let sender = self.clone();
            posts.spawn(async move {
                let attempt = sender.post(&delivery).await;
                (delivery.id, attempt)
            });
        }
        while let Some(done) = posts.join_next().await {
            let Ok((id, attempt)) = done else { continue };
            if attempt.delivered() {
                round.delivered += 1;
            } else {
                round.failed += 1;
            }
            let settle = Command::Webhooks(WebhookCommand::Settle {
                delivery: id,
                attempt,
            });
            // Unsettled, the delivery falls due again after its lease: sent twice, never lost.
            if let Err(e) = self.tally.write(&system, "deliverer", None, settle).await {
                tracing::warn!(error = %e, "settling a webhook delivery failed");
            }
        }
        Ok(round)
    }

    /// Rounds until one finds nothing due; adds up what they did.
    pub async fn drain_webhooks(&self) -> Result<WebhookRound, CoreError> {
        let mut total = WebhookRound::default();
        loop {
            let r = self.webhook_round().await?;
            if r.claimed() == 0 {
                return Ok(total);
            }
            total.delivered += r.delivered;
            total.failed += r.failed;
            total.disabled += r.disabled;
        }
    }

    async fn post(&self, delivery: &OutgoingWebhook) -> Attempt {
        let timestamp = self.tally.clock.now().as_second();
        let id = delivery.id.as_str();
        let signed: Result<Vec<String>, String> = delivery
            .secrets
            .iter()
            .map(|secret| sign(secret, id, timestamp, &delivery.payload))
            .collect();
        let signature = match signed {
            Ok(s) => s.join(" "),
            Err(e) => {
                return Attempt {
                    status: None,
                    error: Some(e),
                };
            }
        };
        let request = self
            .http
            .post(&delivery.url)
            .header("content-type", "application/json")
            .header(
                "user-agent",
                concat!("Tally-Webhooks/", env!("CARGO_PKG_VERSION")),
            )
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(delivery.payload.clone());
        match request.send().await {
            Ok(answer) => {
                let status = answer.status();
                let error = if status.is_success() {
                    None
                } else {
                    Some(crate::http::said(status.as_u16(), answer.text().await.ok()))
                };
                Attempt {
                    status: Some(status.as_u16()),
                    error,
                }
            }
            Err(e) => Attempt {
                status: None,
                error: Some(e.to_string()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks libraries' own tests.
    #[test]
    fn the_signature_matches_the_published_example() {
        let signature = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    /// RFC 4231, test case 6: a key longer than a block.
    #[test]
    fn hmac_hashes_a_long_key_first() {
        let mac = hmac_sha256(
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First",
        );
        assert_eq!(
            tally_domain::text::hex(&mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn a_secret_that_is_not_base64_is_refused() {
        assert!(sign("whsec_not base64!", "msg_1", 1, "{}").is_err());
    }
}
