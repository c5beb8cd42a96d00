//! Subscriptions: an order's status, live.

use async_graphql::{Context, Subscription, ID};
use emporium_kernel::auth::Viewer;
use emporium_kernel::graphql::ContextState;
use emporium_kernel::ApiError;
use futures::{Stream, StreamExt};

use super::query::{order_id, scope};
use super::types::OrderStatusChange;
use crate::live::LiveFeed;
use crate::orders::Orders;

pub struct Subscription;

#[Subscription]
impl Subscription {
    /// The order's status now, then every transition after it, live (its customer or an
    /// ADMIN; another customer's order is NOT_FOUND).
    async fn order_status_changed(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
    ) -> Result<impl Stream<Item = OrderStatusChange>, ApiError> {
        let viewer = ctx.state::<Viewer>()?.require_user()?;
        let id = self::order_id(&order_id).ok_or_else(|| ApiError::not_found("order"))?;
        let orders = ctx.state::<Orders>()?;
        // Listen before reading the current status, so no change falls between the two.
        let follower = ctx.state::<LiveFeed>()?.follow(id, orders.clone());
        let order = orders
            .visible_order(id, scope(viewer))
            .await?
            .ok_or_else(|| ApiError::not_found("order"))?;
        let history = orders.history(order.id).await?;
        let current = history.last().cloned();
        let follower = follower.start_after(current.as_ref());
        let live = futures::stream::unfold(follower, |mut follower| async move {
            let entry = follower.next().await?;
            Some((OrderStatusChange::from(entry), follower))
        });
        Ok(futures::stream::iter(current.map(OrderStatusChange::from)).chain(live))
    }
}
