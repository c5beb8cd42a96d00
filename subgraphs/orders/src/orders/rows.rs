//! Mapping `orders` and `order_history` rows to their types.
//!
//! Failure: a value the types cannot hold is [`OrdersError::Corrupt`], naming the column.

use emporium_kernel::ids::OrderId;
use emporium_kernel::money::{Currency, Money};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use crate::status::OrderStatus;

use super::{HistoryEntry, Order, OrdersError};

pub(super) const ORDER_COLUMNS: &str =
    "id, user_id, status, status_reason, total_minor, currency, \
                             shipping_address, created_at, updated_at";

pub(super) async fn fetch_order(
    conn: &mut PgConnection,
    id: OrderId,
    for_update: bool,
) -> Result<Option<Order>, OrdersError> {
    let lock = if for_update { " FOR UPDATE" } else { "" };
    let row = sqlx::query(&format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1{lock}"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(order_of).transpose()
}

pub(super) fn order_of(row: &PgRow) -> Result<Order, OrdersError> {
    let status: String = row.try_get("status")?;
    let currency: String = row.try_get("currency")?;
    let currency =
        Currency::parse(&currency).map_err(|e| OrdersError::Corrupt(format!("currency: {e}")))?;
    let address: serde_json::Value = row.try_get("shipping_address")?;
    Ok(Order {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        status: OrderStatus::parse(&status)
            .ok_or_else(|| OrdersError::Corrupt(format!("status {status:?}")))?,
        status_reason: row.try_get("status_reason")?,
        total: Money::from_minor(row.try_get("total_minor")?, currency)
            .map_err(|e| OrdersError::Corrupt(format!("total: {e}")))?,
        shipping_address: serde_json::from_value(address)
            .map_err(|e| OrdersError::Corrupt(format!("address: {e}")))?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub(super) fn history_entry(row: &PgRow) -> Result<HistoryEntry, OrdersError> {
    let parse = |raw: String| {
        OrderStatus::parse(&raw).ok_or_else(|| OrdersError::Corrupt(format!("status {raw:?}")))
    };
    Ok(HistoryEntry {
        order_id: row.try_get("order_id")?,
        sequence: row.try_get("sequence")?,
        status: parse(row.try_get("status")?)?,
        previous_status: row
            .try_get::<Option<String>, _>("previous_status")?
            .map(parse)
            .transpose()?,
        reason: row.try_get("reason")?,
        at: row.try_get("at")?,
    })
}
