//! Rebuilding the hot counts from the ledger, and comparing the two.
//!
//! Both take the ledger's exclusive lock, so no writer runs meanwhile: a rebuild loads Redis
//! from the ledger's snapshot (readers wait for it instead of seeing half of it), and a
//! reconciliation reports every difference as a [`Drift`] and changes nothing. A failure
//! leaves the counts not ready, and the next operation or rebuild loads them again.

use std::collections::BTreeMap;

use super::{Inventory, InventoryError};
use crate::domain::{Line, StockLevel};
use crate::ledger;

/// Differences between Redis and the ledger, as `reconcile` finds them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drift {
    /// Redis has lost its counts (they are rebuilt on the next use or by `rebuild`).
    pub not_loaded: bool,
    /// (product, Redis, ledger levels, sum of the ledger's movements)
    pub products: Vec<(String, StockLevel, StockLevel, StockLevel)>,
    /// (order, lines Redis holds, lines the ledger has reserved)
    pub orders: Vec<(String, Vec<Line>, Vec<Line>)>,
}

impl Drift {
    pub fn is_empty(&self) -> bool {
        !self.not_loaded && self.products.is_empty() && self.orders.is_empty()
    }
}

/// What a rebuild loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rebuilt {
    pub products: usize,
    pub reservations: usize,
}

impl Inventory {
    /// Rebuilds the hot counts from the ledger unless another process already did.
    pub async fn rebuild_if_unloaded(&self) -> Result<Option<Rebuilt>, InventoryError> {
        self.rebuild_inner(true).await
    }

    /// Replaces the hot counts with the ledger's (`emporium inventory rebuild`). Writers wait
    /// meanwhile; readers see no half-loaded counts.
    pub async fn rebuild(&self) -> Result<Rebuilt, InventoryError> {
        Ok(self.rebuild_inner(false).await?.unwrap_or(Rebuilt {
            products: 0,
            reservations: 0,
        }))
    }

    async fn rebuild_inner(
        &self,
        only_if_unloaded: bool,
    ) -> Result<Option<Rebuilt>, InventoryError> {
        let mut tx = self.pool.begin().await?;
        ledger::lock_exclusively(&mut tx).await?;
        if only_if_unloaded && self.hot.is_ready().await? {
            return Ok(None);
        }
        let snapshot = ledger::snapshot(&mut tx).await?;
        self.hot
            .load(&snapshot.levels, &snapshot.reserved_orders)
            .await?;
        tx.commit().await?;
        let rebuilt = Rebuilt {
            products: snapshot.levels.len(),
            reservations: snapshot.reserved_orders.len(),
        };
        tracing::info!(
            products = rebuilt.products,
            reservations = rebuilt.reservations,
            "rebuilt the hot stock counts from the ledger"
        );
        Ok(Some(rebuilt))
    }

    /// Compares Redis with the ledger while no writer runs.
    pub async fn reconcile(&self) -> Result<Drift, InventoryError> {
        let mut tx = self.pool.begin().await?;
        ledger::lock_exclusively(&mut tx).await?;
        let mut drift = Drift::default();
        let snapshot = ledger::snapshot(&mut tx).await?;
        let sums: BTreeMap<String, StockLevel> =
            ledger::movement_sums(&mut tx).await?.into_iter().collect();
        if !self.hot.is_ready().await? {
            drift.not_loaded = true;
        }
        let (hot_levels, hot_orders) = self.hot.snapshot().await?;
        tx.commit().await?;

        let ledger_levels: BTreeMap<String, StockLevel> = snapshot.levels.into_iter().collect();
        let hot_levels: BTreeMap<String, StockLevel> = hot_levels.into_iter().collect();
        let mut products: Vec<&String> = ledger_levels
            .keys()
            .chain(hot_levels.keys())
            .chain(sums.keys())
            .collect();
        products.sort();
        products.dedup();
        for id in products {
            let hot = hot_levels.get(id).copied().unwrap_or_default();
            let level = ledger_levels.get(id).copied().unwrap_or_default();
            let sum = sums.get(id).copied().unwrap_or_default();
            if hot != level || level != sum {
                drift.products.push((id.clone(), hot, level, sum));
            }
        }

        let ledger_orders: BTreeMap<String, Vec<Line>> =
            snapshot.reserved_orders.into_iter().collect();
        let hot_orders: BTreeMap<String, Vec<Line>> = hot_orders
            .into_iter()
            .map(|(id, mut lines)| {
                lines.sort_by(|a, b| a.product_id.cmp(&b.product_id));
                (id, lines)
            })
            .collect();
        let mut orders: Vec<&String> = ledger_orders.keys().chain(hot_orders.keys()).collect();
        orders.sort();
        orders.dedup();
        for id in orders {
            let hot = hot_orders.get(id).cloned().unwrap_or_default();
            let mut recorded = ledger_orders.get(id).cloned().unwrap_or_default();
            recorded.sort_by(|a, b| a.product_id.cmp(&b.product_id));
            if hot != recorded {
                drift.orders.push((id.clone(), hot, recorded));
            }
        }
        Ok(drift)
    }
}
