//! Refresh tokens: opaque random secrets given to the client once; only their hash is kept.

use base64::Engine;
use p256::elliptic_curve::rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

/// A refresh token as the client holds it.
pub struct RefreshSecret(String);

impl RefreshSecret {
    /// 256 random bits, URL-safe.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn into_string(self) -> String {
        self.0
    }

    pub fn hash(&self) -> Vec<u8> {
        hash_token(&self.0)
    }
}

/// What is stored and looked up: SHA-256 is enough for 256-bit random secrets (no guessing to slow down).
pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_unique_and_hash_stably() {
        let a = RefreshSecret::generate();
        let b = RefreshSecret::generate();
        assert_ne!(a.hash(), b.hash());
        let text = a.into_string();
        assert_eq!(text.len(), 43);
        assert_eq!(hash_token(&text), hash_token(&text));
    }
}
