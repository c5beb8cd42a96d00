//! Stable error codes of the public API (`extensions.code`) and the one type every resolver
//! returns for failures that are not business outcomes.
//!
//! Business outcomes (wrong password, sku taken, out of stock) are `userErrors` in payloads;
//! see [`crate::graphql::UserError`]. Everything here is a GraphQL error.

use std::fmt;

/// The error codes `api/contract.graphql` promises to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    Unauthenticated,
    Forbidden,
    BadUserInput,
    NotFound,
    RateLimited,
    QueryTooComplex,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::BadUserInput => "BAD_USER_INPUT",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::QueryTooComplex => "QUERY_TOO_COMPLEX",
            ErrorCode::Internal => "INTERNAL",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure shown to the client as a GraphQL error with a stable code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn unauthenticated() -> Self {
        Self::new(ErrorCode::Unauthenticated, "sign in to do this")
    }

    pub fn forbidden() -> Self {
        Self::new(ErrorCode::Forbidden, "you are not allowed to do this")
    }

    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadUserInput, message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    /// Logs `cause` with its whole source chain and returns a generic error: the client never
    /// sees SQL, driver messages or stack traces.
    pub fn internal(cause: &(dyn std::error::Error + 'static)) -> Self {
        let mut chain = cause.to_string();
        let mut source = cause.source();
        while let Some(next) = source {
            chain.push_str(": ");
            chain.push_str(&next.to_string());
            source = next.source();
        }
        tracing::error!(error = %chain, "internal error");
        Self::new(ErrorCode::Internal, "internal error")
    }
}

// `ApiError` deliberately implements neither `Display` nor `std::error::Error`: async-graphql
// converts any `Display` type into an error *without* extensions, and `?` would then silently
// drop the code. This conversion is the only way into a GraphQL error.
impl From<ApiError> for async_graphql::Error {
    fn from(err: ApiError) -> Self {
        use async_graphql::ErrorExtensions;
        async_graphql::Error::new(err.message)
            .extend_with(|_, ext| ext.set("code", err.code.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_carry_their_code_into_graphql_extensions() {
        let err: async_graphql::Error = ApiError::forbidden().into();
        let ext = err.extensions.expect("extensions are set");
        assert_eq!(
            ext.get("code"),
            Some(&async_graphql::Value::from("FORBIDDEN"))
        );
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let cause = std::io::Error::other("relation \"users\" does not exist");
        let err = ApiError::internal(&cause);
        assert_eq!(err.code, ErrorCode::Internal);
        assert!(!err.message.contains("relation"));
    }
}
