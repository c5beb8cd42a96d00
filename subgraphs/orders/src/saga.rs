//! The saga's replies to orders (`orders.saga`): inventory's rejection, and payments'
//! authorization or decline, each moving a PENDING order on. Handled at most once per
//! event (the batched inbox, in the transition's transaction); a reply that comes too late (the
//! order was cancelled or timed out meanwhile) changes nothing.

use emporium_kernel::events::consumer::{Handler, HandlerError};
use emporium_kernel::events::contract::inventory::InventoryRejected;
use emporium_kernel::events::contract::payments::{PaymentAuthorized, PaymentDeclined};
use emporium_kernel::events::{Envelope, Event};
use emporium_kernel::ids::OrderId;

use crate::orders::{Cause, Orders, OrdersError, TransitionOutcome};
use crate::status::{Actor, Command, Reason};
use crate::store::StoreError;

pub const SAGA_QUEUE: &str = "orders.saga";
pub const SAGA_BINDINGS: [&str; 3] = [
    InventoryRejected::TYPE,
    PaymentAuthorized::TYPE,
    PaymentDeclined::TYPE,
];

impl From<OrdersError> for HandlerError {
    fn from(err: OrdersError) -> Self {
        match err {
            OrdersError::Database(_) | OrdersError::Store(StoreError::Database(_)) => {
                HandlerError::retryable(err)
            }
            OrdersError::Corrupt(_)
            | OrdersError::Lines(_)
            | OrdersError::Seal(_)
            | OrdersError::Store(StoreError::Corrupt(_)) => HandlerError::permanent(err),
            OrdersError::Inbox(err) => err.into(),
        }
    }
}

pub struct SagaHandler {
    orders: Orders,
}

impl SagaHandler {
    pub fn new(orders: Orders) -> Self {
        Self { orders }
    }
}

impl Handler for SagaHandler {
    async fn handle(&self, envelope: &Envelope) -> Result<(), HandlerError> {
        let (command, order_id) = match envelope.event_type.as_str() {
            InventoryRejected::TYPE => {
                let event: InventoryRejected = envelope.decode()?;
                (Command::Reject(Reason::OutOfStock), event.order_id)
            }
            PaymentAuthorized::TYPE => {
                let event: PaymentAuthorized = envelope.decode()?;
                (Command::Confirm, event.0.order_id)
            }
            PaymentDeclined::TYPE => {
                let event: PaymentDeclined = envelope.decode()?;
                (Command::Reject(Reason::PaymentDeclined), event.order_id)
            }
            other => {
                return Err(HandlerError::permanent(format!(
                    "{SAGA_QUEUE} does not handle {other}"
                )))
            }
        };
        let order_id: OrderId = order_id
            .parse()
            .map_err(|_| HandlerError::permanent(format!("bad order id {order_id:?}")))?;
        let outcome = self
            .orders
            .transition(
                order_id,
                command,
                Actor::System,
                Cause::Event {
                    queue: SAGA_QUEUE,
                    envelope,
                },
            )
            .await?;
        match outcome {
            TransitionOutcome::Done(_) | TransitionOutcome::AlreadyHandled => {}
            TransitionOutcome::NotFound => {
                tracing::warn!(%order_id, event_type = %envelope.event_type, "saga reply for an unknown order ignored");
            }
            TransitionOutcome::Refused(refused) => {
                tracing::info!(%order_id, event_type = %envelope.event_type, %refused, "late saga reply changes nothing");
            }
        }
        Ok(())
    }
}
