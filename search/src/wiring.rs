//! The search service as a process runs it: the server, the indexer (consumer tasks feeding
//! one writer, and its committer), and a fill from the products store when the index is
//! empty (a new directory, a lost volume); events arriving meanwhile wait for it and then
//! apply by their sequences. Each replica consumes its own queue, so every replica indexes
//! every event.

use std::path::PathBuf;
use std::sync::Arc;

use emporium_kernel::auth::TokenVerifier;
use emporium_kernel::events::consumer::ConsumerSettings;
use emporium_kernel::service::{Handles, Service, Started};
use tokio::net::TcpListener;

use crate::events::{
    indexer_queue, reindex, CatalogSource, IndexerHandler, BINDINGS, COMMIT_INTERVAL, INDEXER_TASKS,
};
use crate::index::reindex_status_path;
use crate::SearchIndex;

/// The indexer's queue: the replica's own when it has an id.
pub fn queues(replica_id: Option<&str>) -> Vec<ConsumerSettings> {
    vec![indexer_settings(replica_id)]
}

fn indexer_settings(replica_id: Option<&str>) -> ConsumerSettings {
    let mut settings = ConsumerSettings::new(indexer_queue(replica_id), BINDINGS);
    // A small prefetch per task: the tasks together fill one group commit.
    settings.prefetch = 4;
    settings
}

/// The search service, built from its open index and the products store it reindexes from.
pub struct SearchService {
    pub index: SearchIndex,
    /// Serves reindex requests and the fill of an empty index.
    pub catalog: CatalogSource,
    pub verifier: TokenVerifier,
    /// The index's directory, where a reindex's status is written.
    pub index_dir: PathBuf,
    /// `EMPORIUM_SEARCH_REPLICA_ID`: names this replica's queue.
    pub replica_id: Option<String>,
}

impl Service for SearchService {
    fn start(self: Box<Self>, listener: TcpListener, handles: &Handles) -> Started {
        let Self {
            index,
            catalog,
            verifier,
            index_dir,
            replica_id,
        } = *self;
        let status_path = reindex_status_path(&index_dir);
        let app = crate::router(index.clone(), verifier, handles.readiness());
        let mut tasks = vec![handles.spawn_server("search", listener, app)];
        let handler = Arc::new(
            IndexerHandler::new(index.clone()).with_reindex(catalog.clone(), status_path.clone()),
        );
        tasks.extend(handles.spawn_consumers(
            INDEXER_TASKS,
            &indexer_settings(replica_id.as_deref()),
            &handler,
        ));
        if index.product_count().unwrap_or(0) == 0 {
            let index = index.clone();
            tasks.push(tokio::spawn(async move {
                if let Err(err) = reindex(&index, &catalog, "start-up", &status_path).await {
                    tracing::error!(error = %err, "filling the empty search index from the products store failed");
                }
            }));
        }
        let shutdown = handles.shutdown.clone();
        tasks.push(tokio::spawn(async move {
            index.run_committer(COMMIT_INTERVAL, shutdown).await
        }));
        Ok(tasks)
    }
}
