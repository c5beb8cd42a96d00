//! Mapping `orders` and `order_history` rows to their types.
//!
//! Failure: a value the types cannot hold is [`OrdersError::Corrupt`], naming the column.

use emporium_kernel::ids::OrderId;
use emporium_kernel::money::{Currency, Money};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use crate::pricing::{AppliedDiscount, DiscountKind, TaxLine, TaxRateValue};

use crate::status::OrderStatus;

use super::{HistoryEntry, Order, OrdersError};

pub(super) const ORDER_COLUMNS: &str =
    "id, user_id, status, status_reason, total_minor, currency, shipping_address, created_at, \
     updated_at, subtotal_minor, discount_total_minor, shipping_method_name, \
     shipping_total_minor, tax_total_minor, prices_include_tax, discounts, tax_lines";

/// A discount as `orders.discounts` keeps it.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredDiscount {
    code: String,
    kind: String,
    amount_minor: i64,
}

/// A tax line as `orders.tax_lines` keeps it.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredTaxLine {
    name: String,
    rate_millionths: i64,
    amount_minor: i64,
}

/// The applied discounts as `orders.discounts` keeps them.
pub(super) fn stored_discounts(
    discounts: &[AppliedDiscount],
) -> Result<serde_json::Value, OrdersError> {
    let stored: Vec<StoredDiscount> = discounts
        .iter()
        .map(|d| StoredDiscount {
            code: d.code.clone(),
            kind: d.kind.as_str().to_owned(),
            amount_minor: d.amount.minor(),
        })
        .collect();
    serde_json::to_value(stored).map_err(|e| OrdersError::Corrupt(format!("discounts: {e}")))
}

/// The tax lines as `orders.tax_lines` keeps them.
pub(super) fn stored_tax_lines(lines: &[TaxLine]) -> Result<serde_json::Value, OrdersError> {
    let stored: Vec<StoredTaxLine> = lines
        .iter()
        .map(|t| StoredTaxLine {
            name: t.name.clone(),
            rate_millionths: t.rate.millionths(),
            amount_minor: t.amount.minor(),
        })
        .collect();
    serde_json::to_value(stored).map_err(|e| OrdersError::Corrupt(format!("tax lines: {e}")))
}

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
    let money = |column: &str| -> Result<Money, OrdersError> {
        Money::from_minor(row.try_get(column)?, currency)
            .map_err(|e| OrdersError::Corrupt(format!("{column}: {e}")))
    };
    let discounts: Vec<StoredDiscount> = serde_json::from_value(row.try_get("discounts")?)
        .map_err(|e| OrdersError::Corrupt(format!("discounts: {e}")))?;
    let tax_lines: Vec<StoredTaxLine> = serde_json::from_value(row.try_get("tax_lines")?)
        .map_err(|e| OrdersError::Corrupt(format!("tax_lines: {e}")))?;
    let corrupt = |what: &str| OrdersError::Corrupt(what.to_owned());
    Ok(Order {
        subtotal: money("subtotal_minor")?,
        discount_total: money("discount_total_minor")?,
        shipping_method_name: row.try_get("shipping_method_name")?,
        shipping_total: money("shipping_total_minor")?,
        tax_total: money("tax_total_minor")?,
        prices_include_tax: row.try_get("prices_include_tax")?,
        discounts: discounts
            .into_iter()
            .map(|d| {
                Ok(AppliedDiscount {
                    kind: DiscountKind::parse(&d.kind).ok_or_else(|| corrupt("discount kind"))?,
                    amount: Money::from_minor(d.amount_minor, currency)
                        .map_err(|_| corrupt("discount amount"))?,
                    code: d.code,
                })
            })
            .collect::<Result<_, OrdersError>>()?,
        tax_lines: tax_lines
            .into_iter()
            .map(|t| {
                Ok(TaxLine {
                    rate: TaxRateValue::from_millionths(t.rate_millionths)
                        .ok_or_else(|| corrupt("tax rate"))?,
                    amount: Money::from_minor(t.amount_minor, currency)
                        .map_err(|_| corrupt("tax amount"))?,
                    name: t.name,
                })
            })
            .collect::<Result<_, OrdersError>>()?,
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        status: OrderStatus::parse(&status)
            .ok_or_else(|| OrdersError::Corrupt(format!("status {status:?}")))?,
        status_reason: row.try_get("status_reason")?,
        total: money("total_minor")?,
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
