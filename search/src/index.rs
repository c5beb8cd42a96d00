//! The tantivy index: its schema, the analyzer shared by documents and queries, and the one
//! writer that applies product and stock changes and commits them in small groups.
//!
//! One document per product id, of one of three kinds:
//! - `product`: a searchable product (its catalog snapshot plus whether it is in stock);
//! - `stock`: stock that arrived before its product (kept until the product does);
//! - `deleted`: a tombstone, so that a late update of a deleted product is recognised as stale.
//!
//! Each document records the `sequence` of the last product event and of the last stock event
//! applied to it; an older or repeated event changes nothing. Changes are acknowledged to the
//! consumer only once committed, so a restart loses nothing and replays nothing twice.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use tantivy::collector::TopDocs;
use tantivy::query::TermQuery;
use tantivy::schema::{
    Facet, FacetOptions, Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value,
    FAST, INDEXED, STORED, STRING,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};
use tokio::sync::watch;

/// The analyzer of every text field and of queries: words split on anything not
/// alphanumeric, lower-cased, accents folded ("Café" finds "cafe").
pub const ANALYZER: &str = "emporium";
/// Memory for the writer's in-progress segment.
const WRITER_HEAP_BYTES: usize = 50_000_000;

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("search index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("search index directory {path}: {source}")]
    Directory {
        path: String,
        source: std::io::Error,
    },
    /// Another process (a running search service) holds the index's writer lock.
    #[error("another process is writing this search index")]
    Busy,
    #[error("the index writer task failed: {0}")]
    Task(String),
    #[error("the index writer lock is poisoned")]
    Poisoned,
    #[error("stored document is corrupt: {0}")]
    Corrupt(String),
}

pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(64))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// The analyzed words of `text`, in order.
pub fn words(text: &str) -> Vec<String> {
    let mut analyzer = analyzer();
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

/// The schema's fields.
#[derive(Clone, Copy)]
pub struct Fields {
    pub id: Field,
    pub kind: Field,
    pub name: Field,
    pub description: Field,
    pub brand: Field,
    pub category: Field,
    /// Exact, lower-cased brand for filtering.
    pub brand_key: Field,
    /// The category path as a facet, lower-cased, for filtering (a parent matches its children).
    pub category_key: Field,
    /// The category path and brand in their own case, as fast fields for facet counts.
    pub category_path: Field,
    pub brand_exact: Field,
    pub price: Field,
    pub in_stock: Field,
    pub created_at: Field,
    pub popularity: Field,
    pub product_seq: Field,
    pub stock_seq: Field,
    /// The product snapshot as JSON (for results, highlights and re-indexing on stock changes).
    pub source: Field,
}

pub fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(ANALYZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let fields = Fields {
        id: builder.add_text_field("id", STRING | STORED),
        kind: builder.add_text_field("kind", STRING | STORED),
        name: builder.add_text_field("name", text.clone()),
        description: builder.add_text_field("description", text.clone()),
        brand: builder.add_text_field("brand", text.clone()),
        category: builder.add_text_field("category", text),
        brand_key: builder.add_text_field("brand_key", STRING),
        category_key: builder.add_facet_field("category_key", FacetOptions::default()),
        category_path: builder.add_text_field("category_path", STRING | FAST),
        brand_exact: builder.add_text_field("brand_exact", STRING | FAST),
        price: builder.add_u64_field("price", INDEXED | FAST | STORED),
        in_stock: builder.add_bool_field("in_stock", INDEXED | FAST | STORED),
        created_at: builder.add_i64_field("created_at", FAST | STORED),
        popularity: builder.add_u64_field("popularity", FAST),
        product_seq: builder.add_u64_field("product_seq", STORED),
        stock_seq: builder.add_u64_field("stock_seq", STORED),
        source: builder.add_text_field("source", STORED),
    };
    (builder.build(), fields)
}

/// Where the outcome of the last reindex of the index in `dir` is written (beside it).
pub fn reindex_status_path(dir: &Path) -> std::path::PathBuf {
    std::path::PathBuf::from(format!("{}.reindex.json", dir.display()))
}

/// Catalog snapshots (as the products store gives them) as index input.
pub fn snapshots_from(
    values: Vec<(i64, serde_json::Value)>,
) -> Result<Vec<(u64, ProductSnapshot)>, serde_json::Error> {
    values
        .into_iter()
        .map(|(sequence, value)| Ok((sequence.max(0) as u64, serde_json::from_value(value)?)))
        .collect()
}

/// The catalog snapshot of `product.created` / `product.updated` (what the index uses of it).
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductSnapshot {
    pub product_id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub category: String,
    #[serde(default)]
    pub brand: Option<String>,
    pub price: Price,
    #[serde(default)]
    pub popularity: i64,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
pub struct Price {
    pub amount: String,
    pub currency: String,
}

/// A change to apply, with the sequence of the event that carries it.
#[derive(Debug, Clone)]
pub enum Change {
    Upsert {
        sequence: u64,
        product: Box<ProductSnapshot>,
    },
    Delete {
        sequence: u64,
        product_id: String,
    },
    Stock {
        sequence: u64,
        product_id: String,
        in_stock: bool,
    },
}

impl Change {
    fn product_id(&self) -> &str {
        match self {
            Self::Upsert { product, .. } => &product.product_id,
            Self::Delete { product_id, .. } | Self::Stock { product_id, .. } => product_id,
        }
    }
}

/// What the index holds for one product id.
#[derive(Debug, Clone, Default, PartialEq)]
struct DocState {
    product_seq: u64,
    stock_seq: u64,
    in_stock: bool,
    deleted: bool,
    product: Option<ProductSnapshot>,
}

/// What applying a change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Written; visible once the commit with this opstamp is.
    Written(u64),
    /// Older than (or the same as) what the index holds: dropped.
    Stale,
}

struct Writer {
    inner: IndexWriter,
    /// Changes written since the last commit, which the reader does not see yet.
    pending: HashMap<String, DocState>,
    last_opstamp: u64,
}

/// The index with its reader and its one writer.
#[derive(Clone)]
pub struct SearchIndex {
    index: Index,
    fields: Fields,
    reader: IndexReader,
    writer: Arc<Mutex<Writer>>,
    committed: Arc<watch::Sender<u64>>,
}

impl SearchIndex {
    /// Opens the index in `dir`, creating it (and the directory) if needed. One process at a
    /// time may open a directory: tantivy's lock file refuses a second writer.
    pub fn open(dir: &Path) -> Result<Self, IndexError> {
        std::fs::create_dir_all(dir).map_err(|source| IndexError::Directory {
            path: dir.display().to_string(),
            source,
        })?;
        let (schema, fields) = schema();
        let directory = tantivy::directory::MmapDirectory::open(dir)
            .map_err(|e| IndexError::Tantivy(tantivy::TantivyError::SystemError(e.to_string())))?;
        let index = Index::open_or_create(directory, schema)?;
        Self::from_index(index, fields)
    }

    /// An index in memory (tests and benchmarks).
    pub fn in_memory() -> Result<Self, IndexError> {
        let (schema, fields) = schema();
        Self::from_index(Index::create_in_ram(schema), fields)
    }

    fn from_index(index: Index, fields: Fields) -> Result<Self, IndexError> {
        index.tokenizers().register(ANALYZER, analyzer());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let inner = index.writer(WRITER_HEAP_BYTES).map_err(|err| match err {
            tantivy::TantivyError::LockFailure(..) => IndexError::Busy,
            other => IndexError::Tantivy(other),
        })?;
        let last_opstamp = inner.commit_opstamp();
        Ok(Self {
            index,
            fields,
            reader,
            writer: Arc::new(Mutex::new(Writer {
                inner,
                pending: HashMap::new(),
                last_opstamp,
            })),
            committed: Arc::new(watch::Sender::new(last_opstamp)),
        })
    }

    pub fn fields(&self) -> Fields {
        self.fields
    }

    pub fn searcher(&self) -> tantivy::Searcher {
        self.reader.searcher()
    }

    pub fn index(&self) -> &Index {
        &self.index
    }

    /// Applies `change` unless the index already holds something as new.
    pub async fn apply(&self, change: Change) -> Result<Applied, IndexError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.apply_blocking(&change))
            .await
            .map_err(|e| IndexError::Task(e.to_string()))?
    }

    fn apply_blocking(&self, change: &Change) -> Result<Applied, IndexError> {
        let mut writer = self.writer.lock().map_err(|_| IndexError::Poisoned)?;
        let id = change.product_id().to_owned();
        let current = match writer.pending.get(&id) {
            Some(state) => Some(state.clone()),
            None => self.stored_state(&id)?,
        };
        let Some(next) = next_state(current.unwrap_or_default(), change) else {
            return Ok(Applied::Stale);
        };
        writer
            .inner
            .delete_term(Term::from_field_text(self.fields.id, &id));
        let opstamp = writer.inner.add_document(self.document(&id, &next)?)?;
        writer.pending.insert(id, next);
        writer.last_opstamp = opstamp;
        Ok(Applied::Written(opstamp))
    }

    /// Commits what was written since the last commit and makes it searchable.
    pub async fn commit(&self) -> Result<(), IndexError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.commit_blocking())
            .await
            .map_err(|e| IndexError::Task(e.to_string()))?
    }

    fn commit_blocking(&self) -> Result<(), IndexError> {
        let mut writer = self.writer.lock().map_err(|_| IndexError::Poisoned)?;
        if writer.pending.is_empty() && writer.last_opstamp <= *self.committed.borrow() {
            return Ok(());
        }
        let opstamp = writer.inner.commit()?;
        self.reader.reload()?;
        writer.pending.clear();
        self.committed.send_replace(opstamp);
        Ok(())
    }

    /// Waits until the change with `opstamp` is committed (and searchable).
    pub async fn wait_committed(&self, opstamp: u64) {
        let mut committed = self.committed.subscribe();
        // The sender lives as long as `self`: the wait cannot fail while we hold it.
        let _ = committed.wait_for(|c| *c >= opstamp).await;
    }

    /// Commits every `interval` while there is something to commit, until `shutdown`; then
    /// once more.
    pub async fn run_committer(
        &self,
        interval: Duration,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        loop {
            let stopping = shutdown
                .run_until_cancelled(tokio::time::sleep(interval))
                .await
                .is_none();
            if let Err(err) = self.commit().await {
                tracing::error!(error = %err, "committing the search index failed");
            }
            if stopping {
                return;
            }
        }
    }

    /// Replaces the whole index with `products` (and the stock the index knew), in one commit:
    /// readers see the old index until it lands.
    pub async fn replace_all(
        &self,
        products: Vec<(u64, ProductSnapshot)>,
    ) -> Result<usize, IndexError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.replace_all_blocking(products))
            .await
            .map_err(|e| IndexError::Task(e.to_string()))?
    }

    fn replace_all_blocking(
        &self,
        products: Vec<(u64, ProductSnapshot)>,
    ) -> Result<usize, IndexError> {
        let mut writer = self.writer.lock().map_err(|_| IndexError::Poisoned)?;
        // The stock the index knows survives: the products store does not hold it. Changes
        // written but not committed yet count too.
        let mut stock = self.all_stock()?;
        for (id, state) in &writer.pending {
            let known = stock.get(id).map_or(0, |(seq, _)| *seq);
            if state.stock_seq >= known {
                stock.insert(id.clone(), (state.stock_seq, state.in_stock));
            }
        }
        // A delete by query is ordered with the writes queued before it (which
        // `delete_all_documents` is not: it would let a queued write survive as a duplicate).
        writer
            .inner
            .delete_query(Box::new(tantivy::query::AllQuery))?;
        let count = products.len();
        let mut indexed = std::collections::HashSet::with_capacity(count);
        for (sequence, product) in products {
            let (stock_seq, in_stock) = stock
                .get(&product.product_id)
                .copied()
                .unwrap_or((0, false));
            let id = product.product_id.clone();
            let state = DocState {
                product_seq: sequence,
                stock_seq,
                in_stock,
                deleted: false,
                product: Some(product),
            };
            writer.inner.add_document(self.document(&id, &state)?)?;
            indexed.insert(id);
        }
        // Stock of products the store does not have (yet): kept for when they arrive.
        for (id, (stock_seq, in_stock)) in stock {
            if !indexed.contains(&id) {
                let state = DocState {
                    stock_seq,
                    in_stock,
                    ..DocState::default()
                };
                writer.inner.add_document(self.document(&id, &state)?)?;
            }
        }
        let opstamp = writer.inner.commit()?;
        self.reader.reload()?;
        writer.pending.clear();
        writer.last_opstamp = opstamp;
        self.committed.send_replace(opstamp);
        Ok(count)
    }

    /// (stock sequence, in stock) of every document.
    fn all_stock(&self) -> Result<HashMap<String, (u64, bool)>, IndexError> {
        let searcher = self.reader.searcher();
        let mut out = HashMap::new();
        for segment in searcher.segment_readers() {
            let store = segment
                .get_store_reader(64)
                .map_err(|e| IndexError::Tantivy(e.into()))?;
            for doc_id in segment.doc_ids_alive() {
                let doc: TantivyDocument = store.get(doc_id)?;
                if let Some(id) = doc.get_first(self.fields.id).and_then(|v| v.as_str()) {
                    let seq = doc
                        .get_first(self.fields.stock_seq)
                        .and_then(|v| v.as_u64())
                        .unwrap_or(0);
                    let in_stock = doc
                        .get_first(self.fields.in_stock)
                        .and_then(|v| v.as_bool())
                        .unwrap_or(false);
                    out.insert(id.to_owned(), (seq, in_stock));
                }
            }
        }
        Ok(out)
    }

    /// How many searchable products the committed index holds.
    pub fn product_count(&self) -> Result<usize, IndexError> {
        let query = TermQuery::new(
            Term::from_field_text(self.fields.kind, "product"),
            IndexRecordOption::Basic,
        );
        Ok(self
            .reader
            .searcher()
            .search(&query, &tantivy::collector::Count)?)
    }

    fn stored_state(&self, id: &str) -> Result<Option<DocState>, IndexError> {
        let searcher = self.reader.searcher();
        let query = TermQuery::new(
            Term::from_field_text(self.fields.id, id),
            IndexRecordOption::Basic,
        );
        let Some((_, address)) = searcher
            .search(&query, &TopDocs::with_limit(1).order_by_score())?
            .into_iter()
            .next()
        else {
            return Ok(None);
        };
        let doc: TantivyDocument = searcher.doc(address)?;
        self.state_of(&doc).map(Some)
    }

    fn state_of(&self, doc: &TantivyDocument) -> Result<DocState, IndexError> {
        let f = self.fields;
        let kind = doc.get_first(f.kind).and_then(|v| v.as_str()).unwrap_or("");
        let product = match doc.get_first(f.source).and_then(|v| v.as_str()) {
            Some(json) if kind == "product" => {
                Some(serde_json::from_str(json).map_err(|e| IndexError::Corrupt(e.to_string()))?)
            }
            _ => None,
        };
        Ok(DocState {
            product_seq: doc
                .get_first(f.product_seq)
                .and_then(|v| v.as_u64())
                .unwrap_or(0),
            stock_seq: doc
                .get_first(f.stock_seq)
                .and_then(|v| v.as_u64())
                .unwrap_or(0),
            in_stock: doc
                .get_first(f.in_stock)
                .and_then(|v| v.as_bool())
                .unwrap_or(false),
            deleted: kind == "deleted",
            product,
        })
    }

    fn document(&self, id: &str, state: &DocState) -> Result<TantivyDocument, IndexError> {
        let f = self.fields;
        let mut doc = TantivyDocument::new();
        doc.add_text(f.id, id);
        doc.add_u64(f.product_seq, state.product_seq);
        doc.add_u64(f.stock_seq, state.stock_seq);
        doc.add_bool(f.in_stock, state.in_stock);
        let Some(product) = state.product.as_ref().filter(|_| !state.deleted) else {
            doc.add_text(f.kind, if state.deleted { "deleted" } else { "stock" });
            return Ok(doc);
        };
        doc.add_text(f.kind, "product");
        doc.add_text(f.name, &product.name);
        doc.add_text(f.description, &product.description);
        doc.add_text(f.category, &product.category);
        let path = category_path(&product.category);
        doc.add_text(f.category_path, path.join(" > "));
        doc.add_facet(
            f.category_key,
            Facet::from_path(path.iter().map(|c| c.to_lowercase())),
        );
        if let Some(brand) = product.brand.as_deref().filter(|b| !b.trim().is_empty()) {
            doc.add_text(f.brand, brand);
            doc.add_text(f.brand_key, brand.trim().to_lowercase());
            doc.add_text(f.brand_exact, brand.trim());
        }
        doc.add_u64(f.price, price_cents(&product.price.amount).unwrap_or(0));
        doc.add_i64(f.created_at, created_millis(&product.created_at));
        doc.add_u64(f.popularity, product.popularity.max(0) as u64);
        doc.add_text(
            f.source,
            serde_json::to_string(product).map_err(|e| IndexError::Corrupt(e.to_string()))?,
        );
        Ok(doc)
    }
}

/// The new state after `change`, or `None` when the change is stale.
fn next_state(current: DocState, change: &Change) -> Option<DocState> {
    match change {
        Change::Upsert { sequence, product } if *sequence > current.product_seq => Some(DocState {
            product_seq: *sequence,
            deleted: false,
            product: Some((**product).clone()),
            ..current
        }),
        Change::Delete { sequence, .. } if *sequence > current.product_seq => Some(DocState {
            product_seq: *sequence,
            deleted: true,
            product: None,
            ..current
        }),
        Change::Stock {
            sequence, in_stock, ..
        } if *sequence > current.stock_seq => Some(DocState {
            stock_seq: *sequence,
            in_stock: *in_stock,
            ..current
        }),
        _ => None,
    }
}

/// "Audio > Headphones" as its components.
pub fn category_path(category: &str) -> Vec<String> {
    category
        .split('>')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

/// "19.99" as 1999; `None` for anything that is not a non-negative amount with at most two
/// decimals.
pub fn price_cents(amount: &str) -> Option<u64> {
    use emporium_kernel::money::{Currency, Money};
    Money::parse_price(amount.trim(), Currency::USD)
        .ok()
        .and_then(|m| u64::try_from(m.minor()).ok())
}

/// Milliseconds since the epoch of an RFC 3339 timestamp; 0 when it is not one.
fn created_millis(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.timestamp_millis())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_become_cents_exactly() {
        assert_eq!(price_cents("19.99"), Some(1999));
        assert_eq!(price_cents("5"), Some(500));
        assert_eq!(price_cents("0.5"), Some(50));
        assert_eq!(price_cents("1.234"), None);
        assert_eq!(price_cents("-1"), None);
        assert_eq!(price_cents(""), None);
    }

    #[test]
    fn timestamps_order_like_time() {
        assert_eq!(created_millis("1970-01-01T00:00:00Z"), 0);
        assert!(
            created_millis("2026-11-23T10:15:30.123Z") > created_millis("2026-11-23T10:15:30.122Z")
        );
        assert_eq!(created_millis("yesterday"), 0);
    }

    #[test]
    fn words_are_folded_and_lower_cased() {
        assert_eq!(words("Café WH-1000XM5"), ["cafe", "wh", "1000xm5"]);
    }

    #[test]
    fn stale_changes_are_dropped() {
        let product = ProductSnapshot {
            product_id: "p".into(),
            name: "n".into(),
            description: String::new(),
            category: "c".into(),
            brand: None,
            price: Price {
                amount: "1".into(),
                currency: "USD".into(),
            },
            popularity: 0,
            created_at: "2026-01-01T00:00:00Z".into(),
        };
        let upsert = |sequence| Change::Upsert {
            sequence,
            product: Box::new(product.clone()),
        };
        let state = next_state(DocState::default(), &upsert(2)).expect("applied");
        assert!(
            next_state(state.clone(), &upsert(2)).is_none(),
            "a repeat is stale"
        );
        assert!(
            next_state(state.clone(), &upsert(1)).is_none(),
            "an older one is stale"
        );
        let deleted = next_state(
            state,
            &Change::Delete {
                sequence: 3,
                product_id: "p".into(),
            },
        )
        .expect("deleted");
        assert!(
            next_state(deleted.clone(), &upsert(2)).is_none(),
            "a late update stays deleted"
        );
        let stocked = next_state(
            deleted,
            &Change::Stock {
                sequence: 1,
                product_id: "p".into(),
                in_stock: true,
            },
        )
        .expect("stock");
        assert!(stocked.deleted && stocked.in_stock);
    }
}
