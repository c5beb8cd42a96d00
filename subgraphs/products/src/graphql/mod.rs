//! The products subgraph's GraphQL schema: the catalog and its admin mutations.

mod error;
mod mutation;
mod query;
mod types;

use async_graphql::dataloader::DataLoader;
use async_graphql::{EmptySubscription, Schema};

pub use mutation::Mutation;
pub use query::Query;

pub type ProductsSchema = Schema<Query, Mutation, EmptySubscription>;

pub fn schema(state: crate::ProductsState) -> ProductsSchema {
    // No cache in the loader: it only batches, so a read never outlives a write it follows.
    // 5 ms (not the default 1 ms) so that all ids of one `_entities` request are in one
    // batch even when a busy machine pauses the request between its items.
    let loader = DataLoader::new(query::ProductLoader(state.catalog.clone()), tokio::spawn)
        .delay(std::time::Duration::from_millis(5));
    builder().data(state).data(loader).finish()
}

/// The subgraph's federation SDL, as the supergraph composition needs it.
pub fn sdl() -> String {
    emporium_kernel::graphql::federation_sdl(&builder().finish())
}

fn builder() -> async_graphql::SchemaBuilder<Query, Mutation, EmptySubscription> {
    emporium_kernel::graphql::subgraph_schema(Query, Mutation, EmptySubscription)
}
