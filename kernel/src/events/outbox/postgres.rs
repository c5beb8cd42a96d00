//! The outbox of a Postgres-backed service: `outbox` and `outbox_sequences` tables in the
//! service's own database (see [`OUTBOX_TABLES_SQL`]).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sqlx::postgres::{PgListener, PgPoolOptions};
use sqlx::{PgConnection, PgPool, Row};

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
    // The notification is delivered when the transaction commits (once per transaction,
    // however many entries it writes) and wakes the relays listening on this database.
    sqlx::query(
        "INSERT INTO outbox (id, event_type, subject, envelope)
         SELECT $1, $2, $3, $4 FROM (SELECT pg_notify($5, '')) AS wake",
    )
    .bind(envelope.id)
    .bind(&envelope.event_type)
    .bind(&envelope.subject)
    .bind(json)
    .bind(WAKE_CHANNEL)
    .execute(&mut *conn)
    .await?;
    Ok(envelope)
}

/// The channel [`enqueue`] notifies on commit (one outbox per database).
pub const WAKE_CHANNEL: &str = "emporium_outbox";

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
        // Held until this transaction ends: one relay publishes at a time, in position order.
        let is_leader: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
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
