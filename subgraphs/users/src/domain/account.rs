//! Accounts and what it takes to open one. A sign-up that does not parse is an
//! [`InvalidRegistration`] naming every bad field; the GraphQL layer turns it into userErrors.

use chrono::{DateTime, Utc};
use emporium_kernel::auth::Role;
use emporium_kernel::email::{Email, EmailError};
use uuid::Uuid;

use super::password::{Password, PasswordError};

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

/// What is wrong with one field of a sign-up.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RegistrationProblem {
    #[error(transparent)]
    Email(#[from] EmailError),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Name(#[from] NameError),
}

/// Every problem of a sign-up, in the order email, password, name.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the sign-up is invalid ({} problems)", .0.len())]
pub struct InvalidRegistration(pub Vec<RegistrationProblem>);

impl Registration {
    /// Checks every field and reports every problem at once.
    pub fn parse(email: &str, password: &str, name: &str) -> Result<Self, InvalidRegistration> {
        let email = Email::parse(email);
        let password = Password::parse(password);
        let name = parse_name(name);
        match (email, password, name) {
            (Ok(email), Ok(password), Ok(name)) => Ok(Self {
                email,
                name,
                password,
            }),
            (email, password, name) => Err(InvalidRegistration(
                [
                    email.err().map(RegistrationProblem::from),
                    password.err().map(RegistrationProblem::from),
                    name.err().map(RegistrationProblem::from),
                ]
                .into_iter()
                .flatten()
                .collect(),
            )),
        }
    }
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
        let InvalidRegistration(problems) =
            Registration::parse("nope", "short", "").expect_err("all three are bad");
        assert!(
            matches!(
                problems[..],
                [
                    RegistrationProblem::Email(_),
                    RegistrationProblem::Password(_),
                    RegistrationProblem::Name(NameError::Empty)
                ]
            ),
            "{problems:?}"
        );
        let InvalidRegistration(problems) =
            Registration::parse("ann@example.com", "short", "Ann").expect_err("password");
        assert!(matches!(problems[..], [RegistrationProblem::Password(_)]));
    }
}
