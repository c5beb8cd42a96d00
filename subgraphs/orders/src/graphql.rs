//! The orders subgraph's schema: the cart, checkout, orders and their transitions, `User.orders`,
//! and the live `orderStatusChanged` subscription.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, Enum, InputObject, Object, Schema, SimpleObject, Subscription, ID};
use chrono::{DateTime, Utc};
use emporium_kernel::auth::{AuthUser, Viewer};
use emporium_kernel::graphql::{encode_cursor, MoneyObject, PageInfo, PageRequest, UserError};
use emporium_kernel::money::{Currency, Money};
use emporium_kernel::trace::TraceContext;
use emporium_kernel::ApiError;
use futures::{Stream, StreamExt};
use tracing::instrument;
use uuid::Uuid;

use crate::checkout::{self, CheckoutRequest};
use crate::lines::{self, Line, LinesError, MAX_QUANTITY};
use crate::live::LiveFeed;
use crate::orders::{
    Cause, CheckoutOutcome, HistoryEntry, Order as StoredOrder, OrderFilter, Orders, OrdersError,
    TransitionOutcome,
};
use crate::status::{self as machine, Actor, Command, TransitionError};
use crate::store::{CartChange, OrderStore, StoreError};

pub type OrdersSchema = Schema<Query, Mutation, Subscription>;

/// Whether a token is one the payment provider could accept (checked at checkout).
pub type TokenCheck = fn(&str) -> bool;

pub fn schema(
    store: OrderStore,
    orders: Orders,
    live: LiveFeed,
    is_token: TokenCheck,
) -> OrdersSchema {
    let orders_for_loaders = orders.clone();
    emporium_kernel::graphql::subgraph_schema(Query, Mutation, Subscription)
        .data(store)
        .data(orders)
        .data(live)
        .data(is_token)
        .data(DataLoader::new(
            ItemsLoader(orders_for_loaders.clone()),
            tokio::spawn,
        ))
        .data(DataLoader::new(
            HistoryLoader(orders_for_loaders),
            tokio::spawn,
        ))
        .finish()
}

/// Loads the lines of every order a response lists in one query (not one per order). No
/// cache: it only batches the loads of the same moment, so sharing it between requests
/// shares no data (each order was authorized before its fields resolve).
pub struct ItemsLoader(Orders);

impl Loader<(Uuid, Currency)> for ItemsLoader {
    type Value = Vec<Line>;
    type Error = Arc<OrdersError>;

    async fn load(
        &self,
        keys: &[(Uuid, Currency)],
    ) -> Result<HashMap<(Uuid, Currency), Vec<Line>>, Self::Error> {
        let mut lines = self.0.items_of(keys).await?;
        Ok(keys
            .iter()
            .filter_map(|key| Some((*key, lines.remove(&key.0)?)))
            .collect())
    }
}

/// Loads the history of every order a response lists in one query.
pub struct HistoryLoader(Orders);

impl Loader<Uuid> for HistoryLoader {
    type Value = Vec<HistoryEntry>;
    type Error = Arc<OrdersError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<HistoryEntry>>, Self::Error> {
        Ok(self.0.histories(keys).await?)
    }
}

/// The subgraph's federation SDL, as the supergraph composition needs it.
pub fn sdl() -> String {
    emporium_kernel::graphql::federation_sdl(
        &emporium_kernel::graphql::subgraph_schema(Query, Mutation, Subscription).finish(),
    )
}

impl From<OrdersError> for ApiError {
    fn from(err: OrdersError) -> Self {
        ApiError::internal(&err)
    }
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

// ---------------------------------------------------------------------------------- orders

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "OrderStatus", remote = "machine::OrderStatus")]
pub enum OrderStatusEnum {
    Pending,
    Confirmed,
    Shipped,
    Delivered,
    Cancelled,
    Rejected,
}

#[derive(SimpleObject)]
pub struct Address {
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    pub country: String,
}

#[derive(InputObject)]
pub struct AddressInput {
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    pub country: String,
}

#[derive(InputObject)]
pub struct CheckoutInput {
    pub shipping_address: AddressInput,
    /// Test provider: "tok_decline…" is declined, any other "tok_…" is approved.
    pub payment_token: String,
    /// The same key replays the original result, never a second order.
    pub idempotency_key: String,
}

#[derive(SimpleObject)]
pub struct OrderItem {
    pub product: ProductRef,
    /// As it was when ordered.
    pub product_name: String,
    /// As it was when ordered.
    pub unit_price: MoneyObject,
    pub quantity: i32,
    pub line_total: MoneyObject,
}

#[derive(SimpleObject, Clone)]
pub struct OrderStatusChange {
    pub order_id: ID,
    pub status: OrderStatusEnum,
    pub previous_status: Option<OrderStatusEnum>,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

impl From<HistoryEntry> for OrderStatusChange {
    fn from(entry: HistoryEntry) -> Self {
        Self {
            order_id: ID(entry.order_id.to_string()),
            status: entry.status.into(),
            previous_status: entry.previous_status.map(Into::into),
            reason: entry.reason,
            at: entry.at,
        }
    }
}

// The users subgraph's `User`, seen from orders: its orders. (No doc comment: it would
// become the supergraph's description of `User`.)
pub struct User {
    id: Uuid,
}

#[Object(name = "User")]
impl User {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// The user's orders, newest first (the user themself or an ADMIN).
    async fn orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<OrderConnection> {
        let viewer = ctx.data::<Viewer>()?.require_user()?;
        if viewer.id != self.id && !viewer.is_admin() {
            return Err(ApiError::forbidden().into());
        }
        let filter = OrderFilter {
            user: Some(self.id),
            status: None,
        };
        order_page(ctx, filter, first, after.as_deref()).await
    }
}

pub struct Order(StoredOrder);

#[Object]
impl Order {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn customer(&self) -> User {
        User { id: self.0.user_id }
    }

    async fn status(&self) -> OrderStatusEnum {
        self.0.status.into()
    }

    /// Why the order was rejected or cancelled: OUT_OF_STOCK, PAYMENT_DECLINED, TIMED_OUT,
    /// CANCELLED_BY_CUSTOMER, CANCELLED_BY_ADMIN.
    async fn status_reason(&self) -> Option<&str> {
        self.0.status_reason.as_deref()
    }

    async fn items(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<OrderItem>> {
        let lines = ctx
            .data::<DataLoader<ItemsLoader>>()?
            .load_one((self.0.id, self.0.total.currency()))
            .await
            .map_err(|err| ApiError::internal(&*err))?
            .unwrap_or_default();
        lines
            .into_iter()
            .map(|line| {
                Ok(OrderItem {
                    line_total: line.total().map_err(ApiError::from)?.into(),
                    product: ProductRef {
                        id: ID(line.product_id),
                    },
                    product_name: line.product_name,
                    unit_price: line.unit_price.into(),
                    quantity: line.quantity,
                })
            })
            .collect()
    }

    async fn total(&self) -> MoneyObject {
        self.0.total.into()
    }

    async fn shipping_address(&self) -> Address {
        let a = self.0.shipping_address.clone();
        Address {
            line1: a.line1,
            line2: a.line2,
            city: a.city,
            postal_code: a.postal_code,
            country: a.country,
        }
    }

    /// Every transition, oldest first.
    async fn history(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<OrderStatusChange>> {
        Ok(ctx
            .data::<DataLoader<HistoryLoader>>()?
            .load_one(self.0.id)
            .await
            .map_err(|err| ApiError::internal(&*err))?
            .unwrap_or_default()
            .into_iter()
            .map(Into::into)
            .collect())
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

#[derive(SimpleObject)]
pub struct OrderEdge {
    pub cursor: String,
    pub node: Order,
}

pub struct OrderConnection {
    orders: Vec<StoredOrder>,
    has_next_page: bool,
    total_count: i64,
}

#[Object]
impl OrderConnection {
    async fn edges(&self) -> Vec<OrderEdge> {
        self.orders
            .iter()
            .map(|order| OrderEdge {
                cursor: encode_cursor(&order.id.to_string()),
                node: Order(order.clone()),
            })
            .collect()
    }

    async fn nodes(&self) -> Vec<Order> {
        self.orders.iter().cloned().map(Order).collect()
    }

    async fn page_info(&self) -> PageInfo {
        PageInfo {
            has_next_page: self.has_next_page,
            end_cursor: self
                .orders
                .last()
                .map(|order| encode_cursor(&order.id.to_string())),
        }
    }

    async fn total_count(&self) -> i32 {
        i32::try_from(self.total_count).unwrap_or(i32::MAX)
    }
}

async fn order_page(
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

#[derive(SimpleObject)]
pub struct CheckoutPayload {
    pub order: Option<Order>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct OrderPayload {
    pub order: Option<Order>,
    pub user_errors: Vec<UserError>,
}

impl OrderPayload {
    fn failed(error: UserError) -> Self {
        Self {
            order: None,
            user_errors: vec![error],
        }
    }
}

/// An order id from the client; anything that is not one of ours is simply not found.
fn order_id(id: &ID) -> Option<Uuid> {
    Uuid::parse_str(id.trim()).ok()
}

fn order_not_found() -> UserError {
    UserError::new("NOT_FOUND", "no order with this id").on_field(&["id"])
}

/// The customer whose orders `viewer` is limited to (`None` for an admin).
fn scope(viewer: AuthUser) -> Option<Uuid> {
    (!viewer.is_admin()).then_some(viewer.id)
}

fn actor(viewer: AuthUser) -> Actor {
    if viewer.is_admin() {
        Actor::Admin
    } else {
        Actor::Customer(viewer.id)
    }
}

async fn move_order(
    ctx: &Context<'_>,
    id: &ID,
    command: Command,
    viewer: AuthUser,
) -> async_graphql::Result<OrderPayload> {
    let Some(order_id) = order_id(id) else {
        return Ok(OrderPayload::failed(order_not_found()));
    };
    let orders = ctx.data::<Orders>()?;
    let trace = ctx.data::<TraceContext>()?;
    let outcome = orders
        .transition(order_id, command, actor(viewer), Cause::Request(trace))
        .await
        .map_err(ApiError::from)?;
    Ok(match outcome {
        TransitionOutcome::Done(order) => OrderPayload {
            order: Some(Order(*order)),
            user_errors: vec![],
        },
        TransitionOutcome::NotFound | TransitionOutcome::AlreadyHandled => {
            OrderPayload::failed(order_not_found())
        }
        TransitionOutcome::Refused(TransitionError::Forbidden { .. }) => {
            return Err(ApiError::forbidden().into())
        }
        TransitionOutcome::Refused(refused @ TransitionError::Illegal { .. }) => {
            OrderPayload::failed(UserError::new("ILLEGAL_TRANSITION", refused.to_string()))
        }
    })
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

    /// Places a PENDING order from the cart and empties the cart. The same idempotency key
    /// answers with the same order, however often it is sent.
    #[instrument(skip_all)]
    async fn checkout(
        &self,
        ctx: &Context<'_>,
        input: CheckoutInput,
    ) -> async_graphql::Result<CheckoutPayload> {
        let user = ctx.data::<Viewer>()?.require_user()?;
        let is_token = ctx.data::<TokenCheck>()?;
        let address = checkout::Address {
            line1: input.shipping_address.line1,
            line2: input.shipping_address.line2,
            city: input.shipping_address.city,
            postal_code: input.shipping_address.postal_code,
            country: input.shipping_address.country,
        };
        let request = match CheckoutRequest::validate(
            address,
            &input.payment_token,
            &input.idempotency_key,
            is_token,
        ) {
            Ok(request) => request,
            Err(problems) => {
                return Ok(CheckoutPayload {
                    order: None,
                    user_errors: problems
                        .into_iter()
                        .map(|problem| {
                            let path: Vec<&str> = ["input"]
                                .into_iter()
                                .chain(problem.field.iter().copied())
                                .collect();
                            UserError::new(
                                "INVALID_INPUT",
                                format!("{} {}", problem.field.join("."), problem.message),
                            )
                            .on_field(&path)
                        })
                        .collect(),
                })
            }
        };
        let orders = ctx.data::<Orders>()?;
        let trace = ctx.data::<TraceContext>()?;
        let outcome = orders
            .checkout(user.id, &request, trace)
            .await
            .map_err(ApiError::from)?;
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
    async fn cancel_order(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<OrderPayload> {
        let viewer = ctx.data::<Viewer>()?.require_user()?;
        move_order(ctx, &id, Command::Cancel, viewer).await
    }

    /// ADMIN: CONFIRMED → SHIPPED (the payment is captured).
    #[instrument(skip_all)]
    async fn ship_order(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<OrderPayload> {
        let viewer = ctx.data::<Viewer>()?.require_admin()?;
        move_order(ctx, &id, Command::Ship, viewer).await
    }

    /// ADMIN: SHIPPED → DELIVERED.
    #[instrument(skip_all)]
    async fn deliver_order(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<OrderPayload> {
        let viewer = ctx.data::<Viewer>()?.require_admin()?;
        move_order(ctx, &id, Command::Deliver, viewer).await
    }
}

pub struct Subscription;

#[Subscription]
impl Subscription {
    /// The order's status now, then every transition after it, live (its customer or an
    /// ADMIN; another customer's order is NOT_FOUND).
    async fn order_status_changed(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = OrderStatusChange>> {
        let viewer = ctx.data::<Viewer>()?.require_user()?;
        let id = self::order_id(&order_id).ok_or_else(|| ApiError::not_found("order"))?;
        let orders = ctx.data::<Orders>()?;
        // Listen before reading the current status, so no change falls between the two.
        let follower = ctx.data::<LiveFeed>()?.follow(id, orders.clone());
        let order = orders
            .visible_order(id, scope(viewer))
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::not_found("order"))?;
        let history = orders.history(order.id).await.map_err(ApiError::from)?;
        let current = history.last().cloned();
        let follower = follower.start_after(current.as_ref());
        let live = futures::stream::unfold(follower, |mut follower| async move {
            let entry = follower.next().await?;
            Some((OrderStatusChange::from(entry), follower))
        });
        Ok(futures::stream::iter(current.map(OrderStatusChange::from)).chain(live))
    }
}
