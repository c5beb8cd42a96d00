//! The events the orders service publishes: `order.placed`, which starts the saga, and
//! `order.status_changed` for every step of an order's state machine. The order's status and
//! the reasons of its changes are defined here, once, for the orders service and every consumer.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An order's status (the orders service's state machine, `subgraphs/orders/src/status.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "event-schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    /// Placed; stock and payment not settled yet.
    Pending,
    /// Stock reserved and payment authorized.
    Confirmed,
    Shipped,
    Delivered,
    /// Cancelled by its customer or an admin before shipping: stock released, payment refunded.
    Cancelled,
    /// Never confirmed: out of stock, payment declined, or no answer in time.
    Rejected,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 6] = [
        Self::Pending,
        Self::Confirmed,
        Self::Shipped,
        Self::Delivered,
        Self::Cancelled,
        Self::Rejected,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Confirmed => "CONFIRMED",
            Self::Shipped => "SHIPPED",
            Self::Delivered => "DELIVERED",
            Self::Cancelled => "CANCELLED",
            Self::Rejected => "REJECTED",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == raw)
    }

    /// No transition leaves a final status.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Delivered | Self::Cancelled | Self::Rejected)
    }
}

/// Why an order was rejected or cancelled (`Order.statusReason`, the event's `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "event-schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StatusReason {
    OutOfStock,
    PaymentDeclined,
    /// No answer from inventory or payments within the configured time.
    TimedOut,
    CancelledByCustomer,
    CancelledByAdmin,
}

impl StatusReason {
    pub const ALL: [StatusReason; 5] = [
        Self::OutOfStock,
        Self::PaymentDeclined,
        Self::TimedOut,
        Self::CancelledByCustomer,
        Self::CancelledByAdmin,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OutOfStock => "OUT_OF_STOCK",
            Self::PaymentDeclined => "PAYMENT_DECLINED",
            Self::TimedOut => "TIMED_OUT",
            Self::CancelledByCustomer => "CANCELLED_BY_CUSTOMER",
            Self::CancelledByAdmin => "CANCELLED_BY_ADMIN",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|reason| reason.as_str() == raw)
    }
}

/// One line of a placed order. Prices are decimal strings in the order's currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "event-schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct OrderedItem {
    pub product_id: String,
    pub product_name: String,
    pub quantity: i32,
    pub unit_price: String,
    pub line_total: String,
    /// The variant ordered; absent for a product without options (its variant id is the
    /// product id). Inventory reserves by it when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant_id: Option<String>,
    /// The variant's title as ordered (`"Red / M"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant_title: Option<String>,
    /// The variant's SKU as ordered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
}

/// `order.placed`: what inventory reserves and payments authorizes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "event-schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct OrderPlaced {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub items: Vec<OrderedItem>,
    /// The amount to charge, a decimal string, `"1049.97"`:
    /// `subtotal - discountTotal + shippingTotal + taxTotal`.
    pub total: String,
    pub currency: String,
    /// The sum of the lines. Absent from orders placed before shipping, tax and discounts
    /// (their total was their subtotal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtotal: Option<String>,
    /// What discount codes took off (the lines and the shipping).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_total: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_total: Option<String>,
    /// The tax added to the prices (`"0.00"` when the shop's prices include tax).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_total: Option<String>,
    /// The codes the order used, upper case.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub discount_codes: Vec<String>,
    /// The provider's single-use token (never a card number), sealed to the payments
    /// service's key and bound to this order (`kernel::sealed`): the outbox, the broker and
    /// dead letters never hold it in plaintext. Every current producer sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_token_sealed: Option<String>,
    /// The plaintext token that orders processes older than sealing sent; payments still
    /// accepts it, nothing produces it any more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_token: Option<String>,
}

event!(OrderPlaced, "order.placed", version 1, |event| event.order_id.to_string());

/// `order.status_changed`: one step of an order's state machine, for notifications, live
/// feeds, inventory and payments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "event-schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct OrderStatusChanged {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub status: OrderStatus,
    /// `null` for the first status of an order.
    pub previous_status: Option<OrderStatus>,
    /// `null` unless the order was rejected or cancelled.
    pub reason: Option<StatusReason>,
    /// When the order changed, with milliseconds (`2026-11-23T10:15:30.123Z`).
    #[serde(with = "millis")]
    #[cfg_attr(feature = "event-schemas", schemars(with = "DateTime<Utc>"))]
    pub at: DateTime<Utc>,
    /// The order's total, a decimal string.
    pub total: String,
    pub currency: String,
}

event!(OrderStatusChanged, "order.status_changed", version 1, |event| event.order_id.to_string());

/// Timestamps written with exactly three fractional digits, read in any RFC 3339 form.
mod millis {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<DateTime<Utc>, D::Error> {
        DateTime::<Utc>::deserialize(deserializer)
    }
}
