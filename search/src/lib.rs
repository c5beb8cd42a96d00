//! The search subgraph and its indexer: a tantivy index of the catalog, fed by product and
//! stock events, queried with typo tolerance, prefix matching, filters, sorts, facets and
//! highlights.
//!
//! Layout:
//! - `index`: the schema and analyzer, the indexed documents, the one writer with group commits
//!   and stale-event checks (one module each).
//! - `query`: shoppers' queries as tantivy queries, and the ranking (documented there).
//! - `highlight`: matched words wrapped in `<mark>`.
//! - `events`: the indexer's consumer.
//! - `graphql`: `search`.
//! - `wiring`: the service as a process runs it: the server, the indexer and the fill of an empty index.

pub mod events;
pub mod graphql;
pub mod highlight;
pub mod index;
pub mod query;
pub mod wiring;

use axum::Router;
use emporium_kernel::auth::TokenVerifier;
use emporium_kernel::http::ReadinessCheck;

pub use crate::graphql::{schema, sdl, SearchSchema};
pub use crate::index::SearchIndex;

/// The HTTP app: `/graphql`, `/health`, `/ready` (`checks`, e.g. the broker), `/metrics`.
pub fn router(
    index: SearchIndex,
    verifier: TokenVerifier,
    checks: Vec<(&'static str, ReadinessCheck)>,
) -> Router {
    emporium_kernel::http::graphql_routes(schema(index), verifier)
        .merge(emporium_kernel::http::probe_routes(checks))
}
