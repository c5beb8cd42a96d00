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
//! - `wiring`: the service as a process runs it: the server, the relay and the consumers.
//!
//! Card tokens reach payments sealed to its own key (`kernel::sealed`): orders seals them
//! with the public key payments serves at [`TOKEN_KEY_PATH`] ([`token_key_routes`]), and only
//! payments opens them, in memory, for the provider's call.

pub mod domain;
pub mod events;
pub mod graphql;
pub mod provider;
pub mod service;
pub mod store;
pub mod wiring;

use axum::routing::get;
use axum::{Json, Router};
use emporium_kernel::auth::TokenVerifier;
use emporium_kernel::http::ReadinessCheck;
use emporium_kernel::sealed::SealingKey;
use serde::{Deserialize, Serialize};

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

/// Where payments publishes the public key card tokens are sealed to.
pub const TOKEN_KEY_PATH: &str = "/.well-known/payment-token-key";

/// The document at [`TOKEN_KEY_PATH`]: the key id and the public key (base64url SEC1).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PublishedTokenKey {
    pub kid: String,
    pub key: String,
}

impl PublishedTokenKey {
    pub fn of(key: &SealingKey) -> Self {
        Self {
            kid: key.kid().to_owned(),
            key: key.encode(),
        }
    }
}

/// Serves the public half of payments' token key (public by design: it only seals).
pub fn token_key_routes(key: &SealingKey) -> Router {
    let published = PublishedTokenKey::of(key);
    Router::new().route(
        TOKEN_KEY_PATH,
        get(move || {
            let published = published.clone();
            async move { Json(published) }
        }),
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
