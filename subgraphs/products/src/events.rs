//! The events the products service publishes (`shared/events.md`): full product snapshots on
//! create and update, so consumers (search, inventory) never need to call back.

use std::collections::HashMap;

use emporium_kernel::events::contract::products::{
    self as contract, Attribute, Price, ProductCreated, ProductDeleted, ProductSnapshot,
    ProductUpdated,
};
use emporium_kernel::events::EventDraft;
use emporium_kernel::money::Money;
use serde_json::Value;

use crate::domain::product::{NewProduct, Product};

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
        price: price_of(product.price),
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
        options: product.options.clone(),
        variants: product
            .variants
            .iter()
            .map(|v| contract::Variant {
                id: v.id.clone(),
                sku: v.sku.clone(),
                title: v.title.clone(),
                selected_options: v.selected_options.clone(),
                price: price_of(v.price),
                compare_at_price: v.compare_at_price.map(price_of),
                initial_stock: None,
            })
            .collect(),
    }
}

fn price_of(money: Money) -> Price {
    Price {
        amount: money.to_decimal_string(),
        currency: money.currency().as_str().to_owned(),
    }
}

/// The snapshot as JSON, as the catalog hands it to a search reindex.
pub fn snapshot(product: &Product) -> Value {
    // A snapshot holds strings, numbers and timestamps only.
    serde_json::to_value(snapshot_of(product)).expect("a product snapshot serialises to JSON")
}

/// `product.created`: the snapshot plus the stock the product starts with (for inventory):
/// each variant's (in the order `new_product` listed them, which the stored product keeps),
/// and for a product with variants their sum as the product's (what consumers older than
/// variants see).
pub fn product_created(product: &Product, new_product: &NewProduct) -> EventDraft {
    let mut snapshot = snapshot_of(product);
    for (variant, new_variant) in snapshot.variants.iter_mut().zip(&new_product.variants) {
        variant.initial_stock = Some(new_variant.initial_stock);
    }
    let initial_stock = if new_product.variants.is_empty() {
        new_product.initial_stock
    } else {
        new_product
            .variants
            .iter()
            .fold(0u32, |sum, v| sum.saturating_add(v.initial_stock))
    };
    EventDraft::of(&ProductCreated {
        product: snapshot,
        initial_stock,
    })
}

/// `product.updated`: the snapshot, with the initial stock of each variant the update added
/// (`added_stock`, by variant id), for the inventory to start it with.
pub fn product_updated(product: &Product, added_stock: &HashMap<String, u32>) -> EventDraft {
    let mut snapshot = snapshot_of(product);
    for variant in &mut snapshot.variants {
        variant.initial_stock = added_stock.get(&variant.id).copied();
    }
    EventDraft::of(&ProductUpdated { product: snapshot })
}

pub fn product_deleted(product: &Product) -> EventDraft {
    EventDraft::of(&ProductDeleted {
        product_id: product.id.clone(),
        sku: product.sku.clone(),
    })
}
