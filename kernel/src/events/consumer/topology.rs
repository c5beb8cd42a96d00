//! A consumer's queue topology: the exchanges, the durable queue with its bindings and its
//! dead-letter queue, declared idempotently by every session of every replica.
//!
//! Failure: a broker that cannot be reached is [`BrokerError::Unavailable`] (declare again
//! later); a queue that exists with other arguments (another queue type) is refused with an
//! error that names the queue and how to convert it, since RabbitMQ cannot do so in place.

use lapin::options::{QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::Channel;

use super::{dead_letter_queue, ConsumerError, ConsumerSettings};
use crate::events::broker::{declare_exchanges, Broker, BrokerError, QueueType};
use crate::events::{DEAD_LETTER_EXCHANGE, EXCHANGE};

/// Declares a consumer's queue, bindings and dead-letter queue without consuming: a process
/// that starts its consumers and its relays together calls this first, so that events it
/// publishes at start-up find the queue bound instead of being dropped by the exchange.
pub async fn declare(broker: &Broker, settings: &ConsumerSettings) -> Result<(), ConsumerError> {
    settings.validate()?;
    let topology = |err: BrokerError| match err {
        BrokerError::Unavailable(reason) => ConsumerError::Unavailable {
            queue: settings.queue.clone(),
            reason,
        },
        refused => ConsumerError::Topology {
            queue: settings.queue.clone(),
            reason: refused.to_string(),
        },
    };
    let channel = broker.channel().await.map_err(topology)?;
    declare_queue(&channel, settings, broker.settings().queue_type)
        .await
        .map_err(topology)?;
    let _ = channel.close(200, "queue declared".into()).await;
    Ok(())
}

pub(super) async fn declare_queue(
    channel: &Channel,
    settings: &ConsumerSettings,
    queue_type: QueueType,
) -> Result<(), BrokerError> {
    let queue = settings.queue.as_str();
    let dead_letters = dead_letter_queue(queue);
    declare_exchanges(channel).await?;
    let arguments = queue_arguments(queue, queue_type);
    declare_durable_queue(channel, queue, queue_type, arguments).await?;
    for binding in &settings.bindings {
        bind(channel, queue, EXCHANGE, binding).await?;
    }
    let arguments = type_arguments(queue_type);
    declare_durable_queue(channel, &dead_letters, queue_type, arguments).await?;
    bind(channel, &dead_letters, DEAD_LETTER_EXCHANGE, queue).await
}

/// A consumer queue's arguments. Classic: none, as the queues have always been declared (so
/// existing queues stay equivalent). Quorum: the type, and the dead-letter queue as the
/// broker's own dead-letter route. The consumer dead-letters by publishing (with the reason in
/// headers) and never rejects, so the broker uses that route only when a message exceeds a
/// delivery limit (RabbitMQ 4 sets one of 20 on quorum queues by default): the message then
/// lands in `<queue>.dlq` instead of being dropped.
fn queue_arguments(queue: &str, queue_type: QueueType) -> FieldTable {
    let mut arguments = type_arguments(queue_type);
    if queue_type == QueueType::Quorum {
        arguments.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString(DEAD_LETTER_EXCHANGE.into()),
        );
        arguments.insert(
            "x-dead-letter-routing-key".into(),
            AMQPValue::LongString(queue.into()),
        );
    }
    arguments
}

fn type_arguments(queue_type: QueueType) -> FieldTable {
    let mut arguments = FieldTable::default();
    if queue_type == QueueType::Quorum {
        arguments.insert(
            "x-queue-type".into(),
            AMQPValue::LongString(queue_type.as_str().into()),
        );
    }
    arguments
}

/// Declares a durable queue (never exclusive nor auto-deleted: quorum queues cannot be). A
/// queue that exists with other arguments (another type) is refused by the broker
/// (PRECONDITION_FAILED): the error then names the queue and what to do, since RabbitMQ cannot
/// convert a queue in place.
async fn declare_durable_queue(
    channel: &Channel,
    queue: &str,
    wanted: QueueType,
    arguments: FieldTable,
) -> Result<(), BrokerError> {
    match channel
        .queue_declare(queue.into(), QueueDeclareOptions::durable(), arguments)
        .await
    {
        Ok(_) => Ok(()),
        Err(err) if is_argument_conflict(&err) => Err(BrokerError::Refused(format!(
            "queue {queue} already exists with other arguments than a {wanted} queue \
             (EMPORIUM_QUEUE_TYPE={wanted}); most likely it is of the other type, and RabbitMQ \
             cannot change a queue's type or arguments in place. Either set \
             EMPORIUM_QUEUE_TYPE back to the queue's type, or stop every consumer of {queue}, \
             let it drain (or move its messages with a shovel), delete it and its dead-letter \
             queue {dead_letters} once empty (`rabbitmqctl delete_queue {queue}`), and start \
             the services again to declare them as {wanted} queues. The broker said: {err}",
            dead_letters = dead_letter_queue(queue),
        ))),
        Err(err) => Err(err.into()),
    }
}

/// Whether the broker refused a declaration because the queue exists with other arguments
/// (its type, or the dead-letter route quorum queues get).
fn is_argument_conflict(err: &lapin::Error) -> bool {
    use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
    let is_precondition = matches!(
        err.kind(),
        lapin::ErrorKind::ProtocolError(amqp)
            if matches!(amqp.kind(), AMQPErrorKind::Soft(AMQPSoftError::PRECONDITIONFAILED))
    );
    is_precondition && err.to_string().contains("inequivalent arg")
}

async fn bind(
    channel: &Channel,
    queue: &str,
    exchange: &str,
    routing_key: &str,
) -> Result<(), BrokerError> {
    channel
        .queue_bind(
            queue.into(),
            exchange.into(),
            routing_key.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok(())
}
