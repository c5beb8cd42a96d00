//! The inventory's operations: each one changes Redis with atomic per-product scripts (an
//! order's several products in the compensated sequence of [`crate::hot`]) and records the
//! change, with its events, in one Postgres transaction (see [`crate::ledger`] for the locks,
//! held from before the first script to the commit).
//!
//! Failure between the two is healed by retrying the same operation: the scripts recognise a
//! repeat (a line the order already holds, a stock operation id already applied, a line whose
//! hold Redis already released) and the ledger then records what Redis did. Event handlers retry by redelivery; an admin's `setStock` undoes its Redis change when
//! its transaction fails. When Redis has lost its counts, operations wait for a rebuild from
//! the ledger instead of answering from empty counts.

mod orders;
mod rebuild;
mod stock;

use emporium_kernel::events::outbox::postgres::OutboxWaker;
use emporium_kernel::events::EventDraft;
use sqlx::{PgConnection, PgPool};

use emporium_kernel::ids::{ProductId, VariantId};

use crate::domain::StockLevel;
use crate::events::published as inventory_events;
use crate::hot::{HotError, HotStock};
use crate::ledger;

pub use rebuild::{Drift, Rebuilt};

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("hot stock counts: {0}")]
    Hot(#[from] HotError),
    #[error("inventory ledger: {0}")]
    Database(#[from] sqlx::Error),
}

/// What an admin's `setStock` came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetStockOutcome {
    Set(StockLevel),
    /// Refused: more units than that are reserved for orders.
    BelowReserved(StockLevel),
    /// Refused: the catalog deleted the product.
    ProductDeleted,
    /// Refused: the product has variants, whose stock is set one by one.
    HasVariants,
}

/// What handling an order event did, for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderOutcome {
    Reserved,
    Rejected(Vec<crate::domain::Shortage>),
    Released,
    Fulfilled,
    /// The event was handled before, or does not apply to the order's reservation now.
    NoChange,
}

#[derive(Clone)]
pub struct Inventory {
    pool: PgPool,
    hot: HotStock,
    /// Wakes the relay after a write that may have committed events.
    waker: OutboxWaker,
}

impl Inventory {
    pub fn new(pool: PgPool, hot: HotStock) -> Self {
        Self {
            waker: OutboxWaker::new(pool.clone()),
            pool,
            hot,
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub fn hot(&self) -> &HotStock {
        &self.hot
    }

    /// The counts of one stock id, a variant or a product without options (zero for one never
    /// stocked).
    pub async fn stock(&self, stock_id: &VariantId) -> Result<StockLevel, InventoryError> {
        Ok(self
            .stocks(std::slice::from_ref(stock_id))
            .await?
            .into_iter()
            .next()
            .unwrap_or_default())
    }

    /// The counts of several products, each the sum of its variants' (a product without
    /// options is its own variant), in their order: one Postgres query for which products have
    /// variants, then one Redis round trip for every count.
    pub async fn product_stocks(
        &self,
        product_ids: &[ProductId],
    ) -> Result<Vec<StockLevel>, InventoryError> {
        let ids: Vec<&str> = product_ids.iter().map(ProductId::as_str).collect();
        let mut conn = self.pool.acquire().await?;
        let variants = ledger::variants_of(&mut conn, &ids).await?;
        drop(conn);
        // Each product's stock ids: its recorded variants (ids this service parsed before
        // recording them), or the product itself when it has no options.
        let groups: Vec<Vec<VariantId>> = product_ids
            .iter()
            .map(|product_id| match variants.get(product_id.as_str()) {
                Some(ids) => ids
                    .iter()
                    .filter_map(|id| VariantId::parse(id.as_str()).ok())
                    .collect(),
                None => vec![VariantId::of_product(product_id)],
            })
            .collect();
        let all: Vec<VariantId> = groups.iter().flatten().cloned().collect();
        let mut levels = self.stocks(&all).await?.into_iter();
        Ok(groups
            .iter()
            .map(|group| {
                let parts: Vec<StockLevel> = levels.by_ref().take(group.len()).collect();
                crate::domain::sum_levels(&parts)
            })
            .collect())
    }

    /// The counts of several variants (a product without options is its own), in their order
    /// (zero for one never stocked), with one Redis round trip.
    pub async fn stocks(&self, stock_ids: &[VariantId]) -> Result<Vec<StockLevel>, InventoryError> {
        if stock_ids.is_empty() {
            return Ok(vec![]);
        }
        let ids: Vec<&str> = stock_ids.iter().map(VariantId::as_str).collect();
        self.retry_when_unloaded(|| async { Ok(self.hot.levels(&ids).await?) })
            .await
    }

    /// Runs `op`; if Redis had lost its counts, rebuilds them and runs it once more.
    async fn retry_when_unloaded<T, F, Fut>(&self, op: F) -> Result<T, InventoryError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, InventoryError>>,
    {
        match op().await {
            Err(InventoryError::Hot(HotError::NotReady)) => {
                self.rebuild_if_unloaded().await?;
                op().await
            }
            other => other,
        }
    }

    /// [`Inventory::retry_when_unloaded`] for a write, which commits its events: wakes the
    /// relay when it succeeded.
    async fn write_when_loaded<T, F, Fut>(&self, op: F) -> Result<T, InventoryError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, InventoryError>>,
    {
        let written = self.retry_when_unloaded(op).await?;
        self.waker.wake();
        Ok(written)
    }
}

/// `stock.changed` of a stock id, naming the product a variant belongs to.
async fn stock_changed(
    conn: &mut PgConnection,
    stock_id: &str,
    level: StockLevel,
) -> Result<EventDraft, sqlx::Error> {
    let product = ledger::product_of_variant(conn, stock_id).await?;
    Ok(inventory_events::stock_changed(stock_id, product, level))
}
