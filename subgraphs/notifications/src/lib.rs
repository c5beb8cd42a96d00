//! The notifications subgraph: a per-user feed on MongoDB, fed by the users' and orders'
//! events, with an outbound delivery port beside it.
//!
//! Each notification is keyed by the id of the event it was made from, so a redelivered
//! event adds nothing; the entry is written before anything is sent out, so a delivery that
//! fails never loses it.
//!
//! Layout:
//! - `domain`: kinds, order statuses and notifications, without I/O.
//! - `templates`: the title and body of each kind (pure).
//! - `store`: MongoDB (documents keyed by event id, the feed's indexes, users' contacts).
//! - `delivery`: the outbound port (email, webhook): mail over SMTP, or log-only.
//! - `notifier`: write the entry, then deliver it.
//! - `events`: the queues consumed and their handler.
//! - `graphql`: `notifications`, `User.notifications`, `markNotificationRead`.
//! - `wiring`: the service as a process runs it: the server, the consumers and the resender.

pub mod delivery;
pub mod domain;
pub mod events;
pub mod graphql;
pub mod notifier;
pub mod store;
pub mod templates;
pub mod wiring;

use std::sync::Arc;

use axum::Router;
use emporium_kernel::auth::TokenVerifier;
use emporium_kernel::http::ReadinessCheck;

pub use crate::delivery::{Delivery, LogDelivery, MailDelivery};
pub use crate::events::NotificationsHandler;
pub use crate::graphql::{schema, sdl, NotificationsSchema};
pub use crate::notifier::Notifier;
pub use crate::store::NotificationStore;

/// The HTTP app: `/graphql`, `/health`, `/ready` (MongoDB and `more_checks`), `/metrics`.
pub fn router(
    store: NotificationStore,
    verifier: TokenVerifier,
    more_checks: Vec<(&'static str, ReadinessCheck)>,
) -> Router {
    let probe = store.clone();
    let mongo: ReadinessCheck = Arc::new(move || {
        let store = probe.clone();
        Box::pin(async move { store.ping().await.map_err(|e| e.to_string()) })
    });
    emporium_kernel::http::graphql_routes(schema(store), verifier).merge(
        emporium_kernel::http::probe_routes(
            [("mongodb", mongo)]
                .into_iter()
                .chain(more_checks)
                .collect(),
        ),
    )
}
