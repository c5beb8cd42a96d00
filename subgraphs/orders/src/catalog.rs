//! The catalog projection's consumer (`orders.catalog`): product events into
//! `catalog_products`, so carts are priced without calling the products service. Applying
//! an event is idempotent by its sequence, so redeliveries need no inbox.

use emporium_kernel::events::consumer::{data_of, Handler, HandlerError};
use emporium_kernel::events::Envelope;
use emporium_kernel::money::{Currency, Money};
use serde::Deserialize;

use crate::store::{CatalogProduct, OrderStore};

pub const CATALOG_QUEUE: &str = "orders.catalog";
pub const CATALOG_BINDINGS: [&str; 3] = ["product.created", "product.updated", "product.deleted"];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Snapshot {
    product_id: String,
    name: String,
    price: Price,
}

#[derive(Deserialize)]
struct Price {
    amount: String,
    currency: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Deleted {
    product_id: String,
}

pub struct CatalogHandler {
    store: OrderStore,
}

impl CatalogHandler {
    pub fn new(store: OrderStore) -> Self {
        Self { store }
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
            "product.created" | "product.updated" => {
                let snapshot: Snapshot = data_of(envelope)?;
                let currency =
                    Currency::parse(&snapshot.price.currency).map_err(HandlerError::permanent)?;
                let price = Money::parse_price(&snapshot.price.amount, currency)
                    .map_err(HandlerError::permanent)?;
                self.store
                    .project_product(&CatalogProduct {
                        product_id: snapshot.product_id,
                        name: snapshot.name,
                        price,
                        sequence,
                    })
                    .await?;
            }
            "product.deleted" => {
                let deleted: Deleted = data_of(envelope)?;
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
