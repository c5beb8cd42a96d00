//! The events payments publishes, with the order id as subject: `payment.authorized`,
//! `payment.declined`, `payment.captured`, `payment.refunded` (`api/events.md`). Building a
//! draft cannot fail; the outbox numbers and stores it.

use emporium_kernel::events::contract::payments::{
    PaymentAmount, PaymentAuthorized, PaymentCaptured, PaymentDeclined, PaymentRefunded,
};
use emporium_kernel::events::EventDraft;

use crate::domain::Payment;

/// The `source` of every payments event.
pub const EVENT_SOURCE: &str = "/subgraphs/payments";
/// The outbox's name: relays of one name take turns.
pub const OUTBOX_NAME: &str = "payments";

/// `payment.authorized`: `{ orderId, paymentId, amount: "1049.97", currency }`.
pub fn authorized(payment: &Payment) -> EventDraft {
    EventDraft::of(&PaymentAuthorized(amount_of(payment)))
}

/// `payment.declined`: `{ orderId, paymentId, reason }` (a code such as `CARD_DECLINED`).
pub fn declined(payment: &Payment, reason: &str) -> EventDraft {
    EventDraft::of(&PaymentDeclined {
        order_id: payment.order_id.to_string(),
        payment_id: payment.id,
        reason: reason.to_owned(),
    })
}

/// `payment.captured`: `{ orderId, paymentId, amount, currency }`.
pub fn captured(payment: &Payment) -> EventDraft {
    EventDraft::of(&PaymentCaptured(amount_of(payment)))
}

/// `payment.refunded`: `{ orderId, paymentId, amount, currency }`.
pub fn refunded(payment: &Payment) -> EventDraft {
    EventDraft::of(&PaymentRefunded(amount_of(payment)))
}

fn amount_of(payment: &Payment) -> PaymentAmount {
    // Every payment decided with the provider has its amount (a constraint of the table).
    let (amount, currency) = payment
        .amount
        .map(|m| (m.to_decimal_string(), m.currency().to_string()))
        .unzip();
    PaymentAmount {
        order_id: payment.order_id.to_string(),
        payment_id: payment.id,
        amount,
        currency,
    }
}
