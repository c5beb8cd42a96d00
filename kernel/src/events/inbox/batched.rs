//! Group commit for the inbox: the inbox rows and effects of the events handled at the same
//! moment share one Postgres transaction, so a consumer handling many events a second pays one
//! commit for a batch of them instead of one each.
//!
//! Guarantees, for each event given to [`BatchedInbox::apply_once`]:
//! - Its effect and its inbox row commit together or not at all, exactly as with
//!   [`super::begin_once`]: a redelivery (in another batch, or in the same one) finds the row and
//!   changes nothing, and two deliveries racing each other serialise on the row's key.
//! - An effect that fails or panics is not kept, and neither is its inbox row, so the event
//!   stays unhandled and its caller gets the effect's own error (a panic becomes
//!   [`BatchError::Panicked`]). The rest of its batch is not lost: the batch is rolled back and
//!   run again without it. Effects are therefore `Fn`: one may run more than once, but only one
//!   run is ever committed.
//! - The caller hears of a success only after the commit that made it durable. When the batch
//!   itself fails (the connection, `BEGIN`, the inbox insert or `COMMIT`), every caller in it
//!   gets [`BatchError::Database`] and nothing of it was kept; retrying is safe.
//!
//! A batch costs `BEGIN`, one insert of all its inbox rows, the effects' own statements, and one
//! `COMMIT`: one round trip per effect statement instead of four more per event. There is no
//! timer: a batch is whatever was waiting when the previous one finished (up to `max_batch`), so
//! one event alone is applied at once, and batches grow only with the load, as Postgres's own
//! group commit does. One batch runs at a time, on one pooled connection, so the effects of a
//! batch run one after another; a consumer's lanes already keep two events of one aggregate out
//! of the same batch. Effects must be Postgres-only: one waiting on anything else holds up the
//! whole batch (and every effect's row locks stay held until the batch commits).

use std::collections::HashSet;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;

use futures::FutureExt;
use sqlx::{PgConnection, PgPool};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::events::panic_message;

/// A future borrowing the batch's connection for `'c`.
pub type EffectFuture<'c, T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>;

/// Why a batched effect did not take place, apart from the effect's own errors.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BatchError {
    /// The batch's transaction failed; nothing of it was kept, and trying again may work.
    #[error("the inbox batch failed: {0}")]
    Database(Arc<sqlx::Error>),
    /// The effect panicked; it was rolled back alone.
    #[error("the effect panicked: {0}")]
    Panicked(String),
    /// The batching task is gone (the process is stopping).
    #[error("the inbox batcher has stopped")]
    Stopped,
}

/// Applies effects once per (consumer, event), many events per transaction. Cheap to clone;
/// the batching task stops when the last clone is dropped. Its queue is bounded by its callers:
/// each waits for its answer, and a consumer has at most its concurrency in flight.
#[derive(Clone)]
pub struct BatchedInbox {
    jobs: mpsc::UnboundedSender<Job>,
}

impl BatchedInbox {
    /// Starts the batching task on the current Tokio runtime; at most `max_batch` events share
    /// a transaction.
    pub fn start(pool: PgPool, max_batch: usize) -> Self {
        let (jobs, waiting) = mpsc::unbounded_channel();
        tokio::spawn(run_batches(pool, waiting, max_batch.max(1)));
        Self { jobs }
    }

    /// Applies `effect` for `event_id` as seen by `consumer` (its queue name), unless that
    /// consumer already handled the event: `Ok(Some(output))` once the effect is committed,
    /// `Ok(None)` if the event was handled before, or the effect's error (nothing kept).
    ///
    /// The event joins the queue for the next batch when this is called, not when the returned
    /// future is first polled; dropping the future does not withdraw it.
    ///
    /// ```ignore
    /// let applied = inbox
    ///     .apply_once(queue, envelope.id, move |conn| Box::pin(reserve(conn, order.clone())))
    ///     .await?;
    /// ```
    pub fn apply_once<T, E, F>(
        &self,
        consumer: &str,
        event_id: Uuid,
        effect: F,
    ) -> impl Future<Output = Result<Option<T>, E>> + Send + 'static
    where
        T: Send + 'static,
        E: From<BatchError> + Send + 'static,
        F: for<'c> Fn(&'c mut PgConnection) -> EffectFuture<'c, T, E> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            consumer: consumer.to_owned(),
            event_id,
            pending: Box::new(Typed {
                effect,
                result: None,
                reply,
            }),
        };
        let queued = self.jobs.send(job).is_ok();
        async move {
            if !queued {
                return Err(BatchError::Stopped.into());
            }
            answer.await.unwrap_or(Err(BatchError::Stopped.into()))
        }
    }
}

struct Job {
    consumer: String,
    event_id: Uuid,
    pending: Box<dyn Pending>,
}

/// How a job's batch ended for it.
enum Settled {
    /// The consumer had handled the event before: the effect did not run.
    AlreadyHandled,
    /// The effect's outcome stands: committed if it succeeded, its error if it failed (in
    /// which case it was not kept).
    Ran,
    /// The batch failed: nothing of it was kept.
    Failed(BatchError),
}

/// A job with its types erased, so one batch can hold effects of different types.
trait Pending: Send {
    /// Runs the effect on `conn`, keeping its outcome for [`Pending::settle`]; true if it
    /// succeeded.
    fn run<'c>(
        &'c mut self,
        conn: &'c mut PgConnection,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'c>>;

    /// Answers the caller.
    fn settle(self: Box<Self>, settled: Settled);
}

struct Typed<T, E, F> {
    effect: F,
    result: Option<Result<T, E>>,
    reply: oneshot::Sender<Result<Option<T>, E>>,
}

impl<T, E, F> Pending for Typed<T, E, F>
where
    T: Send + 'static,
    E: From<BatchError> + Send + 'static,
    F: for<'c> Fn(&'c mut PgConnection) -> EffectFuture<'c, T, E> + Send + 'static,
{
    fn run<'c>(
        &'c mut self,
        conn: &'c mut PgConnection,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'c>> {
        Box::pin(async move {
            let result = match AssertUnwindSafe((self.effect)(conn)).catch_unwind().await {
                Ok(result) => result,
                Err(panic) => Err(BatchError::Panicked(panic_message(&*panic).to_owned()).into()),
            };
            let succeeded = result.is_ok();
            self.result = Some(result);
            succeeded
        })
    }

    fn settle(self: Box<Self>, settled: Settled) {
        let answer = match (settled, self.result) {
            (Settled::AlreadyHandled, _) => Ok(None),
            (Settled::Failed(err), _) => Err(err.into()),
            (Settled::Ran, Some(Ok(output))) => Ok(Some(output)),
            (Settled::Ran, Some(Err(err))) => Err(err),
            (Settled::Ran, None) => Err(BatchError::Stopped.into()),
        };
        // The caller may have stopped waiting (its consumer shut down); the effect stands.
        let _ = self.reply.send(answer);
    }
}

async fn run_batches(pool: PgPool, mut waiting: mpsc::UnboundedReceiver<Job>, max_batch: usize) {
    while let Some(first) = waiting.recv().await {
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match waiting.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        apply_batch(&pool, batch).await;
    }
}

/// What one try at a batch came to.
enum Attempt {
    /// Committed: these jobs ran (and are kept), these had been handled before.
    Committed { ran: Vec<Job>, seen: Vec<Job> },
    /// The effect at `failed` in `jobs` failed; nothing was kept.
    EffectFailed { jobs: Vec<Job>, failed: usize },
    /// The transaction failed; nothing was kept.
    Broken { jobs: Vec<Job>, err: sqlx::Error },
}

/// Applies a batch, answering every job in it: tries it in one transaction and, each time an
/// effect fails, answers that job with its error and tries the rest again, so at most one try
/// per job.
async fn apply_batch(pool: &PgPool, mut jobs: Vec<Job>) {
    while !jobs.is_empty() {
        match attempt(pool, jobs).await {
            Attempt::Committed { ran, seen } => {
                tracing::debug!(ran = ran.len(), seen = seen.len(), "inbox batch committed");
                for job in ran {
                    job.pending.settle(Settled::Ran);
                }
                for job in seen {
                    job.pending.settle(Settled::AlreadyHandled);
                }
                return;
            }
            Attempt::EffectFailed {
                jobs: mut rest,
                failed,
            } => {
                rest.remove(failed).pending.settle(Settled::Ran);
                jobs = rest;
            }
            Attempt::Broken { jobs, err } => {
                tracing::warn!(error = %err, "inbox batch failed; its events stay unhandled");
                let err = Arc::new(err);
                for job in jobs {
                    job.pending
                        .settle(Settled::Failed(BatchError::Database(err.clone())));
                }
                return;
            }
        }
    }
}

/// One try at a batch in one transaction: every job's inbox row in one insert, then the
/// effects of the jobs whose row was new, then the commit.
async fn attempt(pool: &PgPool, jobs: Vec<Job>) -> Attempt {
    let mut tx = match pool.begin().await {
        Ok(tx) => tx,
        Err(err) => return Attempt::Broken { jobs, err },
    };
    let consumers: Vec<String> = jobs.iter().map(|job| job.consumer.clone()).collect();
    let event_ids: Vec<Uuid> = jobs.iter().map(|job| job.event_id).collect();
    let new = match insert_rows(&mut tx, consumers, event_ids).await {
        Ok(new) => new,
        Err(err) => return Attempt::Broken { jobs, err },
    };
    // The first job of each new row runs; every other job (an event handled before, or a
    // second delivery of one in this batch) was already handled.
    let mut to_run = Vec::with_capacity(jobs.len());
    let mut seen = Vec::new();
    let mut claimed = HashSet::new();
    for job in jobs {
        let key = (job.consumer.clone(), job.event_id);
        if new.contains(&key) && claimed.insert(key) {
            to_run.push(job);
        } else {
            seen.push(job);
        }
    }
    for index in 0..to_run.len() {
        if !to_run[index].pending.run(&mut tx).await {
            // Rolled back when `tx` is dropped.
            drop(tx);
            return Attempt::EffectFailed {
                jobs: to_run.into_iter().chain(seen).collect(),
                failed: index,
            };
        }
    }
    match tx.commit().await {
        Ok(()) => Attempt::Committed { ran: to_run, seen },
        Err(err) => Attempt::Broken {
            jobs: to_run.into_iter().chain(seen).collect(),
            err,
        },
    }
}

/// Inserts the inbox row of every (consumer, event id), returning the keys that were new. As in `begin_once`, a
/// concurrent insert of the same key elsewhere is waited for, not an error.
async fn insert_rows(
    conn: &mut PgConnection,
    consumers: Vec<String>,
    event_ids: Vec<Uuid>,
) -> Result<HashSet<(String, Uuid)>, sqlx::Error> {
    let rows: Vec<(String, Uuid)> = sqlx::query_as(
        "INSERT INTO inbox (consumer, event_id)
         SELECT * FROM unnest($1::text[], $2::uuid[])
         ON CONFLICT DO NOTHING
         RETURNING consumer, event_id",
    )
    .bind(consumers)
    .bind(event_ids)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().collect())
}
