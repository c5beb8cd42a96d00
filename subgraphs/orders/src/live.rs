//! The live feed of order status changes behind `orderStatusChanged`.
//!
//! Every orders replica binds its own exclusive, auto-deleted queue to
//! `order.status_changed`, so it sees every change whichever replica made it, and fans each
//! one out to its own subscribers through a broadcast channel. The queue lives as long as
//! the connection: after a broker restart [`LiveFeed::run`] declares a new one, and tells
//! every subscriber to catch up from the order's history in Postgres, where the changes
//! published while no queue was bound are (an [`OrderFollower`] does that, and also when it
//! fell behind the broadcast).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use emporium_kernel::events::broker::{Broker, BrokerError};
use emporium_kernel::events::contract::orders::OrderStatusChanged;
use emporium_kernel::events::{DecodeError, Envelope, Event, EXCHANGE};
use emporium_kernel::ids::{OrderId, UserId};
use futures::StreamExt;
use lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{FieldTable, ShortString};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use crate::orders::{HistoryEntry, Orders};

/// How many changes a slow subscriber may fall behind before it skips some.
const CAPACITY: usize = 1024;

/// What the feed carries: one history entry of an order and whose order it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub user_id: UserId,
    pub entry: HistoryEntry,
}

#[derive(Clone)]
pub struct LiveFeed {
    sender: broadcast::Sender<StatusChange>,
    /// Bumped whenever a queue was (re)bound: what was published before may not have
    /// reached this replica, so its subscribers look at the store.
    resyncs: Arc<watch::Sender<u64>>,
}

impl Default for LiveFeed {
    fn default() -> Self {
        Self::new()
    }
}

/// The change an `order.status_changed` envelope announces, or why it is unreadable.
pub fn change_of(envelope: &Envelope) -> Result<StatusChange, DecodeError> {
    let event: OrderStatusChanged = envelope.decode()?;
    Ok(StatusChange {
        user_id: event.user_id.into(),
        entry: HistoryEntry {
            order_id: event.order_id.into(),
            sequence: envelope.sequence_number(),
            status: event.status,
            previous_status: event.previous_status,
            reason: event.reason.map(|reason| reason.as_str().to_owned()),
            at: event.at,
        },
    })
}

impl LiveFeed {
    pub fn new() -> Self {
        let (sender, _) = broadcast::channel(CAPACITY);
        Self {
            sender,
            resyncs: Arc::new(watch::Sender::new(0)),
        }
    }

    /// Follows `order` from now on: subscribe before reading its current state, then
    /// [`OrderFollower::start_after`] that state.
    pub fn follow(&self, order: OrderId, orders: Orders) -> OrderFollower {
        let mut resyncs = self.resyncs.subscribe();
        resyncs.mark_unchanged();
        OrderFollower {
            order,
            orders,
            changes: self.sender.subscribe(),
            resyncs,
            seen: 0,
            finished: false,
            pending: VecDeque::new(),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<StatusChange> {
        self.sender.subscribe()
    }

    /// How many subscribers listen (for tests and metrics).
    pub fn subscribers(&self) -> usize {
        self.sender.receiver_count()
    }

    fn publish(&self, change: StatusChange) {
        // No subscriber is not an error: nobody is watching.
        let _ = self.sender.send(change);
    }

    /// Consumes `order.status_changed` from this replica's own queue until `shutdown`,
    /// declaring a new queue after every lost connection. `ready` is cancelled once the
    /// first queue is bound (tests wait for it before they publish).
    pub async fn run(self, broker: Broker, ready: CancellationToken, shutdown: CancellationToken) {
        let mut backoff = Duration::from_millis(200);
        loop {
            let session = tokio::select! {
                () = shutdown.cancelled() => return,
                session = self.session(&broker, &ready) => session,
            };
            if let Err(err) = session {
                tracing::warn!(error = %err, "the live order feed lost its queue; declaring a new one");
            }
            if shutdown
                .run_until_cancelled(tokio::time::sleep(backoff))
                .await
                .is_none()
            {
                return;
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    async fn session(&self, broker: &Broker, ready: &CancellationToken) -> Result<(), BrokerError> {
        let channel = broker.channel().await?;
        let queue = channel
            .queue_declare(
                ShortString::default(),
                QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        channel
            .queue_bind(
                queue.name().clone(),
                EXCHANGE.into(),
                OrderStatusChanged::TYPE.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        // Bound: from here on every change reaches this queue. Those published while no
        // queue was bound are in the store; subscribers catch up from it before they take
        // anything the new queue delivers (they look at this signal first).
        self.resyncs.send_modify(|generation| *generation += 1);
        let mut deliveries = channel
            .basic_consume(
                queue.name().clone(),
                ShortString::default(),
                BasicConsumeOptions {
                    no_ack: true,
                    exclusive: true,
                    ..BasicConsumeOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        tracing::info!(queue = %queue.name(), "live order feed consuming");
        ready.cancel();
        while let Some(delivery) = deliveries.next().await {
            let delivery = delivery?;
            let change = serde_json::from_slice::<Envelope>(&delivery.data)
                .map_err(|e| e.to_string())
                .and_then(|envelope| change_of(&envelope).map_err(|e| e.to_string()));
            match change {
                Ok(change) => self.publish(change),
                Err(err) => {
                    tracing::warn!(error = %err, "unreadable order.status_changed skipped by the live feed")
                }
            }
        }
        Ok(())
    }
}

/// One subscriber's view of one order: every change after the state it started from, once
/// each and in order, whether it came through the broadcast or from the store after this
/// replica lost its queue or the subscriber fell behind.
pub struct OrderFollower {
    order: OrderId,
    orders: Orders,
    changes: broadcast::Receiver<StatusChange>,
    resyncs: watch::Receiver<u64>,
    /// The sequence of the last change handed out.
    seen: i64,
    finished: bool,
    /// Changes read from the store, not handed out yet.
    pending: VecDeque<HistoryEntry>,
}

impl OrderFollower {
    /// Starts after `current` (the order's last history entry when it was read).
    pub fn start_after(mut self, current: Option<&HistoryEntry>) -> Self {
        self.seen = current.map_or(0, |entry| entry.sequence);
        self.finished = current.is_some_and(|entry| entry.status.is_final());
        self
    }

    /// The next change, or `None` once a final status was handed out (nothing follows it)
    /// or the feed stopped.
    pub async fn next(&mut self) -> Option<HistoryEntry> {
        loop {
            while let Some(entry) = self.pending.pop_front() {
                if entry.sequence > self.seen {
                    return Some(self.hand_out(entry));
                }
            }
            if self.finished {
                return None;
            }
            let catch_up = tokio::select! {
                biased;
                changed = self.resyncs.changed() => {
                    changed.ok()?;
                    true
                }
                change = self.changes.recv() => match change {
                    Ok(StatusChange { entry, .. }) if entry.order_id == self.order => {
                        if entry.sequence > self.seen {
                            return Some(self.hand_out(entry));
                        }
                        false
                    }
                    Ok(_) => false,
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "a live order subscriber fell behind; catching up from the store");
                        true
                    }
                    Err(RecvError::Closed) => return None,
                },
            };
            if catch_up {
                match self.orders.history(self.order).await {
                    Ok(history) => self.pending = history.into(),
                    Err(err) => {
                        tracing::warn!(error = %err, "a live order subscriber could not catch up from the store")
                    }
                }
            }
        }
    }

    fn hand_out(&mut self, entry: HistoryEntry) -> HistoryEntry {
        self.seen = entry.sequence;
        self.finished = entry.status.is_final();
        entry
    }
}
