//! The outbound delivery port: where a notification goes besides the feed (an email, a
//! webhook). The feed entry is the record; delivery is best effort and never loses it.
//!
//! [`MailDelivery`] mails a copy to the user's address through a [`Mailer`] (SMTP or `.eml`
//! files); a failure comes back as [`DeliveryError`] for the notifier to record and retry.
//! [`LogDelivery`] only logs.

use std::future::Future;

use emporium_kernel::mail::{MailError, Mailer, OutgoingMail};

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

impl From<MailError> for DeliveryError {
    fn from(err: MailError) -> Self {
        DeliveryError::Channel(err.to_string())
    }
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

/// Mails a copy of each notification (its title as the subject, its body as the text) to the
/// user's address.
#[derive(Clone)]
pub struct MailDelivery {
    mailer: Mailer,
}

impl MailDelivery {
    pub fn new(mailer: Mailer) -> Self {
        Self { mailer }
    }
}

impl Delivery for MailDelivery {
    async fn deliver(&self, outgoing: Outgoing<'_>) -> Result<(), DeliveryError> {
        let contact = outgoing.contact.ok_or(DeliveryError::NoAddress)?;
        let notification = outgoing.notification;
        let mail = OutgoingMail {
            to: contact.email.clone(),
            subject: notification.title.clone(),
            text: format!("Hello {},\n\n{}\n", contact.name, notification.body),
            label: format!(
                "notification {} kind={} user={}",
                notification.id, notification.kind, notification.user_id
            ),
        };
        self.mailer.send(&mail).await?;
        tracing::info!(
            notification_id = %notification.id,
            user_id = %notification.user_id,
            kind = %notification.kind,
            "notification mailed"
        );
        Ok(())
    }
}
