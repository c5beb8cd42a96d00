//! The events the inventory publishes and the ones it consumes (`shared/events.md`).
//!
//! Queues:
//! - `inventory.catalog` (`product.created`, `product.deleted`): a new product's initial
//!   stock; a deleted product can no longer be sold.
//! - `inventory.order-placed` (`order.placed`): reserve every line or reject the order.
//! - `inventory.order-updates` (`payment.declined`, `order.status_changed`): release the
//!   reservation on a declined payment, a cancellation or a rejection; turn it into shipped
//!   units when the order ships.

use emporium_kernel::events::consumer::{data_of as data, Handler, HandlerError};
use emporium_kernel::events::{Envelope, EventDraft};
use serde::Deserialize;
use serde_json::json;

use crate::domain::{normalise_lines, Line, Shortage, StockLevel, MAX_PRODUCT_ID_LEN};
use crate::service::{Inventory, InventoryError};

/// The `source` of every inventory event.
pub const EVENT_SOURCE: &str = "/subgraphs/inventory";
/// The outbox's name: relays of one name take turns.
pub const OUTBOX_NAME: &str = "inventory";
/// The reason `inventory.rejected` gives when a line is short.
pub const OUT_OF_STOCK: &str = "OUT_OF_STOCK";

pub const CATALOG_QUEUE: &str = "inventory.catalog";
pub const ORDER_PLACED_QUEUE: &str = "inventory.order-placed";
pub const ORDER_UPDATES_QUEUE: &str = "inventory.order-updates";

/// Every queue the inventory consumes, with its bindings.
pub fn queues() -> [(&'static str, &'static [&'static str]); 3] {
    [
        (CATALOG_QUEUE, &["product.created", "product.deleted"]),
        (ORDER_PLACED_QUEUE, &["order.placed"]),
        (
            ORDER_UPDATES_QUEUE,
            &["payment.declined", "order.status_changed"],
        ),
    ]
}

/// `stock.changed`: a product's counts after a change (the search index's in-stock filter).
pub fn stock_changed(product_id: &str, level: StockLevel) -> EventDraft {
    EventDraft::new(
        "stock.changed",
        product_id.to_owned(),
        json!({
            "productId": product_id,
            "onHand": level.on_hand,
            "reserved": level.reserved,
            "available": level.available(),
            "inStock": level.in_stock(),
        }),
    )
}

pub fn reserved(order_id: &str, lines: &[Line]) -> EventDraft {
    EventDraft::new(
        "inventory.reserved",
        order_id.to_owned(),
        json!({ "orderId": order_id, "items": lines }),
    )
}

pub fn rejected(order_id: &str, short: &[Shortage]) -> EventDraft {
    EventDraft::new(
        "inventory.rejected",
        order_id.to_owned(),
        json!({ "orderId": order_id, "reason": OUT_OF_STOCK, "items": short }),
    )
}

pub fn released(order_id: &str, lines: &[Line], reason: &str) -> EventDraft {
    EventDraft::new(
        "inventory.released",
        order_id.to_owned(),
        json!({ "orderId": order_id, "items": lines, "reason": reason }),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProductCreated {
    product_id: String,
    #[serde(default)]
    initial_stock: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProductDeleted {
    product_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderPlaced {
    order_id: String,
    items: Vec<OrderPlacedItem>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderPlacedItem {
    product_id: String,
    quantity: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderRef {
    order_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatusChanged {
    order_id: String,
    status: String,
}

fn valid_id(kind: &str, id: &str) -> Result<(), HandlerError> {
    if id.trim().is_empty() || id.len() > MAX_PRODUCT_ID_LEN {
        return Err(HandlerError::permanent(format!(
            "{kind} id is empty or too long"
        )));
    }
    Ok(())
}

impl From<InventoryError> for HandlerError {
    fn from(err: InventoryError) -> Self {
        // Redis or Postgres unavailable, a lock timeout, a serialization failure: all pass.
        HandlerError::retryable(err)
    }
}

/// Applies the events of one inventory queue.
pub struct InventoryHandler {
    inventory: Inventory,
    queue: &'static str,
}

impl InventoryHandler {
    pub fn new(inventory: Inventory, queue: &'static str) -> Self {
        Self { inventory, queue }
    }
}

impl Handler for InventoryHandler {
    async fn handle(&self, envelope: &Envelope) -> Result<(), HandlerError> {
        let inventory = &self.inventory;
        match envelope.event_type.as_str() {
            "product.created" => {
                let event: ProductCreated = data(envelope)?;
                valid_id("product", &event.product_id)?;
                let initial = i32::try_from(event.initial_stock)
                    .ok()
                    .filter(|n| crate::domain::valid_count(*n))
                    .ok_or_else(|| {
                        HandlerError::permanent(format!(
                            "initialStock {} is out of range",
                            event.initial_stock
                        ))
                    })?;
                inventory
                    .product_created(self.queue, envelope, &event.product_id, initial)
                    .await?;
            }
            "product.deleted" => {
                let event: ProductDeleted = data(envelope)?;
                valid_id("product", &event.product_id)?;
                inventory
                    .product_deleted(self.queue, envelope, &event.product_id)
                    .await?;
            }
            "order.placed" => {
                let event: OrderPlaced = data(envelope)?;
                valid_id("order", &event.order_id)?;
                let lines = normalise_lines(
                    event
                        .items
                        .into_iter()
                        .map(|item| (item.product_id, item.quantity)),
                )
                .map_err(|e| HandlerError::permanent(format!("order {}: {e}", event.order_id)))?;
                let outcome = inventory
                    .reserve_order(self.queue, envelope, &event.order_id, &lines)
                    .await?;
                tracing::info!(order_id = %event.order_id, ?outcome, "order.placed handled");
            }
            "payment.declined" => {
                let event: OrderRef = data(envelope)?;
                valid_id("order", &event.order_id)?;
                inventory
                    .release_order(
                        self.queue,
                        envelope,
                        &event.order_id,
                        false,
                        "PAYMENT_DECLINED",
                    )
                    .await?;
            }
            "order.status_changed" => {
                let event: StatusChanged = data(envelope)?;
                valid_id("order", &event.order_id)?;
                let (fulfil, reason) = match event.status.as_str() {
                    "CANCELLED" => (false, "ORDER_CANCELLED"),
                    "REJECTED" => (false, "ORDER_REJECTED"),
                    "SHIPPED" => (true, "ORDER_SHIPPED"),
                    // PENDING, CONFIRMED, DELIVERED leave the reservation as it is.
                    _ => return Ok(()),
                };
                inventory
                    .release_order(self.queue, envelope, &event.order_id, fulfil, reason)
                    .await?;
            }
            other => {
                return Err(HandlerError::permanent(format!(
                    "{} does not handle {other}",
                    self.queue
                )))
            }
        }
        Ok(())
    }
}
