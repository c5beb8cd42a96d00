//! The orders subgraph's objects, inputs and payloads.

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use emporium_kernel::auth::Viewer;
use emporium_kernel::graphql::{encode_cursor, ContextState, MoneyObject, PageInfo, UserError};
use emporium_kernel::ids::UserId;
use emporium_kernel::money::{Currency, Money};
use emporium_kernel::ApiError;

use super::loaders::{HistoryLoader, ItemsLoader};
use super::query::order_page;
use crate::lines::{self, Line, LinesError};
use crate::orders::{HistoryEntry, Order as StoredOrder, OrderFilter};
use crate::status as machine;

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

pub(super) fn cart_of(lines: Vec<Line>) -> Result<Cart, ApiError> {
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
    pub(super) id: UserId,
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
    ) -> Result<OrderConnection, ApiError> {
        let viewer = ctx.state::<Viewer>()?.require_user()?;
        if UserId::from(viewer.id) != self.id && !viewer.is_admin() {
            return Err(ApiError::forbidden());
        }
        let filter = OrderFilter {
            user: Some(self.id),
            status: None,
        };
        order_page(ctx, filter, first, after.as_deref()).await
    }
}

pub struct Order(pub(super) StoredOrder);

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

    async fn items(&self, ctx: &Context<'_>) -> Result<Vec<OrderItem>, ApiError> {
        let lines = ctx
            .state::<DataLoader<ItemsLoader>>()?
            .load_one((self.0.id, self.0.total.currency()))
            .await
            .map_err(|err| ApiError::internal(&*err))?
            .unwrap_or_default();
        lines
            .into_iter()
            .map(|line| {
                Ok(OrderItem {
                    line_total: line.total()?.into(),
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
    async fn history(&self, ctx: &Context<'_>) -> Result<Vec<OrderStatusChange>, ApiError> {
        Ok(ctx
            .state::<DataLoader<HistoryLoader>>()?
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
    pub(super) orders: Vec<StoredOrder>,
    pub(super) has_next_page: bool,
    pub(super) total_count: i64,
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
    pub(super) fn failed(error: UserError) -> Self {
        Self {
            order: None,
            user_errors: vec![error],
        }
    }
}
