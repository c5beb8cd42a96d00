//! The pricing reads: the shop's shipping methods and a page of its discount codes (ADMIN),
//! the signed-in customer's cart priced now, and the address a checkout ships to.
//!
//! Each checks who asks first (`FORBIDDEN` or `UNAUTHENTICATED` otherwise); a store failure
//! is an `INTERNAL` [`ApiError`], never a partial answer.

use async_graphql::Context;
use chrono::Utc;
use emporium_kernel::auth::Viewer;
use emporium_kernel::graphql::{encode_cursor, ContextState, PageInfo};
use emporium_kernel::ApiError;

use super::objects::{
    DiscountCodeConnection, DiscountCodeEdge, DiscountCodeObject, ShippingMethodObject,
};
use crate::checkout;
use crate::graphql::types::{AddressInput, Cart};
use crate::orders::Orders;
use crate::store::OrderStore;

pub(in crate::graphql) async fn shipping_methods(
    ctx: &Context<'_>,
) -> Result<Vec<ShippingMethodObject>, ApiError> {
    ctx.state::<Viewer>()?.require_admin()?;
    ctx.state::<OrderStore>()?
        .shipping_methods()
        .await?
        .iter()
        .map(ShippingMethodObject::configured)
        .collect()
}

pub(in crate::graphql) async fn discount_codes(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
) -> Result<DiscountCodeConnection, ApiError> {
    ctx.state::<Viewer>()?.require_admin()?;
    let page = emporium_kernel::graphql::PageRequest::parse(first, after.as_deref())?;
    let (codes, has_next_page, total_count) = ctx
        .state::<OrderStore>()?
        .discount_codes(page.after.as_deref(), page.size)
        .await?;
    let nodes = codes
        .iter()
        .map(DiscountCodeObject::of)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(DiscountCodeConnection {
        edges: nodes
            .iter()
            .map(|node| DiscountCodeEdge {
                cursor: encode_cursor(&node.code),
                node: node.clone(),
            })
            .collect(),
        page_info: PageInfo {
            has_next_page,
            end_cursor: nodes.last().map(|node| encode_cursor(&node.code)),
        },
        nodes,
        total_count: i32::try_from(total_count).unwrap_or(i32::MAX),
    })
}

/// The signed-in customer's cart with every amount, priced now.
pub(in crate::graphql) async fn priced_cart(ctx: &Context<'_>) -> Result<Cart, ApiError> {
    let user = ctx.state::<Viewer>()?.require_user()?;
    let (state, rate) = ctx
        .state::<OrderStore>()?
        .cart_state(user.id.into())
        .await?;
    let include = ctx.state::<Orders>()?.prices_include_tax();
    let country = state.shipping_address.as_ref().map(|a| a.country.as_str());
    let priced = state.price(country, rate.as_ref(), include, Utc::now())?;
    Cart::of(&state, &priced)
}

/// The address a checkout ships to: the one it names, else the cart's.
pub(in crate::graphql) async fn checkout_address(
    ctx: &Context<'_>,
    given: Option<AddressInput>,
) -> Result<Option<checkout::Address>, ApiError> {
    if let Some(address) = given {
        return Ok(Some(address.into_address()));
    }
    let user = ctx.state::<Viewer>()?.require_user()?;
    let (state, _) = ctx
        .state::<OrderStore>()?
        .cart_state(user.id.into())
        .await?;
    Ok(state.shipping_address)
}
