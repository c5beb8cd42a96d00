//! The orders subgraph: carts, checkout, orders and their live status.
//!
//! Layout:
//! - [`store`] and [`catalog`]: carts, priced from the service's own projection of the
//!   catalog's events (`orders.catalog`).
//! - [`checkout`]: what a checkout request must hold.
//! - [`lines`]: order lines and totals in exact money.
//! - [`pricing`]: a cart's shipping, discounts, tax and totals (pure); the shipping methods,
//!   tax rates, discount codes and carts' addresses it prices from are in [`store::pricing`].
//! - [`status`]: the order state machine (pure: which transition is legal, for whom, why).
//! - [`orders`]: orders in Postgres: idempotent checkout, transitions with their history and
//!   events, the time-out sweeper.
//! - [`saga`]: inventory's and payments' replies (`orders.saga`).
//! - [`live`]: the per-replica feed of `order.status_changed` behind the subscription.
//! - [`graphql`]: the schema.
//! - [`wiring`]: the service as a process runs it: the server, the relay, the consumers, the live feed and the sweeper.

pub mod catalog;
pub mod checkout;
pub mod graphql;
pub mod lines;
pub mod live;
pub mod orders;
pub mod pricing;
pub mod saga;
pub mod status;
pub mod store;
pub mod wiring;

use axum::Router;
use emporium_kernel::auth::TokenVerifier;
use emporium_kernel::http::ReadinessCheck;

pub use crate::graphql::{schema, sdl, OrdersSchema, TokenCheck};
pub use crate::live::LiveFeed;
pub use crate::orders::Orders;
pub use crate::store::OrderStore;

/// The migrations of the orders database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/orders");

/// The queues orders consumes and their bindings.
pub fn queues() -> [(&'static str, &'static [&'static str]); 2] {
    [
        (catalog::CATALOG_QUEUE, &catalog::CATALOG_BINDINGS),
        (saga::SAGA_QUEUE, &saga::SAGA_BINDINGS),
    ]
}

/// The HTTP app: `/graphql` (with subscriptions over WebSocket), `/health`, `/ready`
/// (Postgres and `more_checks`), `/metrics`.
pub fn router(
    schema: OrdersSchema,
    pool: sqlx::PgPool,
    verifier: TokenVerifier,
    more_checks: Vec<(&'static str, ReadinessCheck)>,
) -> Router {
    let postgres = emporium_kernel::http::postgres_check(pool);
    emporium_kernel::http::graphql_routes(schema, verifier).merge(
        emporium_kernel::http::probe_routes(
            [("postgres", postgres)]
                .into_iter()
                .chain(more_checks)
                .collect(),
        ),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_orders_migrations_create_the_kernel_outbox_and_inbox_tables() {
        assert_eq!(
            include_str!("../../../migrations/orders/0002_outbox.sql"),
            emporium_kernel::events::outbox::postgres::OUTBOX_TABLES_SQL
        );
        assert_eq!(
            include_str!("../../../migrations/orders/0003_inbox.sql"),
            emporium_kernel::events::inbox::INBOX_TABLE_SQL
        );
    }
}
