//! Web push against a push service stand-in (a real HTTP server on loopback), on SQLite or
//! PostgreSQL: a member's browser subscribes, a message is encrypted for it (decrypted here
//! with the browser's key, as a browser would) with a VAPID token naming the push service, and
//! kept in the inbox; a push service that says the subscription is gone bounces the message
//! and the subscription is not used again.

use crate::common;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use common::receiver::Receiver;
use common::*;
use hkdf::Hkdf;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{PublicKey, SecretKey};
use serde_json::{Value, json};
use sha2::Sha256;
use tally_core::Command;
use tally_core::push::PushCommand;
use tally_delivery::push::Vapid;
use tally_domain::model::Member;
use tally_domain::push::PushSubscriptionInput;
use tally_mail::sink::SmtpSink;

/// A browser: its key pair and auth secret, as the Push API makes them.
struct Browser {
    key: SecretKey,
    auth: [u8; 16],
}

impl Browser {
    fn new() -> Browser {
        let key = SecretKey::from_slice(&[7u8; 32]).unwrap();
        Browser {
            key,
            auth: [9u8; 16],
        }
    }

    fn subscription(&self, endpoint: &str) -> PushSubscriptionInput {
        let public = self.key.public_key().to_encoded_point(false);
        PushSubscriptionInput::parse(&json!({"endpoint": endpoint, "keys": {
            "p256dh": B64.encode(public.as_bytes()), "auth": B64.encode(self.auth)}}))
        .unwrap()
    }

    /// RFC 8291 from the receiving side.
    fn decrypt(&self, body: &[u8]) -> Value {
        let (salt, rest) = body.split_at(16);
        assert_eq!(u32::from_be_bytes(rest[..4].try_into().unwrap()), 4096);
        let idlen = rest[4] as usize;
        let (as_public, sealed) = rest[5..].split_at(idlen);
        let sender = PublicKey::from_sec1_bytes(as_public).unwrap();
        let shared = p256::ecdh::diffie_hellman(self.key.to_nonzero_scalar(), sender.as_affine());
        let ua_public = self.key.public_key().to_encoded_point(false);
        let mut info = b"WebPush: info\0".to_vec();
        info.extend_from_slice(ua_public.as_bytes());
        info.extend_from_slice(as_public);
        let mut ikm = [0u8; 32];
        Hkdf::<Sha256>::new(Some(&self.auth), shared.raw_secret_bytes())
            .expand(&info, &mut ikm)
            .unwrap();
        let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
        let (mut cek, mut nonce) = ([0u8; 16], [0u8; 12]);
        prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek)
            .unwrap();
        prk.expand(b"Content-Encoding: nonce\0", &mut nonce)
            .unwrap();
        let mut plain = Aes128Gcm::new_from_slice(&cek)
            .unwrap()
            .decrypt(Nonce::from_slice(&nonce), sealed)
            .unwrap();
        assert_eq!(plain.pop(), Some(2), "the last record's delimiter");
        serde_json::from_slice(&plain).unwrap()
    }
}

async fn subscribe(w: &World, member: &Member, endpoint: &str, browser: &Browser) -> Value {
    let command = Command::Push(PushCommand::Subscribe {
        member: member.id.clone(),
        input: browser.subscription(endpoint),
        consent: Some("wallet".into()),
    });
    w.write(command).await
}

#[tokio::test]
async fn a_push_message_is_encrypted_for_the_browser_and_kept_in_the_inbox() {
    let mut w = world(SmtpSink::options()).await;
    let vapid = Vapid::generate("mailto:ops@vinylvault.example");
    w.deliverer = w.deliverer.clone().with_push(vapid.clone());
    let service = Receiver::start().await;
    let ola = w
        .member(json!({"name": "Ola Kot", "preferred_channel": "push"}))
        .await;
    let browser = Browser::new();
    let endpoint = format!("{}/push/ola-phone", service.url);
    subscribe(&w, &ola, &endpoint, &browser).await;
    let queued = w.queue(&ola.id, json!({})).await;

    let round = w.deliverer.round().await.unwrap();
    assert_eq!(round.sent, 1, "{round:?}");
    let got = service.received();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!(r.path, "/push/ola-phone");
    assert_eq!(r.headers["content-encoding"], "aes128gcm");
    assert_eq!(r.headers["ttl"], "86400");
    // The VAPID token is for this push service and signed with the server's key.
    let (jwt, k) = r.headers["authorization"]
        .strip_prefix("vapid t=")
        .unwrap()
        .split_once(", k=")
        .unwrap();
    assert_eq!(k, vapid.public_base64url());
    let (input, signature) = jwt.rsplit_once('.').unwrap();
    let claims: Value =
        serde_json::from_slice(&B64.decode(input.split('.').nth(1).unwrap()).unwrap()).unwrap();
    assert_eq!(claims["aud"], service.url);
    assert_eq!(claims["sub"], "mailto:ops@vinylvault.example");
    let key = VerifyingKey::from_sec1_bytes(&B64.decode(k).unwrap()).unwrap();
    let signature = Signature::from_slice(&B64.decode(signature).unwrap()).unwrap();
    assert!(key.verify(input.as_bytes(), &signature).is_ok());
    // Only the browser reads it.
    let payload = browser.decrypt(&r.raw);
    assert_eq!(payload["title"], "Ola, you have 0 notes");
    assert!(
        payload["body"].as_str().unwrap().starts_with("Hello Ola"),
        "{payload}"
    );
    assert_eq!(payload["url"], format!("{PUBLIC}/wallet"));
    assert_eq!(payload["tag"], queued["id"]);
    let m = w.message(&queued["id"]).await;
    assert_eq!(m["sent_channel"], "push");
    let inbox = w
        .tally
        .member_inbox(&w.tenant, &ola.id, None, None)
        .await
        .unwrap();
    assert_eq!(
        inbox.items[0]["id"], queued["id"],
        "pushed messages stay in the inbox"
    );
}

#[tokio::test]
async fn a_subscription_its_push_service_dropped_is_not_used_again() {
    let mut w = world(SmtpSink::options()).await;
    w.deliverer = w
        .deliverer
        .clone()
        .with_push(Vapid::generate("mailto:ops@vinylvault.example"));
    let service = Receiver::start().await;
    service.answer(&[410]);
    let ola = w
        .member(json!({"name": "Ola Kot", "preferred_channel": "push"}))
        .await;
    subscribe(
        &w,
        &ola,
        &format!("{}/push/old", service.url),
        &Browser::new(),
    )
    .await;
    let first = w.queue(&ola.id, json!({})).await;
    assert_eq!(w.deliverer.round().await.unwrap().bounced, 1);
    let m = w.message(&first["id"]).await;
    assert_eq!(m["status"], "bounced");
    assert!(m["reason"].as_str().unwrap().starts_with("HTTP 410"), "{m}");
    let subscriptions = w
        .tally
        .push_subscriptions(&w.tenant, &ola.id)
        .await
        .unwrap();
    assert_eq!(subscriptions["items"], json!([]));
    // The next message finds no push address and falls back to the inbox.
    let second = w.queue(&ola.id, json!({})).await;
    assert_eq!(w.deliverer.round().await.unwrap().in_app, 1);
    let m = w.message(&second["id"]).await;
    assert_eq!(m["sent_channel"], "in_app");
    assert_eq!(service.received().len(), 1);
}
