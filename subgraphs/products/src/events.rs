//! The events the products service publishes (`shared/events.md`): full product snapshots on
//! create and update, so consumers (search, inventory) never need to call back.

use emporium_kernel::events::contract::products::{
    Attribute, Price, ProductCreated, ProductDeleted, ProductSnapshot, ProductUpdated,
};
use emporium_kernel::events::EventDraft;
use serde_json::Value;

use crate::domain::product::Product;

/// The `source` of every products event.
pub const EVENT_SOURCE: &str = "/subgraphs/products";

/// The product as consumers see it.
pub fn snapshot_of(product: &Product) -> ProductSnapshot {
    ProductSnapshot {
        product_id: product.id.clone(),
        sku: product.sku.clone(),
        name: product.name.clone(),
        description: product.description.clone(),
        category: product.category.clone(),
        brand: product.brand.clone(),
        price: Price {
            amount: product.price.to_decimal_string(),
            currency: product.price.currency().as_str().to_owned(),
        },
        attributes: product
            .attributes
            .iter()
            .map(|a| Attribute {
                name: a.name.clone(),
                value: a.value.clone(),
            })
            .collect(),
        image_url: product.image_url.clone(),
        popularity: product.popularity,
        created_at: product.created_at,
        updated_at: product.updated_at,
    }
}

/// The snapshot as JSON, as the catalog hands it to a search reindex.
pub fn snapshot(product: &Product) -> Value {
    // A snapshot holds strings, numbers and timestamps only.
    serde_json::to_value(snapshot_of(product)).expect("a product snapshot serialises to JSON")
}

/// `product.created`: the snapshot plus the stock the product starts with (for inventory).
pub fn product_created(product: &Product, initial_stock: u32) -> EventDraft {
    EventDraft::of(&ProductCreated {
        product: snapshot_of(product),
        initial_stock,
    })
}

pub fn product_updated(product: &Product) -> EventDraft {
    EventDraft::of(&ProductUpdated {
        product: snapshot_of(product),
    })
}

pub fn product_deleted(product: &Product) -> EventDraft {
    EventDraft::of(&ProductDeleted {
        product_id: product.id.clone(),
        sku: product.sku.clone(),
    })
}
