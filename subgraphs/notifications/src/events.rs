//! The events notifications consumes (`api/events.md`); it publishes none.
//!
//! Queues:
//! - `notifications.users` (`user.registered`): the user's contact, and a welcome.
//! - `notifications.order-updates` (`order.status_changed`): a notification per change a
//!   customer cares about (every status but PENDING).
//!
//! Handling is idempotent by the event id (the notification's `_id`), so competing consumers
//! and redeliveries are safe. Store failures are retried; data that does not match the
//! event's schema is dead-lettered at once.

use chrono::{DateTime, Utc};
use emporium_kernel::email::Email;
use emporium_kernel::events::consumer::{Handler, HandlerError};
use emporium_kernel::events::contract::orders::OrderStatusChanged;
use emporium_kernel::events::contract::users::UserRegistered;
use emporium_kernel::events::{Envelope, Event};
use emporium_kernel::money::{Currency, Money};
use uuid::Uuid;

use crate::delivery::Delivery;
use crate::domain::{Contact, Kind, Notification, OrderUpdate};
use crate::notifier::Notifier;
use crate::store::StoreError;
use crate::templates::{self, Message};

pub const USERS_QUEUE: &str = "notifications.users";
pub const ORDER_UPDATES_QUEUE: &str = "notifications.order-updates";

/// Every queue notifications consumes, with its bindings.
pub fn queues() -> [(&'static str, &'static [&'static str]); 2] {
    [
        (ORDER_UPDATES_QUEUE, &[OrderStatusChanged::TYPE]),
        (USERS_QUEUE, &[UserRegistered::TYPE]),
    ]
}

impl From<StoreError> for HandlerError {
    fn from(err: StoreError) -> Self {
        // MongoDB unavailable, a primary stepping down, a timeout: all pass.
        HandlerError::retryable(err)
    }
}

fn malformed(envelope: &Envelope, what: impl std::fmt::Display) -> HandlerError {
    HandlerError::permanent(format!("{} {}: {what}", envelope.event_type, envelope.id))
}

/// When the event happened: the notification's `createdAt`.
fn happened_at(envelope: &Envelope) -> Result<DateTime<Utc>, HandlerError> {
    DateTime::parse_from_rfc3339(&envelope.time)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| malformed(envelope, "time is not an RFC 3339 timestamp"))
}

fn notification(
    envelope: &Envelope,
    user_id: Uuid,
    kind: Kind,
    message: Message,
    order_id: Option<Uuid>,
) -> Result<Notification, HandlerError> {
    Ok(Notification {
        id: envelope.id,
        user_id,
        kind,
        title: message.title,
        body: message.body,
        order_id,
        is_read: false,
        created_at: happened_at(envelope)?,
    })
}

/// Turns the events of both queues into notifications.
pub struct NotificationsHandler<D> {
    notifier: Notifier<D>,
}

impl<D: Delivery> NotificationsHandler<D> {
    pub fn new(notifier: Notifier<D>) -> Self {
        Self { notifier }
    }

    async fn user_registered(&self, envelope: &Envelope) -> Result<(), HandlerError> {
        let event: UserRegistered = envelope.decode()?;
        let contact = Contact {
            user_id: event.user_id,
            email: Email::parse(&event.email).map_err(|e| malformed(envelope, e))?,
            name: event.name,
        };
        // Saved before the welcome is sent, so the welcome can reach the address.
        self.notifier.store().save_contact(&contact).await?;
        let welcome = templates::welcome(&contact.name);
        let notification = notification(envelope, contact.user_id, Kind::Welcome, welcome, None)?;
        self.notifier.notify(&notification).await?;
        Ok(())
    }

    async fn order_status_changed(&self, envelope: &Envelope) -> Result<(), HandlerError> {
        let event: OrderStatusChanged = envelope.decode()?;
        let currency = Currency::parse(&event.currency).map_err(|e| malformed(envelope, e))?;
        let update = OrderUpdate {
            order_id: event.order_id,
            status: event.status,
            reason: event.reason,
            total: Money::parse_price(&event.total, currency)
                .map_err(|e| malformed(envelope, format!("total: {e}")))?,
        };
        let Some((kind, message)) = templates::order_update(&update) else {
            return Ok(());
        };
        let notification = notification(
            envelope,
            event.user_id,
            kind,
            message,
            Some(update.order_id),
        )?;
        self.notifier.notify(&notification).await?;
        Ok(())
    }
}

impl<D: Delivery> Handler for NotificationsHandler<D> {
    async fn handle(&self, envelope: &Envelope) -> Result<(), HandlerError> {
        match envelope.event_type.as_str() {
            UserRegistered::TYPE => self.user_registered(envelope).await,
            OrderStatusChanged::TYPE => self.order_status_changed(envelope).await,
            other => Err(HandlerError::permanent(format!(
                "notifications does not handle {other}"
            ))),
        }
    }
}
