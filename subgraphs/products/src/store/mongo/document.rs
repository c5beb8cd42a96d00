//! A product as MongoDB stores it: [`ProductDoc`] (prices in integer minor units, the
//! category path for category pages, the variants in the document), and the mapping between
//! it and the domain's [`Product`].
//!
//! Building a document from a new product cannot fail; reading one back fails with
//! [`StoreError::Corrupt`] when a stored field is no longer valid (a currency or a price the
//! domain refuses), never with a guess.

use chrono::{DateTime, Utc};
use emporium_kernel::money::{Currency, Money};
use mongodb::bson::{self, doc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::StoreError;
use crate::domain::product::{category_ancestry, Attribute, NewProduct, Product};
use crate::domain::variant::ProductOption;
use crate::store::StoredVariant;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct AttributeDoc {
    name: String,
    value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct ProductDoc {
    #[serde(rename = "_id")]
    pub(super) id: String,
    pub(super) sku: String,
    name: String,
    description: String,
    pub(super) category: String,
    /// The category and its ancestors, for category pages that include sub-categories.
    category_path: Vec<String>,
    brand: Option<String>,
    price_minor: i64,
    currency: String,
    attributes: Vec<AttributeDoc>,
    image_url: Option<String>,
    #[serde(default)]
    popularity: i64,
    created_at: bson::DateTime,
    updated_at: bson::DateTime,
    #[serde(default)]
    options: Vec<ProductOption>,
    #[serde(default)]
    pub(super) variants: Vec<StoredVariant>,
}

fn to_chrono(at: bson::DateTime) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or_default()
}

impl TryFrom<ProductDoc> for Product {
    type Error = StoreError;

    fn try_from(doc: ProductDoc) -> Result<Self, StoreError> {
        let currency = Currency::parse(&doc.currency)
            .map_err(|e| StoreError::Corrupt(format!("{}: {e}", doc.id)))?;
        let money = |minor| {
            Money::from_minor(minor, currency)
                .map_err(|e| StoreError::Corrupt(format!("{}: {e}", doc.id)))
        };
        let price = money(doc.price_minor)?;
        let variants = doc
            .variants
            .into_iter()
            .map(|v| v.into_variant(currency))
            .collect::<Result<_, _>>()
            .map_err(|e| StoreError::Corrupt(format!("{}: {e}", doc.id)))?;
        Ok(Product {
            options: doc.options,
            variants,
            id: doc.id,
            sku: doc.sku,
            name: doc.name,
            description: doc.description,
            category: doc.category,
            brand: doc.brand,
            price,
            attributes: doc
                .attributes
                .into_iter()
                .map(|a| Attribute {
                    name: a.name,
                    value: a.value,
                })
                .collect(),
            image_url: doc.image_url,
            popularity: doc.popularity,
            created_at: to_chrono(doc.created_at),
            updated_at: to_chrono(doc.updated_at),
        })
    }
}

pub(super) fn attribute_docs(attributes: &[Attribute]) -> Vec<AttributeDoc> {
    attributes
        .iter()
        .map(|a| AttributeDoc {
            name: a.name.clone(),
            value: a.value.clone(),
        })
        .collect()
}

pub(super) fn new_doc(product: &NewProduct, now: bson::DateTime) -> ProductDoc {
    ProductDoc {
        id: Uuid::now_v7().to_string(),
        sku: product.sku.to_string(),
        name: product.name.clone(),
        description: product.description.clone(),
        category: product.category.clone(),
        category_path: category_ancestry(&product.category),
        brand: product.brand.clone(),
        price_minor: product.price.minor(),
        currency: product.price.currency().to_string(),
        attributes: attribute_docs(&product.attributes),
        image_url: product.image_url.clone(),
        popularity: product.popularity,
        created_at: now,
        updated_at: now,
        options: product.options.clone(),
        variants: product
            .variants
            .iter()
            .map(|v| StoredVariant {
                id: Uuid::now_v7().to_string(),
                sku: v.sku.to_string(),
                title: v.title.clone(),
                selected_options: v.selected_options.clone(),
                price_minor: v.price.minor(),
                compare_at_minor: v.compare_at_price.map(|p| p.minor()),
            })
            .collect(),
    }
}
