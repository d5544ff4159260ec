//! Secrets the server hands out (customer tokens, sign-in handles, API keys,
//! link tokens, webhook secrets) and the hashes it keeps of them instead.

use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// 32 random bytes, hex.
pub fn random_secret(rng: &mut impl Rng) -> String {
    let bytes: [u8; 32] = rng.random();
    hex::encode(bytes)
}

/// What is kept of a secret: a stolen database or shard then holds no credential.
pub fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Whether `secret` is the one `hash` was made of, compared in constant time so
/// that it cannot be guessed byte by byte.
pub fn hash_matches(hash: &str, secret: &str) -> bool {
    sha256_hex(secret).as_bytes().ct_eq(hash.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_matches_its_hash_only() {
        let secret = random_secret(&mut rand::rng());
        assert_eq!(secret.len(), 64);
        assert_ne!(secret, random_secret(&mut rand::rng()));
        let hash = sha256_hex(&secret);
        assert!(hash_matches(&hash, &secret));
        assert!(!hash_matches(&hash, &"0".repeat(64)));
        assert!(!hash_matches(&hash[1..], &secret));
    }
}
