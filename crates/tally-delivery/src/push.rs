//! Web push: the payload encrypted for one browser (RFC 8291, `aes128gcm` of RFC 8188) and the
//! server identified to the push service (VAPID, RFC 8292).
//!
//! The server has one P-256 key pair (kept in the database, the same on every node: browsers
//! subscribe against its public key). Each message gets a fresh key pair and salt; the
//! browser's key and auth secret from its subscription make the content key, so only that
//! browser can read it.

use crate::Deliverer;
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hkdf::Hkdf;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{PublicKey, SecretKey};
use sha2::Sha256;
use tally_core::messages::{Outcome, Outgoing};
use tally_core::push::{PushCommand, VAPID_KEY};
use tally_core::{Command, CoreError, Tally};
use tally_domain::ids::TenantId;
use tally_store::Database;

/// The record size announced in the header: one record holds the whole message.
const RECORD_SIZE: u32 = 4096;

/// The most a push message may carry before encryption (4,096 bytes minus the header, the
/// padding delimiter and the tag).
pub const MAX_PLAINTEXT: usize = RECORD_SIZE as usize - 86 - 1 - 16;

/// A P-256 key from 32 random bytes (a random scalar is valid but with negligible chance).
fn random_key() -> SecretKey {
    loop {
        let bytes: [u8; 32] = rand::random();
        if let Ok(key) = SecretKey::from_slice(&bytes) {
            return key;
        }
    }
}

fn public_bytes(key: &SecretKey) -> Vec<u8> {
    key.public_key().to_encoded_point(false).as_bytes().to_vec()
}

/// Encrypts `plaintext` for a browser whose subscription has the public key `ua_public` (65
/// bytes, uncompressed) and the auth secret `auth`, with the sender key `as_private` and
/// `salt`: the whole request body (RFC 8188 header, then the one record).
pub fn encrypt(
    ua_public: &[u8],
    auth: &[u8],
    plaintext: &[u8],
    as_private: &SecretKey,
    salt: &[u8; 16],
) -> Result<Vec<u8>, String> {
    if plaintext.len() > MAX_PLAINTEXT {
        return Err(format!(
            "a push message carries at most {MAX_PLAINTEXT} bytes"
        ));
    }
    let ua = PublicKey::from_sec1_bytes(ua_public)
        .map_err(|_| "the subscription's p256dh is not a P-256 public key".to_owned())?;
    let as_public = public_bytes(as_private);
    let shared = p256::ecdh::diffie_hellman(as_private.to_nonzero_scalar(), ua.as_affine());
    // IKM = HKDF(auth, ecdh secret, "WebPush: info" 0 ua_public as_public, 32)
    let mut key_info = b"WebPush: info\0".to_vec();
    key_info.extend_from_slice(ua_public);
    key_info.extend_from_slice(&as_public);
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(auth), shared.raw_secret_bytes())
        .expand(&key_info, &mut ikm)
        .map_err(|e| e.to_string())?;
    let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
    let (mut cek, mut nonce) = ([0u8; 16], [0u8; 12]);
    prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek)
        .map_err(|e| e.to_string())?;
    prk.expand(b"Content-Encoding: nonce\0", &mut nonce)
        .map_err(|e| e.to_string())?;
    // One record, the last: the plaintext and the delimiter 2, no padding.
    let mut record = plaintext.to_vec();
    record.push(2);
    let sealed = Aes128Gcm::new_from_slice(&cek)
        .map_err(|e| e.to_string())?
        .encrypt(Nonce::from_slice(&nonce), record.as_slice())
        .map_err(|_| "encrypting the push message failed".to_owned())?;
    let mut body = Vec::with_capacity(86 + sealed.len());
    body.extend_from_slice(salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(as_public.len() as u8);
    body.extend_from_slice(&as_public);
    body.extend_from_slice(&sealed);
    Ok(body)
}

/// Encrypts with a fresh sender key and salt.
pub fn seal(ua_public: &[u8], auth: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, String> {
    let salt: [u8; 16] = rand::random();
    encrypt(ua_public, auth, plaintext, &random_key(), &salt)
}

/// The server's VAPID key pair.
#[derive(Clone)]
pub struct Vapid {
    key: SigningKey,
    public: String,
    /// Who runs this server, for the push service: a `mailto:` or `https:` URL.
    subject: String,
}

impl std::fmt::Debug for Vapid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vapid")
            .field("public", &self.public)
            .finish()
    }
}

impl Vapid {
    /// A new key pair; [`Vapid::private_base64url`] is what to keep.
    pub fn generate(subject: &str) -> Vapid {
        Vapid::from_key(random_key(), subject)
    }

    /// The key pair from its private scalar (32 bytes, base64url as stored).
    pub fn from_private(private: &str, subject: &str) -> Result<Vapid, String> {
        let bytes = B64
            .decode(private.trim())
            .map_err(|e| format!("the VAPID key is not base64url: {e}"))?;
        let key = SecretKey::from_slice(&bytes).map_err(|_| "not a P-256 private key")?;
        Ok(Vapid::from_key(key, subject))
    }

    fn from_key(key: SecretKey, subject: &str) -> Vapid {
        Vapid {
            public: B64.encode(public_bytes(&key)),
            key: SigningKey::from(key),
            subject: subject.to_owned(),
        }
    }

    pub fn private_base64url(&self) -> String {
        B64.encode(self.key.to_bytes())
    }

    /// The `applicationServerKey` browsers subscribe with (base64url, uncompressed point).
    pub fn public_base64url(&self) -> &str {
        &self.public
    }

    /// The `Authorization` header for a request to `endpoint`, valid until `expires` (seconds
    /// since 1970; at most 24 hours ahead).
    pub fn authorization(&self, endpoint: &str, expires: i64) -> Result<String, String> {
        let url = reqwest::Url::parse(endpoint).map_err(|e| e.to_string())?;
        let audience = url.origin().ascii_serialization();
        let header = B64.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({ "aud": audience, "exp": expires, "sub": self.subject });
        let claims = B64.encode(claims.to_string());
        let input = format!("{header}.{claims}");
        let signature: Signature = self.key.sign(input.as_bytes());
        let jwt = format!("{input}.{}", B64.encode(signature.to_bytes()));
        Ok(format!("vapid t={jwt}, k={}", self.public))
    }
}

/// The server's VAPID key pair: the one kept in the database, or a new one kept now (of
/// several nodes starting at once, the first one's is kept and every node uses it). Stored
/// as `private.public`, so pages can show the public key without the crypto.
pub async fn server_vapid<D: Database>(
    tally: &Tally<D>,
    subject: &str,
) -> Result<Vapid, CoreError> {
    let new = Vapid::generate(subject);
    let command = Command::Push(PushCommand::KeepServerKey {
        name: VAPID_KEY.into(),
        value: format!("{}.{}", new.private_base64url(), new.public_base64url()),
    });
    let system = TenantId::from_trusted(crate::SYSTEM.into());
    let kept = tally.write(&system, "deliverer", None, command).await?;
    let kept = kept["value"].as_str().unwrap_or_default();
    let private = kept.split('.').next().unwrap_or_default();
    Vapid::from_private(private, subject)
        .map_err(|e| CoreError::Store(tally_store::StoreError::Decode(format!("vapid: {e}"))))
}

/// How long a push service keeps a message for a browser that is offline.
const TTL_SECONDS: i64 = 24 * 3600;

impl<D: Database> Deliverer<D> {
    /// Encrypts the message for the member's browser and hands it to its push service. The
    /// notification shows the subject and the start of the text, and opens the wallet.
    pub(crate) async fn send_push(&self, vapid: &Vapid, message: &Outgoing) -> Outcome {
        let Some(target) = &message.push else {
            return Outcome::Rejected("no push subscription".into());
        };
        let body: String = message.text.chars().take(300).collect();
        let payload = serde_json::json!({
            "title": message.subject, "body": body, "url": message.wallet_url, "tag": message.id,
        });
        let keys = (B64.decode(&target.p256dh), B64.decode(&target.auth));
        let (Ok(ua_public), Ok(auth)) = keys else {
            return Outcome::Rejected("the subscription's keys are not base64url".into());
        };
        let sealed = match seal(&ua_public, &auth, payload.to_string().as_bytes()) {
            Ok(sealed) => sealed,
            Err(e) => return Outcome::Rejected(e),
        };
        let expires = self.tally.clock.now().as_second() + 12 * 3600;
        let authorization = match vapid.authorization(&target.endpoint, expires) {
            Ok(a) => a,
            Err(e) => return Outcome::Rejected(e),
        };
        let request = self
            .http
            .post(&target.endpoint)
            .header("authorization", authorization)
            .header("content-encoding", "aes128gcm")
            .header("content-type", "application/octet-stream")
            .header("ttl", TTL_SECONDS.to_string())
            .header("urgency", "normal")
            .body(sealed);
        match request.send().await {
            Ok(answer) => crate::http::outcome(answer.status().as_u16(), answer.text().await.ok()),
            Err(e) => Outcome::Deferred(format!("push service: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::VerifyingKey;
    use p256::ecdsa::signature::Verifier;

    fn d(s: &str) -> Vec<u8> {
        B64.decode(s).unwrap()
    }

    /// RFC 8291, section 5 and appendix A: fixed keys and salt give the published body.
    #[test]
    fn the_rfc_8291_example_encrypts_byte_for_byte() {
        let as_private =
            SecretKey::from_slice(&d("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw")).unwrap();
        assert_eq!(
            B64.encode(public_bytes(&as_private)),
            "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
        );
        let body = encrypt(
            &d("BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"),
            &d("BTBZMqHH6r4Tts7J_aSIgg"),
            b"When I grow up, I want to be a watermelon",
            &as_private,
            &d("DGv6ra1nlYgDCS1FRnbzlw").try_into().unwrap(),
        )
        .unwrap();
        assert_eq!(
            B64.encode(body),
            "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
        );
    }

    #[test]
    fn too_long_a_message_or_a_wrong_key_is_refused() {
        let auth = [0u8; 16];
        let ua = public_bytes(&random_key());
        assert!(seal(&ua, &auth, &vec![b'x'; MAX_PLAINTEXT + 1]).is_err());
        assert!(seal(&[4u8; 65], &auth, b"hi").is_err());
        assert_eq!(
            seal(&ua, &auth, &vec![b'x'; MAX_PLAINTEXT]).unwrap().len(),
            4096
        );
    }

    #[test]
    fn the_vapid_token_names_the_push_service_and_verifies_with_the_public_key() {
        let vapid = Vapid::generate("mailto:ops@vinylvault.example");
        let again = Vapid::from_private(&vapid.private_base64url(), "mailto:x@y").unwrap();
        assert_eq!(again.public_base64url(), vapid.public_base64url());
        let header = vapid
            .authorization("https://push.example.net/send/abc?x=1", 1_800_000_000)
            .unwrap();
        let (jwt, k) = header
            .strip_prefix("vapid t=")
            .unwrap()
            .split_once(", k=")
            .unwrap();
        assert_eq!(k, vapid.public_base64url());
        let (input, signature) = jwt.rsplit_once('.').unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&d(input.split('.').nth(1).unwrap())).unwrap();
        assert_eq!(
            claims,
            serde_json::json!({"aud": "https://push.example.net", "exp": 1_800_000_000_i64,
                               "sub": "mailto:ops@vinylvault.example"})
        );
        let key = VerifyingKey::from_sec1_bytes(&d(k)).unwrap();
        let signature = Signature::from_slice(&d(signature)).unwrap();
        assert!(key.verify(input.as_bytes(), &signature).is_ok());
    }
}
