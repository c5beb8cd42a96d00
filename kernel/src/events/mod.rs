//! The event backbone: CloudEvents envelopes, transactional outboxes, the relay that publishes
//! them to RabbitMQ with publisher confirms, and the consumer runtime (inbox de-duplication,
//! retries with backoff, dead letters). `shared/events.md` is the contract.
//!
//! Layout:
//! - [`contract`]: one type per event type and version, the payloads producers and consumers
//!   exchange.
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
pub mod contract;
pub mod dlq;
pub mod envelope;
pub mod inbox;
pub mod metrics;
pub mod outbox;

use std::any::Any;
use std::future::Future;

pub use contract::{DecodeError, Event};
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

/// What publishing a batch did: how many envelopes, from the front, the broker confirmed, and
/// what stopped the rest (nothing after `confirmed` counts as published, even if the broker
/// happened to take some of it: the relay publishes those again and consumers absorb it).
#[derive(Debug)]
pub struct BatchOutcome {
    pub confirmed: usize,
    pub error: Option<PublishError>,
}

/// Publishes envelopes to the topic exchange, returning only once the broker has confirmed.
pub trait Publisher: Send + Sync {
    fn publish(&self, envelope: &Envelope)
        -> impl Future<Output = Result<(), PublishError>> + Send;

    /// Publishes `envelopes` in order and reports the confirmed prefix. An implementation may
    /// keep several confirms in flight, but never two of one aggregate (`subject`): a later
    /// event of an aggregate goes out only once every earlier one is confirmed, so however a
    /// batch fails, no aggregate's events reach the broker out of order. By default, one at a
    /// time.
    fn publish_batch(&self, envelopes: &[Envelope]) -> impl Future<Output = BatchOutcome> + Send {
        async move {
            for (index, envelope) in envelopes.iter().enumerate() {
                if let Err(error) = self.publish(envelope).await {
                    return BatchOutcome {
                        confirmed: index,
                        error: Some(error),
                    };
                }
            }
            BatchOutcome {
                confirmed: envelopes.len(),
                error: None,
            }
        }
    }
}

/// What a caught panic said, for a failure reason.
pub(crate) fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}
