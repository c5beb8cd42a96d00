//! The payments subgraph's schema: `Order.payment`, a field of the orders subgraph's entity.
//! The payment shows only once it was decided with the provider, and only to the customer
//! who pays and to admins; its card token and provider reference never show.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{
    Context, EmptyMutation, EmptySubscription, Enum, Object, Schema, SimpleObject, ID,
};
use chrono::{DateTime, Utc};
use emporium_kernel::auth::{AuthUser, Viewer};
use emporium_kernel::graphql::{ContextState, MoneyObject};
use emporium_kernel::ids::OrderId;
use emporium_kernel::ApiError;
use tracing::instrument;

use crate::domain::{Payment, PaymentStatus};
use crate::store::{PaymentStore, StoreError};

pub type PaymentsSchema = Schema<Query, EmptyMutation, EmptySubscription>;

pub fn schema(store: PaymentStore) -> PaymentsSchema {
    builder()
        .data(DataLoader::new(PaymentLoader(store), tokio::spawn))
        .finish()
}

/// Loads the payments of every order a response lists in one query (not one per order). No
/// cache: it only batches the loads of the same moment, and what each viewer may see is
/// decided after loading.
pub struct PaymentLoader(PaymentStore);

impl Loader<OrderId> for PaymentLoader {
    type Value = Payment;
    type Error = Arc<StoreError>;

    async fn load(&self, keys: &[OrderId]) -> Result<HashMap<OrderId, Payment>, Self::Error> {
        Ok(self.0.find_many(keys).await?)
    }
}

/// The subgraph's federation SDL, as the supergraph composition needs it.
pub fn sdl() -> String {
    emporium_kernel::graphql::federation_sdl(&builder().finish())
}

fn builder() -> async_graphql::SchemaBuilder<Query, EmptyMutation, EmptySubscription> {
    emporium_kernel::graphql::subgraph_schema(Query, EmptyMutation, EmptySubscription)
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        ApiError::internal(&err)
    }
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "PaymentStatus")]
pub enum PaymentStatusObject {
    Authorized,
    Captured,
    Declined,
    Refunded,
}

impl PaymentStatusObject {
    /// `None` for the statuses clients never see (nothing was decided with the provider).
    fn of(status: PaymentStatus) -> Option<Self> {
        match status {
            PaymentStatus::Authorized => Some(Self::Authorized),
            PaymentStatus::Captured => Some(Self::Captured),
            PaymentStatus::Declined => Some(Self::Declined),
            PaymentStatus::Refunded => Some(Self::Refunded),
            PaymentStatus::Awaiting | PaymentStatus::Abandoned => None,
        }
    }
}

#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
#[graphql(name = "Payment")]
pub struct PaymentObject {
    pub id: ID,
    pub status: PaymentStatusObject,
    pub amount: MoneyObject,
    /// Why the payment was declined, as a code such as `CARD_DECLINED`.
    pub failure_reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl PaymentObject {
    /// What `viewer` may see of `payment`: all of it if it was decided and it is theirs (or
    /// they are an admin), else nothing.
    fn visible(payment: Payment, viewer: &AuthUser) -> Option<Self> {
        if !payment.is_visible_to(viewer) {
            return None;
        }
        Some(Self {
            id: ID(payment.id.to_string()),
            status: PaymentStatusObject::of(payment.status)?,
            amount: payment.amount?.into(),
            failure_reason: payment.failure_reason,
            created_at: payment.created_at,
        })
    }
}

// The orders subgraph's `Order`, seen from payments: its id and its payment. (No doc comment:
// it would become the supergraph's description of `Order`.)
pub struct Order {
    id: ID,
}

#[Object(name = "Order")]
impl Order {
    async fn id(&self) -> &ID {
        &self.id
    }

    /// Null until payment was decided, and for anyone but the order's customer and admins.
    #[instrument(skip_all, fields(order_id = %self.id.as_str()))]
    async fn payment(&self, ctx: &Context<'_>) -> Result<Option<PaymentObject>, ApiError> {
        let Some(viewer) = ctx.state::<Viewer>()?.user()? else {
            return Ok(None);
        };
        // An id that is not an order's has no payment.
        let Ok(order_id) = self.id.parse::<OrderId>() else {
            return Ok(None);
        };
        let payment = ctx
            .state::<DataLoader<PaymentLoader>>()?
            .load_one(order_id)
            .await
            .map_err(|err| ApiError::internal(&*err))?;
        Ok(payment.and_then(|payment| PaymentObject::visible(payment, &viewer)))
    }
}

pub struct Query;

#[Object]
impl Query {
    /// Federation entity resolver: the router asks for the payment of orders by id.
    #[graphql(entity)]
    async fn find_order_by_id(&self, id: ID) -> Order {
        Order { id }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_sdl_adds_only_payment_to_the_orders_entity() {
        let sdl = super::sdl();
        let order = sdl
            .split("type Order ")
            .nth(1)
            .and_then(|rest| rest.split('}').next())
            .expect("an Order type");
        assert!(order.contains("@key(fields: \"id\")"), "{order}");
        let fields: Vec<&str> = order
            .lines()
            .skip(1)
            .map(str::trim)
            .filter(|line| {
                line.split_once(':').is_some_and(|(name, _)| {
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric())
                })
            })
            .collect();
        assert_eq!(fields, ["id: ID!", "payment: Payment"], "{sdl}");
        for hidden in ["token", "reference", "AWAITING", "ABANDONED", "userId"] {
            assert!(!sdl.contains(hidden), "{hidden} in {sdl}");
        }
        assert!(sdl.contains("enum PaymentStatus"), "{sdl}");
    }
}
