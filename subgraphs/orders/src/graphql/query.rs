//! Queries: the cart, an order, a page of orders, and the federation entity resolvers.

use async_graphql::{Context, Object, ID};
use emporium_kernel::auth::{AuthUser, Viewer};
use emporium_kernel::graphql::ContextState;
use emporium_kernel::ids::{OrderId, UserId};
use emporium_kernel::ApiError;

use super::pricing::{self, DiscountCodeConnection, ShippingMethodObject};
use super::types::{Cart, Order, OrderConnection, OrderStatusEnum, User};
use crate::orders::{OrderFilter, Orders};

pub(super) async fn current_cart(ctx: &Context<'_>) -> Result<Cart, ApiError> {
    pricing::priced_cart(ctx).await
}

/// An order id from the client; anything that is not one of ours is simply not found.
pub(super) fn order_id(id: &ID) -> Option<OrderId> {
    id.trim().parse().ok()
}

/// The customer whose orders `viewer` is limited to (`None` for an admin).
pub(super) fn scope(viewer: AuthUser) -> Option<UserId> {
    (!viewer.is_admin()).then_some(viewer.id.into())
}

pub struct Query;

#[Object]
impl Query {
    /// The signed-in customer's cart, priced from the catalog.
    async fn cart(&self, ctx: &Context<'_>) -> Result<Cart, ApiError> {
        current_cart(ctx).await
    }

    /// ADMIN: every configured shipping method, at its configured price.
    async fn shipping_methods(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<ShippingMethodObject>, ApiError> {
        pricing::shipping_methods(ctx).await
    }

    /// ADMIN: the discount codes, alphabetically.
    async fn discount_codes(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<DiscountCodeConnection, ApiError> {
        pricing::discount_codes(ctx, first, after).await
    }

    /// An order: its customer's or, for an ADMIN, anyone's. Another customer's order is
    /// NOT_FOUND, exactly like an order that does not exist.
    async fn order(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Order>, ApiError> {
        let viewer = ctx.state::<Viewer>()?.require_user()?;
        let Some(order_id) = order_id(&id) else {
            return Err(ApiError::not_found("order"));
        };
        let order = ctx
            .state::<Orders>()?
            .visible_order(order_id, scope(viewer))
            .await?
            .ok_or_else(|| ApiError::not_found("order"))?;
        Ok(Some(Order(order)))
    }

    /// The signed-in customer's orders, newest first; an ADMIN sees everyone's.
    async fn orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<OrderStatusEnum>,
    ) -> Result<OrderConnection, ApiError> {
        let viewer = ctx.state::<Viewer>()?.require_user()?;
        let filter = OrderFilter {
            user: scope(viewer),
            status: status.map(Into::into),
        };
        OrderConnection::page(ctx, filter, first, after.as_deref()).await
    }

    /// Federation entity resolver: users' orders.
    #[graphql(entity)]
    async fn find_user_by_id(&self, id: ID) -> Result<User, ApiError> {
        let id = id.parse().map_err(|_| ApiError::not_found("user"))?;
        Ok(User { id })
    }

    /// Federation entity resolver: orders by id, for their customer or an ADMIN.
    #[graphql(entity)]
    async fn find_order_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Order>, ApiError> {
        let viewer = ctx.state::<Viewer>()?.require_user()?;
        let Some(order_id) = order_id(&id) else {
            return Ok(None);
        };
        Ok(ctx
            .state::<Orders>()?
            .visible_order(order_id, scope(viewer))
            .await?
            .map(Order))
    }
}
