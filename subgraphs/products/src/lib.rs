//! The products subgraph: the catalog, on MongoDB.
//!
//! Layout:
//! - `domain`: what a valid product is (SKU, category paths, prices as exact money).
//! - `store`: MongoDB (documents, indexes, cursor pagination) and the Redis cache (product
//!   documents by id, the browse order).
//! - `catalog`: reads through the cache, writes that keep it coherent.
//! - `graphql`: the schema, resolvers and the mapping of failures to codes.
//! - `seed`: the demo catalog.
//! - `wiring`: the service as a process runs it: the server and the relay.

pub mod catalog;
pub mod domain;
pub mod events;
pub mod graphql;
pub mod seed;
pub mod store;
pub mod wiring;

use std::sync::Arc;

use axum::Router;
use emporium_kernel::auth::TokenVerifier;
use emporium_kernel::http::ReadinessCheck;
use mongodb::bson::doc;
use mongodb::Database;

pub use crate::catalog::Catalog;
pub use crate::graphql::{schema, sdl, ProductsSchema};
use crate::store::{CatalogCache, ProductStore};

/// Everything the products resolvers need.
#[derive(Clone)]
pub struct ProductsState {
    pub catalog: Catalog,
}

impl ProductsState {
    pub fn new(db: &Database, cache: CatalogCache) -> Self {
        Self {
            catalog: Catalog::new(ProductStore::new(db), cache),
        }
    }
}

/// The HTTP app: `/graphql`, `/health`, `/ready` (MongoDB and `more_checks`), `/metrics`.
pub fn router(
    state: ProductsState,
    db: Database,
    verifier: TokenVerifier,
    more_checks: Vec<(&'static str, ReadinessCheck)>,
) -> Router {
    let mongo: ReadinessCheck = Arc::new(move || {
        let db = db.clone();
        Box::pin(async move {
            db.run_command(doc! { "ping": 1 })
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    });
    emporium_kernel::http::graphql_routes(schema(state), verifier).merge(
        emporium_kernel::http::probe_routes(
            [("mongodb", mongo)]
                .into_iter()
                .chain(more_checks)
                .collect(),
        ),
    )
}
