//! The payments' Postgres store: one row per order (`migrations/payments`) and the outbox.
//!
//! Every write is a single statement guarded by the row's current status, so concurrent and
//! redelivered events serialise on the row and a change happens at most once. Status changes
//! commit with their event ([`PaymentStore::transition`]).

use std::collections::HashMap;

use emporium_kernel::events::outbox::postgres as outbox;
use emporium_kernel::events::EventDraft;
use emporium_kernel::ids::OrderId;
use emporium_kernel::money::{Currency, Money};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::domain::{Intent, Payment, PaymentStatus, SealedCardToken, Transition};
use crate::events::published::EVENT_SOURCE;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("payments database: {0}")]
    Database(#[from] sqlx::Error),
    /// A stored row breaks the rules its writers keep (a bad currency, an unknown status).
    #[error("stored payment of order {order_id} is unreadable: {reason}")]
    Corrupt { order_id: String, reason: String },
}

const COLUMNS: &str = "order_id, payment_id, user_id, amount_minor, currency, token, \
                       stock_reserved, status, provider_reference, failure_reason, created_at";

#[derive(Clone)]
pub struct PaymentStore {
    pool: PgPool,
    /// Wakes the relay after a commit that wrote events.
    waker: outbox::OutboxWaker,
}

impl PaymentStore {
    pub fn new(pool: PgPool) -> Self {
        Self {
            waker: outbox::OutboxWaker::new(pool.clone()),
            pool,
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub async fn find(&self, order_id: OrderId) -> Result<Option<Payment>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM payments WHERE order_id = $1"
        ))
        .bind(order_id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| payment_from_row(&row)).transpose()
    }

    /// The payments of each of `order_ids` that has one, in one query.
    pub async fn find_many(
        &self,
        order_ids: &[OrderId],
    ) -> Result<HashMap<OrderId, Payment>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM payments WHERE order_id = ANY($1)"
        ))
        .bind(
            order_ids
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| payment_from_row(row).map(|payment| (payment.order_id, payment)))
            .collect()
    }

    /// Records the intent of `order.placed`, creating the row or completing the one
    /// `inventory.reserved` or a closed order created. An intent already known stays as it
    /// was; a payment no longer awaiting never gets a token.
    pub async fn record_intent(
        &self,
        order_id: OrderId,
        intent: &Intent,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO payments (order_id, payment_id, user_id, amount_minor, currency, token)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (order_id) DO UPDATE SET
                 user_id = EXCLUDED.user_id,
                 amount_minor = EXCLUDED.amount_minor,
                 currency = EXCLUDED.currency,
                 token = CASE WHEN payments.status = 'AWAITING' THEN EXCLUDED.token END,
                 updated_at = now()
             WHERE payments.amount_minor IS NULL",
        )
        .bind(order_id.to_string())
        .bind(Uuid::now_v7())
        .bind(intent.user_id)
        .bind(intent.amount.minor())
        .bind(intent.amount.currency().as_str())
        .bind(intent.token.as_stored())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records that the order's stock is reserved, creating the row if `order.placed` has not
    /// arrived yet.
    pub async fn record_stock_reserved(&self, order_id: OrderId) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO payments (order_id, payment_id, stock_reserved) VALUES ($1, $2, true)
             ON CONFLICT (order_id) DO UPDATE SET stock_reserved = true, updated_at = now()
             WHERE NOT payments.stock_reserved",
        )
        .bind(order_id.to_string())
        .bind(Uuid::now_v7())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Closes a payment that was never decided (creating it closed if neither `order.placed`
    /// nor `inventory.reserved` has arrived), so nothing is authorized later. Whether it
    /// changed anything: not when the payment was decided meanwhile.
    pub async fn abandon(&self, order_id: OrderId) -> Result<bool, StoreError> {
        let changed = sqlx::query(
            "INSERT INTO payments (order_id, payment_id, status) VALUES ($1, $2, 'ABANDONED')
             ON CONFLICT (order_id) DO UPDATE SET status = 'ABANDONED', token = NULL, updated_at = now()
             WHERE payments.status = 'AWAITING'",
        )
        .bind(order_id.to_string())
        .bind(Uuid::now_v7())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(changed > 0)
    }

    /// Applies `transition` if the payment is in one of the statuses it starts from, and
    /// writes the event `announce` makes of the changed payment in the same transaction.
    /// `None` when nothing changed: the event was handled already, or another handler won.
    pub async fn transition(
        &self,
        order_id: OrderId,
        transition: &Transition,
        announce: impl FnOnce(&Payment) -> EventDraft,
    ) -> Result<Option<Payment>, StoreError> {
        let (reference, reason) = match transition {
            Transition::Authorize { reference } => (Some(reference.as_str()), None),
            Transition::Decline { reason } => (None, Some(reason.as_str())),
            Transition::Capture | Transition::Refund => (None, None),
        };
        let from: Vec<&str> = transition.from().iter().map(|s| s.as_str()).collect();
        let mut tx = self.pool.begin().await?;
        // The status guard makes this the one place a decision is taken: of two handlers
        // racing, the second finds the row changed (after waiting for the first's commit).
        let row = sqlx::query(&format!(
            "UPDATE payments SET
                 status = $2,
                 provider_reference = COALESCE($3, provider_reference),
                 failure_reason = COALESCE($4, failure_reason),
                 token = NULL,
                 updated_at = now()
             WHERE order_id = $1 AND status = ANY($5)
             RETURNING {COLUMNS}"
        ))
        .bind(order_id.to_string())
        .bind(transition.to().as_str())
        .bind(reference)
        .bind(reason)
        .bind(&from)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(None);
        };
        let payment = payment_from_row(&row)?;
        outbox::enqueue(&mut tx, EVENT_SOURCE, announce(&payment)).await?;
        tx.commit().await?;
        self.waker.wake();
        Ok(Some(payment))
    }
}

fn payment_from_row(row: &PgRow) -> Result<Payment, StoreError> {
    let order_id: String = row.try_get("order_id")?;
    let corrupt = |reason: String| StoreError::Corrupt {
        order_id: order_id.clone(),
        reason,
    };
    let status: String = row.try_get("status")?;
    let status =
        PaymentStatus::parse(&status).ok_or_else(|| corrupt(format!("status {status}")))?;
    let amount_minor: Option<i64> = row.try_get("amount_minor")?;
    let currency: Option<String> = row.try_get("currency")?;
    let amount = match (amount_minor, currency) {
        (Some(minor), Some(currency)) => Some(
            Currency::parse(&currency)
                .and_then(|currency| Money::from_minor(minor, currency))
                .map_err(|e| corrupt(e.to_string()))?,
        ),
        _ => None,
    };
    let token: Option<String> = row.try_get("token")?;
    let token = token.map(SealedCardToken::from_stored);
    Ok(Payment {
        id: row.try_get("payment_id")?,
        user_id: row.try_get("user_id")?,
        amount,
        token,
        is_stock_reserved: row.try_get("stock_reserved")?,
        status,
        provider_reference: row.try_get("provider_reference")?,
        failure_reason: row.try_get("failure_reason")?,
        created_at: row.try_get("created_at")?,
        order_id: order_id
            .parse()
            .map_err(|_| corrupt("the order id is not a UUID".to_owned()))?,
    })
}
