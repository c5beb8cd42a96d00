//! The inventory service as a process runs it: the server, the outbox relay, and a few
//! competing consumers per queue (events of different products and orders proceed in
//! parallel; the per-product locks order those of one product).

use std::sync::Arc;

use emporium_kernel::auth::TokenVerifier;
use emporium_kernel::events::consumer::ConsumerSettings;
use emporium_kernel::events::outbox::postgres::PgOutbox;
use emporium_kernel::service::{queues_of, Handles, Service, Started};
use tokio::net::TcpListener;

use crate::events::{InventoryHandler, OUTBOX_NAME};
use crate::Inventory;

const CONSUMERS_PER_QUEUE: usize = 4;

/// The queues the inventory consumes.
pub fn queues() -> Vec<ConsumerSettings> {
    queues_of(&crate::events::queues())
}

/// The inventory service, built from its ledger and its Redis counts (loaded).
pub struct InventoryService {
    pub inventory: Inventory,
    pub verifier: TokenVerifier,
}

impl Service for InventoryService {
    fn start(self: Box<Self>, listener: TcpListener, handles: &Handles) -> Started {
        let Self {
            inventory,
            verifier,
        } = *self;
        let app = crate::router(inventory.clone(), verifier, handles.readiness());
        let mut tasks = vec![
            handles.spawn_server("inventory", listener, app),
            handles.spawn_relay(
                "inventory",
                PgOutbox::new(inventory.pool().clone(), OUTBOX_NAME),
            ),
        ];
        for (queue, bindings) in crate::events::queues() {
            let handler = Arc::new(InventoryHandler::new(inventory.clone(), queue));
            let settings = ConsumerSettings::new(queue, bindings.iter().copied());
            tasks.extend(handles.spawn_consumers(CONSUMERS_PER_QUEUE, &settings, &handler));
        }
        Ok(tasks)
    }
}
