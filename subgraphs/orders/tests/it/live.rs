use std::time::Duration;

use chrono::Utc;
use emporium_kernel::events::broker::{Broker, BrokerSettings};
use emporium_kernel::events::{EventDraft, Publisher};
use emporium_kernel::ids::OrderId;
use emporium_kernel::testing::TestVhost;
use emporium_orders::live::StatusChange;
use emporium_orders::status::OrderStatus;
use emporium_orders::LiveFeed;
use serde_json::json;
use tokio::sync::broadcast::Receiver;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// A replica's live feed: its own broker connection and queue.
async fn replica(vhost: &TestVhost, shutdown: &CancellationToken) -> (LiveFeed, CancellationToken) {
    let broker = Broker::start(BrokerSettings::new(vhost.amqp_url()));
    let feed = LiveFeed::new();
    let ready = CancellationToken::new();
    tokio::spawn(feed.clone().run(broker, ready.clone(), shutdown.clone()));
    (feed, ready)
}

async fn wait(token: &CancellationToken) {
    tokio::time::timeout(Duration::from_secs(20), token.cancelled())
        .await
        .expect("the live feed bound its queue");
}

fn status_changed(
    order: OrderId,
    sequence: i64,
    status: &str,
    previous: &str,
) -> emporium_kernel::events::Envelope {
    EventDraft::new(
        "order.status_changed",
        order.to_string(),
        json!({
            "orderId": order,
            "userId": Uuid::nil(),
            "status": status,
            "previousStatus": previous,
            "reason": null,
            "at": Utc::now(),
            "total": "1.00",
            "currency": "USD",
        }),
    )
    .into_envelope("/tests", sequence, Utc::now())
}

async fn next(receiver: &mut Receiver<StatusChange>) -> StatusChange {
    tokio::time::timeout(Duration::from_secs(20), receiver.recv())
        .await
        .expect("a change arrives")
        .expect("the feed is open")
}

#[tokio::test]
async fn every_replica_sees_every_change_also_after_the_broker_drops_them() {
    let vhost = TestVhost::create().await;
    let shutdown = CancellationToken::new();
    let (first, first_ready) = replica(&vhost, &shutdown).await;
    let (second, second_ready) = replica(&vhost, &shutdown).await;
    wait(&first_ready).await;
    wait(&second_ready).await;
    let (mut a, mut b) = (first.subscribe(), second.subscribe());

    let publisher = Broker::start(BrokerSettings::new(vhost.amqp_url()));
    let order = OrderId::from(Uuid::now_v7());
    publisher
        .publish(&status_changed(order, 2, "CONFIRMED", "PENDING"))
        .await
        .expect("publish");
    for receiver in [&mut a, &mut b] {
        let change = next(receiver).await;
        assert_eq!(change.entry.order_id, order);
        assert_eq!(change.entry.status, OrderStatus::Confirmed);
        assert_eq!(change.entry.previous_status, Some(OrderStatus::Pending));
        assert_eq!(change.entry.sequence, 2);
    }

    // The broker closes every connection (as a restart would): each replica declares a new
    // queue and goes on receiving.
    vhost.close_connections().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut sequence = 3;
    let (mut seen_a, mut seen_b) = (false, false);
    while !(seen_a && seen_b) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the replicas did not come back"
        );
        // Until both queues are back, an event may reach only one of them or none: keep
        // publishing new changes until each replica has seen one.
        let _ = publisher
            .publish(&status_changed(order, sequence, "SHIPPED", "CONFIRMED"))
            .await;
        sequence += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
        while let Ok(change) = a.try_recv() {
            seen_a |= change.entry.status == OrderStatus::Shipped;
        }
        while let Ok(change) = b.try_recv() {
            seen_b |= change.entry.status == OrderStatus::Shipped;
        }
    }
    shutdown.cancel();
}

#[tokio::test]
async fn unreadable_changes_are_skipped() {
    let vhost = TestVhost::create().await;
    let shutdown = CancellationToken::new();
    let (feed, ready) = replica(&vhost, &shutdown).await;
    wait(&ready).await;
    let mut receiver = feed.subscribe();
    let publisher = Broker::start(BrokerSettings::new(vhost.amqp_url()));
    let order = OrderId::from(Uuid::now_v7());
    let mut broken = status_changed(order, 2, "LOST", "PENDING");
    broken.data["status"] = json!("LOST");
    publisher.publish(&broken).await.expect("publish");
    publisher
        .publish(&status_changed(order, 3, "CANCELLED", "PENDING"))
        .await
        .expect("publish");
    let change = next(&mut receiver).await;
    assert_eq!(change.entry.status, OrderStatus::Cancelled);
    shutdown.cancel();
}

/// A change whose event never reached this replica (published while its queue was gone)
/// still reaches a subscriber: once the replica has a queue again, the subscriber catches up
/// from the order's history, and what the new queue then delivers twice is not repeated.
#[tokio::test]
async fn a_subscriber_catches_up_from_the_store_after_the_replica_lost_its_queue() {
    use emporium_kernel::events::consumer::Handler;
    use emporium_orders::saga::SagaHandler;

    let fx = crate::Fixture::new().await;
    let vhost = TestVhost::create().await;
    let shutdown = CancellationToken::new();
    let (feed, ready) = replica(&vhost, &shutdown).await;
    wait(&ready).await;
    let tv = fx.product("Television", "349.99").await;
    let order = fx.place(fx.customer_with(&tv, 1).await).await;

    let follower = feed.follow(order.id, fx.orders.clone());
    let history = fx.orders.history(order.id).await.expect("history");
    let mut follower = follower.start_after(history.last());

    // Confirmed while the feed is cut off: nothing relays the outbox here, so no event
    // reaches any queue, as when it was published while this replica had none.
    SagaHandler::new(fx.orders.clone())
        .handle(&crate::reply("payment.authorized", order.id, json!({})))
        .await
        .expect("confirm");
    vhost.close_connections().await;

    let caught_up = tokio::time::timeout(Duration::from_secs(30), follower.next())
        .await
        .expect("the subscriber caught up after the feed came back")
        .expect("the feed is open");
    assert_eq!(caught_up.status, OrderStatus::Confirmed);
    assert_eq!(caught_up.previous_status, Some(OrderStatus::Pending));

    // The same change arriving late through the broker is not handed out again; the next
    // one is.
    let publisher = Broker::start(BrokerSettings::new(vhost.amqp_url()));
    publisher
        .publish(&status_changed(
            order.id,
            caught_up.sequence,
            "CONFIRMED",
            "PENDING",
        ))
        .await
        .expect("publish");
    publisher
        .publish(&status_changed(
            order.id,
            caught_up.sequence + 1,
            "SHIPPED",
            "CONFIRMED",
        ))
        .await
        .expect("publish");
    let next = tokio::time::timeout(Duration::from_secs(30), follower.next())
        .await
        .expect("the next change arrives")
        .expect("the feed is open");
    assert_eq!(next.status, OrderStatus::Shipped);
    assert_eq!(next.sequence, caught_up.sequence + 1);
    shutdown.cancel();
}
