//! The indexer: consumes `product.*` and `stock.changed` from the queue `search.indexer` into
//! the index. Each message is acknowledged only after the commit that contains its change,
//! and several consumer tasks share one commit (group commit), so commits stay small and
//! frequent (every [`COMMIT_INTERVAL`]) without one commit per message.

use std::time::Duration;

use emporium_kernel::events::consumer::{Handler, HandlerError};
use emporium_kernel::events::Envelope;
use serde::Deserialize;

use crate::index::{Applied, Change, ProductSnapshot, SearchIndex};

pub const INDEXER_QUEUE: &str = "search.indexer";
pub const BINDINGS: [&str; 4] = [
    "product.created",
    "product.updated",
    "product.deleted",
    "stock.changed",
];
/// How often pending changes are committed: well inside the one second in which a change
/// must become searchable.
pub const COMMIT_INTERVAL: Duration = Duration::from_millis(50);
/// Consumer tasks on the queue: the messages of one commit interval.
pub const INDEXER_TASKS: usize = 32;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Deleted {
    product_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StockChanged {
    product_id: String,
    in_stock: bool,
}

fn data<T: serde::de::DeserializeOwned>(envelope: &Envelope) -> Result<T, HandlerError> {
    serde_json::from_value(envelope.data.clone()).map_err(|e| {
        HandlerError::permanent(format!(
            "{} data does not match its schema: {e}",
            envelope.event_type
        ))
    })
}

/// The change an event carries.
pub fn change_of(envelope: &Envelope) -> Result<Change, HandlerError> {
    let sequence = u64::try_from(envelope.sequence_number())
        .ok()
        .filter(|s| *s > 0)
        .ok_or_else(|| HandlerError::permanent(format!("bad sequence {:?}", envelope.sequence)))?;
    Ok(match envelope.event_type.as_str() {
        "product.created" | "product.updated" => {
            let product: ProductSnapshot = data(envelope)?;
            Change::Upsert {
                sequence,
                product: Box::new(product),
            }
        }
        "product.deleted" => Change::Delete {
            sequence,
            product_id: data::<Deleted>(envelope)?.product_id,
        },
        "stock.changed" => {
            let stock: StockChanged = data(envelope)?;
            Change::Stock {
                sequence,
                product_id: stock.product_id,
                in_stock: stock.in_stock,
            }
        }
        other => {
            return Err(HandlerError::permanent(format!(
                "the indexer does not handle {other}"
            )))
        }
    })
}

#[derive(Clone)]
pub struct IndexerHandler {
    index: SearchIndex,
}

impl IndexerHandler {
    pub fn new(index: SearchIndex) -> Self {
        Self { index }
    }
}

impl Handler for IndexerHandler {
    async fn handle(&self, envelope: &Envelope) -> Result<(), HandlerError> {
        let change = change_of(envelope)?;
        match self
            .index
            .apply(change)
            .await
            .map_err(HandlerError::retryable)?
        {
            Applied::Written(opstamp) => {
                // A commit that keeps failing must not hold the message forever.
                tokio::time::timeout(Duration::from_secs(30), self.index.wait_committed(opstamp))
                    .await
                    .map_err(|_| HandlerError::retryable("the index did not commit within 30 s"))?;
            }
            Applied::Stale => {
                tracing::debug!(event = %envelope.id, "stale event dropped");
            }
        }
        Ok(())
    }
}
