//! The orders subgraph's schema. So far: the cart.

use async_graphql::{Context, EmptySubscription, Object, Schema, SimpleObject, ID};
use emporium_kernel::auth::Viewer;
use emporium_kernel::graphql::{MoneyObject, UserError};
use emporium_kernel::money::{Currency, Money};
use emporium_kernel::ApiError;
use tracing::instrument;

use crate::lines::{self, Line, LinesError, MAX_QUANTITY};
use crate::store::{CartChange, OrderStore, StoreError};

pub type OrdersSchema = Schema<Query, Mutation, EmptySubscription>;

pub fn schema(store: OrderStore) -> OrdersSchema {
    emporium_kernel::graphql::subgraph_schema(Query, Mutation, EmptySubscription)
        .data(store)
        .finish()
}

/// The subgraph's federation SDL, as the supergraph composition needs it.
pub fn sdl() -> String {
    emporium_kernel::graphql::federation_sdl(
        &emporium_kernel::graphql::subgraph_schema(Query, Mutation, EmptySubscription).finish(),
    )
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        ApiError::internal(&err)
    }
}

impl From<LinesError> for ApiError {
    fn from(err: LinesError) -> Self {
        ApiError::internal(&err)
    }
}

// A reference to the catalog's product, completed by the products subgraph. (No doc
// comment: it would become the supergraph's description of `Product`.)
#[derive(SimpleObject, Clone)]
#[graphql(name = "Product", unresolvable = "id")]
pub struct ProductRef {
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct CartItem {
    pub product: ProductRef,
    pub quantity: i32,
    /// At the catalog's current price.
    pub line_total: MoneyObject,
}

#[derive(SimpleObject)]
pub struct Cart {
    pub items: Vec<CartItem>,
    pub subtotal: MoneyObject,
}

#[derive(SimpleObject)]
pub struct CartPayload {
    pub cart: Option<Cart>,
    pub user_errors: Vec<UserError>,
}

fn cart_of(lines: Vec<Line>) -> Result<Cart, ApiError> {
    let subtotal = if lines.is_empty() {
        Money::from_minor(0, Currency::USD).map_err(|e| ApiError::internal(&e))?
    } else {
        lines::total(&lines)?
    };
    let items = lines
        .into_iter()
        .map(|line| {
            Ok(CartItem {
                line_total: line.total()?.into(),
                product: ProductRef {
                    id: ID(line.product_id),
                },
                quantity: line.quantity,
            })
        })
        .collect::<Result<_, LinesError>>()?;
    Ok(Cart {
        items,
        subtotal: subtotal.into(),
    })
}

async fn current_cart(ctx: &Context<'_>) -> async_graphql::Result<Cart> {
    let user = ctx.data::<Viewer>()?.require_user()?;
    let store = ctx.data::<OrderStore>()?;
    Ok(cart_of(store.cart(user.id).await.map_err(ApiError::from)?)?)
}

fn failed(error: UserError) -> CartPayload {
    CartPayload {
        cart: None,
        user_errors: vec![error],
    }
}

fn bad_quantity(max_message: bool) -> UserError {
    let message = if max_message {
        format!("a cart line holds at most {MAX_QUANTITY} units")
    } else {
        format!("the quantity must be between 1 and {MAX_QUANTITY}")
    };
    UserError::new("INVALID_INPUT", message).on_field(&["quantity"])
}

fn unknown_product() -> UserError {
    UserError::new("NOT_FOUND", "no product in the catalog has this id").on_field(&["productId"])
}

pub struct Query;

#[Object]
impl Query {
    /// The signed-in customer's cart, priced from the catalog.
    async fn cart(&self, ctx: &Context<'_>) -> async_graphql::Result<Cart> {
        current_cart(ctx).await
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Adds units of a product to the signed-in customer's cart.
    #[instrument(skip_all)]
    async fn add_to_cart(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        quantity: i32,
    ) -> async_graphql::Result<CartPayload> {
        let user = ctx.data::<Viewer>()?.require_user()?;
        if lines::quantity(quantity).is_err() {
            return Ok(failed(bad_quantity(false)));
        }
        let store = ctx.data::<OrderStore>()?;
        match store
            .add(user.id, product_id.trim(), quantity)
            .await
            .map_err(ApiError::from)?
        {
            CartChange::Done => {}
            CartChange::UnknownProduct | CartChange::NotInCart => {
                return Ok(failed(unknown_product()))
            }
            CartChange::TooMany => return Ok(failed(bad_quantity(true))),
        }
        Ok(CartPayload {
            cart: Some(current_cart(ctx).await?),
            user_errors: vec![],
        })
    }

    /// Sets a cart line's quantity; 0 removes the line.
    #[instrument(skip_all)]
    async fn update_cart_item(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        quantity: i32,
    ) -> async_graphql::Result<CartPayload> {
        let user = ctx.data::<Viewer>()?.require_user()?;
        if quantity != 0 && lines::quantity(quantity).is_err() {
            return Ok(failed(bad_quantity(false)));
        }
        let store = ctx.data::<OrderStore>()?;
        match store
            .set(user.id, product_id.trim(), quantity)
            .await
            .map_err(ApiError::from)?
        {
            CartChange::Done => {}
            _ => {
                return Ok(failed(
                    UserError::new("NOT_FOUND", "this product is not in the cart")
                        .on_field(&["productId"]),
                ))
            }
        }
        Ok(CartPayload {
            cart: Some(current_cart(ctx).await?),
            user_errors: vec![],
        })
    }

    /// Empties the signed-in customer's cart.
    async fn clear_cart(&self, ctx: &Context<'_>) -> async_graphql::Result<CartPayload> {
        let user = ctx.data::<Viewer>()?.require_user()?;
        ctx.data::<OrderStore>()?
            .clear(user.id)
            .await
            .map_err(ApiError::from)?;
        Ok(CartPayload {
            cart: Some(current_cart(ctx).await?),
            user_errors: vec![],
        })
    }
}
