//! Passwords, and the tokens the console uses (`tally_core::secrets`: 256-bit random, stored as
//! SHA-256). Passwords are hashed with argon2id (the OWASP-recommended default parameters of the
//! `argon2` crate) on a blocking thread, never on the async runtime or the writer.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// Shortest password accepted (NIST SP 800-63B asks for at least 8).
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted: hashing cost should not be up to the client.
pub const MAX_PASSWORD_CHARS: usize = 200;

pub use tally_core::secrets::{new_token, same_secret, sha256_hex};

/// Checks a new password against the policy; the message is shown next to the field.
pub fn check_password_policy(password: &str) -> Result<(), &'static str> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        Err("form.password_too_short")
    } else if chars > MAX_PASSWORD_CHARS {
        Err("form.password_too_long")
    } else {
        Ok(())
    }
}

/// Hashes a password (argon2id, random salt) into a PHC string.
pub async fn hash_password(password: String) -> Result<String, String> {
    tokio::task::spawn_blocking(move || {
        let salt_bytes: [u8; 16] = rand::random();
        let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| e.to_string())?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// A fixed hash to verify against when the account does not exist, so "no such operator" and
/// "wrong password" take the same time.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2XwaJaV8M2mhvIgJnKc0WvI1Qy0tHCVJ6lxmlspoTcs";

/// Whether `password` matches `hash` (or, with no hash, spends the same time and says no).
pub async fn verify_password(password: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let Ok(parsed) = PasswordHash::new(&hash) else {
            return false;
        };
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
            && known
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_password_verifies_against_its_own_hash_only() {
        let hash = hash_password("correct horse battery".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery".into(), Some(hash.clone())).await);
        assert!(!verify_password("wrong horse battery".into(), Some(hash)).await);
        assert!(!verify_password("anything".into(), None).await);
    }

    #[test]
    fn the_password_policy_names_the_problem() {
        assert_eq!(
            check_password_policy("short"),
            Err("form.password_too_short")
        );
        assert!(check_password_policy("long enough pass").is_ok());
        assert_eq!(
            check_password_policy(&"x".repeat(201)),
            Err("form.password_too_long")
        );
    }
}
