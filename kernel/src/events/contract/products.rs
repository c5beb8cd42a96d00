//! The events the products service publishes: full product snapshots on create and update, so
//! consumers (search, inventory) never need to call back.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A product as consumers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "event-schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ProductSnapshot {
    pub product_id: String,
    pub sku: String,
    pub name: String,
    pub description: String,
    /// A path such as `Audio > Headphones`.
    pub category: String,
    pub brand: Option<String>,
    pub price: Price,
    pub attributes: Vec<Attribute>,
    pub image_url: Option<String>,
    /// A sales rank from the catalog source; search breaks ties with it.
    pub popularity: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The product's options (`Size: S, M, L`); absent (empty) for a product without options.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<ProductOption>,
    /// One per combination of option values; absent (empty) for a product without options,
    /// which is its own single variant (id, SKU and price the product's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<Variant>,
}

/// An option of a product and the values it takes, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "event-schemas", derive(schemars::JsonSchema))]
pub struct ProductOption {
    pub name: String,
    pub values: Vec<String>,
}

/// One option's value of a variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "event-schemas", derive(schemars::JsonSchema))]
pub struct SelectedOption {
    pub name: String,
    pub value: String,
}

/// One variant of a product with options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "event-schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Variant {
    pub id: String,
    pub sku: String,
    /// The option values joined: `"Red / M"`.
    pub title: String,
    pub selected_options: Vec<SelectedOption>,
    pub price: Price,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare_at_price: Option<Price>,
    /// The stock the variant starts with: on `product.created`, and on `product.updated` for a
    /// variant that update added (absent for the others; 0 when absent on a new variant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_stock: Option<u32>,
}

/// A price: a decimal string (`"349.99"`) in an ISO 4217 currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "event-schemas", derive(schemars::JsonSchema))]
pub struct Price {
    pub amount: String,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "event-schemas", derive(schemars::JsonSchema))]
pub struct Attribute {
    pub name: String,
    pub value: String,
}

/// `product.created`: the snapshot plus the stock the product starts with (for inventory).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "event-schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ProductCreated {
    #[serde(flatten)]
    pub product: ProductSnapshot,
    /// 0 when absent.
    #[serde(default)]
    pub initial_stock: u32,
}

event!(ProductCreated, "product.created", version 1, |event| event.product.product_id.clone());

/// `product.updated`: the whole snapshot after the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "event-schemas", derive(schemars::JsonSchema))]
#[serde(transparent)]
pub struct ProductUpdated {
    pub product: ProductSnapshot,
}

event!(ProductUpdated, "product.updated", version 1, |event| event.product.product_id.clone());

/// `product.deleted`: the product can no longer be found or sold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "event-schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ProductDeleted {
    pub product_id: String,
    pub sku: String,
}

event!(ProductDeleted, "product.deleted", version 1, |event| event.product_id.clone());
