//! The events the products service publishes (`shared/events.md`): full product snapshots on
//! create and update, so consumers (search, inventory) never need to call back.

use emporium_kernel::events::EventDraft;
use serde_json::{json, Value};

use crate::domain::product::Product;

/// The `source` of every products event.
pub const EVENT_SOURCE: &str = "/subgraphs/products";

/// The product as consumers see it.
pub fn snapshot(product: &Product) -> Value {
    json!({
        "productId": product.id,
        "sku": product.sku,
        "name": product.name,
        "description": product.description,
        "category": product.category,
        "brand": product.brand,
        "price": { "amount": product.price.to_decimal_string(), "currency": product.price.currency().as_str() },
        "attributes": product.attributes.iter().map(|a| json!({ "name": a.name, "value": a.value })).collect::<Vec<_>>(),
        "imageUrl": product.image_url,
        "popularity": product.popularity,
        "createdAt": product.created_at,
        "updatedAt": product.updated_at,
    })
}

/// `product.created`: the snapshot plus the stock the product starts with (for inventory).
pub fn product_created(product: &Product, initial_stock: u32) -> EventDraft {
    let mut data = snapshot(product);
    data["initialStock"] = json!(initial_stock);
    EventDraft::new("product.created", product.id.clone(), data)
}

pub fn product_updated(product: &Product) -> EventDraft {
    EventDraft::new("product.updated", product.id.clone(), snapshot(product))
}

pub fn product_deleted(product: &Product) -> EventDraft {
    EventDraft::new(
        "product.deleted",
        product.id.clone(),
        json!({ "productId": product.id, "sku": product.sku }),
    )
}
