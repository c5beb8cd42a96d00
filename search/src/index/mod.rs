//! The tantivy index, by role:
//! - [`schema`]: the fields and the analyzer shared by documents and queries;
//! - [`document`]: what is indexed (catalog snapshots, the changes events carry) and how one
//!   product id becomes one tantivy document;
//! - [`writer`]: [`SearchIndex`], the reader and the one writer that applies changes, drops
//!   stale ones and commits in small groups.
//!
//! One document per product id, of one of three kinds:
//! - `product`: a searchable product (its catalog snapshot plus whether it is in stock);
//! - `stock`: stock that arrived before its product (kept until the product does);
//! - `deleted`: a tombstone, so that a late update of a deleted product is recognised as stale.
//!
//! Each document records the `sequence` of the last product event and of the last stock event
//! applied to it; an older or repeated event changes nothing. Changes are acknowledged to the
//! consumer only once committed, so a restart loses nothing and replays nothing twice.
//! Failures are [`IndexError`]s.

pub mod document;
pub mod schema;
pub mod writer;

use std::path::{Path, PathBuf};

pub use document::{category_path, price_cents, snapshots_from, Change, Price, ProductSnapshot};
pub use schema::{analyzer, schema, typo_budget, words, Fields, ANALYZER};
pub use writer::{Applied, SearchIndex};

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

/// Where the outcome of the last reindex of the index in `dir` is written (beside it).
pub fn reindex_status_path(dir: &Path) -> PathBuf {
    PathBuf::from(format!("{}.reindex.json", dir.display()))
}
