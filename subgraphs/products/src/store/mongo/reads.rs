//! The catalogue's reads: products by id (and the product of a variant), the pages of a
//! listing in `_id` order, and what the browse order and the search index are rebuilt from.
//!
//! Reads take no transaction and change nothing. A MongoDB error is
//! [`StoreError::Mongo`]; a stored document that no longer maps to a product is
//! [`StoreError::Corrupt`], not skipped.

use emporium_kernel::events::outbox::mongo as outbox;
use emporium_kernel::mongo::CountedPage;
use futures::TryStreamExt;
use mongodb::bson::{doc, Document};
use serde::Deserialize;

use super::document::ProductDoc;
use super::{Page, ProductStore, StoreError, COLLECTION};
use crate::domain::product::Product;
use crate::events;

impl ProductStore {
    pub async fn find_by_id(&self, id: &str) -> Result<Option<Product>, StoreError> {
        self.products
            .find_one(doc! { "_id": id })
            .await?
            .map(Product::try_from)
            .transpose()
    }

    /// The id of the product that has the variant `variant_id` (a product's own id for a
    /// product without options), if any.
    pub async fn product_id_of_variant(
        &self,
        variant_id: &str,
    ) -> Result<Option<String>, StoreError> {
        #[derive(Deserialize)]
        struct Id {
            #[serde(rename = "_id")]
            id: String,
        }
        let found = self
            .db
            .collection::<Id>(COLLECTION)
            .find_one(doc! { "$or": [ { "_id": variant_id }, { "variants.id": variant_id } ] })
            .projection(doc! { "_id": 1 })
            .await?;
        Ok(found.map(|f| f.id))
    }

    /// The products of `ids` that exist, in no particular order; one query.
    pub async fn find_by_ids(&self, ids: &[String]) -> Result<Vec<Product>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let docs: Vec<ProductDoc> = self
            .products
            .find(doc! { "_id": { "$in": ids } })
            .await?
            .try_collect()
            .await?;
        docs.into_iter().map(Product::try_from).collect()
    }

    /// Every product's id and category path (each level): what the browse order is built from.
    pub async fn browse_entries(&self) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        #[derive(Deserialize)]
        struct Entry {
            #[serde(rename = "_id")]
            id: String,
            category_path: Vec<String>,
        }
        let entries: Vec<Entry> = self
            .db
            .collection::<Entry>(COLLECTION)
            .find(doc! {})
            .projection(doc! { "_id": 1, "category_path": 1 })
            .await?
            .try_collect()
            .await?;
        Ok(entries
            .into_iter()
            .map(|e| (e.id, e.category_path))
            .collect())
    }

    /// Products in `_id` order after the cursor `after`, optionally within a category (and its
    /// sub-categories), counted only `with_count`.
    pub async fn list(
        &self,
        category: Option<&str>,
        after: Option<&str>,
        limit: usize,
        with_count: bool,
    ) -> Result<Page, StoreError> {
        let mut filter = Document::new();
        if let Some(category) = category {
            filter.insert("category_path", category);
        }
        let count_filter = filter.clone();
        if let Some(after) = after {
            filter.insert("_id", doc! { "$gt": after });
        }
        // One snapshot for both, so a page counts what it lists even while products are
        // added; one extra row tells whether another page follows.
        let (total_count, docs) = if with_count {
            let (total, docs) = CountedPage {
                count_filter,
                page_filter: filter,
                sort: doc! { "_id": 1 },
                limit: limit as i64 + 1,
            }
            .read(&self.products)
            .await?;
            (Some(total), docs)
        } else {
            let docs: Vec<ProductDoc> = self
                .products
                .find(filter)
                .sort(doc! { "_id": 1 })
                .limit(limit as i64 + 1)
                .await?
                .try_collect()
                .await?;
            (None, docs)
        };
        let mut products: Vec<Product> = docs
            .into_iter()
            .map(Product::try_from)
            .collect::<Result<_, _>>()?;
        let has_next_page = products.len() > limit;
        products.truncate(limit);
        Ok(Page {
            products,
            has_next_page,
            total_count,
        })
    }

    /// Every product as its event snapshot, with the sequence of its last event: what a
    /// projection (the search index) is rebuilt from. The sequences are read first, so a
    /// product changed meanwhile carries an older sequence than its content and its event,
    /// when it arrives, is applied again rather than dropped.
    pub async fn snapshots(&self) -> Result<Vec<(i64, serde_json::Value)>, StoreError> {
        let sequences = outbox::last_sequences(&self.db).await?;
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.list(None, after.as_deref(), 1000, false).await?;
            after = page.products.last().map(|p| p.id.clone());
            for product in page.products {
                let sequence = sequences.get(&product.id).copied().unwrap_or(0);
                out.push((sequence, events::snapshot(&product)));
            }
            if !page.has_next_page {
                return Ok(out);
            }
        }
    }
}
