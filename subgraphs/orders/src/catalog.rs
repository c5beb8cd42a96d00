//! The catalog projection's consumer (`orders.catalog`): product events into
//! `catalog_products`, so carts are priced without calling the products service. Applying
//! an event is idempotent by its sequence, so redeliveries need no inbox.

use emporium_kernel::events::consumer::{Handler, HandlerError};
use emporium_kernel::events::contract::products::{
    ProductCreated, ProductDeleted, ProductSnapshot, ProductUpdated,
};
use emporium_kernel::events::{Envelope, Event};
use emporium_kernel::money::{Currency, Money};

use crate::store::{CatalogProduct, OrderStore};

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
        let currency = Currency::parse(&product.price.currency).map_err(HandlerError::permanent)?;
        let price =
            Money::parse_price(&product.price.amount, currency).map_err(HandlerError::permanent)?;
        self.store
            .project_product(&CatalogProduct {
                product_id: product.product_id,
                name: product.name,
                price,
                sequence,
            })
            .await?;
        Ok(())
    }
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
