//! One-time links mailed to an account's address: password reset and email verification.
//!
//! A link carries 256 random bits; only their SHA-256 is stored (see
//! [`refresh_token::hash_token`](super::refresh_token::hash_token)). The mails name the shop's
//! storefront pages (`/reset-password?token=`, `/verify-email?token=`) under the public URL,
//! and hold nothing else secret.

use chrono::Duration;
use emporium_kernel::email::Email;
use emporium_kernel::mail::OutgoingMail;
use uuid::Uuid;

use super::refresh_token::{hash_token, RefreshSecret};

/// How long a password-reset link works.
pub const RESET_TOKEN_TTL_MINUTES: i64 = 30;
/// How long a verification link works.
pub const VERIFICATION_TOKEN_TTL_HOURS: i64 = 48;
/// At most one mail of each purpose per account per this long: a stranger cannot flood an
/// inbox through `requestPasswordReset`, nor a user through `resendVerificationEmail`.
pub const MAIL_INTERVAL_SECONDS: i64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    PasswordReset,
    EmailVerification,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PasswordReset => "PASSWORD_RESET",
            Self::EmailVerification => "EMAIL_VERIFICATION",
        }
    }

    pub fn ttl(self) -> Duration {
        match self {
            Self::PasswordReset => Duration::minutes(RESET_TOKEN_TTL_MINUTES),
            Self::EmailVerification => Duration::hours(VERIFICATION_TOKEN_TTL_HOURS),
        }
    }

    fn page(self) -> &'static str {
        match self {
            Self::PasswordReset => "reset-password",
            Self::EmailVerification => "verify-email",
        }
    }
}

/// A freshly made link token: the text for the mail, the hash for the store.
pub struct LinkToken(RefreshSecret);

impl LinkToken {
    pub fn generate() -> Self {
        Self(RefreshSecret::generate())
    }

    pub fn hash(&self) -> Vec<u8> {
        self.0.hash()
    }

    /// The mail carrying this token to `to`, with its link under `public_url`.
    pub fn mail(
        self,
        purpose: Purpose,
        public_url: &str,
        to: Email,
        name: &str,
        user_id: Uuid,
    ) -> OutgoingMail {
        let link = format!(
            "{}/{}?token={}",
            public_url.trim_end_matches('/'),
            purpose.page(),
            self.0.into_string()
        );
        let (subject, text) = match purpose {
            Purpose::PasswordReset => (
                "Reset your Emporium password",
                format!(
                    "Hello {name},\n\nSomeone asked to reset the password of your Emporium account. \
                     To choose a new password, open this link within {RESET_TOKEN_TTL_MINUTES} minutes \
                     (it works once):\n\n{link}\n\nIf it was not you, ignore this mail: your password \
                     stays as it is.\n"
                ),
            ),
            Purpose::EmailVerification => (
                "Confirm your email address for Emporium",
                format!(
                    "Hello {name},\n\nPlease confirm that this is your email address by opening this \
                     link within {VERIFICATION_TOKEN_TTL_HOURS} hours:\n\n{link}\n\nIf you did not \
                     open an Emporium account, ignore this mail.\n"
                ),
            ),
        };
        OutgoingMail {
            to,
            subject: subject.to_owned(),
            text,
            label: format!("{} user={user_id}", purpose.page()),
        }
    }
}

/// The stored form of a token a client presents.
pub fn presented_hash(token: &str) -> Vec<u8> {
    hash_token(token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mail_links_to_the_storefront_page_and_its_label_holds_no_secret() {
        let token = LinkToken::generate();
        let hash = token.hash();
        let mail = token.mail(
            Purpose::PasswordReset,
            "https://shop.example/",
            Email::parse("ann@example.com").expect("email"),
            "Ann",
            Uuid::nil(),
        );
        let start = mail
            .text
            .find("https://shop.example/reset-password?token=")
            .expect("link");
        let token = mail.text[start..]
            .split_whitespace()
            .next()
            .and_then(|link| link.split("token=").nth(1))
            .expect("token");
        assert_eq!(presented_hash(token), hash);
        assert!(!mail.label.contains(token));
        assert!(!mail.label.contains("ann@"));
    }

    #[test]
    fn resets_live_thirty_minutes() {
        assert_eq!(Purpose::PasswordReset.ttl(), Duration::minutes(30));
    }
}
