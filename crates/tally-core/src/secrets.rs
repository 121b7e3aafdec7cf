//! Random secrets and their hashes, one way for the whole system: API keys, session and link
//! tokens, CSRF tokens. All are 256-bit random from the operating system's CSPRNG (rand's thread
//! RNG), hex-encoded; the database keeps only a SHA-256, which is enough for secrets this long
//! (a slow password hash would add only latency).

use sha2::{Digest, Sha256};

/// What every API key starts with, so a leaked key is recognisable (and greppable).
pub const KEY_PREFIX: &str = "tly_";

/// A new random token, 64 hex characters.
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    tally_domain::text::hex(&bytes)
}

/// The SHA-256 of a secret, hex-encoded: what the database stores.
pub fn sha256_hex(secret: &str) -> String {
    tally_domain::text::hex(&Sha256::digest(secret.as_bytes()))
}

/// Compares two secrets in time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Characters that cannot be mistaken for each other when read aloud or typed (no 0/O, 1/I/L).
pub const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// `len` random characters of [`CODE_ALPHABET`]: about 4.95 bits each (16 make 79 bits).
pub fn random_code(len: usize) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())]))
        .collect()
}

/// A new API key: `tly_` + 256 random bits in hex. Returns (secret, display prefix).
pub fn new_api_key() -> (String, String) {
    let secret = format!("{KEY_PREFIX}{}", new_token());
    let prefix = secret[..KEY_PREFIX.len() + 8].to_owned();
    (secret, prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_keys_are_long_random_and_compared_safely() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(same_secret(&a, &a.clone()));
        assert!(!same_secret(&a, &b));
        assert!(!same_secret(&a, &a[..63]));
        let (key, prefix) = new_api_key();
        assert!(key.starts_with("tly_") && key.len() == 68 && key.starts_with(&prefix));
        assert_eq!(sha256_hex("abc").len(), 64);
        let code = random_code(16);
        assert_eq!(code.len(), 16);
        assert!(code.bytes().all(|b| CODE_ALPHABET.contains(&b)));
        assert_ne!(code, random_code(16));
    }
}
