//! The events the inventory consumes, and its handler (`api/events.md`); the ones it publishes
//! are built in [`published`].
//!
//! Queues:
//! - `inventory.catalog` (`product.created`, `product.updated`, `product.deleted`): a new
//!   product's initial stock (each variant's, for a product with options, whose variant ids are
//!   recorded so that `Product.stock` sums them); the variants an update adds (stocked) and
//!   leaves out (no longer sold); a deleted product can no longer be sold.
//! - `inventory.order-placed` (`order.placed`): reserve every line (by its `variantId` when it
//!   has one, else its `productId`) or reject the order.
//! - `inventory.order-updates` (`payment.declined`, `order.status_changed`): release the
//!   reservation on a declined payment, a cancellation or a rejection; turn it into shipped
//!   units when the order ships.

use emporium_kernel::events::consumer::{Handler, HandlerError};
use emporium_kernel::events::contract::inventory::ReleaseReason;
use emporium_kernel::events::contract::orders::{OrderPlaced, OrderStatus, OrderStatusChanged};
use emporium_kernel::events::contract::payments::PaymentDeclined;
use emporium_kernel::events::contract::products::{ProductCreated, ProductDeleted, ProductUpdated};
use emporium_kernel::events::{Envelope, Event};

use emporium_kernel::ids::{OrderId, ProductId, VariantId};

use crate::domain::{normalise_lines, Settlement};
use crate::service::{Inventory, InventoryError};

pub mod published;
pub use published::{EVENT_SOURCE, OUTBOX_NAME, OUT_OF_STOCK};

pub const CATALOG_QUEUE: &str = "inventory.catalog";
pub const ORDER_PLACED_QUEUE: &str = "inventory.order-placed";
pub const ORDER_UPDATES_QUEUE: &str = "inventory.order-updates";

/// Every queue the inventory consumes, with its bindings.
pub fn queues() -> [(&'static str, &'static [&'static str]); 3] {
    [
        (
            CATALOG_QUEUE,
            &[
                ProductCreated::TYPE,
                ProductUpdated::TYPE,
                ProductDeleted::TYPE,
            ],
        ),
        (ORDER_PLACED_QUEUE, &[OrderPlaced::TYPE]),
        (
            ORDER_UPDATES_QUEUE,
            &[PaymentDeclined::TYPE, OrderStatusChanged::TYPE],
        ),
    ]
}

/// An event's product id; one that breaks the rule (kernel::ids) is a permanent failure.
fn product_id(id: &str) -> Result<ProductId, HandlerError> {
    ProductId::parse(id).map_err(|e| HandlerError::permanent(format!("product id: {e}")))
}

/// An event's variant id, under the same rule.
fn variant_id(id: &str) -> Result<VariantId, HandlerError> {
    VariantId::parse(id).map_err(|e| HandlerError::permanent(format!("variant id: {e}")))
}

fn valid_count(what: &str, count: u32) -> Result<i32, HandlerError> {
    i32::try_from(count)
        .ok()
        .filter(|n| crate::domain::valid_count(*n))
        .ok_or_else(|| HandlerError::permanent(format!("{what} {count} is out of range")))
}

/// What an order's new status asks of its reservation; `None`: nothing (PENDING, CONFIRMED
/// and DELIVERED leave it as it is).
fn settlement_of(status: OrderStatus) -> Option<Settlement> {
    match status {
        OrderStatus::Cancelled => Some(Settlement::Release(ReleaseReason::OrderCancelled)),
        OrderStatus::Rejected => Some(Settlement::Release(ReleaseReason::OrderRejected)),
        OrderStatus::Shipped => Some(Settlement::Fulfil),
        OrderStatus::Pending | OrderStatus::Confirmed | OrderStatus::Delivered => None,
    }
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

    async fn product_created(&self, envelope: &Envelope) -> Result<(), HandlerError> {
        let event: ProductCreated = envelope.decode()?;
        let product_id = product_id(&event.product.product_id)?;
        // A product with options is stocked per variant; one without is its own variant.
        let stocks = if event.product.variants.is_empty() {
            vec![(
                VariantId::of_product(&product_id),
                valid_count("initialStock", event.initial_stock)?,
            )]
        } else {
            event
                .product
                .variants
                .iter()
                .map(|v| {
                    Ok((
                        variant_id(&v.id)?,
                        valid_count("initialStock", v.initial_stock.unwrap_or(0))?,
                    ))
                })
                .collect::<Result<Vec<_>, HandlerError>>()?
        };
        self.inventory
            .product_created(self.queue, envelope, &product_id, &stocks)
            .await?;
        Ok(())
    }

    /// A product with options whose variants an update replaced: the new ones start with
    /// their initial stock, the ones left out are no longer sold. (A product without options
    /// has nothing here to change.)
    async fn product_updated(&self, envelope: &Envelope) -> Result<(), HandlerError> {
        let event: ProductUpdated = envelope.decode()?;
        let product_id = product_id(&event.product.product_id)?;
        if event.product.variants.is_empty() {
            return Ok(());
        }
        let variants = event
            .product
            .variants
            .iter()
            .map(|v| {
                let initial = v
                    .initial_stock
                    .map(|n| valid_count("initialStock", n))
                    .transpose()?;
                Ok((variant_id(&v.id)?, initial))
            })
            .collect::<Result<Vec<_>, HandlerError>>()?;
        self.inventory
            .variants_changed(self.queue, envelope, &product_id, &variants)
            .await?;
        Ok(())
    }

    async fn product_deleted(&self, envelope: &Envelope) -> Result<(), HandlerError> {
        let event: ProductDeleted = envelope.decode()?;
        let product_id = product_id(&event.product_id)?;
        self.inventory
            .product_deleted(self.queue, envelope, &product_id)
            .await?;
        Ok(())
    }

    async fn order_placed(&self, envelope: &Envelope) -> Result<(), HandlerError> {
        let event: OrderPlaced = envelope.decode()?;
        let order_id = OrderId::from(event.order_id);
        let lines = normalise_lines(event.items.into_iter().map(|item| {
            let stock_id = item.variant_id.unwrap_or(item.product_id);
            (stock_id, i64::from(item.quantity))
        }))
        .map_err(|e| HandlerError::permanent(format!("order {order_id}: {e}")))?;
        let outcome = self
            .inventory
            .reserve_order(self.queue, envelope, order_id, &lines)
            .await?;
        tracing::info!(%order_id, ?outcome, "order.placed handled");
        Ok(())
    }

    async fn payment_declined(&self, envelope: &Envelope) -> Result<(), HandlerError> {
        let event: PaymentDeclined = envelope.decode()?;
        let order_id: OrderId = event
            .order_id
            .parse()
            .map_err(|e| HandlerError::permanent(format!("order id: {e}")))?;
        let release = Settlement::Release(ReleaseReason::PaymentDeclined);
        self.inventory
            .release_order(self.queue, envelope, order_id, release)
            .await?;
        Ok(())
    }

    async fn order_status_changed(&self, envelope: &Envelope) -> Result<(), HandlerError> {
        let event: OrderStatusChanged = envelope.decode()?;
        let Some(settlement) = settlement_of(event.status) else {
            return Ok(());
        };
        self.inventory
            .release_order(self.queue, envelope, event.order_id.into(), settlement)
            .await?;
        Ok(())
    }
}

impl Handler for InventoryHandler {
    async fn handle(&self, envelope: &Envelope) -> Result<(), HandlerError> {
        match envelope.event_type.as_str() {
            ProductCreated::TYPE => self.product_created(envelope).await,
            ProductUpdated::TYPE => self.product_updated(envelope).await,
            ProductDeleted::TYPE => self.product_deleted(envelope).await,
            OrderPlaced::TYPE => self.order_placed(envelope).await,
            PaymentDeclined::TYPE => self.payment_declined(envelope).await,
            OrderStatusChanged::TYPE => self.order_status_changed(envelope).await,
            other => Err(HandlerError::permanent(format!(
                "{} does not handle {other}",
                self.queue
            ))),
        }
    }
}
