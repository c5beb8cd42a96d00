//! The events orders publishes, built from the contract's types.
//!
//! Failure: a line total that overflows is an [`OrdersError`]; nothing else can fail.

use chrono::{DateTime, Utc};
use emporium_kernel::events::contract::orders::{OrderPlaced, OrderStatusChanged, OrderedItem};
use emporium_kernel::events::EventDraft;
use emporium_kernel::ids::{OrderId, UserId};

use crate::lines::{Line, LinesError};
use crate::pricing::PricedCart;
use crate::status::{OrderStatus, Reason};

use super::{Order, OrdersError};

/// `order.placed`: what inventory reserves and payments authorizes.
pub(super) fn order_placed(
    id: OrderId,
    user: UserId,
    lines: &[Line],
    priced: &PricedCart,
    sealed_payment_token: &str,
) -> Result<EventDraft, OrdersError> {
    let items = lines
        .iter()
        .map(|line| {
            Ok(OrderedItem {
                product_id: line.product_id.clone(),
                product_name: line.product_name.clone(),
                quantity: line.quantity,
                unit_price: line.unit_price.to_decimal_string(),
                line_total: line.total()?.to_decimal_string(),
                // A product without options is its own variant: no variant fields, as before.
                variant_id: line.is_variant().then(|| line.variant_id.clone()),
                variant_title: line.is_variant().then(|| line.variant_title.clone()),
                sku: (!line.sku.is_empty()).then(|| line.sku.clone()),
            })
        })
        .collect::<Result<Vec<_>, LinesError>>()?;
    Ok(EventDraft::of(&OrderPlaced {
        order_id: id.into(),
        user_id: user.into(),
        items,
        total: priced.total.to_decimal_string(),
        currency: priced.total.currency().as_str().to_owned(),
        subtotal: Some(priced.subtotal.to_decimal_string()),
        discount_total: Some(priced.discount_total.to_decimal_string()),
        shipping_total: Some(priced.shipping_total.to_decimal_string()),
        tax_total: Some(priced.tax_total.to_decimal_string()),
        discount_codes: priced.discounts.iter().map(|d| d.code.clone()).collect(),
        // The provider's single-use token (never a card number), sealed to the payments
        // service's key and bound to this order: the outbox, the broker and dead letters
        // never hold it in plaintext. Payments opens it to authorize once inventory has
        // reserved the lines.
        payment_token_sealed: Some(sealed_payment_token.to_owned()),
        payment_token: None,
    }))
}

/// `order.status_changed`: for notifications, live feeds, inventory and payments. A stored
/// reason the contract does not know means a corrupt row.
pub fn status_changed(
    order: &Order,
    previous: Option<OrderStatus>,
    at: DateTime<Utc>,
) -> Result<EventDraft, OrdersError> {
    let reason = order
        .status_reason
        .as_deref()
        .map(|raw| {
            Reason::parse(raw).ok_or_else(|| OrdersError::Corrupt(format!("reason {raw:?}")))
        })
        .transpose()?;
    Ok(EventDraft::of(&OrderStatusChanged {
        order_id: order.id.into(),
        user_id: order.user_id.into(),
        status: order.status,
        previous_status: previous,
        reason,
        at,
        total: order.total.to_decimal_string(),
        currency: order.total.currency().as_str().to_owned(),
    }))
}
