//! Passwords: the policy for new ones, and argon2id hashing.
//!
//! Hashing is deliberately slow (tens of milliseconds); callers run it on a blocking thread.

use std::fmt;
use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

pub const MIN_PASSWORD_CHARS: usize = 8;
/// An upper bound keeps a multi-megabyte "password" from costing a hash's worth of CPU per byte.
pub const MAX_PASSWORD_CHARS: usize = 128;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("password must be at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("password must be at most {MAX_PASSWORD_CHARS} characters")]
    TooLong,
}

#[derive(Debug, thiserror::Error)]
#[error("hashing the password failed: {0}")]
pub struct HashError(String);

/// A new password that meets the policy. Its `Debug` never shows it.
pub struct Password(String);

impl Password {
    pub fn parse(raw: &str) -> Result<Self, PasswordError> {
        let chars = raw.chars().count();
        if chars < MIN_PASSWORD_CHARS {
            return Err(PasswordError::TooShort);
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err(PasswordError::TooLong);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// argon2id with the crate's defaults (m=19 MiB, t=2, p=1), OWASP's recommended minimum.
pub fn hash(password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Whether `password` matches the stored PHC string; a corrupt hash never matches.
pub fn verify(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    // Refuse absurd input before spending a hash on it.
    password.len() <= MAX_PASSWORD_CHARS * 4
        && Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
}

/// Spends the same time as a real check for logins to unknown emails, so response times do
/// not reveal which emails have accounts.
pub fn verify_against_dummy(password: &str) {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    if let Some(phc) = DUMMY.get_or_init(|| hash("not-a-real-password").ok()) {
        let _ = verify(password, phc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_bounds_length_in_characters() {
        assert_eq!(
            Password::parse("short").map(|_| ()),
            Err(PasswordError::TooShort)
        );
        assert!(Password::parse("long enough").is_ok());
        assert!(
            Password::parse("ünïcödé!").is_ok(),
            "8 characters, more bytes"
        );
        assert_eq!(
            Password::parse(&"x".repeat(129)).map(|_| ()),
            Err(PasswordError::TooLong)
        );
    }

    #[test]
    fn hashes_verify_only_their_own_password() {
        let phc = hash("correct horse").expect("hash");
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify("correct horse", &phc));
        assert!(!verify("correct horsf", &phc));
        assert!(!verify("correct horse", "not a phc string"));
    }

    #[test]
    fn debug_output_never_shows_the_password() {
        let password = Password::parse("hunter2hunter2").expect("valid");
        assert!(!format!("{password:?}").contains("hunter2"));
    }
}
