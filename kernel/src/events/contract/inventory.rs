//! The events the inventory publishes: stock levels for search, and its part of the order
//! saga (reserved, rejected, released). Order ids are echoed as the inventory received them.

use serde::{Deserialize, Serialize};

/// `stock.changed`: a product's counts after a change (the search index's in-stock filter).
/// For a variant of a product with options, `productId` names the product, `variantId` the
/// variant, and the counts are the variant's: the product is in stock while any of its
/// variants is. Events of one product (all its variants) are sequenced together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "event-schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct StockChanged {
    pub product_id: String,
    /// Absent for a product without options (its own single variant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant_id: Option<String>,
    pub on_hand: i32,
    pub reserved: i32,
    /// `onHand - reserved`, never negative.
    pub available: i32,
    pub in_stock: bool,
}

event!(StockChanged, "stock.changed", version 1, |event| event.product_id.clone());

/// How many units of one product an order holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "event-schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct StockLine {
    pub product_id: String,
    pub quantity: i32,
}

/// `inventory.reserved`: every line of the order is held for it (payments authorizes next).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "event-schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct InventoryReserved {
    pub order_id: String,
    pub items: Vec<StockLine>,
}

event!(InventoryReserved, "inventory.reserved", version 1, |event| event.order_id.clone());

/// Why the inventory refused an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "event-schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RejectionReason {
    /// At least one line asks for more than is available.
    OutOfStock,
}

impl RejectionReason {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OutOfStock => "OUT_OF_STOCK",
        }
    }
}

/// A line the inventory could not fill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "event-schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Shortage {
    pub product_id: String,
    pub requested: i32,
    pub available: i32,
}

/// `inventory.rejected`: nothing was reserved; the order is rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "event-schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct InventoryRejected {
    pub order_id: String,
    pub reason: RejectionReason,
    /// The lines short of stock.
    pub items: Vec<Shortage>,
}

event!(InventoryRejected, "inventory.rejected", version 1, |event| event.order_id.clone());

/// Why the inventory gave an order's reservation back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "event-schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReleaseReason {
    PaymentDeclined,
    OrderCancelled,
    OrderRejected,
}

impl ReleaseReason {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PaymentDeclined => "PAYMENT_DECLINED",
            Self::OrderCancelled => "ORDER_CANCELLED",
            Self::OrderRejected => "ORDER_REJECTED",
        }
    }
}

/// `inventory.released`: the order's reserved units are available again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "event-schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct InventoryReleased {
    pub order_id: String,
    pub items: Vec<StockLine>,
    pub reason: ReleaseReason,
}

event!(InventoryReleased, "inventory.released", version 1, |event| event.order_id.clone());
