//! Adding a notification to its user's feed, then sending it out. The feed entry is written
//! first and alone decides whether the event was handled: a failed delivery is logged and
//! recorded on the entry, and never fails the event or loses the entry.
//!
//! The entry is written claimed by the handler that created it, which makes the first
//! attempt, so a redelivered event sends nothing a second time. What that attempt did not send (it failed, or the process
//! stopped before or during it) the resender ([`Notifier::run_resender`]) sends when it is
//! due, with backoff, up to [`MAX_DELIVERY_ATTEMPTS`](crate::store::MAX_DELIVERY_ATTEMPTS)
//! attempts. Every attempt is claimed in the store first, so two processes never make the
//! same one; a process stopping after sending and before recording it makes the channel send
//! it again (at least once for the outbound copy; exactly once for the feed).

use std::time::Duration;

use chrono::{DateTime, Utc};
use emporium_kernel::service::every;
use tokio_util::sync::CancellationToken;
use tracing::instrument;

use crate::delivery::{Delivery, Outgoing};
use crate::domain::Notification;
use crate::store::{Inserted, NotificationStore, StoreError};

/// Deliveries one resender pass takes at most.
const RESEND_BATCH: usize = 100;
/// How often the resender looks for due deliveries.
pub const RESEND_INTERVAL: Duration = Duration::from_secs(10);

pub struct Notifier<D> {
    store: NotificationStore,
    delivery: D,
}

impl<D: Delivery> Notifier<D> {
    pub fn new(store: NotificationStore, delivery: D) -> Self {
        Self { store, delivery }
    }

    pub fn store(&self) -> &NotificationStore {
        &self.store
    }

    /// Adds the notification unless its event was handled before; sends it out when new.
    #[instrument(skip_all, fields(notification_id = %notification.id, kind = %notification.kind))]
    pub async fn notify(&self, notification: &Notification) -> Result<Inserted, StoreError> {
        let inserted = self.store.insert(notification).await?;
        match inserted {
            // Written claimed for the first attempt: it is this handler's to make.
            Inserted::Created => self.send(notification, 1).await,
            Inserted::AlreadyThere => {
                tracing::debug!("the event was handled before; nothing to add")
            }
        }
        Ok(inserted)
    }

    /// Makes the attempts due at `now` (at most `limit`); returns how many it made.
    pub async fn resend_due(&self, now: DateTime<Utc>, limit: usize) -> Result<usize, StoreError> {
        let mut attempts = 0;
        for due in self.store.due(now, limit).await? {
            if let Some((notification, attempt)) = self.store.claim_due(&due).await? {
                self.send(&notification, attempt).await;
                attempts += 1;
            }
        }
        Ok(attempts)
    }

    /// Every `interval` until `shutdown`, makes the attempts that are due.
    pub async fn run_resender(&self, interval: Duration, shutdown: CancellationToken) {
        every(interval, &shutdown, || async {
            match self.resend_due(Utc::now(), RESEND_BATCH).await {
                Ok(0) => {}
                Ok(attempts) => tracing::info!(attempts, "resent due notification deliveries"),
                Err(err) => {
                    tracing::warn!(error = %err, "resending due notification deliveries failed")
                }
            }
        })
        .await;
    }

    #[instrument(skip_all, fields(notification_id = %notification.id, attempt))]
    async fn send(&self, notification: &Notification, attempt: i32) {
        let outcome = match self.store.contact(notification.user_id).await {
            Ok(contact) => self
                .delivery
                .deliver(Outgoing {
                    notification,
                    contact: contact.as_ref(),
                })
                .await
                .map_err(|e| e.to_string()),
            Err(err) => Err(format!("looking up the user's contact failed: {err}")),
        };
        if let Err(error) = &outcome {
            tracing::warn!(%error, "sending the notification out failed; it stays in the feed and is tried again when due");
        }
        if let Err(err) = self
            .store
            .record_delivery(notification.id, attempt, outcome)
            .await
        {
            tracing::warn!(error = %err, "could not record how the delivery went");
        }
    }
}
