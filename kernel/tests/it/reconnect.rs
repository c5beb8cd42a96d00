//! Connections dropped by the broker while events flow: nothing is lost, nothing applied twice.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use emporium_kernel::events::consumer::dead_letter_queue;
use emporium_kernel::events::Publisher;
use tokio_util::sync::CancellationToken;

use crate::inbox::{effects, effects_database, InboxHandler};
use crate::rabbit::{self, eventually, fast_settings, Rabbit, RunningConsumer};

#[tokio::test]
async fn no_event_is_lost_or_applied_twice_when_the_broker_closes_every_connection() {
    let rabbit = Rabbit::start().await;
    let (_db, pool) = effects_database().await;
    let queue = "tests.reconnect";
    let handler = InboxHandler {
        pool: pool.clone(),
        consumer: queue,
        calls: Arc::default(),
    };
    // The consumers have a connection of their own, as they would in another service.
    let consumer_broker = rabbit::connect(&rabbit.vhost).await;
    let consumers: Vec<_> = (0..2)
        .map(|_| {
            RunningConsumer::spawn(
                &consumer_broker,
                fast_settings(queue, &["order.*"]),
                handler.clone(),
            )
        })
        .collect();
    rabbit.wait_for_consumers(queue, 2).await;
    let published = Arc::new(AtomicUsize::new(0));
    let stop_publishing = CancellationToken::new();
    let publisher = tokio::spawn(publish_until_stopped(
        rabbit.broker.clone(),
        published.clone(),
        stop_publishing.clone(),
    ));

    for _ in 0..2 {
        let before = published.load(Ordering::SeqCst);
        eventually("events published before the outage", || async {
            (published.load(Ordering::SeqCst) >= before + 30).then_some(())
        })
        .await;
        rabbit.vhost.close_connections().await;
    }
    let after_outages = published.load(Ordering::SeqCst);
    eventually("events published after the outages", || async {
        (published.load(Ordering::SeqCst) >= after_outages + 30).then_some(())
    })
    .await;
    stop_publishing.cancel();
    publisher.await.expect("the publisher finishes");
    let total = i64::try_from(published.load(Ordering::SeqCst)).expect("small");
    eventually("every event applied", || async {
        (effects(&pool).await.0 >= total).then_some(())
    })
    .await;
    for consumer in consumers {
        consumer.stop().await;
    }

    assert_eq!(
        effects(&pool).await,
        (total, total),
        "each event applied exactly once"
    );
    assert_eq!(rabbit.depth(queue).await, 0);
    assert_eq!(rabbit.depth(&dead_letter_queue(queue)).await, 0);
    assert!(consumer_broker.is_connected() && rabbit.broker.is_connected());
}

/// Publishes distinct events one after another, each retried until confirmed, as the outbox
/// relay does; counts the confirmed ones.
async fn publish_until_stopped(
    broker: emporium_kernel::events::broker::Broker,
    published: Arc<AtomicUsize>,
    stop: CancellationToken,
) {
    let mut n = 0;
    while !stop.is_cancelled() {
        n += 1;
        let envelope = rabbit::event("order.placed", &format!("o-{n}"));
        eventually("a confirmed publish", || async {
            broker.publish(&envelope).await.ok()
        })
        .await;
        published.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}
