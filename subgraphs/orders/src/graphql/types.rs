//! The orders subgraph's objects, inputs and payloads.

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use emporium_kernel::auth::Viewer;
use emporium_kernel::graphql::{
    encode_cursor, ContextState, MoneyObject, PageInfo, PageRequest, UserError,
};
use emporium_kernel::ids::{OrderId, UserId};
use emporium_kernel::ApiError;

use super::loaders::{HistoryLoader, ItemsLoader};
use super::pricing::{AppliedDiscountObject, ShippingMethodObject, TaxLineObject};
use crate::checkout;
use crate::lines::LinesError;
use crate::orders::{HistoryEntry, Order as StoredOrder, OrderFilter, Orders};
use crate::pricing::PricedCart;
use crate::status as machine;
use crate::store::pricing::CartState;

// A reference to the catalog's product, completed by the products subgraph. (No doc
// comment: it would become the supergraph's description of `Product`.)
#[derive(SimpleObject, Clone)]
#[graphql(name = "Product", unresolvable = "id")]
pub struct ProductRef {
    pub id: ID,
}

// A reference to one variant of a catalog product, completed by the products subgraph (a
// product without options is its own variant, under its own id). (No doc comment, as above.)
#[derive(SimpleObject, Clone)]
#[graphql(name = "ProductVariant", unresolvable = "id")]
pub struct VariantRef {
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct CartItem {
    pub product: ProductRef,
    pub variant: VariantRef,
    pub quantity: i32,
    /// At the catalog's current price.
    pub line_total: MoneyObject,
}

#[derive(SimpleObject)]
pub struct Cart {
    pub items: Vec<CartItem>,
    pub subtotal: MoneyObject,
    pub shipping_address: Option<Address>,
    /// Empty until a shipping address is set; priced for this cart.
    pub available_shipping_methods: Vec<ShippingMethodObject>,
    pub shipping_method: Option<ShippingMethodObject>,
    pub discounts: Vec<AppliedDiscountObject>,
    pub discount_total: MoneyObject,
    pub shipping_total: MoneyObject,
    /// The tax of the shipping address's country: added to the prices, or contained in them
    /// when `pricesIncludeTax`.
    pub tax_lines: Vec<TaxLineObject>,
    /// The tax added to the prices (0 when `pricesIncludeTax`).
    pub tax_total: MoneyObject,
    /// subtotal - discountTotal + shippingTotal + taxTotal.
    pub total: MoneyObject,
    /// The shop's setting.
    pub prices_include_tax: bool,
}

#[derive(SimpleObject)]
pub struct CartPayload {
    pub cart: Option<Cart>,
    pub user_errors: Vec<UserError>,
}

impl Cart {
    pub(super) fn of(state: &CartState, priced: &PricedCart) -> Result<Cart, ApiError> {
        let items = state
            .lines
            .iter()
            .map(|line| {
                Ok(CartItem {
                    line_total: line.total()?.into(),
                    product: ProductRef {
                        id: ID(line.product_id.clone()),
                    },
                    variant: VariantRef {
                        id: ID(line.variant_id.clone()),
                    },
                    quantity: line.quantity,
                })
            })
            .collect::<Result<_, LinesError>>()?;
        Ok(Cart {
            items,
            subtotal: priced.subtotal.into(),
            shipping_address: state.shipping_address.clone().map(Address::from),
            available_shipping_methods: priced
                .available_methods
                .iter()
                .map(ShippingMethodObject::offered)
                .collect::<Result<_, _>>()?,
            shipping_method: priced
                .shipping_method
                .as_ref()
                .map(ShippingMethodObject::offered)
                .transpose()?,
            discounts: priced.discounts.iter().map(Into::into).collect(),
            discount_total: priced.discount_total.into(),
            shipping_total: priced.shipping_total.into(),
            tax_lines: priced.tax_lines.iter().map(Into::into).collect(),
            tax_total: priced.tax_total.into(),
            total: priced.total.into(),
            prices_include_tax: priced.prices_include_tax,
        })
    }
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

impl From<checkout::Address> for Address {
    fn from(a: checkout::Address) -> Self {
        Address {
            line1: a.line1,
            line2: a.line2,
            city: a.city,
            postal_code: a.postal_code,
            country: a.country,
        }
    }
}

#[derive(InputObject)]
pub struct AddressInput {
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    pub country: String,
}

impl AddressInput {
    /// As typed (checked by `checkout::Address::parse` or at checkout).
    pub(super) fn into_address(self) -> checkout::Address {
        checkout::Address {
            line1: self.line1,
            line2: self.line2,
            city: self.city,
            postal_code: self.postal_code,
            country: self.country,
        }
    }
}

#[derive(InputObject)]
pub struct CheckoutInput {
    /// Optional when the cart has a shipping address (`setCartShippingAddress`).
    pub shipping_address: Option<AddressInput>,
    /// Test provider: "tok_decline…" is declined, any other "tok_…" is approved.
    pub payment_token: String,
    /// The same key replays the original result, never a second order.
    pub idempotency_key: String,
}

#[derive(SimpleObject)]
pub struct OrderItem {
    pub product: ProductRef,
    pub variant: VariantRef,
    /// As it was when ordered.
    pub product_name: String,
    /// As it was when ordered: `"Red / M"`, the product's name when it has no options.
    pub variant_title: String,
    /// As it was when ordered.
    pub sku: String,
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
        OrderConnection::page(ctx, filter, first, after.as_deref()).await
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
                    variant: VariantRef {
                        id: ID(line.variant_id),
                    },
                    product_name: line.product_name,
                    variant_title: line.variant_title,
                    sku: line.sku,
                    unit_price: line.unit_price.into(),
                    quantity: line.quantity,
                })
            })
            .collect()
    }

    /// The amount charged: subtotal - discountTotal + shippingTotal + taxTotal.
    async fn total(&self) -> MoneyObject {
        self.0.total.into()
    }

    /// The sum of the lines, as placed.
    async fn subtotal(&self) -> MoneyObject {
        self.0.subtotal.into()
    }

    async fn discounts(&self) -> Vec<AppliedDiscountObject> {
        self.0.discounts.iter().map(Into::into).collect()
    }

    async fn discount_total(&self) -> MoneyObject {
        self.0.discount_total.into()
    }

    async fn shipping_method_name(&self) -> Option<&str> {
        self.0.shipping_method_name.as_deref()
    }

    async fn shipping_total(&self) -> MoneyObject {
        self.0.shipping_total.into()
    }

    async fn tax_lines(&self) -> Vec<TaxLineObject> {
        self.0.tax_lines.iter().map(Into::into).collect()
    }

    /// The tax added to the prices (0 when the prices included tax).
    async fn tax_total(&self) -> MoneyObject {
        self.0.tax_total.into()
    }

    /// Whether the prices included tax when the order was placed.
    async fn prices_include_tax(&self) -> bool {
        self.0.prices_include_tax
    }

    async fn shipping_address(&self) -> Address {
        self.0.shipping_address.clone().into()
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

impl OrderConnection {
    /// The page of the orders `filter` selects that `first` and `after` ask for; a bad page
    /// size or cursor is the client's error.
    pub(super) async fn page(
        ctx: &Context<'_>,
        filter: OrderFilter,
        first: Option<i32>,
        after: Option<&str>,
    ) -> Result<Self, ApiError> {
        let page = PageRequest::parse(first, after)?;
        let (orders, has_next_page, total_count) = ctx
            .state::<Orders>()?
            .list(filter, page.after_as::<OrderId>()?, page.size)
            .await?;
        Ok(Self {
            orders,
            has_next_page,
            total_count,
        })
    }
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
