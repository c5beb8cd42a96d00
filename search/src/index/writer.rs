//! [`SearchIndex`]: the index with its reader and its one writer, which applies changes unless
//! the index already holds something as new and commits them in small groups; a change is
//! visible (and may be acknowledged) once [`SearchIndex::wait_committed`] returns. Failures are
//! [`IndexError`]s; a second process opening the same directory gets [`IndexError::Busy`].

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tantivy::collector::TopDocs;
use tantivy::query::TermQuery;
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};
use tokio::sync::watch;

use super::document::DocState;
use super::{analyzer, schema, Change, Fields, IndexError, ProductSnapshot, ANALYZER};

/// Memory for the writer's in-progress segment.
const WRITER_HEAP_BYTES: usize = 50_000_000;

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
    /// Opens the index in `dir` (in its subdirectory of the schema's version), creating it if
    /// needed. One process at a time may open a directory: tantivy's lock file refuses a
    /// second writer.
    pub fn open(dir: &Path) -> Result<Self, IndexError> {
        let dir = &dir.join(super::schema::SCHEMA_VERSION);
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
        let opstamp = writer
            .inner
            .add_document(next.document(self.fields, &id)?)?;
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
            let known = stock.get(id).map_or(0, |s| s.stock_seq);
            if state.stock_seq >= known {
                stock.insert(id.clone(), stock_of(state));
            }
        }
        // A delete by query is ordered with the writes queued before it (which
        // `delete_all_documents` is not: it would let a queued write survive as a duplicate).
        writer
            .inner
            .delete_query(Box::new(tantivy::query::AllQuery))?;
        let count = products.len();
        for (sequence, product) in products {
            let id = product.product_id.clone();
            let state = DocState {
                product_seq: sequence,
                product: Some(product),
                ..stock.remove(&id).unwrap_or_default()
            };
            writer
                .inner
                .add_document(state.document(self.fields, &id)?)?;
        }
        // Stock of products the store does not have (yet): kept for when they arrive.
        for (id, state) in stock {
            writer
                .inner
                .add_document(state.document(self.fields, &id)?)?;
        }
        let opstamp = writer.inner.commit()?;
        self.reader.reload()?;
        writer.pending.clear();
        writer.last_opstamp = opstamp;
        self.committed.send_replace(opstamp);
        Ok(count)
    }

    /// The stock part of every document (see [`stock_of`]).
    fn all_stock(&self) -> Result<HashMap<String, DocState>, IndexError> {
        let searcher = self.reader.searcher();
        let mut out = HashMap::new();
        for segment in searcher.segment_readers() {
            let store = segment
                .get_store_reader(64)
                .map_err(|e| IndexError::Tantivy(e.into()))?;
            for doc_id in segment.doc_ids_alive() {
                let doc: TantivyDocument = store.get(doc_id)?;
                if let Some(id) = doc.get_first(self.fields.id).and_then(|v| v.as_str()) {
                    let state = DocState::read(self.fields, &doc)?;
                    out.insert(id.to_owned(), stock_of(&state));
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
        DocState::read(self.fields, &doc).map(Some)
    }
}

/// What a document knows of stock alone (its sequence, whether in stock, which variants are).
fn stock_of(state: &DocState) -> DocState {
    DocState {
        stock_seq: state.stock_seq,
        in_stock: state.in_stock,
        variants_in_stock: state.variants_in_stock.clone(),
        ..DocState::default()
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
            sequence,
            in_stock,
            variant_id,
            ..
        } if *sequence > current.stock_seq => {
            let mut variants_in_stock = current.variants_in_stock.clone();
            let in_stock = match variant_id {
                // A variant's stock: the product is in stock while any variant is. (Events of
                // one product, all its variants, are sequenced together.)
                Some(variant) => {
                    if *in_stock {
                        variants_in_stock.insert(variant.clone());
                    } else {
                        variants_in_stock.remove(variant);
                    }
                    !variants_in_stock.is_empty()
                }
                None => *in_stock,
            };
            Some(DocState {
                stock_seq: *sequence,
                in_stock,
                variants_in_stock,
                ..current
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::Price;

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
            created_at: chrono::DateTime::UNIX_EPOCH,
            variants: vec![],
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
                variant_id: None,
                in_stock: true,
            },
        )
        .expect("stock");
        assert!(stocked.deleted && stocked.in_stock);
    }

    #[test]
    fn a_product_with_variants_is_in_stock_while_any_variant_is() {
        let stock = |sequence, variant: &str, in_stock| Change::Stock {
            sequence,
            product_id: "p".into(),
            variant_id: Some(variant.into()),
            in_stock,
        };
        let mut state = DocState::default();
        for (change, expected) in [
            (stock(1, "red-m", true), true),
            (stock(2, "blue-l", true), true),
            (stock(3, "red-m", false), true),
            (stock(4, "blue-l", false), false),
            (stock(5, "blue-l", true), true),
        ] {
            state = next_state(state, &change).expect("applied");
            assert_eq!(state.in_stock, expected, "after {change:?}");
        }
        assert!(
            next_state(state.clone(), &stock(5, "red-m", true)).is_none(),
            "a repeat is stale"
        );
        assert_eq!(
            state.variants_in_stock.into_iter().collect::<Vec<_>>(),
            ["blue-l"]
        );
    }
}
