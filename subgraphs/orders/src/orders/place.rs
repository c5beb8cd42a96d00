//! Checkout: an order from the customer's cart, its `order.placed` and first status in one
//! transaction, replayed for a repeated idempotency key. The cart is priced again at that
//! moment (prices, shipping, codes, tax: `crate::pricing`), and each code's use is taken in the
//! same transaction, so a code's usage limit holds however many checkouts race for it. A use
//! stays taken whatever becomes of the order (a REJECTED or CANCELLED order does not give it
//! back).
//!
//! Failure: an empty cart, a reused idempotency key, a missing shipping method or a code that
//! no longer applies is an outcome ([`CheckoutOutcome`]); lines
//! whose total cannot be computed (mixed currencies, overflow), a token that cannot be sealed
//! or a database failure is an [`OrdersError`], and the transaction writes nothing.

use chrono::Utc;
use emporium_kernel::events::outbox::postgres::enqueue;
use emporium_kernel::ids::{OrderId, UserId};
use emporium_kernel::trace::TraceContext;
use sqlx::Row;
use uuid::Uuid;

use crate::checkout::CheckoutRequest;
use crate::lines::Line;
use crate::pricing::DiscountRefusal;
use crate::store::pricing::{cart_state, discount_code, take_uses, tax_rate};

use super::events::order_placed;
use super::rows::{fetch_order, stored_discounts, stored_tax_lines};
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

        let cart = cart_state(&mut tx, user, true).await?;
        if cart.lines.is_empty() {
            tx.rollback().await?;
            return Ok(CheckoutOutcome::EmptyCart);
        }
        // Every price, method and code as they are now, for the address the order ships to.
        let country = request.address().country.as_str();
        let rate = tax_rate(&mut tx, country).await?;
        let priced = cart.price(
            Some(country),
            rate.as_ref(),
            self.prices_include_tax,
            Utc::now(),
        )?;
        if let Some((code, refusal)) = priced.refused.first() {
            tx.rollback().await?;
            return Ok(CheckoutOutcome::DiscountRefused {
                code: code.clone(),
                refusal: *refusal,
            });
        }
        if priced.needs_shipping_method() {
            tx.rollback().await?;
            return Ok(CheckoutOutcome::ShippingMethodRequired);
        }
        // In one order of codes for every checkout, so two carts with the same codes never
        // wait for each other's rows the other way round.
        let mut used: Vec<String> = priced.discounts.iter().map(|d| d.code.clone()).collect();
        used.sort();
        if let Some(code) = take_uses(&mut tx, &used).await? {
            // Used up by a checkout that committed meanwhile, or deactivated or deleted since:
            // the code as it is now says which.
            let now = discount_code(&mut tx, &code).await?;
            let refusal = match now {
                None => DiscountRefusal::NotFound,
                Some(found) => found
                    .check(priced.subtotal.minor(), Utc::now())
                    .err()
                    .unwrap_or(DiscountRefusal::LimitReached),
            };
            tx.rollback().await?;
            return Ok(CheckoutOutcome::DiscountRefused { code, refusal });
        }
        let lines = cart.lines;
        let total = priced.total;
        let discounts = stored_discounts(&priced.discounts)?;
        let tax_lines = stored_tax_lines(&priced.tax_lines)?;
        let id = OrderId::from(Uuid::now_v7());
        let address = serde_json::to_value(request.address())
            .map_err(|e| OrdersError::Corrupt(format!("address: {e}")))?;
        sqlx::query(
            "INSERT INTO orders (id, user_id, status, total_minor, currency, shipping_address,
                                 idempotency_key, request_digest, subtotal_minor,
                                 discount_total_minor, shipping_method_name, shipping_total_minor,
                                 tax_total_minor, prices_include_tax, discounts, tax_lines)
             VALUES ($1, $2, 'PENDING', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(id)
        .bind(user)
        .bind(total.minor())
        .bind(total.currency().as_str())
        .bind(&address)
        .bind(request.idempotency_key())
        .bind(&digest)
        .bind(priced.subtotal.minor())
        .bind(priced.discount_total.minor())
        .bind(
            priced
                .shipping_method
                .as_ref()
                .map(|m| m.method.name.clone()),
        )
        .bind(priced.shipping_total.minor())
        .bind(priced.tax_total.minor())
        .bind(priced.prices_include_tax)
        .bind(&discounts)
        .bind(&tax_lines)
        .execute(&mut *tx)
        .await?;
        let positions: Vec<i32> = (1..).take(lines.len()).collect();
        let column = |f: fn(&Line) -> String| lines.iter().map(f).collect::<Vec<_>>();
        sqlx::query(
            "INSERT INTO order_items (order_id, position, product_id, product_name, variant_id,
                                      variant_title, sku, unit_price_minor, quantity)
             SELECT $1, * FROM UNNEST($2::int[], $3::text[], $4::text[], $5::text[], $6::text[],
                                      $7::text[], $8::bigint[], $9::int[])",
        )
        .bind(id)
        .bind(&positions)
        .bind(column(|l| l.product_id.clone()))
        .bind(column(|l| l.product_name.clone()))
        .bind(column(|l| l.variant_id.clone()))
        .bind(column(|l| l.variant_title.clone()))
        .bind(column(|l| l.sku.clone()))
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
        // The codes were used by this order; the address and method stay for the next one.
        sqlx::query("DELETE FROM cart_discount_codes WHERE user_id = $1")
            .bind(user)
            .execute(&mut *tx)
            .await?;

        let sealed_token = self.payment_token_key.seal(
            request.payment_token().as_bytes(),
            id.to_string().as_bytes(),
        )?;
        let placed = order_placed(id, user, &lines, &priced, &sealed_token)?;
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
        self.waker.wake();
        tracing::info!(order_id = %id, lines = lines.len(), total = %total.to_decimal_string(), "order placed");
        Ok(CheckoutOutcome::Placed(order))
    }
}
