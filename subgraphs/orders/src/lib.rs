//! The orders subgraph (issue 6, in progress).
//!
//! Built so far:
//! - [`store`] and [`graphql`]: the cart (`cart`, `addToCart`, `updateCartItem`, `clearCart`),
//!   priced from [`catalog`], a projection of the products service's events.
//! - [`status`]: the order state machine: which transition is legal from which status, for
//!   whom, with which reason.
//! - [`lines`]: order lines and totals in exact money.
//!
//! Checkout, orders, the saga's consumers and the live feed come next.

pub mod catalog;
pub mod graphql;
pub mod lines;
pub mod status;
pub mod store;

use axum::Router;
use emporium_kernel::auth::TokenVerifier;
use emporium_kernel::http::ReadinessCheck;

pub use crate::graphql::{schema, sdl, OrdersSchema};
pub use crate::store::OrderStore;

/// The migrations of the orders database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/orders");

/// The HTTP app: `/graphql`, `/health`, `/ready` (Postgres and `more_checks`), `/metrics`.
pub fn router(
    store: OrderStore,
    verifier: TokenVerifier,
    more_checks: Vec<(&'static str, ReadinessCheck)>,
) -> Router {
    let postgres = emporium_kernel::http::postgres_check(store.pool().clone());
    emporium_kernel::http::graphql_routes(schema(store), verifier).merge(
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
