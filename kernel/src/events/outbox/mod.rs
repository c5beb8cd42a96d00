//! Transactional outboxes and their relay.
//!
//! A producer writes its state change and its events in one transaction of its own store
//! ([`postgres::enqueue`], [`mongo::enqueue`]); the relay ([`run_relay`]) later publishes what
//! is unpublished, with publisher confirms, and marks entries published only after the broker
//! confirmed them. A pass publishes a batch with its confirms pipelined
//! ([`Publisher::publish_batch`]): different aggregates' events do not wait for each other's
//! confirms, an aggregate's next event waits for its previous one, and the pass stops at the
//! first failure and marks exactly the confirmed prefix. A broker that is down delays events; it
//! never loses them. A crash between the confirm and the mark (or one that loses a Postgres
//! relay's marks, which it commits without waiting for the WAL flush) publishes an entry twice,
//! which consumers absorb (their inbox).
//!
//! Several replicas may run a relay over one outbox: a lease (a Postgres advisory lock, a
//! MongoDB lock document) lets one publish at a time, which also keeps each aggregate's
//! events in order.

pub mod mongo;
pub mod postgres;

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{PublishError, Publisher};

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("outbox store: {0}")]
    Postgres(#[from] sqlx::Error),
    #[error("outbox store: {0}")]
    Mongo(#[from] mongodb::error::Error),
    #[error("a stored event is unreadable: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Publish(#[from] PublishError),
}

/// What one relay pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayPass {
    /// This relay holds the lease and published this many entries.
    Published(usize),
    /// Another relay holds the lease.
    NotLeader,
}

/// The backlog of an outbox, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Backlog {
    pub entries: u64,
    pub oldest_age_secs: f64,
}

/// An outbox a relay can drain.
pub trait Outbox: Send + Sync {
    /// Publishes up to `limit` unpublished entries in order, if this relay holds the lease.
    fn relay_batch<P: Publisher>(
        &self,
        publisher: &P,
        limit: usize,
    ) -> impl Future<Output = Result<RelayPass, OutboxError>> + Send;

    fn backlog(&self) -> impl Future<Output = Result<Backlog, OutboxError>> + Send;

    /// Deletes entries published more than `retention` ago and returns how many. Entries
    /// not yet published are never deleted, however old.
    fn prune(&self, retention: Duration) -> impl Future<Output = Result<u64, OutboxError>> + Send;

    /// Waits until new entries may be there, at most `timeout`. By default it simply waits
    /// `timeout` (polling); an outbox whose store can say when entries commit returns as
    /// soon as one does.
    fn wait_for_entries(&self, timeout: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(timeout)
    }
}

#[derive(Debug, Clone)]
pub struct RelaySettings {
    pub batch_size: usize,
    /// How long an idle relay waits before looking again. Bounds the delay an event sees
    /// when nothing wakes the relay (a Postgres outbox's producers do, with an
    /// [`postgres::OutboxWaker`] after their commit).
    pub poll_interval: Duration,
    pub max_backoff: Duration,
    /// How long published entries are kept (to look at what went out) before the relay
    /// deletes them; without it an outbox grows with every event ever published.
    pub retention: Duration,
}

/// How long published entries are kept by default: a day.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            batch_size: 200,
            poll_interval: Duration::from_millis(50),
            max_backoff: Duration::from_secs(5),
            retention: DEFAULT_RETENTION,
        }
    }
}

/// How often the relay reports its outbox's backlog to the metrics.
const BACKLOG_REPORT_INTERVAL: Duration = Duration::from_secs(5);
/// How often the relay deletes entries published longer ago than the retention.
const PRUNE_INTERVAL: Duration = Duration::from_secs(10 * 60);

/// Publishes the outbox until `shutdown`, then makes one last pass so a clean stop leaves
/// nothing behind that could have gone out. `name` labels the outbox's metrics.
pub async fn run_relay<O: Outbox, P: Publisher>(
    name: &str,
    outbox: O,
    publisher: P,
    settings: RelaySettings,
    shutdown: CancellationToken,
) {
    let mut backoff = settings.poll_interval;
    let mut last_report: Option<std::time::Instant> = None;
    let mut last_prune: Option<std::time::Instant> = None;
    loop {
        if last_prune.is_none_or(|at| at.elapsed() >= PRUNE_INTERVAL) {
            // Any replica may prune: the deletes are idempotent and need no lease.
            match outbox.prune(settings.retention).await {
                Ok(0) => {}
                Ok(deleted) => {
                    tracing::info!(outbox = name, deleted, "pruned published outbox entries")
                }
                Err(err) => {
                    tracing::warn!(outbox = name, error = %err, "pruning the outbox failed")
                }
            }
            last_prune = Some(std::time::Instant::now());
        }
        if last_report.is_none_or(|at| at.elapsed() >= BACKLOG_REPORT_INTERVAL) {
            if let Ok(backlog) = outbox.backlog().await {
                super::metrics::record_outbox_backlog(
                    name,
                    backlog.entries,
                    backlog.oldest_age_secs,
                );
            }
            last_report = Some(std::time::Instant::now());
        }
        let pause = match outbox.relay_batch(&publisher, settings.batch_size).await {
            // Work found: look again at once, producers are likely still writing.
            Ok(RelayPass::Published(n)) if n > 0 => {
                backoff = settings.poll_interval;
                Duration::ZERO
            }
            Ok(_) => {
                backoff = settings.poll_interval;
                settings.poll_interval
            }
            Err(err) => {
                tracing::warn!(error = %err, retry_in_ms = backoff.as_millis() as u64, "outbox relay pass failed");
                let pause = backoff;
                backoff = (backoff * 2).min(settings.max_backoff);
                pause
            }
        };
        // Idle: wait for the next commit to the outbox (or the poll interval); after a
        // failure, back off for the whole pause.
        let idle = pause == settings.poll_interval;
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = outbox.wait_for_entries(pause), if idle => {}
            _ = tokio::time::sleep(pause), if !idle => {}
        }
    }
    if let Err(err) = outbox.relay_batch(&publisher, settings.batch_size).await {
        tracing::warn!(error = %err, "final outbox flush failed; the entries stay for the next start");
    }
}
