//! What a consumer applies to each event: the [`Handler`] contract, and how a handler says
//! why it failed ([`HandlerError`]: retry, or dead-letter at once).

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::events::contract::DecodeError;
use crate::events::envelope::schema_urn;
use crate::events::inbox::BatchError;
use crate::events::Envelope;

/// Why a handler did not apply an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// Might work later (a database or service unavailable): retried with backoff.
    #[error("retryable failure: {0}")]
    Retryable(String),
    /// Will never work (the event contradicts the consumer's state): dead-lettered at once.
    #[error("permanent failure: {0}")]
    Permanent(String),
}

impl HandlerError {
    pub fn retryable(cause: impl fmt::Display) -> Self {
        Self::Retryable(cause.to_string())
    }

    pub fn permanent(cause: impl fmt::Display) -> Self {
        Self::Permanent(cause.to_string())
    }

    pub(super) fn reason(&self) -> &str {
        match self {
            Self::Retryable(reason) | Self::Permanent(reason) => reason,
        }
    }
}

/// The envelope's `data` as `T`; data that does not fit is a permanent failure (the event
/// will never become readable by retrying).
pub fn data_of<T: serde::de::DeserializeOwned>(envelope: &Envelope) -> Result<T, HandlerError> {
    serde_json::from_value(envelope.data.clone()).map_err(|e| {
        HandlerError::permanent(format!(
            "{} data does not match its schema: {e}",
            envelope.event_type
        ))
    })
}

/// Database errors are mostly transient (connections, serialization failures, deadlocks), so
/// `?` on a query retries; a handler that knows better maps the error itself.
impl From<sqlx::Error> for HandlerError {
    fn from(err: sqlx::Error) -> Self {
        Self::retryable(err)
    }
}

/// An event that cannot be read now will never be: retrying does not change its bytes.
impl From<DecodeError> for HandlerError {
    fn from(err: DecodeError) -> Self {
        HandlerError::permanent(err)
    }
}

/// A batch that failed as a whole may work on another try; a panicking effect will not.
impl From<BatchError> for HandlerError {
    fn from(err: BatchError) -> Self {
        match err {
            BatchError::Panicked(_) => HandlerError::permanent(err),
            BatchError::Database(_) | BatchError::Stopped => HandlerError::retryable(err),
        }
    }
}

/// Applies one event. Called again for the same event after a redelivery, so it must be
/// idempotent: Postgres-backed handlers use [`crate::events::inbox::begin_once`] or
/// [`crate::events::inbox::BatchedInbox`].
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, envelope: &Envelope) -> impl Future<Output = Result<(), HandlerError>> + Send;

    /// Whether this handler understands the envelope's `dataschema`; the others are
    /// dead-lettered unread. By default version 1 of the envelope's own type.
    fn understands(&self, envelope: &Envelope) -> bool {
        envelope.dataschema == schema_urn(&envelope.event_type, 1)
    }
}

/// Several consumers of one process can share a handler.
impl<H: Handler> Handler for Arc<H> {
    fn handle(&self, envelope: &Envelope) -> impl Future<Output = Result<(), HandlerError>> + Send {
        (**self).handle(envelope)
    }

    fn understands(&self, envelope: &Envelope) -> bool {
        (**self).understands(envelope)
    }
}
