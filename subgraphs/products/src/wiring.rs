//! The products service as a process runs it: the server, and the outbox relay on MongoDB.
//! It consumes no queue. The catalog's browse order is rebuilt in the background at every
//! start (products may have been written by other means, such as seeding, meanwhile); pages
//! come from MongoDB until it is done, and a failed rebuild is logged and retried by a page
//! read.

use emporium_kernel::auth::TokenVerifier;
use emporium_kernel::events::outbox::mongo::MongoOutbox;
use emporium_kernel::events::outbox::run_relay;
use emporium_kernel::service::{Handles, Service, Started};
use mongodb::Database;
use tokio::net::TcpListener;

use crate::store::CatalogCache;
use crate::ProductsState;

/// The products service, built from its MongoDB database (indexes created) and its cache.
pub struct ProductsService {
    pub db: Database,
    pub cache: CatalogCache,
    pub verifier: TokenVerifier,
}

impl Service for ProductsService {
    fn start(self: Box<Self>, listener: TcpListener, handles: &Handles) -> Started {
        let Self {
            db,
            cache,
            verifier,
        } = *self;
        let state = ProductsState::new(&db, cache);
        let catalog = state.catalog.clone();
        let rebuild = tokio::spawn(async move {
            if let Err(err) = catalog.rebuild_browse_order().await {
                tracing::warn!(error = %err, "building the catalog browse order failed; pages come from MongoDB until a page read retries it");
            }
        });
        let app = crate::router(state, db.clone(), verifier, handles.readiness());
        Ok(vec![
            rebuild,
            handles.spawn_server("products", listener, app),
            spawn_relay(db, handles),
        ])
    }
}

/// The outbox relay, once the outbox's index exists (a relay without it still works, slower).
fn spawn_relay(db: Database, handles: &Handles) -> tokio::task::JoinHandle<()> {
    let outbox = MongoOutbox::new(db);
    let (broker, relay, shutdown) = (
        handles.broker.clone(),
        handles.relay.clone(),
        handles.shutdown.clone(),
    );
    tokio::spawn(async move {
        if let Err(err) = outbox.ensure_indexes().await {
            tracing::warn!(error = %err, "creating the products outbox index failed");
        }
        run_relay("products", outbox, broker, relay, shutdown).await
    })
}
