//! The catalog as the resolvers use it: reads through the Redis cache, writes to MongoDB
//! with the cache kept coherent around each commit (see `store::redis` for the protocol).
//!
//! Guarantees:
//! - A read that starts after a write returned sees that write (or a later one), by id,
//!   batched (`_entities`) or on a browse page; a deleted product is on no read path.
//! - A Redis error on a read costs a MongoDB read and a count in
//!   `catalog_cache_fallbacks_total`, never an error to the client. A lost browse order is
//!   rebuilt from MongoDB in the background while pages are read from MongoDB.
//! - An update or delete is refused (nothing changes, the client gets `INTERNAL`) when Redis
//!   cannot take the write's block before the commit: the write could not otherwise keep
//!   other readers from caching the old document. A product is still created without Redis.
//!   If Redis fails after a commit, the browse order is marked incomplete as soon as Redis
//!   answers again, and until then this process pages from MongoDB.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use emporium_kernel::ids::ProductId;
use emporium_kernel::trace::TraceContext;
use prometheus::{IntCounterVec, Opts};

use crate::domain::product::{category_ancestry, NewProduct, Product, ProductPatch};
use crate::domain::variant::Variant;
use crate::store::redis::{BrowseChange, WriteBlock};
use crate::store::{CacheError, CatalogCache, Page, ProductStore, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A write could not block cached copies of the product, so it was not made.
    #[error("the catalog cache cannot take a write's block: {0}")]
    CacheUnavailable(CacheError),
}

struct CacheMetrics {
    lookups: IntCounterVec,
    fallbacks: IntCounterVec,
}

static METRICS: LazyLock<CacheMetrics> = LazyLock::new(|| {
    let registry = emporium_kernel::events::metrics::registry();
    let lookups = IntCounterVec::new(
        Opts::new(
            "catalog_cache_lookups_total",
            "Products looked up in the catalog cache by id, by result (hit, miss).",
        ),
        &["result"],
    )
    .expect("the metric's options are valid");
    let fallbacks = IntCounterVec::new(
        Opts::new(
            "catalog_cache_fallbacks_total",
            "Catalog reads and writes that met a Redis error and used MongoDB alone, by operation.",
        ),
        &["operation"],
    )
    .expect("the metric's options are valid");
    // Registered once per process (LazyLock); a name taken by another collector would be a
    // programming error caught by the first test that reads the catalog.
    registry
        .register(Box::new(lookups.clone()))
        .expect("catalog_cache_lookups_total is registered once");
    registry
        .register(Box::new(fallbacks.clone()))
        .expect("catalog_cache_fallbacks_total is registered once");
    CacheMetrics { lookups, fallbacks }
});

fn fell_back(operation: &str, err: &CacheError) {
    tracing::warn!(error = %err, operation, "catalog cache unavailable; using MongoDB");
    METRICS.fallbacks.with_label_values(&[operation]).inc();
}

#[derive(Clone)]
pub struct Catalog {
    store: ProductStore,
    cache: CatalogCache,
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    /// A rebuild of the browse order is under way in this process.
    is_rebuilding: AtomicBool,
    /// A write's browse change may be missing from Redis: page from MongoDB until the browse
    /// order has been marked incomplete (and so will be rebuilt).
    is_browse_suspect: AtomicBool,
}

impl Catalog {
    pub fn new(store: ProductStore, cache: CatalogCache) -> Self {
        Self {
            store,
            cache,
            shared: Arc::default(),
        }
    }

    pub fn store(&self) -> &ProductStore {
        &self.store
    }

    pub fn cache(&self) -> &CatalogCache {
        &self.cache
    }

    /// Rebuilds the browse order from MongoDB (a service starting: products may have been
    /// written by other means, such as seeding, since it last ran).
    pub async fn rebuild_browse_order(&self) -> Result<bool, CatalogError> {
        self.cache
            .forget_browse_order()
            .await
            .map_err(CatalogError::CacheUnavailable)?;
        self.try_rebuild().await
    }

    /// One product by id.
    pub async fn product(&self, id: &str) -> Result<Option<Product>, StoreError> {
        Ok(self.products(&[id.to_owned()]).await?.remove(id))
    }

    /// The variant `id` and its product (a product without options is its own variant, under
    /// its own id): the product is found through the cached variant → product id (MongoDB's
    /// index on variant ids on a miss, which then fills it), then read through the cache.
    pub async fn variant(&self, id: &str) -> Result<Option<(Product, Variant)>, StoreError> {
        let of_product = |product: Option<Product>| {
            product.and_then(|product| product.variant(id).map(|variant| (product, variant)))
        };
        match self.cache.product_of_variant(id).await {
            Ok(Some(product_id)) => return Ok(of_product(self.product(&product_id).await?)),
            Ok(None) => {}
            Err(err) => fell_back("variant", &err),
        }
        let Some(product_id) = self.store.product_id_of_variant(id).await? else {
            return Ok(None);
        };
        if let Err(err) = self.cache.remember_variant(id, &product_id).await {
            fell_back("variant", &err);
        }
        Ok(of_product(self.product(&product_id).await?))
    }

    /// The products of `ids` that exist: the cached ones with one `MGET`, the rest with one
    /// MongoDB query (filling the cache where no write got in between).
    pub async fn products(&self, ids: &[String]) -> Result<HashMap<String, Product>, StoreError> {
        let cached = match self.cache.entries(ids).await {
            Ok(cached) => cached,
            Err(err) => {
                fell_back("read", &err);
                return self.read_store(ids).await;
            }
        };
        let mut found = HashMap::with_capacity(ids.len());
        let mut missed = Vec::new();
        for (id, entry) in ids.iter().zip(cached) {
            match entry {
                Some(product) => {
                    found.insert(id.clone(), product);
                }
                None => missed.push(id.clone()),
            }
        }
        METRICS
            .lookups
            .with_label_values(&["hit"])
            .inc_by(found.len() as u64);
        if missed.is_empty() {
            return Ok(found);
        }
        METRICS
            .lookups
            .with_label_values(&["miss"])
            .inc_by(missed.len() as u64);
        found.extend(self.read_and_fill(&missed).await?);
        Ok(found)
    }

    async fn read_store(&self, ids: &[String]) -> Result<HashMap<String, Product>, StoreError> {
        Ok(self
            .store
            .find_by_ids(ids)
            .await?
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect())
    }

    /// Leases first, then MongoDB, then the fill: a write between the lease and the fill
    /// takes the lease away, so what was read is then not stored.
    async fn read_and_fill(&self, ids: &[String]) -> Result<HashMap<String, Product>, StoreError> {
        let lease = match self.cache.lease(ids).await {
            Ok(lease) => Some(lease),
            Err(err) => {
                fell_back("lease", &err);
                None
            }
        };
        let found = self.read_store(ids).await?;
        if let Some((token, taken)) = lease {
            let read: Vec<(&str, Option<&Product>)> = ids
                .iter()
                .zip(taken)
                .filter(|(_, is_taken)| *is_taken)
                .map(|(id, _)| (id.as_str(), found.get(id)))
                .collect();
            if let Err(err) = self.cache.fill(&token, &read).await {
                fell_back("fill", &err);
            }
        }
        Ok(found)
    }

    /// A browse page: ids from the Redis browse order, products by id; from MongoDB while
    /// the browse order is incomplete or Redis fails. The total is counted only `with_count`.
    pub async fn page(
        &self,
        category: Option<&str>,
        after: Option<&str>,
        limit: usize,
        with_count: bool,
    ) -> Result<Page, StoreError> {
        if !self.shared.is_browse_suspect.load(Ordering::Acquire) {
            match self.cache.browse(category, after, limit, with_count).await {
                Ok(Some(ids)) => return self.page_of(ids, limit).await,
                Ok(None) => self.rebuild_in_background(),
                Err(err) => fell_back("browse", &err),
            }
        }
        self.store.list(category, after, limit, with_count).await
    }

    async fn page_of(
        &self,
        page: crate::store::redis::IdPage,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let has_next_page = page.ids.len() > limit;
        let mut ids = page.ids;
        ids.truncate(limit);
        let mut found = self.products(&ids).await?;
        // An id whose product is gone (deleted between its commit and the browse update)
        // is skipped rather than shown.
        let products = ids.iter().filter_map(|id| found.remove(id)).collect();
        Ok(Page {
            products,
            has_next_page,
            total_count: page.total_count,
        })
    }

    fn rebuild_in_background(&self) {
        if self.shared.is_rebuilding.swap(true, Ordering::AcqRel) {
            return;
        }
        let catalog = self.clone();
        tokio::spawn(async move {
            match catalog.try_rebuild().await {
                Ok(true) => tracing::info!("catalog browse order rebuilt in Redis"),
                Ok(false) => tracing::info!(
                    "catalog browse order rebuild skipped (another one runs, or a write cancelled it)"
                ),
                Err(err) => tracing::warn!(error = %err, "rebuilding the catalog browse order failed"),
            }
            catalog.shared.is_rebuilding.store(false, Ordering::Release);
        });
    }

    async fn try_rebuild(&self) -> Result<bool, CatalogError> {
        let Some(token) = self
            .cache
            .begin_rebuild()
            .await
            .map_err(CatalogError::CacheUnavailable)?
        else {
            return Ok(false);
        };
        let entries = self.store.browse_entries().await?;
        self.cache
            .finish_rebuild(&token, &entries)
            .await
            .map_err(CatalogError::CacheUnavailable)
    }

    /// Creates a product, then lists it in the browse order.
    pub async fn create(
        &self,
        new_product: &NewProduct,
        trace: &TraceContext,
    ) -> Result<Product, StoreError> {
        let product = self.store.insert(new_product, trace).await?;
        let change = BrowseChange {
            listed_under: category_ancestry(&product.category),
            unlisted_from: Vec::new(),
            is_listed: Some(true),
        };
        self.settle(&product.id, &CatalogCache::unblocked(), &change)
            .await;
        Ok(product)
    }

    /// Updates a product: block, commit, settle.
    pub async fn update(
        &self,
        id: &ProductId,
        patch: &ProductPatch,
        trace: &TraceContext,
    ) -> Result<Option<Product>, CatalogError> {
        let block = self
            .cache
            .block(id.as_str())
            .await
            .map_err(CatalogError::CacheUnavailable)?;
        let updated = match self.store.update(id, patch, trace).await {
            Ok(updated) => updated,
            Err(err) => {
                self.settle(id.as_str(), &block, &BrowseChange::default())
                    .await;
                return Err(err.into());
            }
        };
        let change = match &updated {
            Some(u) => {
                let now = category_ancestry(&u.product.category);
                let before = category_ancestry(&u.previous_category);
                BrowseChange {
                    unlisted_from: before.into_iter().filter(|c| !now.contains(c)).collect(),
                    listed_under: now,
                    is_listed: Some(true),
                }
            }
            None => BrowseChange::default(),
        };
        self.settle(id.as_str(), &block, &change).await;
        Ok(updated.map(|u| u.product))
    }

    /// Deletes a product: block, commit, settle. Returns whether there was one.
    pub async fn delete(&self, id: &ProductId, trace: &TraceContext) -> Result<bool, CatalogError> {
        let block = self
            .cache
            .block(id.as_str())
            .await
            .map_err(CatalogError::CacheUnavailable)?;
        let deleted = match self.store.delete(id, trace).await {
            Ok(deleted) => deleted,
            Err(err) => {
                self.settle(id.as_str(), &block, &BrowseChange::default())
                    .await;
                return Err(err.into());
            }
        };
        let change = match &deleted {
            Some(product) => BrowseChange {
                listed_under: Vec::new(),
                unlisted_from: category_ancestry(&product.category),
                is_listed: Some(false),
            },
            None => BrowseChange::default(),
        };
        self.settle(id.as_str(), &block, &change).await;
        Ok(deleted.is_some())
    }

    /// After a commit. If Redis fails here the product's entry is still safe (its block
    /// expires long after the commit became visible), but the browse order may lack the
    /// change: this process pages from MongoDB until it has marked the order incomplete.
    async fn settle(&self, id: &str, block: &WriteBlock, change: &BrowseChange) {
        let Err(err) = self.cache.settle(id, block, change).await else {
            return;
        };
        fell_back("settle", &err);
        if self.shared.is_browse_suspect.swap(true, Ordering::AcqRel) {
            return;
        }
        let catalog = self.clone();
        tokio::spawn(async move { catalog.forget_browse_order_when_possible().await });
    }

    async fn forget_browse_order_when_possible(&self) {
        let mut delay = Duration::from_millis(100);
        while let Err(err) = self.cache.forget_browse_order().await {
            tracing::warn!(error = %err, "marking the catalog browse order incomplete; retrying");
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(10));
        }
        self.shared
            .is_browse_suspect
            .store(false, Ordering::Release);
    }
}
