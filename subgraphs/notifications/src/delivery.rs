//! The outbound delivery port: where a notification goes besides the feed (an email, a
//! webhook). The feed entry is the record; delivery is best effort and never loses it.

use std::future::Future;

use crate::domain::{Contact, Notification};

/// What is sent: the notification and, when the service knows it, where its user can be
/// reached.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub notification: &'a Notification,
    pub contact: Option<&'a Contact>,
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The service has no address for the user (it never saw their `user.registered`).
    #[error("no address is known for the user")]
    NoAddress,
    /// The channel (mail server, webhook endpoint) refused or did not answer.
    #[error("the delivery channel failed: {0}")]
    Channel(String),
}

/// Sends a notification out. Called once per new notification, after it is in the feed.
pub trait Delivery: Send + Sync + 'static {
    fn deliver(
        &self,
        outgoing: Outgoing<'_>,
    ) -> impl Future<Output = Result<(), DeliveryError>> + Send;
}

/// The default channel: a log line per notification. It names the kind and the user, never
/// the address or the text.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogDelivery;

impl Delivery for LogDelivery {
    async fn deliver(&self, outgoing: Outgoing<'_>) -> Result<(), DeliveryError> {
        let notification = outgoing.notification;
        tracing::info!(
            notification_id = %notification.id,
            user_id = %notification.user_id,
            kind = %notification.kind,
            has_address = outgoing.contact.is_some(),
            "notification delivered (log only)"
        );
        Ok(())
    }
}
