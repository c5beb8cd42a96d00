//! The events payments consumes, and its handler (`api/events.md`); the ones it publishes are
//! built in [`published`].
//!
//! Queues:
//! - `payments.order-placed` (`order.placed`): the payment's intent: who pays how much with
//!   which card token. The token comes sealed to payments' key and bound to the order
//!   (`paymentTokenSealed`, see `kernel::sealed`); a plaintext `paymentToken`, from an orders
//!   process older than sealing, is sealed here before it is stored.
//! - `payments.saga` (`inventory.reserved`, `order.status_changed`): authorize once the stock
//!   is reserved; capture when the order ships; refund or abandon when it is cancelled or
//!   rejected.
//!
//! Published, with the order id as subject: `payment.authorized`, `payment.declined`,
//! `payment.captured`, `payment.refunded`. Handlers are idempotent by the payment's stored
//! state (see [`crate::service`]), so they need no inbox.

use emporium_kernel::events::consumer::{Handler, HandlerError};
use emporium_kernel::events::contract::inventory::InventoryReserved;
use emporium_kernel::events::contract::orders::{OrderPlaced, OrderStatusChanged};
use emporium_kernel::events::{Envelope, Event};
use emporium_kernel::ids::OrderId;
use emporium_kernel::money::{Currency, Money};
use emporium_kernel::sealed::OpeningKeys;

use crate::domain::{CardToken, Intent, SealedCardToken};
use crate::provider::{PaymentProvider, ProviderError};
use crate::service::{Payments, PaymentsError};
use crate::store::StoreError;

pub mod published;
pub use published::{EVENT_SOURCE, OUTBOX_NAME};

pub const ORDER_PLACED_QUEUE: &str = "payments.order-placed";
pub const SAGA_QUEUE: &str = "payments.saga";

/// Every queue payments consumes, with its bindings.
pub fn queues() -> [(&'static str, &'static [&'static str]); 2] {
    [
        (ORDER_PLACED_QUEUE, &[OrderPlaced::TYPE]),
        (
            SAGA_QUEUE,
            &[InventoryReserved::TYPE, OrderStatusChanged::TYPE],
        ),
    ]
}

/// The order an event names; an id that is not an order's (a UUID) is a permanent failure.
fn order_id_of(id: &str) -> Result<OrderId, HandlerError> {
    id.parse()
        .map_err(|_| HandlerError::permanent("the order id is not a UUID"))
}

/// The payment's intent `order.placed` carries: who pays how much with which card token.
fn intent_of(event: &OrderPlaced, keys: &OpeningKeys) -> Result<Intent, HandlerError> {
    let order_id = OrderId::from(event.order_id);
    let invalid = |what: &str, err: &dyn std::fmt::Display| {
        HandlerError::permanent(format!("order {order_id}: {what}: {err}"))
    };
    let currency = Currency::parse(&event.currency).map_err(|e| invalid("currency", &e))?;
    let amount = Money::parse_price(&event.total, currency).map_err(|e| invalid("total", &e))?;
    // The token's own error names no part of the token.
    let token = match (&event.payment_token_sealed, &event.payment_token) {
        (Some(sealed), _) => SealedCardToken::received(sealed, order_id, keys)
            .map_err(|e| invalid("paymentTokenSealed", &e))?,
        (None, Some(plain)) => {
            let token = CardToken::parse(plain).map_err(|e| invalid("paymentToken", &e))?;
            SealedCardToken::seal(&token, order_id, keys.sealing_key())
                .map_err(|e| invalid("paymentToken", &e))?
        }
        (None, None) => {
            return Err(HandlerError::permanent(format!(
                "order {order_id}: no payment token"
            )))
        }
    };
    Ok(Intent {
        user_id: event.user_id.into(),
        amount,
        token,
    })
}

impl From<PaymentsError> for HandlerError {
    fn from(err: PaymentsError) -> Self {
        match err {
            // Postgres or the provider unavailable, a serialization failure, a lost race:
            // all pass.
            PaymentsError::Store(StoreError::Database(_))
            | PaymentsError::Provider(ProviderError::Unavailable(_))
            | PaymentsError::Contended(_) => HandlerError::retryable(err),
            // A corrupt row, or a provider refusing a capture or refund: no retry helps, an
            // operator must look.
            PaymentsError::Store(StoreError::Corrupt { .. }) | PaymentsError::Provider(_) => {
                HandlerError::permanent(err)
            }
        }
    }
}

/// Applies the events of both payments queues.
pub struct PaymentsHandler<P> {
    payments: Payments<P>,
}

impl<P: PaymentProvider> PaymentsHandler<P> {
    pub fn new(payments: Payments<P>) -> Self {
        Self { payments }
    }
}

impl<P: PaymentProvider + 'static> Handler for PaymentsHandler<P> {
    async fn handle(&self, envelope: &Envelope) -> Result<(), HandlerError> {
        let payments = &self.payments;
        let (order_id, outcome) = match envelope.event_type.as_str() {
            OrderPlaced::TYPE => {
                let event: OrderPlaced = envelope.decode()?;
                let order_id = OrderId::from(event.order_id);
                let intent = intent_of(&event, payments.token_keys())?;
                let outcome = payments.record_intent(envelope, order_id, &intent).await?;
                (order_id, outcome)
            }
            InventoryReserved::TYPE => {
                let event: InventoryReserved = envelope.decode()?;
                let order_id = order_id_of(&event.order_id)?;
                let outcome = payments.record_stock_reserved(envelope, order_id).await?;
                (order_id, outcome)
            }
            OrderStatusChanged::TYPE => {
                let event: OrderStatusChanged = envelope.decode()?;
                let order_id = OrderId::from(event.order_id);
                let outcome = payments
                    .apply_order_status(envelope, order_id, event.status)
                    .await?;
                (order_id, outcome)
            }
            other => {
                return Err(HandlerError::permanent(format!(
                    "payments does not handle {other}"
                )))
            }
        };
        tracing::info!(order_id = %order_id, event_type = %envelope.event_type, ?outcome, "payment event handled");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use emporium_kernel::money::Currency;
    use emporium_kernel::sealed::OpeningKey;
    use serde_json::json;
    use uuid::Uuid;

    use super::published::{authorized, captured, declined, refunded};
    use crate::domain::{Payment, PaymentStatus};

    const ORDER: &str = "0190f0e0-0000-7000-8000-000000000001";

    fn payment() -> Payment {
        Payment {
            order_id: ORDER.parse().expect("an order id"),
            id: Uuid::now_v7(),
            user_id: Some(Uuid::now_v7().into()),
            amount: Some(Money::parse_price("1049.97", Currency::USD).expect("price")),
            token: None,
            is_stock_reserved: true,
            status: PaymentStatus::Authorized,
            provider_reference: Some("auth_1".to_owned()),
            failure_reason: None,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn payment_events_carry_the_order_the_payment_and_the_amount_as_a_decimal_string() {
        let payment = payment();
        let draft = authorized(&payment);
        assert_eq!(draft.event_type, "payment.authorized");
        assert_eq!(draft.subject, ORDER);
        assert_eq!(
            draft.data,
            json!({ "orderId": ORDER, "paymentId": payment.id.to_string(), "amount": "1049.97", "currency": "USD" })
        );
        assert_eq!(
            declined(&payment, "CARD_DECLINED").data,
            json!({ "orderId": ORDER, "paymentId": payment.id.to_string(), "reason": "CARD_DECLINED" })
        );
        assert_eq!(refunded(&payment).event_type, "payment.refunded");
        assert_eq!(captured(&payment).data["amount"], "1049.97");
    }

    #[test]
    fn an_intent_parses_the_total_in_its_currency_and_never_shows_the_token() {
        let keys = OpeningKeys::new(OpeningKey::generate(), vec![]);
        let order_id = Uuid::now_v7();
        let placed = |total: &str, currency: &str, token: &str| OrderPlaced {
            order_id,
            user_id: Uuid::now_v7(),
            items: vec![],
            total: total.to_owned(),
            currency: currency.to_owned(),
            subtotal: None,
            discount_total: None,
            shipping_total: None,
            tax_total: None,
            discount_codes: vec![],
            payment_token_sealed: None,
            payment_token: Some(token.to_owned()),
        };
        let intent = intent_of(&placed("1049.97", "EUR", "tok_visa"), &keys).expect("intent");
        assert!(
            !intent.token.as_stored().contains("tok_visa"),
            "a plaintext token is sealed before it is stored"
        );
        assert_eq!(intent.amount.minor(), 104_997);
        assert_eq!(intent.amount.currency().as_str(), "EUR");

        for (total, currency, token) in [
            ("1049.971", "USD", "tok_visa"),
            ("-1", "USD", "tok_visa"),
            ("10", "usd", "tok_visa"),
            ("10", "USD", ""),
        ] {
            let err = intent_of(&placed(total, currency, token), &keys).expect_err("invalid");
            assert!(matches!(err, HandlerError::Permanent(_)), "{err:?}");
        }
        let long_secret = format!("tok_{}", "s".repeat(300));
        let err = intent_of(&placed("10", "USD", &long_secret), &keys).expect_err("too long");
        assert!(!err.to_string().contains("sss"), "{err}");

        let sealed_for = |order_id: &str| {
            keys.sealing_key()
                .seal(b"tok_secret", order_id.as_bytes())
                .expect("seal")
        };
        let mut sealed = placed("10", "USD", "unused");
        sealed.payment_token = None;
        sealed.payment_token_sealed = Some(sealed_for(&order_id.to_string()));
        let intent = intent_of(&sealed, &keys).expect("a sealed token for this order");
        assert_eq!(
            intent
                .token
                .open(order_id.into(), &keys)
                .expect("opens")
                .expose(),
            "tok_secret"
        );
        sealed.payment_token_sealed = Some(sealed_for("another-order"));
        let err = intent_of(&sealed, &keys).expect_err("sealed for another order");
        assert!(matches!(err, HandlerError::Permanent(_)), "{err:?}");
        sealed.payment_token_sealed = None;
        assert!(intent_of(&sealed, &keys).is_err(), "no token at all");
    }
}
