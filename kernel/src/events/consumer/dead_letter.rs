//! What a dead letter carries: the original message and properties, plus headers saying why it
//! failed, after how many attempts, and the routing key it was first published with (so a
//! redrive can find its way back).
//!
//! Cannot fail: a reason too long for one AMQP frame is cut on a character boundary.

use lapin::message::Delivery;
use lapin::types::{AMQPValue, LongString};
use lapin::BasicProperties;

use super::{ATTEMPTS_HEADER, FAILURE_REASON_HEADER, ORIGINAL_ROUTING_KEY_HEADER};
use crate::events::broker::PERSISTENT;

/// Failure reasons are cut to this many bytes: a header must fit in one AMQP frame.
const MAX_REASON_BYTES: usize = 1024;

/// The event type the message was first published with, also after a redrive (which
/// publishes to the queue directly, under the queue's name).
pub(crate) fn original_routing_key(delivery: &Delivery) -> String {
    header_string(&delivery.properties, ORIGINAL_ROUTING_KEY_HEADER)
        .unwrap_or_else(|| delivery.routing_key.to_string())
}

/// The original properties (message id, timestamp, traceparent) plus why it failed.
pub(super) fn dead_letter_properties(
    delivery: &Delivery,
    reason: &str,
    attempts: u32,
) -> BasicProperties {
    let mut headers = delivery.properties.headers().clone().unwrap_or_default();
    headers.insert(
        FAILURE_REASON_HEADER.into(),
        AMQPValue::LongString(truncate(reason, MAX_REASON_BYTES).into()),
    );
    headers.insert(
        ATTEMPTS_HEADER.into(),
        AMQPValue::LongLongInt(i64::from(attempts)),
    );
    headers.insert(
        ORIGINAL_ROUTING_KEY_HEADER.into(),
        AMQPValue::LongString(LongString::from(original_routing_key(delivery))),
    );
    delivery
        .properties
        .clone()
        .with_delivery_mode(PERSISTENT)
        .with_headers(headers)
}

pub(crate) fn header_string(properties: &BasicProperties, name: &str) -> Option<String> {
    match properties.headers().as_ref()?.inner().get(name)? {
        AMQPValue::LongString(value) => Some(value.to_string()),
        AMQPValue::ShortString(value) => Some(value.to_string()),
        _ => None,
    }
}

pub(crate) fn header_integer(properties: &BasicProperties, name: &str) -> Option<i64> {
    match properties.headers().as_ref()?.inner().get(name)? {
        AMQPValue::LongLongInt(value) => Some(*value),
        AMQPValue::LongInt(value) => Some(i64::from(*value)),
        AMQPValue::LongUInt(value) => Some(i64::from(*value)),
        AMQPValue::ShortInt(value) => Some(i64::from(*value)),
        AMQPValue::ShortUInt(value) => Some(i64::from(*value)),
        AMQPValue::ShortShortInt(value) => Some(i64::from(*value)),
        AMQPValue::ShortShortUInt(value) => Some(i64::from(*value)),
        _ => None,
    }
}

fn truncate(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_reasons_are_cut_on_a_character_boundary() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("short", 1024), "short");
    }
}
