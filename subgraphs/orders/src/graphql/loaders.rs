//! Batched loads of what each order of a page shows: its lines and its history, one query
//! per field for the whole page.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use emporium_kernel::ids::OrderId;
use emporium_kernel::money::Currency;

use crate::lines::Line;
use crate::orders::{HistoryEntry, Orders, OrdersError};

/// Loads the lines of every order a response lists in one query (not one per order). No
/// cache: it only batches the loads of the same moment, so sharing it between requests
/// shares no data (each order was authorized before its fields resolve).
pub struct ItemsLoader(pub(super) Orders);

impl Loader<(OrderId, Currency)> for ItemsLoader {
    type Value = Vec<Line>;
    type Error = Arc<OrdersError>;

    async fn load(
        &self,
        keys: &[(OrderId, Currency)],
    ) -> Result<HashMap<(OrderId, Currency), Vec<Line>>, Self::Error> {
        let mut lines = self.0.items_of(keys).await?;
        Ok(keys
            .iter()
            .filter_map(|key| Some((*key, lines.remove(&key.0)?)))
            .collect())
    }
}

/// Loads the history of every order a response lists in one query.
pub struct HistoryLoader(pub(super) Orders);

impl Loader<OrderId> for HistoryLoader {
    type Value = Vec<HistoryEntry>;
    type Error = Arc<OrdersError>;

    async fn load(
        &self,
        keys: &[OrderId],
    ) -> Result<HashMap<OrderId, Vec<HistoryEntry>>, Self::Error> {
        Ok(self.0.histories(keys).await?)
    }
}
