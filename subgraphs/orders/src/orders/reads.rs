//! Reading orders: one by id (for its owner or an admin), their items and histories in batches,
//! and a customer's or the shop's orders page by page.
//!
//! Failure: a row that no longer maps to an order (an unknown status, currency or reason) is
//! [`OrdersError::Corrupt`]; a database failure is [`OrdersError::Database`].

use std::collections::HashMap;

use emporium_kernel::ids::{OrderId, UserId};
use emporium_kernel::money::{Currency, Money};
use sqlx::Row;

use crate::lines::Line;
use crate::status::OrderStatus;

use super::rows::{fetch_order, history_entry, order_of, ORDER_COLUMNS};
use super::{HistoryEntry, Order, OrderFilter, Orders, OrdersError};

impl Orders {
    pub async fn order(&self, id: OrderId) -> Result<Option<Order>, OrdersError> {
        let mut conn = self.pool.acquire().await?;
        fetch_order(&mut conn, id, false).await
    }

    /// The order if `viewer` may see it: its customer, or an admin.
    pub async fn visible_order(
        &self,
        id: OrderId,
        customer: Option<UserId>,
    ) -> Result<Option<Order>, OrdersError> {
        Ok(self
            .order(id)
            .await?
            .filter(|order| customer.is_none_or(|user| user == order.user_id)))
    }

    /// The lines of one order, in the order they were placed.
    pub async fn items(
        &self,
        order_id: OrderId,
        currency: Currency,
    ) -> Result<Vec<Line>, OrdersError> {
        let mut lines = self.items_of(&[(order_id, currency)]).await?;
        Ok(lines.remove(&order_id).unwrap_or_default())
    }

    /// The lines of each of `orders` (with the currency it was placed in), in one query. An
    /// order without lines, or unknown, is absent.
    pub async fn items_of(
        &self,
        orders: &[(OrderId, Currency)],
    ) -> Result<HashMap<OrderId, Vec<Line>>, OrdersError> {
        let currencies: HashMap<OrderId, Currency> = orders.iter().copied().collect();
        let ids: Vec<OrderId> = currencies.keys().copied().collect();
        let rows = sqlx::query(
            "SELECT order_id, product_id, product_name, variant_id, variant_title, sku,
                    unit_price_minor, quantity
             FROM order_items WHERE order_id = ANY($1) ORDER BY order_id, position",
        )
        .bind(&ids)
        .fetch_all(&self.pool)
        .await?;
        let mut lines: HashMap<OrderId, Vec<Line>> = HashMap::with_capacity(ids.len());
        for row in &rows {
            let order_id: OrderId = row.try_get("order_id")?;
            let currency = currencies
                .get(&order_id)
                .copied()
                .ok_or_else(|| OrdersError::Corrupt(format!("line of unasked order {order_id}")))?;
            lines.entry(order_id).or_default().push(Line {
                product_id: row.try_get("product_id")?,
                product_name: row.try_get("product_name")?,
                variant_id: row.try_get("variant_id")?,
                variant_title: row.try_get("variant_title")?,
                sku: row.try_get("sku")?,
                unit_price: Money::from_minor(row.try_get("unit_price_minor")?, currency)
                    .map_err(|e| OrdersError::Corrupt(format!("price: {e}")))?,
                quantity: row.try_get("quantity")?,
            });
        }
        Ok(lines)
    }

    /// Every status the order reached, oldest first.
    pub async fn history(&self, order_id: OrderId) -> Result<Vec<HistoryEntry>, OrdersError> {
        let mut histories = self.histories(&[order_id]).await?;
        Ok(histories.remove(&order_id).unwrap_or_default())
    }

    /// The history of each of `orders`, oldest first, in one query.
    pub async fn histories(
        &self,
        orders: &[OrderId],
    ) -> Result<HashMap<OrderId, Vec<HistoryEntry>>, OrdersError> {
        let rows = sqlx::query(
            "SELECT order_id, sequence, status, previous_status, reason, at
             FROM order_history WHERE order_id = ANY($1) ORDER BY order_id, sequence",
        )
        .bind(orders)
        .fetch_all(&self.pool)
        .await?;
        let mut histories: HashMap<OrderId, Vec<HistoryEntry>> =
            HashMap::with_capacity(orders.len());
        for row in &rows {
            let entry = history_entry(row)?;
            histories.entry(entry.order_id).or_default().push(entry);
        }
        Ok(histories)
    }

    /// A page of orders, newest first, after the order `after` (exclusive); with whether
    /// more follow and how many match in all.
    pub async fn list(
        &self,
        filter: OrderFilter,
        after: Option<OrderId>,
        size: usize,
    ) -> Result<(Vec<Order>, bool, i64), OrdersError> {
        let limit = i64::try_from(size).unwrap_or(i64::MAX - 1) + 1;
        // One snapshot for the page and its count, so a page counts what it lists even while
        // orders are being placed.
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?;
        let rows = sqlx::query(&format!(
            "SELECT {ORDER_COLUMNS} FROM orders
             WHERE ($1::uuid IS NULL OR user_id = $1) AND ($2::text IS NULL OR status = $2)
               AND ($3::uuid IS NULL OR id < $3)
             ORDER BY id DESC LIMIT $4"
        ))
        .bind(filter.user)
        .bind(filter.status.map(OrderStatus::as_str))
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let mut orders = rows.iter().map(order_of).collect::<Result<Vec<_>, _>>()?;
        let more = orders.len() > size;
        orders.truncate(size);
        let total: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM orders
             WHERE ($1::uuid IS NULL OR user_id = $1) AND ($2::text IS NULL OR status = $2)",
        )
        .bind(filter.user)
        .bind(filter.status.map(OrderStatus::as_str))
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((orders, more, total))
    }
}
