//! The CloudEvents 1.0 envelope every event travels in (structured JSON mode), as
//! `shared/events.md` specifies it. Producers make drafts of [`contract`](super::contract)
//! events with [`EventDraft::of`]; consumers read them back with [`Envelope::decode`].

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::contract::{DecodeError, Event};

/// The topic exchange every event is published to; the routing key is the event type.
pub const EXCHANGE: &str = "ecommerce-events";
/// Where messages go after their last failed attempt.
pub const DEAD_LETTER_EXCHANGE: &str = "ecommerce-events.dlx";
/// The AMQP content type of an envelope.
pub const CONTENT_TYPE: &str = "application/cloudevents+json";

/// One event as it travels on the broker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub specversion: String,
    /// UUIDv7; the consumers' de-duplication key.
    pub id: Uuid,
    /// The producing service, e.g. `/subgraphs/orders`.
    pub source: String,
    /// The event type and routing key, e.g. `order.placed`.
    #[serde(rename = "type")]
    pub event_type: String,
    pub time: String,
    /// The aggregate id, e.g. the order id.
    pub subject: String,
    pub datacontenttype: String,
    /// `urn:emporium:event:<type>:v<version>`.
    pub dataschema: String,
    /// Shared by every event of one business flow.
    pub correlationid: String,
    /// The event or request that caused this one.
    pub causationid: String,
    /// Increases per `subject`, as a decimal string (CloudEvents extension attributes are strings).
    pub sequence: String,
    /// W3C Trace Context of the request that caused the event, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    pub data: serde_json::Value,
}

/// What a producer knows about an event before the outbox numbers it.
#[derive(Debug, Clone)]
pub struct EventDraft {
    pub event_type: &'static str,
    pub version: u32,
    pub subject: String,
    pub data: serde_json::Value,
    /// The flow this event belongs to; a new flow when `None`.
    pub correlation_id: Option<String>,
    /// The event or request that caused this one; the event itself when `None`.
    pub causation_id: Option<String>,
    pub traceparent: Option<String>,
}

impl EventDraft {
    /// A draft of `event`: its type, version, subject and payload, from the contract.
    pub fn of<E: Event>(event: &E) -> Self {
        // The contract's types hold strings, numbers, booleans, UUIDs, timestamps and enums
        // with string keys only: nothing serde_json refuses.
        let data = serde_json::to_value(event).expect("a contract event serialises to JSON");
        Self {
            version: E::VERSION,
            ..Self::new(E::TYPE, event.subject(), data)
        }
    }

    pub fn new(
        event_type: &'static str,
        subject: impl Into<String>,
        data: serde_json::Value,
    ) -> Self {
        Self {
            event_type,
            version: 1,
            subject: subject.into(),
            data,
            correlation_id: None,
            causation_id: None,
            traceparent: None,
        }
    }

    /// Ties the event to the trace of the request that caused it.
    pub fn traced(mut self, trace: &crate::trace::TraceContext) -> Self {
        self.traceparent = Some(trace.traceparent().to_owned());
        self
    }

    /// Makes this event part of the flow `cause` belongs to.
    pub fn caused_by(mut self, cause: &Envelope) -> Self {
        self.correlation_id = Some(cause.correlationid.clone());
        self.causation_id = Some(cause.id.to_string());
        self.traceparent = cause.traceparent.clone();
        self
    }

    /// The envelope, given the producing service and the aggregate's next sequence number.
    pub fn into_envelope(self, source: &str, sequence: i64, now: DateTime<Utc>) -> Envelope {
        let id = Uuid::now_v7();
        Envelope {
            specversion: "1.0".to_owned(),
            id,
            source: source.to_owned(),
            dataschema: schema_urn(self.event_type, self.version),
            event_type: self.event_type.to_owned(),
            time: now.to_rfc3339_opts(SecondsFormat::Millis, true),
            subject: self.subject,
            datacontenttype: "application/json".to_owned(),
            correlationid: self.correlation_id.unwrap_or_else(|| id.to_string()),
            causationid: self.causation_id.unwrap_or_else(|| id.to_string()),
            sequence: sequence.to_string(),
            traceparent: self.traceparent,
            data: self.data,
        }
    }
}

pub fn schema_urn(event_type: &str, version: u32) -> String {
    format!("urn:emporium:event:{event_type}:v{version}")
}

impl Envelope {
    /// The envelope's `data` as the contract event `E`, once its type and `dataschema`
    /// version are `E`'s.
    pub fn decode<E: Event>(&self) -> Result<E, DecodeError> {
        if self.event_type != E::TYPE {
            return Err(DecodeError::WrongType {
                expected: E::TYPE,
                actual: self.event_type.clone(),
            });
        }
        if self.dataschema != schema_urn(E::TYPE, E::VERSION) {
            return Err(DecodeError::UnknownVersion {
                event_type: E::TYPE,
                dataschema: self.dataschema.clone(),
                known: E::VERSION,
            });
        }
        E::deserialize(&self.data).map_err(|err| DecodeError::Malformed {
            event_type: E::TYPE,
            version: E::VERSION,
            reason: err.to_string(),
        })
    }

    /// The per-aggregate sequence number; 0 when it is not a number.
    pub fn sequence_number(&self) -> i64 {
        self.sequence.parse().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_envelope_serialises_as_structured_cloudevents() {
        let envelope = EventDraft::new("order.placed", "order-1", json!({ "orderId": "order-1" }))
            .into_envelope("/subgraphs/orders", 42, Utc::now());
        let value = serde_json::to_value(&envelope).expect("serialises");

        assert_eq!(value["specversion"], "1.0");
        assert_eq!(value["type"], "order.placed");
        assert_eq!(value["sequence"], "42");
        assert_eq!(value["dataschema"], "urn:emporium:event:order.placed:v1");
        assert_eq!(
            value["correlationid"], value["id"],
            "a new flow starts with this event"
        );
        assert_eq!(envelope.id.get_version_num(), 7);
        assert!(value.get("traceparent").is_none());
        let back: Envelope = serde_json::from_value(value).expect("deserialises");
        assert_eq!(back, envelope);
    }

    #[test]
    fn caused_events_join_the_flow_of_their_cause() {
        let cause = EventDraft::new("order.placed", "o", json!({})).into_envelope(
            "/subgraphs/orders",
            1,
            Utc::now(),
        );
        let effect = EventDraft::new("inventory.reserved", "o", json!({}))
            .caused_by(&cause)
            .into_envelope("/subgraphs/inventory", 1, Utc::now());
        assert_eq!(effect.correlationid, cause.correlationid);
        assert_eq!(effect.causationid, cause.id.to_string());
    }
}
