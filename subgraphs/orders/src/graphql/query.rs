//! Queries: the cart, an order, a page of orders, and the federation entity resolvers.

use async_graphql::{Context, Object, ID};
use emporium_kernel::auth::{AuthUser, Viewer};
use emporium_kernel::graphql::PageRequest;
use emporium_kernel::ApiError;
use uuid::Uuid;

use super::types::{cart_of, Cart, Order, OrderConnection, OrderStatusEnum, User};
use crate::orders::{OrderFilter, Orders};
use crate::store::OrderStore;

pub(super) async fn current_cart(ctx: &Context<'_>) -> async_graphql::Result<Cart> {
    let user = ctx.data::<Viewer>()?.require_user()?;
    let store = ctx.data::<OrderStore>()?;
    Ok(cart_of(store.cart(user.id).await.map_err(ApiError::from)?)?)
}

pub(super) async fn order_page(
    ctx: &Context<'_>,
    filter: OrderFilter,
    first: Option<i32>,
    after: Option<&str>,
) -> async_graphql::Result<OrderConnection> {
    let page = PageRequest::parse(first, after)?;
    let (orders, has_next_page, total_count) = ctx
        .data::<Orders>()?
        .list(filter, page.after_as::<Uuid>()?, page.size)
        .await
        .map_err(ApiError::from)?;
    Ok(OrderConnection {
        orders,
        has_next_page,
        total_count,
    })
}

/// An order id from the client; anything that is not one of ours is simply not found.
pub(super) fn order_id(id: &ID) -> Option<Uuid> {
    Uuid::parse_str(id.trim()).ok()
}

/// The customer whose orders `viewer` is limited to (`None` for an admin).
pub(super) fn scope(viewer: AuthUser) -> Option<Uuid> {
    (!viewer.is_admin()).then_some(viewer.id)
}

pub struct Query;

#[Object]
impl Query {
    /// The signed-in customer's cart, priced from the catalog.
    async fn cart(&self, ctx: &Context<'_>) -> async_graphql::Result<Cart> {
        current_cart(ctx).await
    }

    /// An order: its customer's or, for an ADMIN, anyone's. Another customer's order is
    /// NOT_FOUND, exactly like an order that does not exist.
    async fn order(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Order>> {
        let viewer = ctx.data::<Viewer>()?.require_user()?;
        let Some(order_id) = order_id(&id) else {
            return Err(ApiError::not_found("order").into());
        };
        let order = ctx
            .data::<Orders>()?
            .visible_order(order_id, scope(viewer))
            .await
            .map_err(ApiError::from)?
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
    ) -> async_graphql::Result<OrderConnection> {
        let viewer = ctx.data::<Viewer>()?.require_user()?;
        let filter = OrderFilter {
            user: scope(viewer),
            status: status.map(Into::into),
        };
        order_page(ctx, filter, first, after.as_deref()).await
    }

    /// Federation entity resolver: users' orders.
    #[graphql(entity)]
    async fn find_user_by_id(&self, id: ID) -> async_graphql::Result<User> {
        let id = Uuid::parse_str(&id).map_err(|_| ApiError::not_found("user"))?;
        Ok(User { id })
    }

    /// Federation entity resolver: orders by id, for their customer or an ADMIN.
    #[graphql(entity)]
    async fn find_order_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<Order>> {
        let viewer = ctx.data::<Viewer>()?.require_user()?;
        let Some(order_id) = order_id(&id) else {
            return Ok(None);
        };
        Ok(ctx
            .data::<Orders>()?
            .visible_order(order_id, scope(viewer))
            .await
            .map_err(ApiError::from)?
            .map(Order))
    }
}
