//! `emporium search reindex`: the search index rebuilt from the products store, here when no
//! service holds the index, else by the running search service (searches keep using the old
//! index until the new one is committed), which this waits for.

use anyhow::Context;
use clap::Subcommand;
use emporium_kernel::events::Publisher;
use emporium_search::events::{reindex, ReindexStatus, REINDEX_COMMAND};
use emporium_search::index::{reindex_status_path, IndexError};
use secrecy::ExposeSecret;

use crate::config::Settings;
use crate::stores;

#[derive(Subcommand)]
pub enum SearchAction {
    /// Rebuild the index from the products store. With the search service running, it does
    /// the work (searches keep using the old index until the new one is committed) and this
    /// waits for it; otherwise the index directory is rebuilt here.
    Reindex {
        /// How long to wait for a running service to finish.
        #[arg(long, default_value_t = 600)]
        timeout_secs: u64,
    },
}

pub async fn search(settings: &Settings, action: SearchAction) -> anyhow::Result<()> {
    let SearchAction::Reindex { timeout_secs } = action;
    let request_id = uuid::Uuid::now_v7().to_string();
    match emporium_search::SearchIndex::open(&settings.search_index_dir) {
        Ok(index) => {
            let db = stores::mongodb(settings).await?;
            let catalog = stores::catalog_source(db);
            let status_path = reindex_status_path(&settings.search_index_dir);
            let count = reindex(&index, &catalog, &request_id, &status_path)
                .await
                .map_err(|e| anyhow::anyhow!(e))?;
            println!("rebuilt the search index from the products store: {count} products");
            Ok(())
        }
        Err(IndexError::Busy) => by_the_service(settings, &request_id, timeout_secs).await,
        Err(err) => Err(err).context("opening the search index"),
    }
}

/// Asks the running search service to reindex, and waits for its status file to say done.
async fn by_the_service(
    settings: &Settings,
    request_id: &str,
    timeout_secs: u64,
) -> anyhow::Result<()> {
    let broker = emporium_kernel::events::broker::Broker::connect(
        emporium_kernel::events::broker::BrokerSettings::new(settings.amqp_url.expose_secret()),
    )
    .await
    .context("connecting to RabbitMQ")?;
    let envelope = emporium_kernel::events::EventDraft::new(
        REINDEX_COMMAND,
        "search-index".to_owned(),
        serde_json::json!({ "requestId": request_id }),
    )
    .into_envelope("/cli", 1, chrono::Utc::now());
    broker
        .publish(&envelope)
        .await
        .context("asking the search service to reindex")?;
    broker.close().await;
    println!(
        "the search service is rebuilding the index (searches keep using the old one meanwhile)"
    );
    let status_path = reindex_status_path(&settings.search_index_dir);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(timeout_secs);
    loop {
        if let Ok(bytes) = std::fs::read(&status_path) {
            if let Ok(status) = serde_json::from_slice::<ReindexStatus>(&bytes) {
                if status.request_id == request_id {
                    println!(
                        "rebuilt the search index from the products store: {} products",
                        status.products
                    );
                    return Ok(());
                }
            }
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the search service did not finish within {timeout_secs} s (is its indexer consuming? see `emporium dlq list search.indexer`)"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
