//! Mutations: cart changes, checkout, and the transitions an order's customer or an admin
//! may ask for.

use async_graphql::{Context, MergedObject, Object, ID};
use emporium_kernel::auth::{AuthUser, Viewer};
use emporium_kernel::graphql::{ContextState, UserError};
use emporium_kernel::ids::{ProductId, VariantId};
use emporium_kernel::trace::TraceContext;
use emporium_kernel::ApiError;
use tracing::instrument;

use super::error::{
    bad_quantity, invalid_checkout, order_not_found, unknown_product, unknown_target,
    variant_required,
};
use super::pricing::{self, PricingMutation};
use super::query::{current_cart, order_id};
use super::types::{CartPayload, CheckoutInput, CheckoutPayload, Order, OrderPayload};
use super::TokenCheck;
use crate::checkout::CheckoutRequest;
use crate::lines;
use crate::orders::{Cause, CheckoutOutcome, Orders, TransitionOutcome};
use crate::status::{Actor, Command, TransitionError};
use crate::store::{CartChange, LineTarget, OrderStore};

fn failed(error: UserError) -> CartPayload {
    CartPayload {
        cart: None,
        user_errors: vec![error],
    }
}

/// The signed-in customer's cart as a change left it.
async fn changed_cart(ctx: &Context<'_>) -> Result<CartPayload, ApiError> {
    Ok(CartPayload {
        cart: Some(current_cart(ctx).await?),
        user_errors: vec![],
    })
}

fn actor(viewer: AuthUser) -> Actor {
    if viewer.is_admin() {
        Actor::Admin
    } else {
        Actor::Customer(viewer.id.into())
    }
}

async fn move_order(
    ctx: &Context<'_>,
    id: &ID,
    command: Command,
    viewer: AuthUser,
) -> Result<OrderPayload, ApiError> {
    let Some(order_id) = order_id(id) else {
        return Ok(OrderPayload::failed(order_not_found()));
    };
    let orders = ctx.state::<Orders>()?;
    let trace = ctx.state::<TraceContext>()?;
    let outcome = orders
        .transition(order_id, command, actor(viewer), Cause::Request(trace))
        .await?;
    Ok(match outcome {
        TransitionOutcome::Done(order) => OrderPayload {
            order: Some(Order(*order)),
            user_errors: vec![],
        },
        TransitionOutcome::NotFound | TransitionOutcome::AlreadyHandled => {
            OrderPayload::failed(order_not_found())
        }
        TransitionOutcome::Refused(TransitionError::Forbidden { .. }) => {
            return Err(ApiError::forbidden())
        }
        TransitionOutcome::Refused(refused @ TransitionError::Illegal { .. }) => {
            OrderPayload::failed(UserError::new("ILLEGAL_TRANSITION", refused.to_string()))
        }
    })
}

/// The line `addToCart` or `updateCartItem` names: exactly one of the two ids, else
/// INVALID_INPUT. `Ok(None)`: an id that cannot be any product's or variant's.
fn line_target(
    product_id: Option<ID>,
    variant_id: Option<ID>,
) -> Result<Option<LineTarget>, UserError> {
    Ok(match (product_id, variant_id) {
        (Some(id), None) => ProductId::parse(id.trim()).ok().map(LineTarget::Product),
        (None, Some(id)) => VariantId::parse(id.trim()).ok().map(LineTarget::Variant),
        _ => {
            return Err(UserError::new(
                "INVALID_INPUT",
                "give exactly one of productId and variantId",
            )
            .on_field(&["productId"]))
        }
    })
}

fn target_field(target: &LineTarget) -> &'static str {
    match target {
        LineTarget::Product(_) => "productId",
        LineTarget::Variant(_) => "variantId",
    }
}

/// Cart changes, checkout and transitions; with [`PricingMutation`] the subgraph's `Mutation`.
#[derive(Default)]
pub struct CartMutation;

#[derive(MergedObject, Default)]
pub struct Mutation(CartMutation, PricingMutation);

#[Object]
impl CartMutation {
    /// Adds units of a product to the signed-in customer's cart: exactly one of `productId`
    /// (a product with a single variant) and `variantId` (one variant of a product with
    /// options; a product without options is its own variant, under its own id).
    #[instrument(skip_all)]
    async fn add_to_cart(
        &self,
        ctx: &Context<'_>,
        product_id: Option<ID>,
        variant_id: Option<ID>,
        quantity: i32,
    ) -> Result<CartPayload, ApiError> {
        let user = ctx.state::<Viewer>()?.require_user()?;
        let target = match line_target(product_id, variant_id) {
            Ok(target) => target,
            Err(error) => return Ok(failed(error)),
        };
        let Ok(quantity) = lines::quantity(quantity) else {
            return Ok(failed(bad_quantity(false)));
        };
        // An id that cannot be a product's is one the catalog does not sell.
        let Some(target) = target else {
            return Ok(failed(unknown_product()));
        };
        let store = ctx.state::<OrderStore>()?;
        match store.add(user.id.into(), &target, quantity).await? {
            CartChange::Done => {}
            CartChange::UnknownProduct | CartChange::NotInCart => {
                return Ok(failed(unknown_target(&target)))
            }
            CartChange::VariantRequired => return Ok(failed(variant_required())),
            CartChange::TooMany => return Ok(failed(bad_quantity(true))),
        }
        changed_cart(ctx).await
    }

    /// Sets a cart line's quantity; 0 removes the line. The line is named as `addToCart`
    /// names it: exactly one of `productId` and `variantId`.
    #[instrument(skip_all)]
    async fn update_cart_item(
        &self,
        ctx: &Context<'_>,
        product_id: Option<ID>,
        variant_id: Option<ID>,
        quantity: i32,
    ) -> Result<CartPayload, ApiError> {
        let user = ctx.state::<Viewer>()?.require_user()?;
        let target = match line_target(product_id, variant_id) {
            Ok(target) => target,
            Err(error) => return Ok(failed(error)),
        };
        let quantity = match quantity {
            0 => None,
            n => match lines::quantity(n) {
                Ok(quantity) => Some(quantity),
                Err(_) => return Ok(failed(bad_quantity(false))),
            },
        };
        let not_in_cart = |field: &str| {
            failed(
                UserError::new("NOT_FOUND", "this product is not in the cart").on_field(&[field]),
            )
        };
        let Some(target) = target else {
            return Ok(not_in_cart("productId"));
        };
        let store = ctx.state::<OrderStore>()?;
        match store.set(user.id.into(), &target, quantity).await? {
            CartChange::Done => {}
            CartChange::VariantRequired => return Ok(failed(variant_required())),
            _ => return Ok(not_in_cart(target_field(&target))),
        }
        changed_cart(ctx).await
    }

    /// Empties the signed-in customer's cart.
    async fn clear_cart(&self, ctx: &Context<'_>) -> Result<CartPayload, ApiError> {
        let user = ctx.state::<Viewer>()?.require_user()?;
        ctx.state::<OrderStore>()?.clear(user.id.into()).await?;
        changed_cart(ctx).await
    }

    /// Places a PENDING order from the cart and empties the cart. The same idempotency key
    /// answers with the same order, however often it is sent.
    #[instrument(skip_all)]
    async fn checkout(
        &self,
        ctx: &Context<'_>,
        input: CheckoutInput,
    ) -> Result<CheckoutPayload, ApiError> {
        let user = ctx.state::<Viewer>()?.require_user()?;
        let is_token = ctx.state::<TokenCheck>()?;
        let Some(address) = pricing::checkout_address(ctx, input.shipping_address).await? else {
            return Ok(CheckoutPayload {
                order: None,
                user_errors: vec![UserError::new(
                    "INVALID_INPUT",
                    "a shipping address is required: give one here or set the cart's first",
                )
                .on_field(&["input", "shippingAddress"])],
            });
        };
        let request = match CheckoutRequest::parse(
            address,
            &input.payment_token,
            &input.idempotency_key,
            is_token,
        ) {
            Ok(request) => request,
            Err(problems) => {
                return Ok(CheckoutPayload {
                    order: None,
                    user_errors: invalid_checkout(problems),
                })
            }
        };
        let orders = ctx.state::<Orders>()?;
        let trace = ctx.state::<TraceContext>()?;
        let outcome = orders.checkout(user.id.into(), &request, trace).await?;
        let failed = |error: UserError| CheckoutPayload {
            order: None,
            user_errors: vec![error],
        };
        Ok(match outcome {
            CheckoutOutcome::Placed(order) | CheckoutOutcome::Replayed(order) => CheckoutPayload {
                order: Some(Order(order)),
                user_errors: vec![],
            },
            CheckoutOutcome::EmptyCart => failed(UserError::new(
                "CART_EMPTY",
                "the cart is empty: add products before checking out",
            )),
            CheckoutOutcome::ShippingMethodRequired => failed(UserError::new(
                "SHIPPING_METHOD_REQUIRED",
                "choose a shipping method for this address (setCartShippingMethod)",
            )),
            CheckoutOutcome::DiscountRefused { code, refusal } => failed(
                UserError::new(refusal.code(), format!("{code}: {refusal}"))
                    .on_field(&["input"]),
            ),
            CheckoutOutcome::KeyReused => failed(
                UserError::new(
                    "IDEMPOTENCY_KEY_REUSED",
                    "this idempotency key was used for a checkout with a different address or payment token",
                )
                .on_field(&["input", "idempotencyKey"]),
            ),
        })
    }

    /// Cancels an order before it ships: its customer, or an ADMIN. Stock is released and
    /// the payment refunded.
    #[instrument(skip_all)]
    async fn cancel_order(&self, ctx: &Context<'_>, id: ID) -> Result<OrderPayload, ApiError> {
        let viewer = ctx.state::<Viewer>()?.require_user()?;
        move_order(ctx, &id, Command::Cancel, viewer).await
    }

    /// ADMIN: CONFIRMED → SHIPPED (the payment is captured).
    #[instrument(skip_all)]
    async fn ship_order(&self, ctx: &Context<'_>, id: ID) -> Result<OrderPayload, ApiError> {
        let viewer = ctx.state::<Viewer>()?.require_admin()?;
        move_order(ctx, &id, Command::Ship, viewer).await
    }

    /// ADMIN: SHIPPED → DELIVERED.
    #[instrument(skip_all)]
    async fn deliver_order(&self, ctx: &Context<'_>, id: ID) -> Result<OrderPayload, ApiError> {
        let viewer = ctx.state::<Viewer>()?.require_admin()?;
        move_order(ctx, &id, Command::Deliver, viewer).await
    }
}
