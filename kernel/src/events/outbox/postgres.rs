//! The outbox of a Postgres-backed service: `outbox` and `outbox_sequences` tables in the
//! service's own database (see [`OUTBOX_TABLES_SQL`]).
//!
//! A producer's transaction only writes rows. It sends no `NOTIFY`: Postgres serialises the
//! commits of every transaction that notifies (one lock for the whole cluster, held through
//! the commit's WAL flush), which cut concurrent producers' commits to a quarter on our
//! machine. Relays are woken instead by an [`OutboxWaker`] after the commit, which sends one
//! notification of its own for any number of commits, and they poll in any case, so a wake
//! that is lost (a crash right after the commit, a caller that forgot) delays an entry by one
//! poll interval and loses nothing.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::Utc;
use sqlx::postgres::{PgListener, PgPoolOptions};
use sqlx::{PgConnection, PgPool, Row};
use tokio::sync::mpsc;

use super::{Backlog, Outbox, OutboxError, RelayPass};
use crate::events::{Envelope, EventDraft, Publisher};

/// The tables, for a service's migrations.
pub const OUTBOX_TABLES_SQL: &str = include_str!("outbox.sql");

/// Writes `draft` into the outbox inside the caller's transaction, numbering it after the
/// aggregate's previous event. The row lock on the aggregate's sequence row orders concurrent
/// writers of one aggregate.
pub async fn enqueue(
    conn: &mut PgConnection,
    source: &str,
    draft: EventDraft,
) -> Result<Envelope, sqlx::Error> {
    let sequence: i64 = sqlx::query_scalar(
        "INSERT INTO outbox_sequences (subject, last_sequence) VALUES ($1, 1)
         ON CONFLICT (subject) DO UPDATE SET last_sequence = outbox_sequences.last_sequence + 1
         RETURNING last_sequence",
    )
    .bind(&draft.subject)
    .fetch_one(&mut *conn)
    .await?;
    let envelope = draft.into_envelope(source, sequence, Utc::now());
    let json = serde_json::to_value(&envelope).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query("INSERT INTO outbox (id, event_type, subject, envelope) VALUES ($1, $2, $3, $4)")
        .bind(envelope.id)
        .bind(&envelope.event_type)
        .bind(&envelope.subject)
        .bind(json)
        .execute(&mut *conn)
        .await?;
    Ok(envelope)
}

/// The channel relays listen on and [`OutboxWaker`] notifies (one outbox per database).
pub const WAKE_CHANNEL: &str = "emporium_outbox";

/// Wakes the relays of the outbox in one database, in this process and in others, after a
/// transaction that wrote to it committed: call [`OutboxWaker::wake`] after the commit.
///
/// Wakes coalesce: while one notification is being sent, any number of further wakes cause
/// one more, so a burst of commits costs two small transactions, not one each. The
/// notification's own transaction skips the wait for its WAL flush (`synchronous_commit =
/// off`): losing it in a crash loses a wake-up, which the relays' polling covers.
///
/// Failure: a notification that cannot be sent is logged at debug level and dropped; the
/// relays find the entries at their next poll.
#[derive(Clone)]
pub struct OutboxWaker {
    inner: Arc<WakerInner>,
}

struct WakerInner {
    pool: PgPool,
    /// To the task that sends the notifications, started by the first wake (in its caller's
    /// runtime). One slot: a wake waiting to be sent absorbs the ones after it. The task ends
    /// when the last waker is dropped.
    wakes: OnceLock<mpsc::Sender<()>>,
}

impl OutboxWaker {
    /// A waker for the outbox in `pool`'s database. It starts nothing until the first wake.
    pub fn new(pool: PgPool) -> Self {
        Self {
            inner: Arc::new(WakerInner {
                pool,
                wakes: OnceLock::new(),
            }),
        }
    }

    /// Tells the relays that entries committed. Returns at once; call it from inside the
    /// runtime, after the commit (before it, a relay could look and find nothing yet).
    pub fn wake(&self) {
        let wakes = self.inner.wakes.get_or_init(|| {
            let (wakes, pending) = mpsc::channel(1);
            tokio::spawn(send_wakes(self.inner.pool.clone(), pending));
            wakes
        });
        // Full: a wake is already waiting, and it will be sent after this commit.
        let _ = wakes.try_send(());
    }
}

/// Sends one notification per wake received, until the wakers are gone.
async fn send_wakes(pool: PgPool, mut pending: mpsc::Receiver<()>) {
    while pending.recv().await.is_some() {
        // One statement, so one implicit transaction: the setting is local to it.
        let sent =
            sqlx::query("SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, '')")
                .bind(WAKE_CHANNEL)
                .execute(&pool)
                .await;
        if let Err(err) = sent {
            tracing::debug!(error = %err, "could not wake the outbox relays; they will poll");
        }
    }
}

/// The relay side of a Postgres outbox.
#[derive(Clone)]
pub struct PgOutbox {
    pool: PgPool,
    lease_key: i64,
    /// LISTENing on [`WAKE_CHANNEL`] (connected on first use, again after a failure).
    listener: Arc<tokio::sync::Mutex<Option<PgListener>>>,
}

impl PgOutbox {
    /// `name` identifies the outbox (the service); relays of one name take turns.
    pub fn new(pool: PgPool, name: &str) -> Self {
        Self {
            pool,
            lease_key: lease_key(name),
            listener: Arc::new(tokio::sync::Mutex::new(None)),
        }
    }

    async fn listen(&self) -> Result<PgListener, sqlx::Error> {
        // Its own connection, not one of the service's pool: the LISTEN holds it for good.
        let own = PgPoolOptions::new()
            .max_connections(1)
            .connect_lazy_with(self.pool.connect_options().as_ref().clone());
        let mut listener = PgListener::connect_with(&own).await?;
        listener.listen(WAKE_CHANNEL).await?;
        Ok(listener)
    }
}

/// Entries one prune statement deletes at most.
const PRUNE_BATCH: i64 = 5_000;

/// The advisory-lock key of an outbox name.
fn lease_key(name: &str) -> i64 {
    crate::advisory_lock_key(&format!("emporium-outbox:{name}"))
}

impl Outbox for PgOutbox {
    async fn relay_batch<P: Publisher>(
        &self,
        publisher: &P,
        limit: usize,
    ) -> Result<RelayPass, OutboxError> {
        let mut tx = self.pool.begin().await?;
        // The lease is held until this transaction ends: one relay publishes at a time, in
        // position order. Its commit does not wait for the WAL flush: if a crash loses the
        // marks, the entries are published again, as after a crash before the commit, and
        // consumers absorb the duplicates.
        let is_leader: bool = sqlx::query_scalar(
            "SELECT pg_try_advisory_xact_lock($1) FROM set_config('synchronous_commit', 'off', true)",
        )
        .bind(self.lease_key)
        .fetch_one(&mut *tx)
        .await?;
        if !is_leader {
            return Ok(RelayPass::NotLeader);
        }
        let rows = sqlx::query("SELECT position, envelope FROM outbox WHERE published_at IS NULL ORDER BY position LIMIT $1")
            .bind(limit as i64)
            .fetch_all(&mut *tx)
            .await?;
        let mut positions = Vec::with_capacity(rows.len());
        let mut envelopes = Vec::with_capacity(rows.len());
        for row in rows {
            let position: i64 = row.try_get("position")?;
            let json: serde_json::Value = row.try_get("envelope")?;
            let envelope: Envelope = serde_json::from_value(json)
                .map_err(|e| OutboxError::Corrupt(format!("outbox position {position}: {e}")))?;
            positions.push(position);
            envelopes.push(envelope);
        }
        // Stops at the first failure: later entries of the same aggregate must not overtake it.
        let outcome = publisher.publish_batch(&envelopes).await;
        let published = &positions[..outcome.confirmed];
        if !published.is_empty() {
            sqlx::query("UPDATE outbox SET published_at = now() WHERE position = ANY($1)")
                .bind(published)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        match outcome.error {
            Some(err) => Err(err.into()),
            None => Ok(RelayPass::Published(published.len())),
        }
    }

    async fn wait_for_entries(&self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut slot = self.listener.lock().await;
        if slot.is_none() {
            match self.listen().await {
                Ok(listener) => *slot = Some(listener),
                Err(err) => {
                    tracing::debug!(error = %err, "outbox relay cannot LISTEN; polling");
                    tokio::time::sleep_until(deadline).await;
                    return;
                }
            }
        }
        let Some(listener) = slot.as_mut() else {
            return;
        };
        match tokio::time::timeout_at(deadline, listener.recv()).await {
            // A commit to the outbox: the next pass takes everything committed so far, so
            // the notifications already buffered need no pass of their own.
            Ok(Ok(_)) => while listener.next_buffered().is_some() {},
            // The poll interval: look again anyway.
            Err(_) => {}
            Ok(Err(err)) => {
                tracing::debug!(error = %err, "outbox relay lost its LISTEN connection; reconnecting");
                *slot = None;
                tokio::time::sleep_until(deadline).await;
            }
        }
    }

    async fn prune(&self, retention: Duration) -> Result<u64, OutboxError> {
        let retention_secs = retention.as_secs_f64();
        let mut deleted = 0;
        // In batches, so a first prune of a large outbox holds no long transaction. The relay
        // publishes in position order, so old published entries sit at the front of the
        // primary key, where the batch is looked for.
        loop {
            let batch = sqlx::query(
                "DELETE FROM outbox WHERE position IN (
                     SELECT position FROM outbox
                     WHERE published_at < now() - make_interval(secs => $1)
                     ORDER BY position LIMIT $2)",
            )
            .bind(retention_secs)
            .bind(PRUNE_BATCH)
            .execute(&self.pool)
            .await?
            .rows_affected();
            deleted += batch;
            if batch < PRUNE_BATCH as u64 {
                return Ok(deleted);
            }
        }
    }

    async fn backlog(&self) -> Result<Backlog, OutboxError> {
        let row = sqlx::query(
            "SELECT count(*) AS entries, COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 AS oldest
             FROM outbox WHERE published_at IS NULL",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(Backlog {
            entries: row.try_get::<i64, _>("entries")? as u64,
            oldest_age_secs: row.try_get("oldest")?,
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn lease_keys_are_stable_and_distinct() {
        assert_eq!(super::lease_key("users"), super::lease_key("users"));
        assert_ne!(super::lease_key("users"), super::lease_key("orders"));
    }
}
