//! Accounts and what it takes to open one.

use chrono::{DateTime, Utc};
use emporium_kernel::auth::Role;
use emporium_kernel::email::Email;
use emporium_kernel::graphql::UserError;
use uuid::Uuid;

use super::password::Password;

/// Longest display name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: Uuid,
    pub email: Email,
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    /// Whether the account opened a link mailed to its address.
    pub email_verified: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    #[error("name must not be empty")]
    Empty,
    #[error("name is too long (at most {MAX_NAME_CHARS} characters)")]
    TooLong,
    #[error("name must not contain control characters")]
    ControlCharacters,
}

/// A display name: trimmed, non-empty, printable.
pub fn parse_name(raw: &str) -> Result<String, NameError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(NameError::TooLong);
    }
    if name.chars().any(char::is_control) {
        return Err(NameError::ControlCharacters);
    }
    Ok(name.to_owned())
}

/// A validated sign-up.
#[derive(Debug)]
pub struct Registration {
    pub email: Email,
    pub name: String,
    pub password: Password,
}

impl Registration {
    /// Checks every field and reports every problem at once, each on its field.
    pub fn parse(email: &str, password: &str, name: &str) -> Result<Self, Vec<UserError>> {
        let email = Email::parse(email);
        let password = Password::parse(password);
        let name = parse_name(name);
        match (email, password, name) {
            (Ok(email), Ok(password), Ok(name)) => Ok(Self {
                email,
                name,
                password,
            }),
            (email, password, name) => {
                let mut errors = Vec::new();
                if let Err(e) = email {
                    errors.push(invalid(&["input", "email"], e));
                }
                if let Err(e) = password {
                    errors.push(invalid(&["input", "password"], e));
                }
                if let Err(e) = name {
                    errors.push(invalid(&["input", "name"], e));
                }
                Err(errors)
            }
        }
    }
}

fn invalid(path: &[&str], err: impl std::fmt::Display) -> UserError {
    UserError::new("INVALID_INPUT", err.to_string()).on_field(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(parse_name("  Ann Lee "), Ok("Ann Lee".to_owned()));
        assert_eq!(parse_name("   "), Err(NameError::Empty));
        assert_eq!(parse_name(&"x".repeat(101)), Err(NameError::TooLong));
        assert_eq!(parse_name("Ann\u{0}"), Err(NameError::ControlCharacters));
    }

    #[test]
    fn a_registration_reports_every_bad_field() {
        let errors = Registration::parse("nope", "short", "").expect_err("all three are bad");
        let fields: Vec<_> = errors
            .iter()
            .map(|e| e.field.clone().unwrap_or_default().join("."))
            .collect();
        assert_eq!(fields, ["input.email", "input.password", "input.name"]);
        assert!(errors.iter().all(|e| e.code == "INVALID_INPUT"));
    }
}
