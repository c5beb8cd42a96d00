//! The RabbitMQ connection, the topology every service shares, and confirmed publishing.
//!
//! A [`Broker`] owns one AMQP connection and, on it, one publishing channel in confirm mode.
//! A supervisor task opens the connection and, whenever it drops (broker restart, connection
//! closed by the server, network failure), opens a new one with exponential backoff. Callers
//! never see a dead channel: every operation asks for the current connection, waits for the
//! supervisor (up to [`BrokerSettings::operation_timeout`]) while it reconnects, and a
//! publishing channel the broker closed is replaced on the next publish.
//!
//! Publishing waits for the broker's confirm, so `Ok` means the broker took responsibility
//! for the message. Clones of a `Broker` share the connection; the supervisor stops and the
//! connection closes when the last clone is dropped or [`Broker::close`] is called.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lapin::options::{BasicPublishOptions, ExchangeDeclareOptions};
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, ErrorKind, ExchangeKind};
use tokio::sync::watch;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::{
    metrics, BatchOutcome, Envelope, PublishError, Publisher, CONTENT_TYPE, DEAD_LETTER_EXCHANGE,
    EXCHANGE,
};

mod connection;
mod publishing;

pub(crate) use connection::Backoff;
use connection::{supervise, Live};
use publishing::{confirmed, publish_failure, unavailable, ConfirmPipeline, InFlight};

/// AMQP delivery mode 2: the broker writes the message to disk (with a durable queue it
/// survives a broker restart).
pub(crate) const PERSISTENT: u8 = 2;

/// How a [`Broker`] connects and how patient it is.
#[derive(Clone)]
pub struct BrokerSettings {
    /// `amqp://user:password@host:port/vhost`, the vhost percent-encoded (`%2f` for `/`).
    pub url: String,
    /// Shown by `rabbitmqctl list_connections client_properties`, to tell services apart.
    pub connection_name: String,
    /// The first pause between reconnection attempts; it doubles up to `max_backoff`.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// How long an operation (a publish and its confirm, opening a channel) waits for the
    /// connection and the broker's answer before it fails as unavailable.
    pub operation_timeout: Duration,
    /// What consumers declare their durable queues (and dead-letter queues) as.
    pub queue_type: QueueType,
}

/// The kind of RabbitMQ queue the consumers' durable queues are. RabbitMQ cannot change the
/// type of an existing queue: a declaration of another type is refused (see
/// [`super::consumer::ConsumerError::Topology`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueueType {
    /// Classic queues, declared without arguments (as before quorum queues were an option).
    #[default]
    Classic,
    /// Quorum queues (`x-queue-type: quorum`): replicated across a RabbitMQ cluster's nodes by
    /// Raft, a message confirmed once a majority holds it. They also work on a single node.
    Quorum,
}

impl QueueType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Classic => "classic",
            Self::Quorum => "quorum",
        }
    }
}

impl std::str::FromStr for QueueType {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "classic" => Ok(Self::Classic),
            "quorum" => Ok(Self::Quorum),
            other => Err(format!(
                "{other:?} is not a queue type: use classic or quorum"
            )),
        }
    }
}

impl fmt::Display for QueueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl BrokerSettings {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            connection_name: "emporium".to_owned(),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            operation_timeout: Duration::from_secs(10),
            queue_type: QueueType::Classic,
        }
    }
}

impl fmt::Debug for BrokerSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL carries the password.
        f.debug_struct("BrokerSettings")
            .field("url", &"<redacted>")
            .field("connection_name", &self.connection_name)
            .field("initial_backoff", &self.initial_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("operation_timeout", &self.operation_timeout)
            .field("queue_type", &self.queue_type)
            .finish()
    }
}

/// Why a broker operation other than a publish failed.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// Not connected (the supervisor is reconnecting), or the connection failed mid-way.
    #[error("the broker is unavailable: {0}")]
    Unavailable(String),
    /// A queue or exchange the operation names does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The broker refused the operation, e.g. a declaration that conflicts with an existing
    /// queue's arguments or a vhost permission. Retrying will not help.
    #[error("the broker refused: {0}")]
    Refused(String),
}

impl From<lapin::Error> for BrokerError {
    fn from(err: lapin::Error) -> Self {
        match soft_error(&err) {
            Some(AMQPSoftError::NOTFOUND) => Self::NotFound(err.to_string()),
            Some(_) => Self::Refused(err.to_string()),
            None => Self::Unavailable(err.to_string()),
        }
    }
}

/// The channel-level error the broker answered with, if it was one.
fn soft_error(err: &lapin::Error) -> Option<AMQPSoftError> {
    match err.kind() {
        ErrorKind::ProtocolError(amqp) => match amqp.kind() {
            AMQPErrorKind::Soft(soft) => Some(soft.clone()),
            AMQPErrorKind::Hard(_) => None,
        },
        _ => None,
    }
}

/// A shared handle on the RabbitMQ connection. Cheap to clone.
#[derive(Clone)]
pub struct Broker {
    inner: Arc<Inner>,
}

struct Inner {
    settings: BrokerSettings,
    /// The current connection; `None` while the supervisor (re)connects.
    live: watch::Receiver<Option<Arc<Live>>>,
    stop: CancellationToken,
    /// Stops the supervisor when the last clone of the broker goes away.
    _stop_on_drop: DropGuard,
}

impl fmt::Debug for Broker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Broker")
            .field("settings", &self.inner.settings)
            .field("connected", &self.is_connected())
            .finish()
    }
}

impl Broker {
    /// Starts the supervisor and waits for the first connection, failing if there is none
    /// within `operation_timeout`: a service that cannot reach the broker at start-up says so.
    pub async fn connect(settings: BrokerSettings) -> Result<Self, BrokerError> {
        let broker = Self::start(settings);
        broker.live().await?;
        Ok(broker)
    }

    /// Starts the supervisor without waiting: the broker connects in the background and
    /// operations fail as unavailable until it has. For processes that must start (and
    /// report not ready) while RabbitMQ is down. Must be called within a Tokio runtime.
    pub fn start(settings: BrokerSettings) -> Self {
        let (live_tx, live) = watch::channel(None);
        let stop = CancellationToken::new();
        tokio::spawn(supervise(settings.clone(), live_tx, stop.clone()));
        Self {
            inner: Arc::new(Inner {
                settings,
                live,
                stop: stop.clone(),
                _stop_on_drop: stop.drop_guard(),
            }),
        }
    }

    pub fn settings(&self) -> &BrokerSettings {
        &self.inner.settings
    }

    /// Whether the connection is up now; cheap enough for every readiness probe.
    pub fn is_connected(&self) -> bool {
        self.inner
            .live
            .borrow()
            .as_ref()
            .is_some_and(|live| live.is_alive())
    }

    /// A round trip to the broker (opening and closing a channel), for a deeper readiness check.
    pub async fn ping(&self) -> Result<(), BrokerError> {
        let channel = self.channel().await?;
        channel.close(200, "ping".into()).await?;
        Ok(())
    }

    /// A new channel on the current connection, waiting while the supervisor reconnects.
    /// The caller owns it; it dies with the connection, after which the caller asks again.
    pub async fn channel(&self) -> Result<Channel, BrokerError> {
        let live = self.live().await?;
        self.within_timeout("opening a channel", live.connection.create_channel())
            .await?
            .map_err(|err| live.failure(err))
    }

    /// Declares the exchanges every service shares. Idempotent. The broker already does it on
    /// every (re)connection, and consumers before binding their queues; this is for callers
    /// that want the refusal of a conflicting declaration as an error.
    pub async fn declare_topology(&self) -> Result<(), BrokerError> {
        let channel = self.channel().await?;
        declare_exchanges(&channel).await?;
        channel.close(200, "topology declared".into()).await?;
        Ok(())
    }

    /// Closes the connection and stops reconnecting. Clones of this broker become unusable.
    pub async fn close(&self) {
        self.inner.stop.cancel();
        let live = self.inner.live.borrow().clone();
        if let Some(live) = live {
            // The supervisor may be closing it at the same time; either close is enough. A
            // broker that never answers the close must not hold the caller up.
            let _ = self
                .within_timeout("closing", live.connection.close(200, "closing".into()))
                .await;
        }
    }

    /// Publishes `body` and waits for the broker's confirm. With `mandatory`, a message no
    /// queue receives comes back and counts as not confirmed rather than silently dropped.
    pub(crate) async fn publish_confirmed(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        properties: BasicProperties,
        mandatory: bool,
    ) -> Result<(), PublishError> {
        let routing_key = ShortString::try_new(routing_key).map_err(|_| {
            PublishError::NotConfirmed(format!(
                "routing key longer than 255 bytes: {routing_key:.40}..."
            ))
        })?;
        let publish = async {
            let live = self.live().await.map_err(unavailable)?;
            let channel = live
                .publishing_channel()
                .await
                .map_err(|err| publish_failure(&live, err))?;
            let options = BasicPublishOptions {
                mandatory,
                ..BasicPublishOptions::default()
            };
            let confirm = channel
                .basic_publish(exchange.into(), routing_key, options, body, properties)
                .await
                .map_err(|err| publish_failure(&live, err))?;
            let confirmation = confirm.await.map_err(|err| publish_failure(&live, err))?;
            confirmed(confirmation)
        };
        self.within_timeout("waiting for the publisher confirm", publish)
            .await
            .map_err(unavailable)?
    }

    /// The body of [`Publisher::publish_batch`]: publishes into `batch`, which keeps the
    /// confirmed prefix however this returns.
    async fn pipeline(
        &self,
        envelopes: &[Envelope],
        batch: &mut ConfirmPipeline,
    ) -> Result<(), PublishError> {
        let live = self.live().await.map_err(unavailable)?;
        let channel = live
            .publishing_channel()
            .await
            .map_err(|err| publish_failure(&live, err))?;
        for (index, envelope) in envelopes.iter().enumerate() {
            if let Some(earlier) = batch.in_flight_of(&envelope.subject) {
                batch.settle_through(earlier, &live).await?;
            }
            let body = serde_json::to_vec(envelope)?;
            let routing_key = ShortString::try_new(envelope.event_type.as_str()).map_err(|_| {
                PublishError::NotConfirmed(format!(
                    "routing key longer than 255 bytes: {:.40}...",
                    envelope.event_type
                ))
            })?;
            let confirm = channel
                .basic_publish(
                    EXCHANGE.into(),
                    routing_key,
                    BasicPublishOptions::default(),
                    &body,
                    envelope_properties(envelope),
                )
                .await
                .map_err(|err| publish_failure(&live, err))?;
            batch.in_flight.push_back(InFlight {
                index,
                subject: envelope.subject.clone(),
                event_type: envelope.event_type.clone(),
                confirm,
            });
        }
        match batch.in_flight.back().map(|last| last.index) {
            Some(last) => batch.settle_through(last, &live).await,
            None => Ok(()),
        }
    }

    /// The current connection, waiting up to `operation_timeout` while the supervisor
    /// reconnects.
    async fn live(&self) -> Result<Arc<Live>, BrokerError> {
        let mut live = self.inner.live.clone();
        let connected = self.within_timeout("waiting for the connection", async {
            live.wait_for(|live| live.as_ref().is_some_and(|l| l.is_alive()))
                .await
                .map(|current| current.clone())
        });
        match connected.await? {
            Ok(Some(current)) => Ok(current),
            Ok(None) => Err(BrokerError::Unavailable("not connected".to_owned())),
            // The supervisor only drops its sender when it stops.
            Err(_) => Err(BrokerError::Unavailable(
                "the broker connection was closed".to_owned(),
            )),
        }
    }

    async fn within_timeout<F: std::future::Future>(
        &self,
        what: &str,
        future: F,
    ) -> Result<F::Output, BrokerError> {
        let timeout = self.inner.settings.operation_timeout;
        tokio::time::timeout(timeout, future)
            .await
            .map_err(|_| BrokerError::Unavailable(format!("timed out after {timeout:?} {what}")))
    }
}

impl Publisher for Broker {
    /// Publishes to `ecommerce-events` with the event type as routing key, persistent, and
    /// returns once the broker confirmed. No `mandatory` flag: an event no queue is bound to
    /// yet is legitimately dropped.
    async fn publish(&self, envelope: &Envelope) -> Result<(), PublishError> {
        let body = serde_json::to_vec(envelope)?;
        self.publish_confirmed(
            EXCHANGE,
            &envelope.event_type,
            &body,
            envelope_properties(envelope),
            false,
        )
        .await?;
        metrics::count_published(&envelope.event_type);
        Ok(())
    }

    /// Pipelines the confirms: envelopes of different aggregates are published without waiting
    /// for each other's confirms, which are then awaited in order; an envelope whose aggregate
    /// has one in flight waits for it (and everything before it) first. Stops at the first
    /// failure, so the confirmed prefix is exact; a connection lost mid-batch fails every
    /// confirm still outstanding.
    async fn publish_batch(&self, envelopes: &[Envelope]) -> BatchOutcome {
        let mut batch = ConfirmPipeline::default();
        let failure = match self
            .within_timeout("publishing a batch", self.pipeline(envelopes, &mut batch))
            .await
        {
            Ok(Ok(())) => None,
            Ok(Err(err)) => Some(err),
            Err(err) => Some(unavailable(err)),
        };
        BatchOutcome {
            confirmed: batch.confirmed,
            error: failure,
        }
    }
}

/// The AMQP properties an envelope travels with.
pub(crate) fn envelope_properties(envelope: &Envelope) -> BasicProperties {
    let mut headers = FieldTable::default();
    if let Some(traceparent) = &envelope.traceparent {
        headers.insert(
            "traceparent".into(),
            AMQPValue::LongString(traceparent.as_str().into()),
        );
    }
    let timestamp = DateTime::parse_from_rfc3339(&envelope.time)
        .map(|time| time.timestamp())
        .unwrap_or_else(|_| Utc::now().timestamp());
    BasicProperties::default()
        .with_content_type(CONTENT_TYPE.into())
        .with_delivery_mode(PERSISTENT)
        .with_message_id(envelope.id.to_string().into())
        .with_timestamp(u64::try_from(timestamp).unwrap_or_default())
        .with_headers(headers)
}

/// Declares `ecommerce-events` (topic) and `ecommerce-events.dlx` (direct), both durable.
pub(crate) async fn declare_exchanges(channel: &Channel) -> Result<(), BrokerError> {
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(
            EXCHANGE.into(),
            ExchangeKind::Topic,
            durable,
            FieldTable::default(),
        )
        .await?;
    channel
        .exchange_declare(
            DEAD_LETTER_EXCHANGE.into(),
            ExchangeKind::Direct,
            durable,
            FieldTable::default(),
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    // What an envelope travels with (persistent, its id, content type and traceparent) is
    // checked on the delivered message by tests/it/broker.rs.
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_maximum_and_resets() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        let delays: Vec<_> = (0..4).map(|_| backoff.next_delay().as_millis()).collect();
        assert_eq!(delays, [100, 200, 350, 350]);
        backoff.reset();
        assert_eq!(backoff.next_delay(), Duration::from_millis(100));
    }

    #[test]
    fn the_settings_never_print_the_url() {
        let settings = BrokerSettings::new("amqp://guest:secret@localhost:5672/%2f");
        assert!(!format!("{settings:?}").contains("secret"));
    }
}
