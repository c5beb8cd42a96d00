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
