//! Status transitions: each one a transaction that checks the transition is allowed, writes the
//! history entry and `order.status_changed`, and, when an event caused it, its inbox row; and the
//! sweeper that rejects orders the saga never answered.
//!
//! Failure: a transition the state machine refuses is an outcome, not an error; a database
//! failure rolls the whole transition back.

use std::time::Duration;

use emporium_kernel::events::outbox::postgres::enqueue;
use emporium_kernel::events::Envelope;
use emporium_kernel::ids::OrderId;
use emporium_kernel::trace::TraceContext;
use sqlx::PgConnection;
use tokio_util::sync::CancellationToken;

use crate::status::{self, Actor, Command, OrderStatus, Reason};

use super::events::status_changed;
use super::rows::fetch_order;
use super::{Cause, HistoryEntry, Order, Orders, OrdersError, TransitionOutcome, SOURCE};

impl Orders {
    /// Moves an order along the state machine: locks it, asks [`status::transition`], and
    /// records the change, its history entry and `order.status_changed` in one transaction.
    /// A customer asking about another customer's order gets `NotFound`. A transition caused
    /// by an event goes through the batched inbox: it is applied once per event, in a
    /// transaction it may share with other events' transitions.
    pub async fn transition(
        &self,
        order_id: OrderId,
        command: Command,
        actor: Actor,
        cause: Cause<'_>,
    ) -> Result<TransitionOutcome, OrdersError> {
        let outcome = match cause {
            Cause::Event { queue, envelope } => {
                let envelope = envelope.clone();
                self.inbox
                    .apply_once(queue, envelope.id, move |conn| {
                        // Run again if another transition of its batch fails: each run owns
                        // its copy.
                        let envelope = envelope.clone();
                        Box::pin(async move {
                            let origin = EventOrigin::Event(&envelope);
                            apply_transition(conn, order_id, command, actor, origin).await
                        })
                    })
                    .await?
                    .unwrap_or(TransitionOutcome::AlreadyHandled)
            }
            Cause::Request(trace) => {
                self.transition_now(order_id, command, actor, EventOrigin::Trace(trace))
                    .await?
            }
            Cause::Sweeper => {
                self.transition_now(order_id, command, actor, EventOrigin::None)
                    .await?
            }
        };
        if let TransitionOutcome::Done(order) = &outcome {
            // Committed with its `order.status_changed`.
            self.waker.wake();
            tracing::info!(
                order_id = %order_id,
                to = order.status.as_str(),
                reason = order.status_reason.as_deref().unwrap_or(""),
                "order status changed"
            );
        }
        Ok(outcome)
    }

    /// A transition in a transaction of its own.
    async fn transition_now(
        &self,
        order_id: OrderId,
        command: Command,
        actor: Actor,
        origin: EventOrigin<'_>,
    ) -> Result<TransitionOutcome, OrdersError> {
        let mut tx = self.pool.begin().await?;
        let outcome = apply_transition(&mut tx, order_id, command, actor, origin).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Rejects (TIMED_OUT) every order PENDING for longer than `timeout`: a reply of the saga
    /// was lost. Safe with several replicas: each order is re-checked under its row lock.
    pub async fn reject_stale(&self, timeout: Duration) -> Result<usize, OrdersError> {
        let timeout_ms = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
        let stale: Vec<OrderId> = sqlx::query_scalar(
            "SELECT id FROM orders
             WHERE status = 'PENDING' AND created_at < now() - make_interval(secs => $1 / 1000.0)
             ORDER BY created_at LIMIT 500",
        )
        .bind(timeout_ms as f64)
        .fetch_all(&self.pool)
        .await?;
        let mut rejected = 0;
        for id in stale {
            let outcome = self
                .transition(
                    id,
                    Command::Reject(Reason::TimedOut),
                    Actor::System,
                    Cause::Sweeper,
                )
                .await?;
            if matches!(outcome, TransitionOutcome::Done(_)) {
                tracing::warn!(order_id = %id, "order timed out waiting for the saga: rejected");
                rejected += 1;
            }
        }
        Ok(rejected)
    }

    /// Runs [`Orders::reject_stale`] every little while until `shutdown`.
    pub async fn run_sweeper(self, timeout: Duration, shutdown: CancellationToken) {
        let every = (timeout / 4).clamp(Duration::from_millis(200), Duration::from_secs(30));
        emporium_kernel::service::every(every, &shutdown, || async {
            if let Err(err) = self.reject_stale(timeout).await {
                tracing::warn!(error = %err, "the order time-out sweep failed; trying again");
            }
        })
        .await;
    }
}

/// Locks the order, asks the state machine, and writes the change with its history entry
/// and `order.status_changed`, in the caller's transaction. A refused transition or an unknown
/// order writes nothing (an event that caused it is still recorded as handled: a late or
/// repeated saga reply changes nothing).
async fn apply_transition(
    conn: &mut PgConnection,
    order_id: OrderId,
    command: Command,
    actor: Actor,
    origin: EventOrigin<'_>,
) -> Result<TransitionOutcome, OrdersError> {
    let Some(order) = fetch_order(&mut *conn, order_id, true).await? else {
        return Ok(TransitionOutcome::NotFound);
    };
    if let Actor::Customer(user) = actor {
        if user != order.user_id {
            return Ok(TransitionOutcome::NotFound);
        }
    }
    let change = match status::transition(order.status, command, actor, order.user_id) {
        Ok(change) => change,
        Err(refused) => return Ok(TransitionOutcome::Refused(refused)),
    };
    sqlx::query(
        "UPDATE orders SET status = $2, status_reason = $3, updated_at = now() WHERE id = $1",
    )
    .bind(order_id)
    .bind(change.to.as_str())
    .bind(change.reason.map(Reason::as_str))
    .execute(&mut *conn)
    .await?;
    let updated = fetch_order(&mut *conn, order_id, false)
        .await?
        .ok_or_else(|| OrdersError::Corrupt(format!("order {order_id} not readable")))?;
    record(&mut *conn, &updated, Some(change.from), None, origin).await?;
    Ok(TransitionOutcome::Done(Box::new(updated)))
}

/// Where an event's correlation and trace come from.
pub(super) enum EventOrigin<'a> {
    Trace(&'a TraceContext),
    Event(&'a Envelope),
    None,
}

/// Records that `order` reached its current status: the history entry and
/// `order.status_changed`, in the caller's transaction. `flow` is the event that started the
/// order's flow (checkout's `order.placed`), which the change then belongs to.
pub(super) async fn record(
    conn: &mut PgConnection,
    order: &Order,
    previous: Option<OrderStatus>,
    flow: Option<&Envelope>,
    origin: EventOrigin<'_>,
) -> Result<HistoryEntry, OrdersError> {
    let at = order.updated_at;
    let mut draft = status_changed(order, previous, at)?;
    draft = match (flow, origin) {
        (Some(placed), _) => draft.caused_by(placed),
        (None, EventOrigin::Event(cause)) => draft.caused_by(cause),
        (None, EventOrigin::Trace(trace)) => draft.traced(trace),
        (None, EventOrigin::None) => draft,
    };
    let envelope = enqueue(&mut *conn, SOURCE, draft).await?;
    let entry = HistoryEntry {
        order_id: order.id,
        sequence: envelope.sequence_number(),
        status: order.status,
        previous_status: previous,
        reason: order.status_reason.clone(),
        at,
    };
    sqlx::query(
        "INSERT INTO order_history (order_id, sequence, status, previous_status, reason, at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(entry.order_id)
    .bind(entry.sequence)
    .bind(entry.status.as_str())
    .bind(entry.previous_status.map(OrderStatus::as_str))
    .bind(&entry.reason)
    .bind(entry.at)
    .execute(&mut *conn)
    .await?;
    Ok(entry)
}
