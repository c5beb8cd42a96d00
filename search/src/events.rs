//! The indexer: consumes `product.*` and `stock.changed` from the queue `search.indexer` into
//! the index. Each message is acknowledged only after the commit that contains its change,
//! and several consumer tasks share one commit (group commit), so commits stay small and
//! frequent (every [`COMMIT_INTERVAL`]) without one commit per message.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use emporium_kernel::events::consumer::{Handler, HandlerError};
use emporium_kernel::events::contract::inventory::StockChanged;
use emporium_kernel::events::contract::products::{
    self as contract, ProductCreated, ProductDeleted, ProductUpdated,
};
use emporium_kernel::events::{Envelope, Event};
use serde::Deserialize;

use crate::index::document::VariantSnapshot;
use crate::index::{Applied, Change, Price, ProductSnapshot, SearchIndex};

/// Reads the whole catalog (with each product's last event sequence) for a reindex.
pub type CatalogSource = Arc<
    dyn Fn() -> Pin<Box<dyn Future<Output = Result<Vec<(u64, ProductSnapshot)>, String>> + Send>>
        + Send
        + Sync,
>;

/// What a reindex wrote beside the index, for `emporium search reindex` to read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReindexStatus {
    pub request_id: String,
    pub products: usize,
}

/// Rebuilds the index from `catalog` (searches see the old index until the new one is
/// committed) and records the outcome at `status_path`.
pub async fn reindex(
    index: &SearchIndex,
    catalog: &CatalogSource,
    request_id: &str,
    status_path: &std::path::Path,
) -> Result<usize, String> {
    let products = catalog().await?;
    let count = index
        .replace_all(products)
        .await
        .map_err(|e| e.to_string())?;
    let status = ReindexStatus {
        request_id: request_id.to_owned(),
        products: count,
    };
    let json = serde_json::to_vec(&status).map_err(|e| e.to_string())?;
    let partial = status_path.with_extension("partial");
    std::fs::write(&partial, json)
        .and_then(|()| std::fs::rename(&partial, status_path))
        .map_err(|e| format!("writing {}: {e}", status_path.display()))?;
    tracing::info!(
        products = count,
        request_id,
        "search index rebuilt from the products store"
    );
    Ok(count)
}

/// The indexer's queue when the search service runs as one replica.
pub const INDEXER_QUEUE: &str = "search.indexer";

/// The indexer's queue of a search replica. Every replica has its own index, so it needs every
/// catalogue event: replicas sharing one queue would split them. With no replica id (one
/// replica) it is [`INDEXER_QUEUE`]; with one (a pod name) it is `search.indexer.<id>`.
pub fn indexer_queue(replica_id: Option<&str>) -> String {
    match replica_id {
        Some(id) => format!("{INDEXER_QUEUE}.{id}"),
        None => INDEXER_QUEUE.to_owned(),
    }
}
/// An operator's request to rebuild the index from the products store (`emporium search
/// reindex` while the service runs): internal to the search service, not in the catalogue.
pub const REINDEX_COMMAND: &str = "search.reindex";
pub const BINDINGS: [&str; 5] = [
    ProductCreated::TYPE,
    ProductUpdated::TYPE,
    ProductDeleted::TYPE,
    StockChanged::TYPE,
    REINDEX_COMMAND,
];
/// How often pending changes are committed: well inside the one second in which a change
/// must become searchable.
pub const COMMIT_INTERVAL: Duration = Duration::from_millis(50);
/// Consumer tasks on the queue: the messages of one commit interval.
pub const INDEXER_TASKS: usize = 32;

/// What the index keeps of a catalogue snapshot.
fn indexed(product: contract::ProductSnapshot) -> ProductSnapshot {
    ProductSnapshot {
        product_id: product.product_id,
        name: product.name,
        description: product.description,
        category: product.category,
        brand: product.brand,
        price: Price {
            amount: product.price.amount,
            currency: product.price.currency,
        },
        popularity: product.popularity,
        created_at: product.created_at,
        variants: product
            .variants
            .into_iter()
            .map(|variant| VariantSnapshot {
                id: variant.id,
                selected_options: variant.selected_options,
            })
            .collect(),
    }
}

/// The change an event carries.
pub fn change_of(envelope: &Envelope) -> Result<Change, HandlerError> {
    let sequence = u64::try_from(envelope.sequence_number())
        .ok()
        .filter(|s| *s > 0)
        .ok_or_else(|| HandlerError::permanent(format!("bad sequence {:?}", envelope.sequence)))?;
    let upsert = |product: contract::ProductSnapshot| Change::Upsert {
        sequence,
        product: Box::new(indexed(product)),
    };
    Ok(match envelope.event_type.as_str() {
        ProductCreated::TYPE => upsert(envelope.decode::<ProductCreated>()?.product),
        ProductUpdated::TYPE => upsert(envelope.decode::<ProductUpdated>()?.product),
        ProductDeleted::TYPE => Change::Delete {
            sequence,
            product_id: envelope.decode::<ProductDeleted>()?.product_id,
        },
        StockChanged::TYPE => {
            let stock: StockChanged = envelope.decode()?;
            Change::Stock {
                sequence,
                product_id: stock.product_id,
                variant_id: stock.variant_id,
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
    /// For reindex requests: the catalog and where to report.
    reindexing: Option<(CatalogSource, PathBuf)>,
}

impl IndexerHandler {
    pub fn new(index: SearchIndex) -> Self {
        Self {
            index,
            reindexing: None,
        }
    }

    /// Also handles reindex requests, from `catalog`, reporting at `status_path`.
    pub fn with_reindex(mut self, catalog: CatalogSource, status_path: PathBuf) -> Self {
        self.reindexing = Some((catalog, status_path));
        self
    }
}

impl Handler for IndexerHandler {
    async fn handle(&self, envelope: &Envelope) -> Result<(), HandlerError> {
        if envelope.event_type == REINDEX_COMMAND {
            let Some((catalog, status_path)) = &self.reindexing else {
                return Err(HandlerError::permanent(
                    "this indexer cannot read the catalog",
                ));
            };
            let request_id = envelope.data["requestId"].as_str().unwrap_or_default();
            reindex(&self.index, catalog, request_id, status_path)
                .await
                .map_err(HandlerError::retryable)?;
            return Ok(());
        }
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

#[cfg(test)]
mod tests {
    use super::{indexer_queue, INDEXER_QUEUE};

    #[test]
    fn each_replica_has_its_own_queue_and_one_replica_keeps_the_old_name() {
        assert_eq!(indexer_queue(None), INDEXER_QUEUE);
        assert_eq!(indexer_queue(Some("search-0")), "search.indexer.search-0");
        assert_ne!(
            indexer_queue(Some("search-0")),
            indexer_queue(Some("search-1"))
        );
    }
}
