//! The inbox: effectively-once handling for consumers whose effects live in Postgres.
//!
//! Delivery is at least once, so a handler sees some events twice. [`begin_once`] records
//! the event id in the consumer's `inbox` table inside the transaction that will carry the
//! effect: the effect and the record commit together, and a redelivered event finds its
//! record and changes nothing. Two deliveries of one event racing each other (a redelivery
//! after a lost connection while the first is still running) serialise on the primary key:
//! the second insert waits for the first transaction, then finds the row if it committed
//! (and does nothing) or inserts it if it rolled back (and applies the event itself).
//!
//! ```ignore
//! let Some(mut tx) = inbox::begin_once(&pool, "inventory.order-placed", envelope.id).await? else {
//!     return Ok(()); // already handled
//! };
//! reserve_stock(&mut tx, &order).await?;
//! tx.commit().await?;
//! ```
//!
//! A consumer handling many events a second can share one transaction among the events handled
//! at the same moment instead: [`BatchedInbox`] gives the same guarantee per event, with one
//! commit per batch.

mod batched;

pub use batched::{BatchError, BatchedInbox, EffectFuture};

use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

/// The table every Postgres-backed consumer needs; services put it in their migrations.
pub const INBOX_TABLE_SQL: &str = "CREATE TABLE inbox (
    consumer text NOT NULL,
    event_id uuid NOT NULL,
    handled_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
";

/// Starts the transaction of handling `event_id` by `consumer` (its queue name), or returns
/// `None` when that consumer already handled the event. The caller applies the effect in the
/// transaction and commits; dropping it without a commit leaves the event unhandled.
pub async fn begin_once(
    pool: &PgPool,
    consumer: &str,
    event_id: Uuid,
) -> Result<Option<Transaction<'static, Postgres>>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    // ON CONFLICT DO NOTHING waits for a concurrent insert of the same key to commit or roll
    // back instead of failing with a unique violation.
    let inserted = sqlx::query(
        "INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(consumer)
    .bind(event_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        tx.rollback().await?;
        return Ok(None);
    }
    Ok(Some(tx))
}
