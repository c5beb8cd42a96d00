//! The payments subgraph: one payment per order, authorized with the payment provider once
//! the order's stock is reserved, captured when it ships, refunded when it is cancelled.
//!
//! Payments takes part in the order saga by events only: `order.placed` brings the intent
//! (amount, currency, card token), `inventory.reserved` says the stock is held, and the two
//! may arrive in either order; `order.status_changed` captures, refunds or abandons. Each
//! decision commits with its event in one Postgres transaction (the outbox), guarded by the
//! payment's status, so redelivered or racing events never authorize or publish twice. The
//! provider is idempotent per key, so a retried call is the same call.
//!
//! Layout:
//! - `domain`: payment statuses and the saga's rules, without I/O.
//! - `provider`: the port to a payment provider and the platform's test provider.
//! - `store`: the Postgres record and its status-guarded transitions.
//! - `service`: the saga's steps, each calling the provider and recording its answer.
//! - `events`: what payments publishes and consumes, and its handler.
//! - `graphql`: `Order.payment`.

pub mod domain;
pub mod events;
pub mod graphql;
pub mod provider;
pub mod service;
pub mod store;

use axum::Router;
use emporium_kernel::auth::TokenVerifier;
use emporium_kernel::http::ReadinessCheck;

pub use crate::events::PaymentsHandler;
pub use crate::graphql::{schema, sdl, PaymentsSchema};
pub use crate::provider::{PaymentProvider, TestProvider};
pub use crate::service::Payments;
pub use crate::store::PaymentStore;

/// The migrations of the payments database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/payments");

/// The HTTP app: `/graphql`, `/health`, `/ready` (Postgres and `more_checks`), `/metrics`.
pub fn router(
    store: PaymentStore,
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
    fn the_payments_migrations_create_the_kernel_outbox_and_inbox_tables() {
        assert_eq!(
            include_str!("../../../migrations/payments/0002_outbox.sql"),
            emporium_kernel::events::outbox::postgres::OUTBOX_TABLES_SQL
        );
        assert_eq!(
            include_str!("../../../migrations/payments/0003_inbox.sql"),
            emporium_kernel::events::inbox::INBOX_TABLE_SQL
        );
    }
}
