//! The catalog projection's consumer (`orders.catalog`): product events into
//! `catalog_products` and the variants of products with options into `catalog_variants`, so carts are priced without calling the products service. Applying
//! an event is idempotent by its sequence, so redeliveries need no inbox.

use emporium_kernel::events::consumer::{Handler, HandlerError};
use emporium_kernel::events::contract::products::{
    Price, ProductCreated, ProductDeleted, ProductSnapshot, ProductUpdated,
};
use emporium_kernel::events::{Envelope, Event};
use emporium_kernel::money::{Currency, Money};

use crate::store::{CatalogProduct, CatalogVariant, OrderStore};

pub const CATALOG_QUEUE: &str = "orders.catalog";
pub const CATALOG_BINDINGS: [&str; 3] = [
    ProductCreated::TYPE,
    ProductUpdated::TYPE,
    ProductDeleted::TYPE,
];

pub struct CatalogHandler {
    store: OrderStore,
}

impl CatalogHandler {
    pub fn new(store: OrderStore) -> Self {
        Self { store }
    }
}

impl CatalogHandler {
    async fn project(&self, product: ProductSnapshot, sequence: i64) -> Result<(), HandlerError> {
        let price = money(&product.price)?;
        let variants = product
            .variants
            .into_iter()
            .map(|variant| {
                Ok(CatalogVariant {
                    price: money(&variant.price)?,
                    variant_id: variant.id,
                    sku: variant.sku,
                    title: variant.title,
                })
            })
            .collect::<Result<Vec<_>, HandlerError>>()?;
        self.store
            .project_product(&CatalogProduct {
                product_id: product.product_id,
                sku: product.sku,
                name: product.name,
                price,
                variants,
                sequence,
            })
            .await?;
        Ok(())
    }
}

/// A snapshot's price; one the contract cannot hold is a permanent failure.
fn money(price: &Price) -> Result<Money, HandlerError> {
    let currency = Currency::parse(&price.currency).map_err(HandlerError::permanent)?;
    Money::parse_price(&price.amount, currency).map_err(HandlerError::permanent)
}

impl From<crate::store::StoreError> for HandlerError {
    fn from(err: crate::store::StoreError) -> Self {
        HandlerError::retryable(err)
    }
}

impl Handler for CatalogHandler {
    async fn handle(&self, envelope: &Envelope) -> Result<(), HandlerError> {
        let sequence = envelope.sequence_number();
        if sequence < 1 {
            return Err(HandlerError::permanent(format!(
                "bad sequence {:?}",
                envelope.sequence
            )));
        }
        match envelope.event_type.as_str() {
            ProductCreated::TYPE => {
                let created: ProductCreated = envelope.decode()?;
                self.project(created.product, sequence).await?;
            }
            ProductUpdated::TYPE => {
                let updated: ProductUpdated = envelope.decode()?;
                self.project(updated.product, sequence).await?;
            }
            ProductDeleted::TYPE => {
                let deleted: ProductDeleted = envelope.decode()?;
                self.store
                    .project_deletion(&deleted.product_id, sequence)
                    .await?;
            }
            other => {
                return Err(HandlerError::permanent(format!(
                    "{CATALOG_QUEUE} does not handle {other}"
                )))
            }
        }
        Ok(())
    }
}
