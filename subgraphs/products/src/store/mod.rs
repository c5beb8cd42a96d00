//! The catalog's stores: MongoDB (the truth) and the Redis cache in front of it, and the one
//! shape of a variant both keep ([`StoredVariant`]).

pub mod mongo;
pub mod redis;

pub use mongo::{Page, ProductStore, StoreError, UpdateRefusal, Updated};
pub use redis::{CacheError, CatalogCache};

use emporium_kernel::money::{Currency, Money, MoneyError};
use serde::{Deserialize, Serialize};

use crate::domain::variant::{SelectedOption, Variant};

/// A variant as MongoDB's product document and the Redis cache's entry both hold it: prices in
/// minor units of the product's currency.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredVariant {
    pub id: String,
    pub sku: String,
    pub title: String,
    pub selected_options: Vec<SelectedOption>,
    pub price_minor: i64,
    pub compare_at_minor: Option<i64>,
}

impl StoredVariant {
    pub fn of(variant: &Variant) -> Self {
        Self {
            id: variant.id.clone(),
            sku: variant.sku.clone(),
            title: variant.title.clone(),
            selected_options: variant.selected_options.clone(),
            price_minor: variant.price.minor(),
            compare_at_minor: variant.compare_at_price.map(|m| m.minor()),
        }
    }

    /// The variant, its prices in `currency`; a price that does not fit is an error.
    pub fn into_variant(self, currency: Currency) -> Result<Variant, MoneyError> {
        let money = |minor| Money::from_minor(minor, currency);
        Ok(Variant {
            price: money(self.price_minor)?,
            compare_at_price: self.compare_at_minor.map(money).transpose()?,
            id: self.id,
            sku: self.sku,
            title: self.title,
            selected_options: self.selected_options,
        })
    }
}
