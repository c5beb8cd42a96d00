//! The connection's life: opening it with its publishing channel, watching it, and reopening it
//! with exponential backoff whenever it drops.
//!
//! Failure: an open that fails or times out is retried after a growing pause until the broker
//! is closed; nothing here gives up while a `Broker` handle lives.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use lapin::options::ConfirmSelectOptions;
use lapin::{Channel, Connection, ConnectionProperties, Event};
use tokio::sync::{watch, Mutex};
use tokio_util::sync::CancellationToken;

use super::{declare_exchanges, BrokerError, BrokerSettings};

/// One established connection and its publishing channel.
pub(super) struct Live {
    pub(super) connection: Connection,
    /// Replaced when the broker closes it (a channel-level error) while the connection lives.
    pub(super) publisher: Mutex<Channel>,
    /// Cancelled when an operation finds the connection dead, so the supervisor reconnects
    /// at once instead of at its next status check.
    pub(super) lost: CancellationToken,
}

impl Live {
    pub(super) async fn open(settings: &BrokerSettings) -> Result<Self, BrokerError> {
        let properties = ConnectionProperties::default()
            .with_connection_name(settings.connection_name.as_str().into());
        let connection = Connection::connect(&settings.url, properties).await?;
        declare_on_connect(&connection).await?;
        let publisher = confirm_channel(&connection).await?;
        Ok(Self {
            connection,
            publisher: Mutex::new(publisher),
            lost: CancellationToken::new(),
        })
    }

    pub(super) fn is_alive(&self) -> bool {
        !self.lost.is_cancelled() && self.connection.status().connected()
    }

    pub(super) async fn publishing_channel(&self) -> Result<Channel, lapin::Error> {
        let mut publisher = self.publisher.lock().await;
        if !publisher.status().connected() {
            *publisher = confirm_channel(&self.connection).await?;
        }
        Ok(publisher.clone())
    }

    /// Converts an operation's error, telling the supervisor when the connection is gone.
    pub(super) fn failure(&self, err: lapin::Error) -> BrokerError {
        if !self.connection.status().connected() {
            self.lost.cancel();
        }
        err.into()
    }
}

/// Every (re)connection declares the shared exchanges, so publishing works against a fresh
/// broker whatever order the services start in.
pub(super) async fn declare_on_connect(connection: &Connection) -> Result<(), BrokerError> {
    let channel = connection.create_channel().await?;
    match declare_exchanges(&channel).await {
        Ok(()) => {}
        Err(BrokerError::Unavailable(reason)) => return Err(BrokerError::Unavailable(reason)),
        // The connection is fine; the publishes that follow report the refusal each time.
        Err(refused) => {
            tracing::error!(error = %refused, "the broker refused the shared exchanges");
        }
    }
    let _ = channel.close(200, "topology declared".into()).await;
    Ok(())
}

pub(super) async fn confirm_channel(connection: &Connection) -> Result<Channel, lapin::Error> {
    let channel = connection.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    Ok(channel)
}

/// Exponential backoff: `initial`, doubling up to `max`.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max,
            next: initial,
        }
    }

    pub(crate) fn next_delay(&mut self) -> Duration {
        let delay = self.next.min(self.max);
        self.next = (self.next * 2).min(self.max);
        delay
    }

    pub(crate) fn reset(&mut self) {
        self.next = self.initial;
    }
}

/// Keeps a connection open until `stop`: connects with backoff, publishes the connection in
/// `live`, and when it dies withdraws it and starts over.
pub(super) async fn supervise(
    settings: BrokerSettings,
    live: watch::Sender<Option<Arc<Live>>>,
    stop: CancellationToken,
) {
    let mut backoff = Backoff::new(settings.initial_backoff, settings.max_backoff);
    loop {
        let opened = tokio::select! {
            _ = stop.cancelled() => return,
            opened = tokio::time::timeout(settings.operation_timeout, Live::open(&settings)) => opened,
        };
        let connection = match opened {
            Ok(Ok(connection)) => Arc::new(connection),
            Ok(Err(err)) => {
                tracing::warn!(error = %err, retry_in_ms = backoff_ms(&backoff), "cannot connect to RabbitMQ");
                if pause(backoff.next_delay(), &stop).await {
                    return;
                }
                continue;
            }
            Err(_) => {
                tracing::warn!(
                    retry_in_ms = backoff_ms(&backoff),
                    "connecting to RabbitMQ timed out"
                );
                if pause(backoff.next_delay(), &stop).await {
                    return;
                }
                continue;
            }
        };
        backoff.reset();
        live.send_replace(Some(connection.clone()));
        tracing::info!(connection = %settings.connection_name, "connected to RabbitMQ");
        let stopped = watch_connection(&connection, &stop).await;
        live.send_replace(None);
        if stopped {
            let _ = connection
                .connection
                .close(200, "shutting down".into())
                .await;
            return;
        }
        tracing::warn!(connection = %settings.connection_name, "lost the RabbitMQ connection; reconnecting");
    }
}

pub(super) fn backoff_ms(backoff: &Backoff) -> u64 {
    u64::try_from(backoff.clone().next_delay().as_millis()).unwrap_or(u64::MAX)
}

/// Sleeps `delay`; true if `stop` came first.
pub(super) async fn pause(delay: Duration, stop: &CancellationToken) -> bool {
    stop.run_until_cancelled(tokio::time::sleep(delay))
        .await
        .is_none()
}

/// Returns when the connection died (false) or `stop` was cancelled (true).
pub(super) async fn watch_connection(live: &Live, stop: &CancellationToken) -> bool {
    // Errors arrive as events; the periodic status check also catches a failure that
    // happened before the listener was attached.
    let mut events = live.connection.events_listener();
    let mut check = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return true,
            _ = live.lost.cancelled() => return false,
            event = events.next() => match event {
                Some(Event::Error(err)) if !live.connection.status().connected() => {
                    tracing::warn!(error = %err, "RabbitMQ connection error");
                    return false;
                }
                Some(_) => {}
                None => return false,
            },
            _ = check.tick() => {
                if !live.connection.status().connected() {
                    return false;
                }
            }
        }
    }
}
