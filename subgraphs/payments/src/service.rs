//! The payments' part of the order saga: authorize once the intent and the reservation are
//! both in, capture when the order ships, refund or abandon when it is cancelled or rejected.
//!
//! The provider is called outside any database transaction (it may be slow) with an
//! idempotency key per order and operation, so a retried or concurrent call is the same call.
//! Its answer is then recorded by a status-guarded update that commits with its event
//! ([`PaymentStore::transition`]): of two handlers racing, only one changes the row and
//! publishes. Every operation starts from the stored state, so a redelivered event, at any
//! point of a previous attempt, finishes what that attempt left undone and repeats nothing.

use std::sync::Arc;

use emporium_kernel::events::contract::orders::OrderStatus;
use emporium_kernel::events::Envelope;
use emporium_kernel::ids::OrderId;
use emporium_kernel::sealed::OpeningKeys;
use tracing::instrument;

use crate::domain::{
    effect_of_order_status, idempotency_key, Intent, Payment, PaymentStatus, StatusEffect,
    Transition, INVALID_TOKEN,
};
use crate::events::published as payment_events;
use crate::provider::{Authorization, PaymentProvider, ProviderError};
use crate::store::{PaymentStore, StoreError};

/// How many times an order's status change is re-decided after losing a race before the
/// event is handed back for a retry. Statuses only move forward, so this is never reached
/// in practice.
const MAX_ATTEMPTS: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum PaymentsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("payment provider: {0}")]
    Provider(#[from] ProviderError),
    /// The payment kept changing under the handler; handling the event again will settle it.
    #[error("the payment of order {0} kept changing while it was being settled")]
    Contended(String),
}

/// What handling an event did to the payment, for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Authorized,
    Declined,
    Captured,
    Refunded,
    Abandoned,
    /// Recorded; authorization waits for the intent or the reservation.
    Waiting,
    /// Already handled, lost to a concurrent handler, or nothing to do.
    NoChange,
}

/// The payments service: the store, the payment provider, and the private keys that open
/// the card tokens orders seals to payments.
pub struct Payments<P> {
    store: PaymentStore,
    provider: Arc<P>,
    token_keys: Arc<OpeningKeys>,
}

impl<P> Clone for Payments<P> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            provider: self.provider.clone(),
            token_keys: self.token_keys.clone(),
        }
    }
}

impl<P: PaymentProvider> Payments<P> {
    pub fn new(store: PaymentStore, provider: P, token_keys: OpeningKeys) -> Self {
        Self {
            store,
            provider: Arc::new(provider),
            token_keys: Arc::new(token_keys),
        }
    }

    pub fn store(&self) -> &PaymentStore {
        &self.store
    }

    /// The keys card tokens are sealed to.
    pub fn token_keys(&self) -> &OpeningKeys {
        &self.token_keys
    }

    /// `order.placed`: records who pays how much with which card, then authorizes if the
    /// stock is already reserved.
    #[instrument(skip_all, fields(order_id = %order_id))]
    pub async fn record_intent(
        &self,
        cause: &Envelope,
        order_id: OrderId,
        intent: &Intent,
    ) -> Result<Outcome, PaymentsError> {
        self.store.record_intent(order_id, intent).await?;
        self.authorize_if_due(cause, order_id).await
    }

    /// `inventory.reserved`: records that the stock is held, then authorizes if the intent
    /// is already known.
    #[instrument(skip_all, fields(order_id = %order_id))]
    pub async fn record_stock_reserved(
        &self,
        cause: &Envelope,
        order_id: OrderId,
    ) -> Result<Outcome, PaymentsError> {
        self.store.record_stock_reserved(order_id).await?;
        self.authorize_if_due(cause, order_id).await
    }

    /// `order.status_changed`: captures, refunds or abandons the payment as the order's new
    /// status asks.
    #[instrument(skip_all, fields(order_id = %order_id, order_status = order_status.as_str()))]
    pub async fn apply_order_status(
        &self,
        cause: &Envelope,
        order_id: OrderId,
        order_status: OrderStatus,
    ) -> Result<Outcome, PaymentsError> {
        // A step that loses a race (say, the authorization commits between reading the
        // payment and abandoning it) decides again from the payment's new status.
        for _ in 0..MAX_ATTEMPTS {
            let payment = self.store.find(order_id).await?;
            let effect = effect_of_order_status(order_status, payment.as_ref().map(|p| p.status));
            let applied = match (effect, payment) {
                (StatusEffect::Nothing, _) => return Ok(Outcome::NoChange),
                (StatusEffect::Abandon, _) => self
                    .store
                    .abandon(order_id)
                    .await?
                    .then_some(Outcome::Abandoned),
                (StatusEffect::Capture, Some(payment)) => self.capture(cause, &payment).await?,
                (StatusEffect::Refund, Some(payment)) => self.refund(cause, &payment).await?,
                // Capture and refund are only decided for a payment that exists.
                (StatusEffect::Capture | StatusEffect::Refund, None) => {
                    return Ok(Outcome::NoChange)
                }
            };
            if let Some(outcome) = applied {
                return Ok(outcome);
            }
        }
        Err(PaymentsError::Contended(order_id.to_string()))
    }

    /// Asks the provider to authorize the payment if it is due, and records the answer.
    async fn authorize_if_due(
        &self,
        cause: &Envelope,
        order_id: OrderId,
    ) -> Result<Outcome, PaymentsError> {
        let Some(payment) = self.store.find(order_id).await? else {
            return Ok(Outcome::NoChange);
        };
        let Some((amount, token)) = payment.authorization_due() else {
            return Ok(match payment.status {
                PaymentStatus::Awaiting => Outcome::Waiting,
                _ => Outcome::NoChange,
            });
        };
        let key = idempotency_key(order_id, "authorize");
        // The token is opened in memory for this call only; the decision erases the sealed
        // copy from the row. One that no longer opens (its key was dropped) is declined.
        let Ok(token) = token.open(order_id, &self.token_keys) else {
            return self
                .record_authorization(
                    cause,
                    order_id,
                    Transition::Decline {
                        reason: INVALID_TOKEN.to_owned(),
                    },
                )
                .await;
        };
        let transition = match self.provider.authorize(&key, token.expose(), amount).await {
            Ok(Authorization::Approved { reference }) => Transition::Authorize { reference },
            Ok(Authorization::Declined { reason }) => Transition::Decline { reason },
            // Checkout only accepts tokens shaped right; one the provider still refuses is
            // a declined payment, not an event to retry.
            Err(ProviderError::InvalidToken) => Transition::Decline {
                reason: INVALID_TOKEN.to_owned(),
            },
            Err(err) => return Err(err.into()),
        };
        self.record_authorization(cause, order_id, transition).await
    }

    /// Records the provider's answer with its event; voids an approval the order no longer
    /// wants.
    async fn record_authorization(
        &self,
        cause: &Envelope,
        order_id: OrderId,
        transition: Transition,
    ) -> Result<Outcome, PaymentsError> {
        let recorded = self
            .store
            .transition(order_id, &transition, |payment| match &transition {
                Transition::Decline { reason } => {
                    payment_events::declined(payment, reason).caused_by(cause)
                }
                _ => payment_events::authorized(payment).caused_by(cause),
            })
            .await?;
        match (recorded, transition) {
            (Some(_), Transition::Authorize { .. }) => {
                tracing::info!("payment authorized");
                Ok(Outcome::Authorized)
            }
            (Some(_), _) => {
                tracing::info!("payment declined");
                Ok(Outcome::Declined)
            }
            (None, Transition::Authorize { reference }) => {
                self.void_if_abandoned(order_id, &reference).await?;
                Ok(Outcome::NoChange)
            }
            (None, _) => Ok(Outcome::NoChange),
        }
    }

    /// After an approval that could not be recorded: if the order was closed while the
    /// provider answered, the authorization must not hold the customer's money.
    ///
    /// A crash right before this leaves the authorization to expire at the provider: nothing
    /// ever captures it, as no payment row is AUTHORIZED.
    async fn void_if_abandoned(
        &self,
        order_id: OrderId,
        reference: &str,
    ) -> Result<(), PaymentsError> {
        let payment = self.store.find(order_id).await?;
        if payment.is_some_and(|p| p.status == PaymentStatus::Abandoned) {
            let key = idempotency_key(order_id, "refund");
            self.provider.refund(&key, reference).await?;
            tracing::info!("authorization voided: the order was closed meanwhile");
        }
        Ok(())
    }

    /// `None` when the payment changed before the capture was recorded.
    async fn capture(
        &self,
        cause: &Envelope,
        payment: &Payment,
    ) -> Result<Option<Outcome>, PaymentsError> {
        let reference = reference_of(payment)?;
        let key = idempotency_key(payment.order_id, "capture");
        self.provider.capture(&key, reference).await?;
        let recorded = self
            .store
            .transition(payment.order_id, &Transition::Capture, |payment| {
                payment_events::captured(payment).caused_by(cause)
            })
            .await?;
        Ok(recorded.map(|_| Outcome::Captured))
    }

    /// `None` when the payment changed before the refund was recorded.
    async fn refund(
        &self,
        cause: &Envelope,
        payment: &Payment,
    ) -> Result<Option<Outcome>, PaymentsError> {
        let reference = reference_of(payment)?;
        let key = idempotency_key(payment.order_id, "refund");
        self.provider.refund(&key, reference).await?;
        let recorded = self
            .store
            .transition(payment.order_id, &Transition::Refund, |payment| {
                payment_events::refunded(payment).caused_by(cause)
            })
            .await?;
        Ok(recorded.map(|_| Outcome::Refunded))
    }
}

/// The provider's reference of an authorized payment (the store's constraints keep one).
fn reference_of(payment: &Payment) -> Result<&str, StoreError> {
    payment
        .provider_reference
        .as_deref()
        .ok_or_else(|| StoreError::Corrupt {
            order_id: payment.order_id.to_string(),
            reason: format!("{} without a provider reference", payment.status.as_str()),
        })
}
