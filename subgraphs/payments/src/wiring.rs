//! The payments service as a process runs it: the server (with the public token key at
//! [`crate::TOKEN_KEY_PATH`]), the outbox relay and competing consumers of the saga's events.
//! Competing consumers are safe: every step is guarded by the payment's status and the
//! provider is idempotent per key.

use std::sync::Arc;

use emporium_kernel::auth::TokenVerifier;
use emporium_kernel::events::consumer::ConsumerSettings;
use emporium_kernel::events::outbox::postgres::PgOutbox;
use emporium_kernel::sealed::OpeningKeys;
use emporium_kernel::service::{queues_of, Handles, Service, Started};
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::events::OUTBOX_NAME;
use crate::{PaymentProvider, PaymentStore, Payments, PaymentsHandler};

const CONSUMERS_PER_QUEUE: usize = 4;

/// The queues payments consumes.
pub fn queues() -> Vec<ConsumerSettings> {
    queues_of(&crate::events::queues())
}

/// The payments service, built from its migrated database, its provider and its token keys.
pub struct PaymentsService<P> {
    pub pool: PgPool,
    pub verifier: TokenVerifier,
    pub provider: P,
    /// Open the card tokens orders seals to the active key's public half, which is served.
    pub token_keys: OpeningKeys,
}

impl<P: PaymentProvider + 'static> Service for PaymentsService<P> {
    fn start(self: Box<Self>, listener: TcpListener, handles: &Handles) -> Started {
        let Self {
            pool,
            verifier,
            provider,
            token_keys,
        } = *self;
        let store = PaymentStore::new(pool.clone());
        let app = crate::router(store.clone(), verifier, handles.readiness())
            .merge(crate::token_key_routes(token_keys.sealing_key()));
        let mut tasks = vec![
            handles.spawn_server("payments", listener, app),
            handles.spawn_relay("payments", PgOutbox::new(pool, OUTBOX_NAME)),
        ];
        let handler = Arc::new(PaymentsHandler::new(Payments::new(
            store, provider, token_keys,
        )));
        tasks.extend(handles.spawn_all_consumers(CONSUMERS_PER_QUEUE, &queues(), &handler));
        Ok(tasks)
    }
}
