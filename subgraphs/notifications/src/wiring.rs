//! The notifications service as a process runs it: the server, competing consumers of the
//! users' and orders' events (each notification is keyed by its event's id and the feed is
//! ordered by it, so they neither duplicate nor reorder anything), and the resender, which
//! mails again, from any replica, the deliveries whose first attempt failed.

use std::sync::Arc;

use emporium_kernel::auth::TokenVerifier;
use emporium_kernel::events::consumer::ConsumerSettings;
use emporium_kernel::mail::Mailer;
use emporium_kernel::service::{queues_of, Handles, Service, Started};
use tokio::net::TcpListener;

use crate::notifier::RESEND_INTERVAL;
use crate::{MailDelivery, NotificationStore, NotificationsHandler, Notifier};

const CONSUMERS_PER_QUEUE: usize = 2;

/// The queues notifications consumes.
pub fn queues() -> Vec<ConsumerSettings> {
    queues_of(&crate::events::queues())
}

/// The notifications service, built from its store (indexes created) and the mail transport
/// each notification's copy goes out through.
pub struct NotificationsService {
    pub store: NotificationStore,
    pub mailer: Mailer,
    pub verifier: TokenVerifier,
}

impl Service for NotificationsService {
    fn start(self: Box<Self>, listener: TcpListener, handles: &Handles) -> Started {
        let Self {
            store,
            mailer,
            verifier,
        } = *self;
        let app = crate::router(store.clone(), verifier, handles.readiness());
        let mut tasks = vec![handles.spawn_server("notifications", listener, app)];
        let delivery = MailDelivery::new(mailer);
        let resender = Notifier::new(store.clone(), delivery.clone());
        let shutdown = handles.shutdown.clone();
        tasks.push(tokio::spawn(async move {
            resender.run_resender(RESEND_INTERVAL, shutdown).await
        }));
        let handler = Arc::new(NotificationsHandler::new(Notifier::new(store, delivery)));
        tasks.extend(handles.spawn_all_consumers(CONSUMERS_PER_QUEUE, &queues(), &handler));
        Ok(tasks)
    }
}
