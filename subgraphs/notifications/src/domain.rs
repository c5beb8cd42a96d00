//! What a notification is and which order changes deserve one, without I/O.

use std::fmt;

use chrono::{DateTime, Utc};
use emporium_kernel::email::Email;
use emporium_kernel::money::Money;
use uuid::Uuid;

/// What a notification is about; its name is the API's `Notification.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Welcome,
    OrderConfirmed,
    OrderRejected,
    OrderShipped,
    OrderDelivered,
    OrderCancelled,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Welcome,
        Kind::OrderConfirmed,
        Kind::OrderRejected,
        Kind::OrderShipped,
        Kind::OrderDelivered,
        Kind::OrderCancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Welcome => "WELCOME",
            Kind::OrderConfirmed => "ORDER_CONFIRMED",
            Kind::OrderRejected => "ORDER_REJECTED",
            Kind::OrderShipped => "ORDER_SHIPPED",
            Kind::OrderDelivered => "ORDER_DELIVERED",
            Kind::OrderCancelled => "ORDER_CANCELLED",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == raw)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An order's status and the reason of its change, as `order.status_changed` names them.
pub use emporium_kernel::events::contract::orders::{OrderStatus, StatusReason};

/// The notification a change to `status` deserves; none for PENDING, which the customer has
/// just seen happen at checkout.
pub fn kind_of(status: OrderStatus) -> Option<Kind> {
    match status {
        OrderStatus::Pending => None,
        OrderStatus::Confirmed => Some(Kind::OrderConfirmed),
        OrderStatus::Shipped => Some(Kind::OrderShipped),
        OrderStatus::Delivered => Some(Kind::OrderDelivered),
        OrderStatus::Cancelled => Some(Kind::OrderCancelled),
        OrderStatus::Rejected => Some(Kind::OrderRejected),
    }
}

/// An order's change of status, as a customer is told about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderUpdate {
    pub order_id: Uuid,
    pub status: OrderStatus,
    pub reason: Option<StatusReason>,
    pub total: Money,
}

/// One entry of a user's feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The id of the event it was made from: one event makes at most one notification, so a
    /// redelivered event finds its notification already there. Event ids are UUIDv7, so
    /// ordering by id is ordering by when the event happened.
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: Kind,
    pub title: String,
    pub body: String,
    pub order_id: Option<Uuid>,
    pub is_read: bool,
    /// When the event happened.
    pub created_at: DateTime<Utc>,
}

/// Where a user's notifications can be sent, learnt from `user.registered`.
#[derive(Clone, PartialEq, Eq)]
pub struct Contact {
    pub user_id: Uuid,
    pub email: Email,
    pub name: String,
}

// Addresses stay out of logs: `{:?}` of a contact names the user only.
impl fmt::Debug for Contact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Contact")
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(Kind::parse("order_confirmed"), None);
    }

    #[test]
    fn every_status_but_pending_deserves_a_notification() {
        assert_eq!(kind_of(OrderStatus::Pending), None);
        assert_eq!(kind_of(OrderStatus::Rejected), Some(Kind::OrderRejected));
        assert!(OrderStatus::ALL
            .into_iter()
            .filter(|status| *status != OrderStatus::Pending)
            .all(|status| kind_of(status).is_some()));
    }

    #[test]
    fn a_contact_never_prints_its_address() {
        let contact = Contact {
            user_id: Uuid::nil(),
            email: Email::parse("ann@example.com").expect("email"),
            name: "Ann".to_owned(),
        };
        assert!(!format!("{contact:?}").contains("ann@"));
    }
}
