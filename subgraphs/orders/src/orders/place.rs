//! Checkout: an order from the customer's cart, its `order.placed` and first status in one
//! transaction, replayed for a repeated idempotency key.
//!
//! Failure: an empty cart or a reused idempotency key is an outcome ([`CheckoutOutcome`]); lines
//! whose total cannot be computed (mixed currencies, overflow), a token that cannot be sealed
//! or a database failure is an [`OrdersError`], and the transaction writes nothing.

use emporium_kernel::events::outbox::postgres::enqueue;
use emporium_kernel::ids::{OrderId, UserId};
use emporium_kernel::money::{Currency, Money};
use emporium_kernel::trace::TraceContext;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use crate::checkout::CheckoutRequest;
use crate::lines::{self, Line};

use super::events::order_placed;
use super::rows::fetch_order;
use super::transitions::{record, EventOrigin};
use super::{CheckoutOutcome, Orders, OrdersError, SOURCE};

impl Orders {
    /// Places an order from the customer's cart, or replays the order placed before with
    /// the same idempotency key. Checkouts of one customer are serialised (an advisory lock
    /// per customer), so two identical requests racing give one order, and two different
    /// ones cannot both order the same cart.
    pub async fn checkout(
        &self,
        user: UserId,
        request: &CheckoutRequest,
        trace: &TraceContext,
    ) -> Result<CheckoutOutcome, OrdersError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(emporium_kernel::advisory_lock_key(&format!(
                "orders-checkout:{user}"
            )))
            .execute(&mut *tx)
            .await?;
        let digest = request.digest();
        let earlier = sqlx::query(
            "SELECT id, request_digest FROM orders WHERE user_id = $1 AND idempotency_key = $2",
        )
        .bind(user)
        .bind(request.idempotency_key())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = earlier {
            tx.rollback().await?;
            let stored: String = row.try_get("request_digest")?;
            if stored != digest {
                return Ok(CheckoutOutcome::KeyReused);
            }
            let id: OrderId = row.try_get("id")?;
            return match self.order(id).await? {
                Some(order) => Ok(CheckoutOutcome::Replayed(order)),
                None => Err(OrdersError::Corrupt(format!("order {id} vanished"))),
            };
        }

        let lines = cart_for_checkout(&mut tx, user).await?;
        if lines.is_empty() {
            tx.rollback().await?;
            return Ok(CheckoutOutcome::EmptyCart);
        }
        let total = lines::total(&lines)?;
        let id = OrderId::from(Uuid::now_v7());
        let address = serde_json::to_value(request.address())
            .map_err(|e| OrdersError::Corrupt(format!("address: {e}")))?;
        sqlx::query(
            "INSERT INTO orders (id, user_id, status, total_minor, currency, shipping_address,
                                 idempotency_key, request_digest)
             VALUES ($1, $2, 'PENDING', $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(user)
        .bind(total.minor())
        .bind(total.currency().as_str())
        .bind(&address)
        .bind(request.idempotency_key())
        .bind(&digest)
        .execute(&mut *tx)
        .await?;
        let positions: Vec<i32> = (1..).take(lines.len()).collect();
        sqlx::query(
            "INSERT INTO order_items (order_id, position, product_id, product_name,
                                      unit_price_minor, quantity)
             SELECT $1, * FROM UNNEST($2::int[], $3::text[], $4::text[], $5::bigint[], $6::int[])",
        )
        .bind(id)
        .bind(&positions)
        .bind(
            lines
                .iter()
                .map(|l| l.product_id.clone())
                .collect::<Vec<_>>(),
        )
        .bind(
            lines
                .iter()
                .map(|l| l.product_name.clone())
                .collect::<Vec<_>>(),
        )
        .bind(
            lines
                .iter()
                .map(|l| l.unit_price.minor())
                .collect::<Vec<_>>(),
        )
        .bind(lines.iter().map(|l| l.quantity).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM cart_items WHERE user_id = $1")
            .bind(user)
            .execute(&mut *tx)
            .await?;

        let sealed_token = self.payment_token_key.seal(
            request.payment_token().as_bytes(),
            id.to_string().as_bytes(),
        )?;
        let placed = order_placed(id, user, &lines, total, &sealed_token)?;
        let placed = enqueue(&mut tx, SOURCE, placed.traced(trace)).await?;
        let order = fetch_order(&mut tx, id, false)
            .await?
            .ok_or_else(|| OrdersError::Corrupt(format!("order {id} not readable")))?;
        record(
            &mut tx,
            &order,
            None,
            Some(&placed),
            EventOrigin::Trace(trace),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(order_id = %id, lines = lines.len(), total = %total.to_decimal_string(), "order placed");
        Ok(CheckoutOutcome::Placed(order))
    }
}

/// The cart's lines at checkout, locked so a concurrent cart change waits for the order.
pub(super) async fn cart_for_checkout(
    conn: &mut PgConnection,
    user: UserId,
) -> Result<Vec<Line>, OrdersError> {
    let rows = sqlx::query(
        "SELECT c.product_id, p.name, p.price_minor, p.currency, c.quantity
         FROM cart_items c JOIN catalog_products p ON p.product_id = c.product_id
         WHERE c.user_id = $1 AND NOT p.deleted
         ORDER BY c.added_at, c.product_id
         FOR UPDATE OF c",
    )
    .bind(user)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            let currency: String = row.try_get("currency")?;
            let currency = Currency::parse(&currency)
                .map_err(|e| OrdersError::Corrupt(format!("currency: {e}")))?;
            Ok(Line {
                product_id: row.try_get("product_id")?,
                product_name: row.try_get("name")?,
                unit_price: Money::from_minor(row.try_get("price_minor")?, currency)
                    .map_err(|e| OrdersError::Corrupt(format!("price: {e}")))?,
                quantity: row.try_get("quantity")?,
            })
        })
        .collect()
}
