//! The orders service as a process runs it: the server (with the `orderStatusChanged`
//! subscription), the outbox relay, competing consumers of the catalog projection and of the
//! saga's replies, the live feed behind the subscription, and the sweeper that times out
//! orders left pending. Competing consumers are safe: the projection is idempotent by
//! sequence and the saga's transitions lock their order.

use std::sync::Arc;
use std::time::Duration;

use emporium_kernel::auth::TokenVerifier;
use emporium_kernel::events::consumer::ConsumerSettings;
use emporium_kernel::events::outbox::postgres::PgOutbox;
use emporium_kernel::sealed::SealingKey;
use emporium_kernel::service::{queues_of, Handles, Service, Started};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::catalog::{CatalogHandler, CATALOG_QUEUE};
use crate::saga::SagaHandler;
use crate::{LiveFeed, OrderStore, Orders, TokenCheck};

const CONSUMERS_PER_QUEUE: usize = 4;

/// The queues the orders service consumes (its live feed's exclusive queues aside).
pub fn queues() -> Vec<ConsumerSettings> {
    queues_of(&crate::queues())
}

/// The orders service, built from its migrated database.
pub struct OrdersService {
    pub pool: PgPool,
    pub verifier: TokenVerifier,
    /// The payments service's public key: payment tokens leave checkout sealed to it.
    pub payment_token_key: SealingKey,
    /// Which payment tokens checkout accepts (the payment provider's check).
    pub token_check: TokenCheck,
    /// How long an order may stay PENDING before it is rejected as timed out.
    pub pending_timeout: Duration,
    /// The shop's setting: prices include tax (EU style) or tax is added (US style).
    pub prices_include_tax: bool,
}

impl Service for OrdersService {
    fn start(self: Box<Self>, listener: TcpListener, handles: &Handles) -> Started {
        let store = OrderStore::new(self.pool.clone());
        let orders = Orders::new(self.pool.clone(), self.payment_token_key)
            .with_prices_including_tax(self.prices_include_tax);
        let live = LiveFeed::new();
        let schema = crate::schema(
            store.clone(),
            orders.clone(),
            live.clone(),
            self.token_check,
        );
        let app = crate::router(
            schema,
            self.pool.clone(),
            self.verifier,
            handles.readiness(),
        );
        let mut tasks = vec![
            handles.spawn_server("orders", listener, app),
            handles.spawn_relay("orders", PgOutbox::new(self.pool, "orders")),
        ];
        let catalog = Arc::new(CatalogHandler::new(store));
        let saga = Arc::new(SagaHandler::new(orders.clone()));
        for settings in queues() {
            let consumers = if settings.queue == CATALOG_QUEUE {
                handles.spawn_consumers(CONSUMERS_PER_QUEUE, &settings, &catalog)
            } else {
                handles.spawn_consumers(CONSUMERS_PER_QUEUE, &settings, &saga)
            };
            tasks.extend(consumers);
        }
        tasks.push(tokio::spawn(live.run(
            handles.broker.clone(),
            CancellationToken::new(),
            handles.shutdown.clone(),
        )));
        tasks.push(tokio::spawn(
            orders.run_sweeper(self.pending_timeout, handles.shutdown.clone()),
        ));
        Ok(tasks)
    }
}
