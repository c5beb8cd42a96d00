//! The inventory subgraph: stock levels per product and reservations per order.
//!
//! Redis (one server, or a Redis Cluster) holds the hot counts and decides every change to a
//! product atomically (Lua scripts); Postgres
//! holds the durable record (a ledger of every movement, current levels, reservations) and
//! the outbox, written in one transaction per change, so the counts can be rebuilt exactly
//! when Redis restarts empty.
//!
//! Layout:
//! - `domain`: stock levels and order lines, without I/O.
//! - `hot`: the Redis counts, their keys (one hash tag per script) and their scripts.
//! - `ledger`: the Postgres record and its locks.
//! - `service`: the operations, each keeping the two in step.
//! - `events`: what the inventory publishes and consumes.
//! - `graphql`: `Product.stock` and `setStock`.
//! - `wiring`: the service as a process runs it: the server, the relay and the consumers.

pub mod domain;
pub mod events;
pub mod graphql;
pub mod hot;
pub mod ledger;
pub mod service;
pub mod wiring;

use std::sync::Arc;

use axum::Router;
use emporium_kernel::auth::TokenVerifier;
use emporium_kernel::http::ReadinessCheck;

pub use crate::graphql::{schema, sdl, InventorySchema};
pub use crate::hot::HotStock;
pub use crate::service::Inventory;

/// The migrations of the inventory database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/inventory");

/// The HTTP app: `/graphql`, `/health`, `/ready` (Postgres, Redis and `more_checks`), `/metrics`.
pub fn router(
    inventory: Inventory,
    verifier: TokenVerifier,
    more_checks: Vec<(&'static str, ReadinessCheck)>,
) -> Router {
    let pool = inventory.pool().clone();
    let postgres = emporium_kernel::http::postgres_check(pool);
    let hot = inventory.hot().clone();
    let redis: ReadinessCheck = Arc::new(move || {
        let hot = hot.clone();
        Box::pin(async move { hot.ping().await.map_err(|e| e.to_string()) })
    });
    emporium_kernel::http::graphql_routes(schema(inventory), verifier).merge(
        emporium_kernel::http::probe_routes(
            [("postgres", postgres), ("redis", redis)]
                .into_iter()
                .chain(more_checks)
                .collect(),
        ),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_inventory_migrations_create_the_kernel_outbox_and_inbox_tables() {
        assert_eq!(
            include_str!("../../../migrations/inventory/0002_outbox.sql"),
            emporium_kernel::events::outbox::postgres::OUTBOX_TABLES_SQL
        );
        assert_eq!(
            include_str!("../../../migrations/inventory/0003_inbox.sql"),
            emporium_kernel::events::inbox::INBOX_TABLE_SQL
        );
    }
}
