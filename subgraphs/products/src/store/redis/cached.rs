//! The product as the cache stores it: [`CachedProduct`], its own JSON format (not the
//! domain's), so that what is stored changes only on purpose, with the `v1` in its key.
//!
//! Converting a product to it cannot fail; reading one back answers `None` for an entry that
//! is no longer a valid product (an unknown currency, a bad price), which the caller treats as
//! a miss and the next fill overwrites.

use serde::{Deserialize, Serialize};

use crate::domain::product::{Attribute, Product};
use crate::domain::variant::ProductOption;
use crate::store::StoredVariant;
use emporium_kernel::money::{Currency, Money};

/// The product as the cache stores it. Its own type (not the domain's) so that the stored
/// format changes only on purpose, with the `v1` in its key.
#[derive(Serialize, Deserialize)]
pub(super) struct CachedProduct {
    id: String,
    sku: String,
    name: String,
    description: String,
    category: String,
    brand: Option<String>,
    price_minor: i64,
    currency: String,
    attributes: Vec<(String, String)>,
    image_url: Option<String>,
    popularity: i64,
    created_at: chrono::DateTime<chrono::Utc>,
    updated_at: chrono::DateTime<chrono::Utc>,
    /// Absent in entries cached before variants: a product without options.
    #[serde(default)]
    options: Vec<ProductOption>,
    #[serde(default)]
    variants: Vec<StoredVariant>,
}

impl From<&Product> for CachedProduct {
    fn from(p: &Product) -> Self {
        Self {
            id: p.id.clone(),
            sku: p.sku.clone(),
            name: p.name.clone(),
            description: p.description.clone(),
            category: p.category.clone(),
            brand: p.brand.clone(),
            price_minor: p.price.minor(),
            currency: p.price.currency().to_string(),
            attributes: p
                .attributes
                .iter()
                .map(|a| (a.name.clone(), a.value.clone()))
                .collect(),
            image_url: p.image_url.clone(),
            popularity: p.popularity,
            created_at: p.created_at,
            updated_at: p.updated_at,
            options: p.options.clone(),
            variants: p.variants.iter().map(StoredVariant::of).collect(),
        }
    }
}

impl CachedProduct {
    pub(super) fn into_product(self) -> Option<Product> {
        let currency = Currency::parse(&self.currency).ok()?;
        let price = Money::from_minor(self.price_minor, currency).ok()?;
        let variants = self
            .variants
            .into_iter()
            .map(|v| v.into_variant(currency).ok())
            .collect::<Option<Vec<_>>>()?;
        Some(Product {
            options: self.options,
            variants,
            id: self.id,
            sku: self.sku,
            name: self.name,
            description: self.description,
            category: self.category,
            brand: self.brand,
            price,
            attributes: self
                .attributes
                .into_iter()
                .map(|(name, value)| Attribute { name, value })
                .collect(),
            image_url: self.image_url,
            popularity: self.popularity,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::variant::{SelectedOption, Variant};

    #[test]
    fn a_cached_product_reads_back_as_the_same_product() {
        let product = Product {
            id: "0193-a".to_owned(),
            sku: "SKU-1".to_owned(),
            name: "Headphones".to_owned(),
            description: "Closed-back".to_owned(),
            category: "Audio > Headphones".to_owned(),
            brand: None,
            price: Money::from_minor(34_999, Currency::USD).expect("money"),
            attributes: vec![Attribute {
                name: "Color".to_owned(),
                value: "Black".to_owned(),
            }],
            image_url: Some("https://example.test/a.jpg".to_owned()),
            popularity: 7,
            created_at: chrono::DateTime::from_timestamp_millis(1_700_000_000_123).expect("time"),
            updated_at: chrono::DateTime::from_timestamp_millis(1_700_000_500_456).expect("time"),
            options: vec![ProductOption {
                name: "Colour".to_owned(),
                values: vec!["Black".to_owned()],
            }],
            variants: vec![Variant {
                id: "v1".to_owned(),
                sku: "HP-BLK".to_owned(),
                title: "Black".to_owned(),
                selected_options: vec![SelectedOption {
                    name: "Colour".to_owned(),
                    value: "Black".to_owned(),
                }],
                price: Money::from_minor(34_999, Currency::USD).expect("money"),
                compare_at_price: Some(Money::from_minor(39_999, Currency::USD).expect("money")),
            }],
        };
        let json = serde_json::to_vec(&CachedProduct::from(&product)).expect("json");
        let back = serde_json::from_slice::<CachedProduct>(&json)
            .expect("parses")
            .into_product();
        assert_eq!(back, Some(product));
    }
}
