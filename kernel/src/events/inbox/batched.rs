//! Group commit for the inbox: the inbox rows and effects of the events handled at the same
//! moment share one Postgres transaction, so a consumer handling many events a second pays one
//! commit for a batch of them instead of one each.
//!
//! Guarantees, for each event given to [`BatchedInbox::apply_once`]:
//! - Its effect and its inbox row commit together or not at all, exactly as with
//!   [`super::begin_once`]: a redelivery (in another batch, or in the same one) finds the row and
//!   changes nothing, and two deliveries racing each other serialise on the row's key.
//! - Each effect runs inside a savepoint. An effect that fails or panics is rolled back alone,
//!   with its inbox row, so the event stays unhandled and its caller gets the effect's own error
//!   (a panic becomes [`BatchError::Panicked`]); the other effects of the batch still commit.
//! - The caller hears of a success only after the commit that made it durable. When the batch
//!   itself fails (the connection, `BEGIN`, a savepoint or `COMMIT`), every caller of the batch
//!   gets [`BatchError::Database`] and nothing of it was kept; retrying is safe.
//!
//! There is no timer: a batch is whatever was waiting when the previous one finished (up to
//! `max_batch`), so one event alone is applied at once, and batches grow only with the load, as
//! Postgres's own group commit does. One batch runs at a time, on one pooled connection, so
//! effects of one batch run one after another; a consumer's lanes already keep two events of one
//! aggregate out of the same batch. Effects must be Postgres-only: one waiting on anything else
//! holds up the whole batch (and every effect's row locks stay held until the batch commits).

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
/// the batching task stops when the last clone is dropped.
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
    ///     .apply_once(queue, envelope.id, move |conn| Box::pin(reserve(conn, order)))
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
        F: for<'c> FnOnce(&'c mut PgConnection) -> EffectFuture<'c, T, E> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            consumer: consumer.to_owned(),
            event_id,
            pending: Box::new(Typed {
                effect: Some(effect),
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
    /// The batch committed: the effect's outcome stands (its error, if it failed).
    Committed,
    /// The batch failed: nothing of it was kept.
    Failed(BatchError),
}

/// A job with its types erased, so one batch can hold effects of different types.
trait Pending: Send {
    /// Runs the effect on `conn`; true if it succeeded and is to be kept.
    fn run<'c>(
        &'c mut self,
        conn: &'c mut PgConnection,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'c>>;

    /// Answers the caller.
    fn settle(self: Box<Self>, settled: Settled);
}

struct Typed<T, E, F> {
    effect: Option<F>,
    result: Option<Result<T, E>>,
    reply: oneshot::Sender<Result<Option<T>, E>>,
}

impl<T, E, F> Pending for Typed<T, E, F>
where
    T: Send + 'static,
    E: From<BatchError> + Send + 'static,
    F: for<'c> FnOnce(&'c mut PgConnection) -> EffectFuture<'c, T, E> + Send + 'static,
{
    fn run<'c>(
        &'c mut self,
        conn: &'c mut PgConnection,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'c>> {
        Box::pin(async move {
            let Some(effect) = self.effect.take() else {
                return false;
            };
            let result = match AssertUnwindSafe(effect(conn)).catch_unwind().await {
                Ok(result) => result,
                Err(panic) => Err(BatchError::Panicked(panic_message(&*panic).to_owned()).into()),
            };
            let kept = result.is_ok();
            self.result = Some(result);
            kept
        })
    }

    fn settle(self: Box<Self>, settled: Settled) {
        let answer = match (settled, self.result) {
            (Settled::AlreadyHandled, _) => Ok(None),
            // An effect's own failure is its answer whatever became of the batch: it was rolled
            // back either way.
            (_, Some(Err(err))) => Err(err),
            (Settled::Committed, Some(Ok(output))) => Ok(Some(output)),
            (Settled::Failed(err), _) => Err(err.into()),
            (Settled::Committed, None) => Err(BatchError::Stopped.into()),
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

/// Runs one batch in one transaction and answers every job in it.
async fn apply_batch(pool: &PgPool, batch: Vec<Job>) {
    let size = batch.len();
    let mut tx = match pool.begin().await {
        Ok(tx) => tx,
        Err(err) => return fail_all(batch, err),
    };
    let mut done = Vec::with_capacity(size);
    let mut jobs = batch.into_iter();
    while let Some(mut job) = jobs.next() {
        match step(&mut *tx, &mut job).await {
            Ok(handled_before) => done.push((job, handled_before)),
            Err(err) => {
                // The transaction is unusable; dropping it rolls everything back.
                drop(tx);
                return fail_all(
                    done.into_iter()
                        .map(|(job, _)| job)
                        .chain([job])
                        .chain(jobs),
                    err,
                );
            }
        }
    }
    match tx.commit().await {
        Ok(()) => {
            tracing::debug!(size, "inbox batch committed");
            for (job, handled_before) in done {
                job.pending.settle(if handled_before {
                    Settled::AlreadyHandled
                } else {
                    Settled::Committed
                });
            }
        }
        Err(err) => fail_all(done.into_iter().map(|(job, _)| job), err),
    }
}

/// One job inside the batch's transaction, in a savepoint: its inbox row, then its effect,
/// both rolled back if the effect fails. True if the consumer had handled the event before.
async fn step(conn: &mut PgConnection, job: &mut Job) -> Result<bool, sqlx::Error> {
    sqlx::query("SAVEPOINT inbox_job")
        .execute(&mut *conn)
        .await?;
    // As in begin_once: a concurrent insert of the same key is waited for, not an error.
    let inserted = sqlx::query(
        "INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(&job.consumer)
    .bind(job.event_id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        sqlx::query("RELEASE SAVEPOINT inbox_job")
            .execute(&mut *conn)
            .await?;
        return Ok(true);
    }
    let kept = job.pending.run(conn).await;
    if !kept {
        sqlx::query("ROLLBACK TO SAVEPOINT inbox_job")
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query("RELEASE SAVEPOINT inbox_job")
        .execute(&mut *conn)
        .await?;
    Ok(false)
}

fn fail_all(jobs: impl IntoIterator<Item = Job>, err: sqlx::Error) {
    tracing::warn!(error = %err, "inbox batch failed; its events stay unhandled");
    let err = Arc::new(err);
    for job in jobs {
        job.pending
            .settle(Settled::Failed(BatchError::Database(err.clone())));
    }
}
