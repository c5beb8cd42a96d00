//! Where the users subgraph's failures become GraphQL errors or userErrors.

use emporium_kernel::graphql::UserError;
use emporium_kernel::ApiError;

use crate::domain::account::{InvalidRegistration, RegistrationProblem};
use crate::domain::password::HashError;
use crate::store::StoreError;

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        ApiError::internal(&err)
    }
}

impl From<HashError> for ApiError {
    fn from(err: HashError) -> Self {
        ApiError::internal(&err)
    }
}

/// Each problem of a sign-up on its input field.
pub fn invalid_registration(InvalidRegistration(problems): InvalidRegistration) -> Vec<UserError> {
    problems
        .into_iter()
        .map(|problem| {
            let field = match problem {
                RegistrationProblem::Email(_) => "email",
                RegistrationProblem::Password(_) => "password",
                RegistrationProblem::Name(_) => "name",
            };
            UserError::new("INVALID_INPUT", problem.to_string()).on_field(&["input", field])
        })
        .collect()
}

pub fn email_taken() -> UserError {
    UserError::new("EMAIL_TAKEN", "an account with this email already exists")
        .on_field(&["input", "email"])
}

pub fn invalid_credentials() -> UserError {
    UserError::new("INVALID_CREDENTIALS", "the email or password is wrong")
}

pub fn account_locked(minutes: i64) -> UserError {
    UserError::new(
        "ACCOUNT_LOCKED",
        format!("too many failed sign-ins: this account refuses sign-ins from this client for now; try again in up to {minutes} minutes"),
    )
}

pub fn wrong_password() -> UserError {
    UserError::new("WRONG_PASSWORD", "the current password is wrong").on_field(&["currentPassword"])
}

pub fn invalid_new_password(err: impl std::fmt::Display) -> UserError {
    UserError::new("INVALID_INPUT", err.to_string()).on_field(&["newPassword"])
}

pub fn invalid_refresh_token() -> UserError {
    UserError::new(
        "INVALID_REFRESH_TOKEN",
        "the refresh token is invalid, expired or already used; sign in again",
    )
    .on_field(&["refreshToken"])
}

pub fn invalid_token() -> UserError {
    UserError::new(
        "INVALID_TOKEN",
        "the link is invalid, expired or already used; ask for a new one",
    )
    .on_field(&["token"])
}

pub fn mail_too_soon(seconds: i64) -> UserError {
    UserError::new(
        "RATE_LIMITED",
        format!("a mail went out less than {seconds} seconds ago; wait for it or try again later"),
    )
}
