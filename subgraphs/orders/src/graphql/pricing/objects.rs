//! The GraphQL objects, inputs and payloads of shipping methods, tax lines and discount
//! codes, and their conversions from the pricing domain's types.
//!
//! Names and fields here are the schema's contract: they change only with it. A conversion
//! fails only on an amount the shop's currency cannot hold, as an `INTERNAL` [`ApiError`]
//! (a stored amount that is no longer valid, not the client's mistake).

use async_graphql::{Enum, InputObject, SimpleObject, ID};
use chrono::{DateTime, Utc};
use emporium_kernel::graphql::{Decimal, MoneyObject, PageInfo, UserError};
use emporium_kernel::money::Money;
use emporium_kernel::ApiError;

use crate::pricing::{self, DiscountCode, OfferedMethod, ShippingMethod, SHOP_CURRENCY};

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "DiscountKind", remote = "pricing::DiscountKind")]
pub enum DiscountKindEnum {
    Percentage,
    FixedAmount,
    FreeShipping,
}

#[derive(SimpleObject, Clone)]
#[graphql(name = "ShippingMethod")]
pub struct ShippingMethodObject {
    pub id: ID,
    pub name: String,
    pub description: Option<String>,
    /// For this cart (free-shipping thresholds applied); the configured price in
    /// `Query.shippingMethods`.
    pub price: MoneyObject,
    pub estimated_days: Option<i32>,
    /// The method costs nothing from this subtotal on.
    pub free_over_subtotal: Option<MoneyObject>,
    /// ISO 3166-1 alpha-2 codes; empty: everywhere.
    pub countries: Vec<String>,
}

pub(super) fn shop_money(minor: i64) -> Result<MoneyObject, ApiError> {
    Money::from_minor(minor, SHOP_CURRENCY)
        .map(Into::into)
        .map_err(|e| ApiError::internal(&e))
}

impl ShippingMethodObject {
    pub(in crate::graphql) fn of(method: &ShippingMethod, price: Money) -> Result<Self, ApiError> {
        Ok(Self {
            id: ID(method.id.to_string()),
            name: method.name.clone(),
            description: method.description.clone(),
            price: price.into(),
            estimated_days: method.estimated_days,
            free_over_subtotal: method.free_over_minor.map(shop_money).transpose()?,
            countries: method.countries.clone(),
        })
    }

    pub(in crate::graphql) fn offered(offered: &OfferedMethod) -> Result<Self, ApiError> {
        Self::of(&offered.method, offered.price)
    }

    pub(super) fn configured(method: &ShippingMethod) -> Result<Self, ApiError> {
        let price = Money::from_minor(method.price_minor, SHOP_CURRENCY)
            .map_err(|e| ApiError::internal(&e))?;
        Self::of(method, price)
    }
}

#[derive(SimpleObject, Clone)]
#[graphql(name = "TaxLine")]
pub struct TaxLineObject {
    pub name: String,
    /// "0.2" is 20 %.
    pub rate: Decimal,
    pub amount: MoneyObject,
}

impl From<&pricing::TaxLine> for TaxLineObject {
    fn from(line: &pricing::TaxLine) -> Self {
        Self {
            name: line.name.clone(),
            rate: Decimal(line.rate.to_decimal_string()),
            amount: line.amount.into(),
        }
    }
}

#[derive(SimpleObject, Clone)]
#[graphql(name = "AppliedDiscount")]
pub struct AppliedDiscountObject {
    pub code: String,
    pub kind: DiscountKindEnum,
    pub amount: MoneyObject,
}

impl From<&pricing::AppliedDiscount> for AppliedDiscountObject {
    fn from(discount: &pricing::AppliedDiscount) -> Self {
        Self {
            code: discount.code.clone(),
            kind: discount.kind.into(),
            amount: discount.amount.into(),
        }
    }
}

#[derive(SimpleObject, Clone)]
#[graphql(name = "DiscountCode")]
pub struct DiscountCodeObject {
    /// Case-insensitive, shown upper-case.
    pub code: String,
    pub kind: DiscountKindEnum,
    /// "10" is 10 % for PERCENTAGE; an amount for FIXED_AMOUNT; "0" for FREE_SHIPPING.
    pub value: Decimal,
    pub minimum_subtotal: Option<MoneyObject>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    /// Orders in all; null: unlimited.
    pub usage_limit: Option<i32>,
    pub times_used: i32,
    pub active: bool,
}

impl DiscountCodeObject {
    pub(super) fn of(code: &DiscountCode) -> Result<Self, ApiError> {
        Ok(Self {
            code: code.code.clone(),
            kind: code.value.kind().into(),
            value: Decimal(code.value.to_decimal_string()),
            minimum_subtotal: code.minimum_subtotal_minor.map(shop_money).transpose()?,
            starts_at: code.starts_at,
            ends_at: code.ends_at,
            usage_limit: code.usage_limit,
            times_used: code.times_used,
            active: code.active,
        })
    }
}

#[derive(InputObject)]
pub struct ShippingMethodInput {
    pub name: String,
    pub description: Option<String>,
    pub price: Decimal,
    /// The method costs nothing from this subtotal on.
    pub free_over_subtotal: Option<Decimal>,
    /// ISO 3166-1 alpha-2; empty: everywhere.
    pub countries: Vec<String>,
    pub estimated_days: Option<i32>,
}

#[derive(InputObject)]
pub struct TaxRateInput {
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// e.g. "VAT", "Sales tax".
    pub name: String,
    /// "0.2" is 20 %.
    pub rate: Decimal,
}

#[derive(InputObject)]
pub struct DiscountCodeInput {
    pub code: String,
    pub kind: DiscountKindEnum,
    pub value: Decimal,
    pub minimum_subtotal: Option<Decimal>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub usage_limit: Option<i32>,
}

#[derive(SimpleObject)]
pub struct ShippingMethodPayload {
    pub shipping_method: Option<ShippingMethodObject>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct TaxRatePayload {
    pub tax_line: Option<TaxLineObject>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct DiscountCodePayload {
    pub discount_code: Option<DiscountCodeObject>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct DiscountCodeEdge {
    pub cursor: String,
    pub node: DiscountCodeObject,
}

#[derive(SimpleObject)]
pub struct DiscountCodeConnection {
    pub edges: Vec<DiscountCodeEdge>,
    pub nodes: Vec<DiscountCodeObject>,
    pub page_info: PageInfo,
    pub total_count: i32,
}
