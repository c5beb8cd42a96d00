//! Adding a notification to its user's feed, then sending it out. The feed entry is written
//! first and alone decides whether the event was handled: a failed delivery is logged and
//! recorded on the entry, and never fails the event or loses the entry.
//!
//! Only the handler that created the entry sends it, so a redelivered event sends nothing a
//! second time. The price: a process stopping between the write and the send leaves that
//! one notification unsent, its delivery still PENDING on the document (at most once for the
//! outbound copy; exactly once for the feed).

use tracing::instrument;

use crate::delivery::{Delivery, Outgoing};
use crate::domain::Notification;
use crate::store::{DeliveryStatus, Inserted, NotificationStore, StoreError};

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
            Inserted::Created => self.send(notification).await,
            Inserted::AlreadyThere => {
                tracing::debug!("the event was handled before; nothing to add")
            }
        }
        Ok(inserted)
    }

    async fn send(&self, notification: &Notification) {
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
        let (status, error) = match outcome {
            Ok(()) => (DeliveryStatus::Sent, None),
            Err(error) => {
                tracing::warn!(%error, "sending the notification out failed; it stays in the feed");
                (DeliveryStatus::Failed, Some(error))
            }
        };
        if let Err(err) = self
            .store
            .record_delivery(notification.id, status, error.as_deref())
            .await
        {
            tracing::warn!(error = %err, "could not record how the delivery went");
        }
    }
}
