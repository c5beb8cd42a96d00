//! Operator tools for dead letters (the `emporium dlq` commands): how many each queue has,
//! what they are and why they failed, and redriving them into their queue.
//!
//! Nothing here loses a message. [`show`] takes dead letters without acknowledging them and
//! hands them back; [`redrive`] acknowledges a dead letter only after its copy in the queue
//! is confirmed. A redrive publishes through the default exchange straight to `<queue>`, so
//! other queues bound to the same event type do not receive the event a second time.

use std::collections::BTreeMap;

use lapin::message::BasicGetMessage;
use lapin::options::{BasicAckOptions, BasicGetOptions, BasicNackOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel};

use super::broker::{Broker, BrokerError};
use super::consumer::{
    dead_letter_queue, header_integer, header_string, ATTEMPTS_HEADER, FAILURE_REASON_HEADER,
    ORIGINAL_ROUTING_KEY_HEADER,
};
use super::{Envelope, PublishError};

#[derive(Debug, thiserror::Error)]
pub enum DlqError {
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// Redriving stopped at a message the queue did not confirm; that message and the ones
    /// after it are still dead letters.
    #[error("redrove {moved} messages, then: {source}")]
    Redrive {
        moved: usize,
        #[source]
        source: PublishError,
    },
}

/// A dead letter's body: the envelope when it parses, the raw text otherwise (a poison message).
#[derive(Debug, Clone, PartialEq)]
pub enum DeadLetterBody {
    Envelope(Box<Envelope>),
    Raw(String),
}

/// One dead letter as [`show`] sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub body: DeadLetterBody,
    pub reason: Option<String>,
    /// Handler calls before it was dead-lettered; 0 for a poison message.
    pub attempts: Option<i64>,
    /// The event type it was published with.
    pub original_routing_key: Option<String>,
}

/// How many dead letters each queue has; `None` for a queue whose dead-letter queue does
/// not exist (its consumer never ran).
pub async fn list(
    broker: &Broker,
    queues: &[String],
) -> Result<Vec<(String, Option<u32>)>, DlqError> {
    let mut depths = Vec::with_capacity(queues.len());
    for queue in queues {
        let depth = match message_count(broker, &dead_letter_queue(queue)).await {
            Ok(count) => Some(count),
            Err(BrokerError::NotFound(_)) => None,
            Err(err) => return Err(err.into()),
        };
        depths.push((queue.clone(), depth));
    }
    Ok(depths)
}

/// Up to `limit` dead letters of `queue`, oldest first, left in place.
pub async fn show(broker: &Broker, queue: &str, limit: usize) -> Result<Vec<DeadLetter>, DlqError> {
    let dead_letters = dead_letter_queue(queue);
    // Its own channel: a missing queue closes the channel it was asked on.
    let channel = broker.channel().await?;
    let mut shown = Vec::new();
    while shown.len() < limit {
        let Some(message) = get(&channel, &dead_letters).await? else {
            break;
        };
        shown.push(read(&message));
    }
    // Holding them unacknowledged made `basic.get` return the next one each time; closing the
    // channel hands them all back, in their original order.
    channel
        .close(200, "dead letters shown".into())
        .await
        .map_err(BrokerError::from)?;
    Ok(shown)
}

/// Moves up to `limit` dead letters of `queue` back into `queue`; returns how many moved.
///
/// Moves at most the messages present when it starts: a message that fails again while the
/// redrive runs lands back in the dead-letter queue and is not picked up a second time.
pub async fn redrive(broker: &Broker, queue: &str, limit: usize) -> Result<usize, DlqError> {
    let dead_letters = dead_letter_queue(queue);
    let channel = broker.channel().await?;
    let present = queue_depth(&channel, &dead_letters).await?;
    let to_move = limit.min(usize::try_from(present).unwrap_or(usize::MAX));
    let mut moved = 0;
    while moved < to_move {
        let Some(message) = get(&channel, &dead_letters).await? else {
            break;
        };
        if let Err(source) = move_to_queue(broker, queue, &message).await {
            let _ = message.delivery.acker.nack(requeue()).await;
            return Err(DlqError::Redrive { moved, source });
        }
        message
            .delivery
            .acker
            .ack(BasicAckOptions::default())
            .await
            .map_err(BrokerError::from)?;
        moved += 1;
    }
    let _ = channel.close(200, "redriven".into()).await;
    tracing::info!(%queue, moved, "dead letters redriven");
    Ok(moved)
}

async fn move_to_queue(
    broker: &Broker,
    queue: &str,
    message: &BasicGetMessage,
) -> Result<(), PublishError> {
    let properties = redriven_properties(&message.delivery.properties);
    // Mandatory: if `queue` no longer exists the message comes back and stays a dead letter.
    broker
        .publish_confirmed("", queue, &message.delivery.data, properties, true)
        .await
}

/// The dead letter's properties without the failure: the next failure records its own. The
/// original routing key stays, so a second dead-lettering still names the event type.
fn redriven_properties(properties: &BasicProperties) -> BasicProperties {
    let kept: BTreeMap<ShortString, AMQPValue> = properties
        .headers()
        .as_ref()
        .map(|headers| {
            headers
                .inner()
                .iter()
                .filter(|(name, _)| {
                    ![FAILURE_REASON_HEADER, ATTEMPTS_HEADER].contains(&name.as_str())
                })
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect()
        })
        .unwrap_or_default();
    properties.clone().with_headers(kept.into())
}

fn read(message: &BasicGetMessage) -> DeadLetter {
    let properties = &message.delivery.properties;
    let body = match serde_json::from_slice::<Envelope>(&message.delivery.data) {
        Ok(envelope) => DeadLetterBody::Envelope(Box::new(envelope)),
        Err(_) => DeadLetterBody::Raw(String::from_utf8_lossy(&message.delivery.data).into_owned()),
    };
    DeadLetter {
        body,
        reason: header_string(properties, FAILURE_REASON_HEADER),
        attempts: header_integer(properties, ATTEMPTS_HEADER),
        original_routing_key: header_string(properties, ORIGINAL_ROUTING_KEY_HEADER),
    }
}

async fn get(channel: &Channel, queue: &str) -> Result<Option<BasicGetMessage>, BrokerError> {
    Ok(channel
        .basic_get(queue.into(), BasicGetOptions { no_ack: false })
        .await?)
}

/// The number of ready messages in `queue`, on a channel of its own (a passive declare of a
/// missing queue closes the channel).
async fn message_count(broker: &Broker, queue: &str) -> Result<u32, BrokerError> {
    let channel = broker.channel().await?;
    let count = queue_depth(&channel, queue).await?;
    let _ = channel.close(200, "counted".into()).await;
    Ok(count)
}

async fn queue_depth(channel: &Channel, queue: &str) -> Result<u32, BrokerError> {
    let passive = QueueDeclareOptions::durable().passive();
    Ok(channel
        .queue_declare(queue.into(), passive, FieldTable::default())
        .await?
        .message_count())
}

fn requeue() -> BasicNackOptions {
    BasicNackOptions {
        requeue: true,
        ..BasicNackOptions::default()
    }
}
