//! The broker: confirmed publishing, the topology, and reconnecting.

use std::time::Duration;

use emporium_kernel::events::broker::{Broker, BrokerError, BrokerSettings};
use emporium_kernel::events::{
    PublishError, Publisher, CONTENT_TYPE, DEAD_LETTER_EXCHANGE, EXCHANGE,
};
use emporium_kernel::testing::TestVhost;
use lapin::options::{
    BasicGetOptions, ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::ExchangeKind;

use crate::rabbit::{self, eventually, Rabbit};

async fn bound_queue(rabbit: &Rabbit, queue: &str, binding: &str) {
    let channel = rabbit.broker.channel().await.expect("channel");
    channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions::durable(),
            FieldTable::default(),
        )
        .await
        .expect("declare");
    channel
        .queue_bind(
            queue.into(),
            EXCHANGE.into(),
            binding.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("bind");
}

#[tokio::test]
async fn a_publish_returns_once_the_broker_holds_the_message() {
    let rabbit = Rabbit::start().await;
    bound_queue(&rabbit, "tests.orders", "order.*").await;
    let mut envelope = rabbit::event("order.placed", "o-1");
    envelope.traceparent =
        Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_owned());

    rabbit.broker.publish(&envelope).await.expect("confirmed");

    // No polling: the confirm means the message is already in the queue.
    assert_eq!(rabbit.depth("tests.orders").await, 1);
    let channel = rabbit.broker.channel().await.expect("channel");
    let message = channel
        .basic_get("tests.orders".into(), BasicGetOptions { no_ack: true })
        .await
        .expect("get")
        .expect("a message");
    let properties = &message.delivery.properties;
    assert_eq!(message.delivery.routing_key.as_str(), "order.placed");
    assert_eq!(properties.delivery_mode(), &Some(2));
    assert_eq!(
        properties.content_type().as_ref().map(|c| c.as_str()),
        Some(CONTENT_TYPE)
    );
    assert_eq!(
        properties.message_id().as_ref().map(|m| m.to_string()),
        Some(envelope.id.to_string())
    );
    let headers = properties.headers().clone().unwrap_or_default();
    assert_eq!(
        headers.inner().get("traceparent"),
        Some(&AMQPValue::LongString(
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()
        ))
    );
    let body: emporium_kernel::events::Envelope =
        serde_json::from_slice(&message.delivery.data).expect("an envelope");
    assert_eq!(body, envelope);
}

#[tokio::test]
async fn a_publish_the_broker_refuses_is_not_confirmed_and_the_next_one_works() {
    let rabbit = Rabbit::start().await;
    let channel = rabbit.broker.channel().await.expect("channel");
    channel
        .exchange_delete(EXCHANGE.into(), ExchangeDeleteOptions::default())
        .await
        .expect("delete the exchange");

    // The exchange is gone: the broker refuses the publish and closes the publishing channel.
    let refused = rabbit
        .broker
        .publish(&rabbit::event("order.placed", "o-1"))
        .await;
    rabbit
        .broker
        .declare_topology()
        .await
        .expect("declare topology");
    let accepted = rabbit
        .broker
        .publish(&rabbit::event("order.placed", "o-2"))
        .await;

    assert!(
        matches!(refused, Err(PublishError::NotConfirmed(_))),
        "{refused:?}"
    );
    accepted.expect("a new publishing channel replaced the closed one");
    assert!(rabbit.broker.is_connected());
}

#[tokio::test]
async fn a_fresh_broker_gets_the_shared_exchanges_on_connect() {
    let vhost = TestVhost::create().await;

    let broker = rabbit::connect(&vhost).await;

    let channel = broker.channel().await.expect("channel");
    let passive = ExchangeDeclareOptions {
        passive: true,
        ..ExchangeDeclareOptions::default()
    };
    for exchange in [EXCHANGE, DEAD_LETTER_EXCHANGE] {
        channel
            .exchange_declare(
                exchange.into(),
                ExchangeKind::Topic,
                passive,
                FieldTable::default(),
            )
            .await
            .expect("the exchange exists");
    }
}

#[tokio::test]
async fn the_broker_reconnects_after_the_server_closes_its_connection() {
    let rabbit = Rabbit::start().await;
    bound_queue(&rabbit, "tests.orders", "order.*").await;

    rabbit.vhost.close_connections().await;
    // Whatever a publish during the outage says, one eventually goes through, as the outbox
    // relay's retries would.
    eventually("a publish after the reconnect", || async {
        rabbit
            .broker
            .publish(&rabbit::event("order.placed", "o-1"))
            .await
            .ok()
    })
    .await;

    assert!(rabbit.broker.is_connected());
    rabbit.broker.ping().await.expect("ping");
    assert!(rabbit.depth("tests.orders").await >= 1);
}

#[tokio::test]
async fn connecting_to_a_missing_vhost_fails_within_the_timeout() {
    let vhost = TestVhost::create().await;
    let settings = BrokerSettings {
        operation_timeout: Duration::from_millis(500),
        ..BrokerSettings::new(format!("{}-missing", vhost.amqp_url()))
    };

    let connected = Broker::connect(settings).await;

    assert!(
        matches!(connected, Err(BrokerError::Unavailable(_))),
        "{connected:?}"
    );
}

/// `count` envelopes over `subjects` aggregates, interleaved, each aggregate's numbered from 1.
fn interleaved(subjects: usize, count: usize) -> Vec<emporium_kernel::events::Envelope> {
    (0..count)
        .map(|n| {
            let subject = format!("o-{}", n % subjects);
            emporium_kernel::events::EventDraft::new(
                "order.status_changed",
                subject.clone(),
                serde_json::json!({ "n": n }),
            )
            .into_envelope("/tests", (n / subjects + 1) as i64, chrono::Utc::now())
        })
        .collect()
}

/// Every message in `queue` as (subject, sequence), in queue order.
async fn drain_sequences(rabbit: &Rabbit, queue: &str) -> Vec<(String, i64)> {
    let channel = rabbit.broker.channel().await.expect("channel");
    let mut seen = Vec::new();
    while let Some(message) = channel
        .basic_get(queue.into(), BasicGetOptions { no_ack: true })
        .await
        .expect("get")
    {
        let envelope: emporium_kernel::events::Envelope =
            serde_json::from_slice(&message.delivery.data).expect("an envelope");
        seen.push((
            envelope.subject,
            envelope.sequence.parse().expect("a sequence"),
        ));
    }
    seen
}

/// Each aggregate's events reached the queue in order: an event's first copy comes after the
/// first copy of every earlier event of its aggregate (later copies are redeliveries, which
/// consumers absorb).
fn assert_in_order_per_aggregate(seen: &[(String, i64)], subjects: usize, per_subject: i64) {
    let mut next = std::collections::HashMap::<&str, i64>::new();
    for (subject, sequence) in seen {
        let expected = next.entry(subject).or_insert(1);
        assert!(
            *sequence <= *expected,
            "{subject}: event {sequence} reached the queue before event {expected}"
        );
        if *sequence == *expected {
            *expected += 1;
        }
    }
    assert_eq!(next.len(), subjects, "every aggregate arrived");
    for (subject, expected) in next {
        assert_eq!(expected, per_subject + 1, "{subject}: every event arrived");
    }
}

#[tokio::test]
async fn a_pipelined_batch_is_confirmed_whole_and_keeps_each_aggregates_order() {
    let rabbit = Rabbit::start().await;
    bound_queue(&rabbit, "tests.orders", "order.*").await;
    let envelopes = interleaved(7, 700);

    let outcome = rabbit.broker.publish_batch(&envelopes).await;

    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    assert_eq!(outcome.confirmed, 700);
    // The confirms mean the messages are in the queue: no polling.
    assert_eq!(rabbit.depth("tests.orders").await, 700);
    let seen = drain_sequences(&rabbit, "tests.orders").await;
    assert_in_order_per_aggregate(&seen, 7, 100);
}

#[tokio::test]
async fn a_connection_lost_mid_batch_confirms_an_exact_prefix_and_the_retry_keeps_each_aggregates_order(
) {
    let rabbit = Rabbit::start().await;
    bound_queue(&rabbit, "tests.orders", "order.*").await;
    let envelopes = interleaved(5, 20_000);

    // The connection is closed by the server while the batch is being published (the relay's
    // retry loop then publishes from the first unconfirmed envelope, as here).
    let publishing = rabbit.broker.publish_batch(&envelopes);
    let closing = async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        rabbit.vhost.close_connections().await;
    };
    let (outcome, ()) = tokio::join!(publishing, closing);
    assert!(
        outcome.confirmed < envelopes.len(),
        "the batch finished before the connection was closed; nothing was tested"
    );
    assert!(outcome.error.is_some(), "a short batch must say why");
    let mut from = outcome.confirmed;
    let confirmed_first = outcome.confirmed;
    while from < envelopes.len() {
        let retry = rabbit.broker.publish_batch(&envelopes[from..]).await;
        from += retry.confirmed;
        if retry.error.is_some() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    let seen = drain_sequences(&rabbit, "tests.orders").await;
    eprintln!(
        "confirmed before the close: {confirmed_first}; messages in the queue: {}",
        seen.len()
    );
    assert!(seen.len() >= envelopes.len(), "nothing confirmed was lost");
    assert_in_order_per_aggregate(&seen, 5, 4_000);
}
