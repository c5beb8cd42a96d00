//! The consumer runtime: a durable queue `<service>.<purpose>` bound to the event types it
//! wants, a [`Handler`] applied to each envelope, retries with backoff, and dead letters.
//!
//! [`run`] declares the queue and its dead-letter queue `<queue>.dlq`, consumes with a
//! prefetch, and acknowledges a message only after its handler succeeded. A retryable
//! failure is retried with exponential backoff up to `max_attempts`; then, or at once for a
//! permanent failure or a poison message (not an envelope, or a `dataschema` the handler
//! does not know), the message is published to `ecommerce-events.dlx` with the reason in its
//! headers, and only once that publish is confirmed is the original acknowledged. Nothing is
//! lost: a message is always either acknowledged after its effect, in the dead-letter queue,
//! or back in its queue.
//!
//! Retries happen in process, holding the message. That keeps ordering and needs no retry
//! queues, at the price of the message (and, with a prefetch above one, those behind it in
//! this consumer's buffer) waiting out the backoff, and of the attempt count restarting if
//! the process dies mid-way; keep `max_backoff` short. Delivery is at least once: a crash or a
//! lost connection between the effect and the ack redelivers the message, which the handler
//! absorbs with the inbox ([`super::inbox`]).
//!
//! One `run` handles up to `concurrency` messages at once, but never two of one aggregate
//! (`subject`): a message waits until every earlier message of its aggregate that this
//! consumer holds has been settled, so one consumer applies an aggregate's events in the order
//! the queue delivers them ([`Lanes`]). Acknowledgements are per message and may go out of
//! order across aggregates. Several `run`s (in one process or in replicas) compete on the
//! queue as before; across them only the handlers' idempotence and sequence checks order
//! events. After a lost connection `run` waits for the broker to reconnect, declares
//! everything again and resumes; on shutdown it stops taking messages, lets those in flight
//! finish, and the unacknowledged rest returns to the queue.

use std::fmt;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
};
use lapin::types::{FieldTable, ShortString};
use lapin::Channel;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

mod dead_letter;
mod handler;
mod lanes;
mod settings;
mod topology;

pub(crate) use dead_letter::{header_integer, header_string, original_routing_key};
pub use handler::{data_of, Handler, HandlerError};
pub use settings::ConsumerSettings;
pub use topology::declare;

use super::broker::{Backoff, Broker, BrokerError};
use super::{metrics, panic_message, Envelope, DEAD_LETTER_EXCHANGE};
use dead_letter::dead_letter_properties;
use lanes::Lanes;
use topology::declare_queue;

/// Header of a dead letter: why the message failed.
pub const FAILURE_REASON_HEADER: &str = "x-emporium-failure-reason";
/// Header of a dead letter: how many times the handler was tried (0 for a poison message).
pub const ATTEMPTS_HEADER: &str = "x-emporium-attempts";
/// Header of a dead letter: the routing key (event type) it was first published with.
pub const ORIGINAL_ROUTING_KEY_HEADER: &str = "x-emporium-original-routing-key";

/// The name of the dead-letter queue of `queue`.
pub fn dead_letter_queue(queue: &str) -> String {
    format!("{queue}.dlq")
}

/// Why [`run`] gave up. Lost connections are not errors: `run` waits them out.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    #[error("invalid consumer settings: {0}")]
    InvalidSettings(String),
    /// The broker refused to declare or bind the queue, e.g. it exists with other arguments.
    #[error("the broker refused the topology of queue {queue}: {reason}")]
    Topology { queue: String, reason: String },
    /// [`declare`] could not reach the broker; declaring again later may work.
    #[error("the broker is unavailable to declare queue {queue}: {reason}")]
    Unavailable { queue: String, reason: String },
}

/// Consumes `settings.queue` with `handler` until `shutdown`. See the module docs.
pub async fn run<H: Handler>(
    broker: Broker,
    settings: ConsumerSettings,
    handler: H,
    shutdown: CancellationToken,
) -> Result<(), ConsumerError> {
    settings.validate()?;
    QueueConsumer {
        broker,
        settings,
        handler,
        shutdown,
    }
    .run()
    .await
}

struct QueueConsumer<H> {
    broker: Broker,
    settings: ConsumerSettings,
    handler: H,
    shutdown: CancellationToken,
}

/// Why a consuming session ended early.
enum SessionError {
    /// The connection or channel broke, or a message could not be settled; start over.
    Broken {
        reason: String,
        was_consuming: bool,
    },
    Fatal(ConsumerError),
}

impl SessionError {
    fn broken(reason: impl fmt::Display) -> Self {
        Self::Broken {
            reason: reason.to_string(),
            was_consuming: true,
        }
    }
}

impl<H: Handler> QueueConsumer<H> {
    async fn run(&self) -> Result<(), ConsumerError> {
        let mut backoff = Backoff::new(self.settings.initial_backoff, self.settings.max_backoff);
        while !self.shutdown.is_cancelled() {
            match self.session().await {
                Ok(()) => {}
                Err(SessionError::Fatal(err)) => return Err(err),
                Err(SessionError::Broken {
                    reason,
                    was_consuming,
                }) => {
                    if was_consuming {
                        backoff.reset();
                    }
                    let delay = backoff.next_delay();
                    tracing::warn!(queue = %self.settings.queue, %reason, retry_in_ms = millis(delay), "consumer interrupted");
                    self.pause(delay).await;
                }
            }
        }
        tracing::info!(queue = %self.settings.queue, "consumer stopped");
        Ok(())
    }

    /// Declares, consumes and handles on one channel until shutdown (Ok) or a failure.
    async fn session(&self) -> Result<(), SessionError> {
        let channel = tokio::select! {
            _ = self.shutdown.cancelled() => return Ok(()),
            channel = self.broker.channel() => channel.map_err(|err| self.not_consuming(err))?,
        };
        let result = self.consume(&channel).await;
        // Closing the channel returns what it holds unacknowledged to the queue at once.
        let _ = channel.close(200, "consumer stopping".into()).await;
        result
    }

    async fn consume(&self, channel: &Channel) -> Result<(), SessionError> {
        self.declare(channel).await?;
        channel
            .basic_qos(self.settings.prefetch, BasicQosOptions::default())
            .await
            .map_err(|err| self.not_consuming(err.into()))?;
        let mut deliveries = channel
            .basic_consume(
                self.settings.queue.as_str().into(),
                ShortString::default(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|err| self.not_consuming(err.into()))?;
        tracing::info!(queue = %self.settings.queue, "consuming");
        let mut lanes: Lanes<Taken> = Lanes::new(usize::from(self.settings.concurrency));
        let mut running = FuturesUnordered::new();
        loop {
            while let Some(taken) = lanes.next_to_run() {
                running.push(async move {
                    let subject = taken.subject().map(str::to_owned);
                    (subject, self.process(taken).await)
                });
            }
            tokio::select! {
                biased;
                _ = self.shutdown.cancelled() => break,
                Some((subject, processed)) = running.next(), if !running.is_empty() => {
                    // A message that could not be settled ends the session; what this consumer
                    // holds returns to the queue when the channel closes.
                    processed?;
                    lanes.finished(subject.as_deref());
                }
                next = deliveries.next() => match next {
                    Some(Ok(delivery)) => {
                        let taken = self.take(delivery);
                        let subject = taken.subject().map(str::to_owned);
                        lanes.push(subject, taken);
                    }
                    Some(Err(err)) => return Err(SessionError::broken(err)),
                    None => return Err(SessionError::broken("the broker cancelled the consumer")),
                },
            }
        }
        // Shutdown: cancel the subscription at once, so the broker stops handing this consumer
        // messages, and let the messages in flight finish; the ones waiting for a lane stay
        // unacknowledged and return to the queue with the channel.
        if let Err(err) = channel
            .basic_cancel(deliveries.tag(), BasicCancelOptions::default())
            .await
        {
            tracing::debug!(error = %err, "could not cancel the subscription; closing the channel ends it");
        }
        while let Some((_, processed)) = running.next().await {
            processed?;
        }
        Ok(())
    }

    /// The exchanges, the queue with its bindings, and its dead-letter queue. Idempotent,
    /// so every session (after a reconnect, in every replica) declares them again.
    async fn declare(&self, channel: &Channel) -> Result<(), SessionError> {
        declare_queue(channel, &self.settings, self.broker.settings().queue_type)
            .await
            .map_err(|err| match err {
                BrokerError::Unavailable(_) => self.not_consuming(err),
                refused => SessionError::Fatal(ConsumerError::Topology {
                    queue: self.settings.queue.clone(),
                    reason: refused.to_string(),
                }),
            })
    }

    fn not_consuming(&self, err: BrokerError) -> SessionError {
        SessionError::Broken {
            reason: err.to_string(),
            was_consuming: false,
        }
    }

    /// A delivery, parsed: an envelope this handler understands, or why it is poison.
    fn take(&self, delivery: Delivery) -> Taken {
        let parsed = self.parse(&delivery);
        Taken { delivery, parsed }
    }

    async fn process(&self, taken: Taken) -> Result<(), SessionError> {
        let Taken { delivery, parsed } = taken;
        let envelope = match parsed {
            Ok(envelope) => envelope,
            Err(reason) => {
                let event_type = original_routing_key(&delivery);
                return self.dead_letter(&delivery, &event_type, &reason, 0).await;
            }
        };
        let span = tracing::info_span!(
            "consume",
            queue = %self.settings.queue,
            event_id = %envelope.id,
            event_type = %envelope.event_type,
            traceparent = envelope.traceparent.as_deref().unwrap_or_default(),
        );
        self.handle_with_retries(&delivery, &envelope)
            .instrument(span)
            .await
    }

    fn parse(&self, delivery: &Delivery) -> Result<Envelope, String> {
        let envelope: Envelope = serde_json::from_slice(&delivery.data)
            .map_err(|err| format!("poison message: not an envelope: {err}"))?;
        if !self.handler.understands(&envelope) {
            return Err(format!(
                "poison message: unknown dataschema {}",
                envelope.dataschema
            ));
        }
        Ok(envelope)
    }

    async fn handle_with_retries(
        &self,
        delivery: &Delivery,
        envelope: &Envelope,
    ) -> Result<(), SessionError> {
        let mut backoff = Backoff::new(self.settings.initial_backoff, self.settings.max_backoff);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let failure = match self.attempt(envelope).await {
                Ok(()) => return self.ack(delivery, envelope).await,
                Err(failure) => failure,
            };
            let is_last = matches!(failure, HandlerError::Permanent(_))
                || attempt >= self.settings.max_attempts;
            if is_last {
                return self
                    .dead_letter(delivery, &envelope.event_type, failure.reason(), attempt)
                    .await;
            }
            metrics::count_retried(&envelope.event_type, &self.settings.queue);
            let delay = backoff.next_delay();
            tracing::info!(attempt, retry_in_ms = millis(delay), error = %failure, "handler failed; retrying");
            if self.pause(delay).await {
                return requeue(delivery).await;
            }
            if !delivery.acker.usable() {
                return Err(SessionError::broken(
                    "the channel closed during a retry; the message returns to its queue",
                ));
            }
        }
    }

    /// One handler call; a panic counts as a permanent failure rather than killing the consumer.
    async fn attempt(&self, envelope: &Envelope) -> Result<(), HandlerError> {
        AssertUnwindSafe(self.handler.handle(envelope))
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| {
                Err(HandlerError::Permanent(format!(
                    "the handler panicked: {}",
                    panic_message(&*panic)
                )))
            })
    }

    async fn ack(&self, delivery: &Delivery, envelope: &Envelope) -> Result<(), SessionError> {
        settle(delivery.acker.ack(BasicAckOptions::default()).await)?;
        metrics::count_consumed(&envelope.event_type, &self.settings.queue);
        Ok(())
    }

    /// Publishes the message to the dead-letter exchange, confirmed, then acknowledges it.
    async fn dead_letter(
        &self,
        delivery: &Delivery,
        event_type: &str,
        reason: &str,
        attempts: u32,
    ) -> Result<(), SessionError> {
        let properties = dead_letter_properties(delivery, reason, attempts);
        self.broker
            .publish_confirmed(
                DEAD_LETTER_EXCHANGE,
                &self.settings.queue,
                &delivery.data,
                properties,
                true,
            )
            .await
            // Ending the session returns the message to the queue; it is retried from the start.
            .map_err(|err| {
                SessionError::broken(format!("could not dead-letter a message: {err}"))
            })?;
        settle(delivery.acker.ack(BasicAckOptions::default()).await)?;
        metrics::count_dead_lettered(event_type, &self.settings.queue);
        tracing::warn!(queue = %self.settings.queue, %event_type, attempts, %reason, "message dead-lettered");
        Ok(())
    }

    /// Sleeps `delay`; true if shutdown came first.
    async fn pause(&self, delay: Duration) -> bool {
        self.shutdown
            .run_until_cancelled(tokio::time::sleep(delay))
            .await
            .is_none()
    }
}

/// A delivery the consumer holds, parsed once when it arrives.
struct Taken {
    delivery: Delivery,
    parsed: Result<Envelope, String>,
}

impl Taken {
    /// The aggregate the message belongs to; none for a poison message, which is only
    /// dead-lettered and so cannot overtake anything.
    fn subject(&self) -> Option<&str> {
        self.parsed
            .as_ref()
            .ok()
            .map(|envelope| envelope.subject.as_str())
    }
}

/// Puts a message back at shutdown, mid-retry: another consumer starts it over.
async fn requeue(delivery: &Delivery) -> Result<(), SessionError> {
    let options = BasicNackOptions {
        requeue: true,
        ..BasicNackOptions::default()
    };
    settle(delivery.acker.nack(options).await)
}

/// An ack or nack that did not reach the broker leaves the message to be redelivered.
fn settle(result: Result<bool, lapin::Error>) -> Result<(), SessionError> {
    match result {
        Ok(true) => Ok(()),
        Ok(false) => Err(SessionError::broken(
            "the channel closed before the message was settled; it will be redelivered",
        )),
        Err(err) => Err(SessionError::broken(err)),
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::envelope::schema_urn;

    #[test]
    fn settings_reject_what_the_broker_would() {
        assert!(ConsumerSettings::new("search.indexer", ["product.*"])
            .validate()
            .is_ok());
        assert!(ConsumerSettings::new("", ["product.*"]).validate().is_err());
        assert!(ConsumerSettings::new("x".repeat(252), ["product.*"])
            .validate()
            .is_err());
        assert!(
            ConsumerSettings::new("search.indexer", Vec::<String>::new())
                .validate()
                .is_err()
        );
        let mut no_attempts = ConsumerSettings::new("search.indexer", ["product.*"]);
        no_attempts.max_attempts = 0;
        assert!(no_attempts.validate().is_err());
    }

    #[test]
    fn concurrency_is_at_least_one() {
        let mut settings = ConsumerSettings::new("search.indexer", ["product.*"]);
        settings.prefetch = 4;
        assert!(settings.validate().is_ok(), "the prefetch caps it");
        settings.concurrency = 0;
        assert!(settings.validate().is_err());
    }

    #[test]
    fn handlers_understand_version_one_of_their_type_by_default() {
        struct Noop;
        impl Handler for Noop {
            async fn handle(&self, _: &Envelope) -> Result<(), HandlerError> {
                Ok(())
            }
        }
        let mut envelope =
            crate::events::EventDraft::new("order.placed", "o", serde_json::json!({}))
                .into_envelope("/t", 1, chrono::Utc::now());
        assert!(Noop.understands(&envelope));
        envelope.dataschema = schema_urn("order.placed", 2);
        assert!(!Noop.understands(&envelope));
    }
}
