//! The users subgraph's GraphQL schema: accounts, sign-in and tokens.

mod error;
mod mutation;
mod query;
mod types;

use async_graphql::{EmptySubscription, Schema};

pub use mutation::Mutation;
pub use query::Query;

pub type UsersSchema = Schema<Query, Mutation, EmptySubscription>;

/// Builds the schema; `state` is available to resolvers as context data.
pub fn schema(state: crate::UsersState) -> UsersSchema {
    builder().data(state).finish()
}

/// The subgraph's federation SDL, as the supergraph composition needs it.
pub fn sdl() -> String {
    emporium_kernel::graphql::federation_sdl(&builder().finish())
}

fn builder() -> async_graphql::SchemaBuilder<Query, Mutation, EmptySubscription> {
    emporium_kernel::graphql::subgraph_schema(Query, Mutation, EmptySubscription)
}
