//! The events payments publishes, each about one order's payment. Order ids are echoed as
//! payments received them.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What `payment.authorized`, `payment.captured` and `payment.refunded` carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "event-schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PaymentAmount {
    pub order_id: String,
    pub payment_id: Uuid,
    /// A decimal string, `"1049.97"`. Every payment decided with the provider has its amount
    /// (a constraint of the payments table), so `null` only ever means a corrupt row.
    pub amount: Option<String>,
    pub currency: Option<String>,
}

/// `payment.authorized`: the provider holds the amount; the order is confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "event-schemas", derive(schemars::JsonSchema))]
#[serde(transparent)]
pub struct PaymentAuthorized(pub PaymentAmount);

/// `payment.captured`: the authorized amount was taken (the order shipped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "event-schemas", derive(schemars::JsonSchema))]
#[serde(transparent)]
pub struct PaymentCaptured(pub PaymentAmount);

/// `payment.refunded`: the amount was given back (a confirmed order was cancelled).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "event-schemas", derive(schemars::JsonSchema))]
#[serde(transparent)]
pub struct PaymentRefunded(pub PaymentAmount);

/// `payment.declined`: the order cannot be paid; inventory releases, orders rejects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "event-schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PaymentDeclined {
    pub order_id: String,
    pub payment_id: Uuid,
    /// The provider's stable code, such as `CARD_DECLINED` or `INVALID_TOKEN`. A string, not
    /// an enum: the set is the provider's, and grows with it without a new version.
    pub reason: String,
}

event!(PaymentAuthorized, "payment.authorized", version 1, |event| event.0.order_id.clone());

event!(PaymentCaptured, "payment.captured", version 1, |event| event.0.order_id.clone());

event!(PaymentRefunded, "payment.refunded", version 1, |event| event.0.order_id.clone());

event!(PaymentDeclined, "payment.declined", version 1, |event| event.order_id.clone());
