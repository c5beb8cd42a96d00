//! The orders subgraph's schema: the cart, checkout, orders and their transitions, `User.orders`,
//! and the live `orderStatusChanged` subscription.
//!
//! Layout:
//! - `query`: the cart, an order, a page of orders, and the federation entity resolvers.
//! - `mutation`: cart changes, checkout, and the transitions clients may ask for; the
//!   subgraph's `Mutation` merges them with `pricing`'s.
//! - `subscription`: `orderStatusChanged`.
//! - `types`: the objects, inputs and payloads those return.
//! - `pricing`: shipping methods, tax rates and discount codes, and the cart's pricing changes
//!   (`PricingMutation`).
//! - `loaders`: the batched loads of a page's order lines and histories.
//! - `error`: the service's failures as `ApiError`s, and the userErrors it answers with.

mod error;
mod loaders;
mod mutation;
mod pricing;
mod query;
mod subscription;
mod types;

use async_graphql::dataloader::DataLoader;
use async_graphql::Schema;

use crate::live::LiveFeed;
use crate::orders::Orders;
use crate::store::OrderStore;
use loaders::{HistoryLoader, ItemsLoader};
pub use mutation::Mutation;
pub use query::Query;
pub use subscription::Subscription;

pub type OrdersSchema = Schema<Query, Mutation, Subscription>;

/// Whether a token is one the payment provider could accept (checked at checkout).
pub type TokenCheck = fn(&str) -> bool;

pub fn schema(
    store: OrderStore,
    orders: Orders,
    live: LiveFeed,
    is_token: TokenCheck,
) -> OrdersSchema {
    let orders_for_loaders = orders.clone();
    emporium_kernel::graphql::subgraph_schema(Query, Mutation::default(), Subscription)
        .data(store)
        .data(orders)
        .data(live)
        .data(is_token)
        .data(DataLoader::new(
            ItemsLoader(orders_for_loaders.clone()),
            tokio::spawn,
        ))
        .data(DataLoader::new(
            HistoryLoader(orders_for_loaders),
            tokio::spawn,
        ))
        .finish()
}

/// The subgraph's federation SDL, as the supergraph composition needs it.
pub fn sdl() -> String {
    emporium_kernel::graphql::federation_sdl(
        &emporium_kernel::graphql::subgraph_schema(Query, Mutation::default(), Subscription)
            .finish(),
    )
}
