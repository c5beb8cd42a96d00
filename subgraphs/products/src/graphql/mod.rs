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
    let loader = DataLoader::new(query::ProductLoader(state.catalog.clone()), tokio::spawn);
    builder().data(state).data(loader).finish()
}

/// The subgraph's federation SDL, as the supergraph composition needs it.
pub fn sdl() -> String {
    emporium_kernel::graphql::federation_sdl(&builder().finish())
}

fn builder() -> async_graphql::SchemaBuilder<Query, Mutation, EmptySubscription> {
    emporium_kernel::graphql::subgraph_schema(Query, Mutation, EmptySubscription)
}
