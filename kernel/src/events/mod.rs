//! The event backbone: CloudEvents envelopes, transactional outboxes, the relay that publishes
//! them to RabbitMQ with publisher confirms, and the consumer runtime (inbox de-duplication,
//! retries with backoff, dead letters). `shared/events.md` is the contract.
//!
//! Layout:
//! - [`envelope`]: the CloudEvents 1.0 envelope and drafts of it.
//! - [`outbox`]: writing events in the producer's own transaction (Postgres, MongoDB) and the
//!   relay loop that publishes them.
//! - [`broker`]: the RabbitMQ connection (reconnecting with backoff), topology and
//!   publisher-confirmed publishing.
//! - [`consumer`]: durable queues, retries with backoff, dead letters, poison messages.
//! - [`inbox`]: effectively-once handling for Postgres-backed consumers.
//! - [`dlq`]: inspecting and redriving dead letters.
//! - [`metrics`]: published / consumed / retried / dead-lettered counters, outbox gauges.

pub mod broker;
pub mod consumer;
pub mod dlq;
pub mod envelope;
pub mod inbox;
pub mod metrics;
pub mod outbox;

use std::future::Future;

pub use envelope::{Envelope, EventDraft, CONTENT_TYPE, DEAD_LETTER_EXCHANGE, EXCHANGE};

/// Why an event could not be published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The broker cannot be reached now; the event stays in the outbox and is retried.
    #[error("the broker is unavailable: {0}")]
    Unavailable(String),
    /// The broker refused the message (a negative confirm).
    #[error("the broker did not confirm the message: {0}")]
    NotConfirmed(String),
    #[error("the envelope could not be encoded: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Publishes envelopes to the topic exchange, returning only once the broker has confirmed.
pub trait Publisher: Send + Sync {
    fn publish(&self, envelope: &Envelope)
        -> impl Future<Output = Result<(), PublishError>> + Send;
}
