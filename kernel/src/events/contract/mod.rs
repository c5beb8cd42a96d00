//! The event contract: one Rust type per event type and version, serialised with `serde` both
//! ways, so producers never write a type string or a `json!` literal and consumers never keep
//! a private copy of a payload. `api/events.md` documents the catalogue and has an example of
//! every payload; `api/events/<type>.v<version>.json` are the JSON Schemas generated from these
//! types (feature `event-schemas`), which a kernel test keeps in step.
//!
//! Producers turn an event into a draft with [`EventDraft::of`](super::EventDraft::of) and
//! enqueue it through the outbox; consumers read one with
//! [`Envelope::decode`](super::Envelope::decode), which checks the type and the `dataschema`
//! version before it parses `data`. A [`DecodeError`] is a permanent
//! [`HandlerError`](crate::events::consumer::HandlerError): the
//! consumer runtime dead-letters the message at once, with a reason that names the problem
//! (an unknown version, or a payload that does not match its type).
//!
//! The wire format is the one the services have always exchanged: camelCase fields, money as
//! decimal strings with a separate currency code, timestamps as RFC 3339, `null` for an absent
//! optional field unless a type says otherwise. A change that breaks a consumer is a new type
//! with a new `VERSION`, never an edit of an existing one.
//!
//! Layout, one module per producing domain: [`users`], [`products`], [`inventory`],
//! [`orders`], [`payments`].

use serde::de::DeserializeOwned;
use serde::Serialize;

/// One event type at one version: its payload (`data`) and where it travels.
pub trait Event: Serialize + DeserializeOwned {
    /// The CloudEvents `type`, also the routing key, e.g. `order.placed`.
    const TYPE: &'static str;
    /// The payload's version, the `v<n>` of `urn:emporium:event:<type>:v<n>`.
    const VERSION: u32;

    /// The aggregate the event is about (the envelope's `subject`), e.g. the order id.
    fn subject(&self) -> String;
}

/// Implements [`Event`] for a payload type: `event!(Type, "type.name", version 1, |e| subject)`,
/// the subject computed from the payload bound to `e`.
macro_rules! event {
    ($payload:ty, $event_type:literal, version $version:literal, |$event:ident| $subject:expr) => {
        impl $crate::events::contract::Event for $payload {
            const TYPE: &'static str = $event_type;
            const VERSION: u32 = $version;

            fn subject(&self) -> String {
                let $event = self;
                $subject
            }
        }
    };
}

pub mod inventory;
pub mod orders;
pub mod payments;
pub mod products;
pub mod users;

/// Why an envelope's `data` could not be read as an event type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The envelope carries another event type than the one asked for.
    #[error("not a {expected} event: the envelope's type is {actual}")]
    WrongType {
        expected: &'static str,
        actual: String,
    },
    /// The envelope's `dataschema` names a version this consumer does not read.
    #[error(
        "unknown version of {event_type}: dataschema {dataschema} (this consumer reads v{known})"
    )]
    UnknownVersion {
        event_type: &'static str,
        dataschema: String,
        known: u32,
    },
    /// `data` does not match the event's type.
    #[error("malformed {event_type} v{version} payload: {reason}")]
    Malformed {
        event_type: &'static str,
        version: u32,
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use chrono::{SubsecRound, Utc};
    use uuid::Uuid;

    use super::orders::{OrderStatus, OrderStatusChanged, StatusReason};
    use super::*;
    use crate::events::envelope::schema_urn;
    use crate::events::EventDraft;

    fn cancelled() -> OrderStatusChanged {
        OrderStatusChanged {
            order_id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            status: OrderStatus::Cancelled,
            previous_status: Some(OrderStatus::Confirmed),
            reason: Some(StatusReason::CancelledByCustomer),
            // The wire keeps milliseconds.
            at: Utc::now().trunc_subsecs(3),
            total: "10.00".to_owned(),
            currency: "USD".to_owned(),
        }
    }

    #[test]
    fn a_draft_of_an_event_carries_its_type_version_and_subject() {
        let event = cancelled();
        let draft = EventDraft::of(&event);
        assert_eq!(draft.event_type, "order.status_changed");
        assert_eq!(draft.version, 1);
        assert_eq!(draft.subject, event.order_id.to_string());
        assert_eq!(draft.data["status"], "CANCELLED");
        assert_eq!(draft.data["reason"], "CANCELLED_BY_CUSTOMER");
    }

    #[test]
    fn an_envelope_decodes_into_the_event_it_was_made_of() {
        let event = cancelled();
        let envelope = EventDraft::of(&event).into_envelope("/t", 1, Utc::now());
        assert_eq!(envelope.decode::<OrderStatusChanged>(), Ok(event));
    }

    #[test]
    fn decoding_refuses_another_type_an_unknown_version_and_malformed_data() {
        let mut envelope = EventDraft::of(&cancelled()).into_envelope("/t", 1, Utc::now());
        let wrong_type = envelope.decode::<super::orders::OrderPlaced>();
        assert!(matches!(wrong_type, Err(DecodeError::WrongType { .. })));

        envelope.dataschema = schema_urn("order.status_changed", 2);
        let err = envelope.decode::<OrderStatusChanged>().expect_err("v2");
        assert!(matches!(err, DecodeError::UnknownVersion { .. }), "{err:?}");
        assert!(err.to_string().contains("unknown version"), "{err}");

        envelope.dataschema = schema_urn("order.status_changed", 1);
        envelope.data["status"] = "LOST".into();
        let err = envelope
            .decode::<OrderStatusChanged>()
            .expect_err("bad status");
        assert!(err
            .to_string()
            .starts_with("malformed order.status_changed v1 payload"));
        assert!(matches!(
            crate::events::consumer::HandlerError::from(err),
            crate::events::consumer::HandlerError::Permanent(_)
        ));
    }
}
