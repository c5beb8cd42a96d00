//! The consumers' side: what each event becomes, exactly once, whatever the delivery does.

use std::sync::atomic::Ordering;

use chrono::Utc;
use emporium_kernel::events::consumer::HandlerError;
use emporium_notifications::domain::{Kind, Notification};
use emporium_notifications::store::{DeliveryStatus, MAX_DELIVERY_ATTEMPTS};
use emporium_notifications::NotificationStore;
use serde_json::json;
use uuid::Uuid;

use crate::*;

fn kinds(feed: &[emporium_notifications::domain::Notification]) -> Vec<Kind> {
    feed.iter().map(|n| n.kind).collect()
}

#[tokio::test]
async fn a_redelivered_event_adds_nothing_and_is_sent_once() {
    let fixture = Fixture::new().await;
    let user = Uuid::now_v7();
    let registered = user_registered(user, "ann@example.com");
    let confirmed = Order::of(user).status_changed("CONFIRMED", Some("PENDING"), None);

    for _ in 0..3 {
        fixture.deliver(&registered).await;
        fixture.deliver(&confirmed).await;
    }

    let feed = fixture.feed(user).await;
    assert_eq!(kinds(&feed), [Kind::OrderConfirmed, Kind::Welcome]);
    assert_eq!(feed[0].id, confirmed.id, "keyed by the event's id");
    assert_eq!(fixture.sent().len(), 2, "{:?}", fixture.sent());
}

#[tokio::test]
async fn the_same_event_delivered_many_times_at_once_adds_one_notification() {
    let fixture = Fixture::new().await;
    let user = Uuid::now_v7();
    let shipped = Order::of(user).status_changed("SHIPPED", Some("CONFIRMED"), None);

    let outcomes = futures::future::join_all((0..8).map(|_| fixture.handle(&shipped))).await;

    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    assert_eq!(kinds(&fixture.feed(user).await), [Kind::OrderShipped]);
    assert_eq!(fixture.sent().len(), 1, "sent once: {:?}", fixture.sent());
}

#[tokio::test]
async fn an_orders_life_becomes_its_notifications_newest_first() {
    let fixture = Fixture::new().await;
    let user = Uuid::now_v7();
    let order = Order::of(user);
    let life = [
        order.status_changed("PENDING", None, None),
        order.status_changed("CONFIRMED", Some("PENDING"), None),
        order.status_changed("SHIPPED", Some("CONFIRMED"), None),
        order.status_changed("DELIVERED", Some("SHIPPED"), None),
    ];

    // Competing consumers may handle them in any order; the feed keeps the events' order.
    for event in life.iter().rev() {
        fixture.deliver(event).await;
    }

    let feed = fixture.feed(user).await;
    assert_eq!(
        kinds(&feed),
        [
            Kind::OrderDelivered,
            Kind::OrderShipped,
            Kind::OrderConfirmed
        ]
    );
    let reference = format!("#{}", &order.id.simple().to_string()[24..].to_uppercase());
    for notification in &feed {
        assert_eq!(notification.order_id, Some(order.id));
        assert!(!notification.is_read);
        assert!(
            notification.title.contains(&reference),
            "{}",
            notification.title
        );
        assert!(
            notification.body.contains("$699.98"),
            "{}",
            notification.body
        );
    }
}

#[tokio::test]
async fn a_rejected_or_cancelled_order_says_why() {
    let fixture = Fixture::new().await;
    let user = Uuid::now_v7();
    let declined = Order::of(user);
    let cancelled = Order::of(user);

    fixture
        .deliver(&declined.status_changed("REJECTED", Some("PENDING"), Some("PAYMENT_DECLINED")))
        .await;
    fixture
        .deliver(&cancelled.status_changed(
            "CANCELLED",
            Some("CONFIRMED"),
            Some("CANCELLED_BY_CUSTOMER"),
        ))
        .await;

    let feed = fixture.feed(user).await;
    assert_eq!(kinds(&feed), [Kind::OrderCancelled, Kind::OrderRejected]);
    assert!(feed[1].body.contains("payment"), "{}", feed[1].body);
    assert!(feed[1].body.contains("declined"), "{}", feed[1].body);
    assert!(feed[0].body.contains("refunded"), "{}", feed[0].body);
}

#[tokio::test]
async fn a_welcome_is_sent_to_the_registered_address() {
    let fixture = Fixture::new().await;
    let user = Uuid::now_v7();

    fixture
        .deliver(&user_registered(user, " Ann@Example.com "))
        .await;
    let order = Order::of(user).status_changed("CONFIRMED", Some("PENDING"), None);
    fixture.deliver(&order).await;

    let feed = fixture.feed(user).await;
    assert_eq!(feed[1].kind, Kind::Welcome);
    assert_eq!(feed[1].title, "Welcome to Emporium, Ann Lee");
    let address = Some("ann@example.com".to_owned());
    assert_eq!(
        fixture.sent(),
        [
            (feed[1].id, Kind::Welcome, address.clone()),
            (feed[0].id, Kind::OrderConfirmed, address),
        ]
    );
    let delivery = fixture.delivery_of(feed[0].id).await;
    assert_eq!(
        (
            delivery.status,
            delivery.attempts,
            delivery.error,
            delivery.retry_at
        ),
        (DeliveryStatus::Sent, 1, None, None)
    );
}

#[tokio::test]
async fn a_failed_delivery_keeps_the_entry_and_records_why() {
    let fixture = Fixture::with_delivery(TestDelivery::failing()).await;
    let user = Uuid::now_v7();
    let confirmed = Order::of(user).status_changed("CONFIRMED", Some("PENDING"), None);

    let outcome = fixture.handle(&confirmed).await;

    assert_eq!(outcome, Ok(()), "a delivery failure never fails the event");
    assert_eq!(kinds(&fixture.feed(user).await), [Kind::OrderConfirmed]);
    let delivery = fixture.delivery_of(confirmed.id).await;
    assert_eq!(delivery.status, DeliveryStatus::Failed);
    assert_eq!(delivery.attempts, 1);
    assert!(delivery.error.is_some_and(|e| e.contains("mail server")));
    assert!(
        delivery.retry_at.is_some_and(|at| at > Utc::now()),
        "tried again later"
    );
}

#[tokio::test]
async fn a_failed_delivery_goes_out_when_due_and_once() {
    let fixture = Fixture::with_delivery(TestDelivery::failing()).await;
    let user = Uuid::now_v7();
    let confirmed = Order::of(user).status_changed("CONFIRMED", Some("PENDING"), None);
    fixture.deliver(&confirmed).await;
    let resender = fixture.notifier();

    // Not due yet: nothing is tried.
    assert_eq!(
        resender.resend_due(Utc::now(), 10).await.expect("resend"),
        0
    );
    // The channel is back; once due, the delivery goes out, and only once.
    fixture.delivery.failing.store(false, Ordering::SeqCst);
    let later = Utc::now() + chrono::Duration::hours(2);
    assert_eq!(resender.resend_due(later, 10).await.expect("resend"), 1);
    assert_eq!(resender.resend_due(later, 10).await.expect("resend"), 0);

    assert_eq!(fixture.sent(), [(confirmed.id, Kind::OrderConfirmed, None)]);
    let delivery = fixture.delivery_of(confirmed.id).await;
    assert_eq!(
        (
            delivery.status,
            delivery.attempts,
            delivery.error,
            delivery.retry_at
        ),
        (DeliveryStatus::Sent, 2, None, None)
    );
}

#[tokio::test]
async fn an_entry_whose_handler_stopped_before_sending_is_sent_by_one_resender() {
    let fixture = Fixture::new().await;
    let user = Uuid::now_v7();
    // The entry is written (claimed for its first attempt), and its process stops before
    // making it.
    let notification = Notification {
        id: Uuid::now_v7(),
        user_id: user,
        kind: Kind::OrderShipped,
        title: "Your order has shipped".to_owned(),
        body: "On its way.".to_owned(),
        order_id: None,
        is_read: false,
        created_at: Utc::now(),
    };
    fixture.store.insert(&notification).await.expect("insert");
    let (first, second) = (fixture.notifier(), fixture.notifier());

    // Not while its handler's claim lasts; after, two resenders race for it.
    assert_eq!(first.resend_due(Utc::now(), 10).await.expect("resend"), 0);
    let later = Utc::now() + chrono::Duration::minutes(5);
    let (a, b) = tokio::join!(first.resend_due(later, 10), second.resend_due(later, 10));

    assert_eq!(a.expect("resend") + b.expect("resend"), 1, "one attempt");
    assert_eq!(
        fixture.sent(),
        [(notification.id, Kind::OrderShipped, None)]
    );
    let delivery = fixture.delivery_of(notification.id).await;
    assert_eq!(
        (delivery.status, delivery.attempts),
        (DeliveryStatus::Sent, 2),
        "the stopped handler's attempt and the resender's one"
    );
}

#[tokio::test]
async fn a_delivery_that_keeps_failing_is_given_up_and_stays_in_the_feed() {
    let fixture = Fixture::with_delivery(TestDelivery::failing()).await;
    let user = Uuid::now_v7();
    let confirmed = Order::of(user).status_changed("CONFIRMED", Some("PENDING"), None);
    fixture.deliver(&confirmed).await;
    let resender = fixture.notifier();

    let much_later = Utc::now() + chrono::Duration::days(2);
    for _ in 0..(MAX_DELIVERY_ATTEMPTS + 3) {
        resender.resend_due(much_later, 10).await.expect("resend");
    }

    assert_eq!(
        fixture.delivery.attempts.load(Ordering::SeqCst),
        usize::try_from(MAX_DELIVERY_ATTEMPTS).expect("attempts"),
    );
    let delivery = fixture.delivery_of(confirmed.id).await;
    assert_eq!(
        (delivery.status, delivery.attempts, delivery.retry_at),
        (DeliveryStatus::Failed, MAX_DELIVERY_ATTEMPTS, None)
    );
    assert_eq!(kinds(&fixture.feed(user).await), [Kind::OrderConfirmed]);
}

#[tokio::test]
async fn a_pending_order_adds_nothing() {
    let fixture = Fixture::new().await;
    let user = Uuid::now_v7();

    fixture
        .deliver(&Order::of(user).status_changed("PENDING", None, None))
        .await;

    assert!(fixture.feed(user).await.is_empty());
}

#[tokio::test]
async fn malformed_events_are_dead_lettered_and_add_nothing() {
    let fixture = Fixture::new().await;
    let user = Uuid::now_v7();
    let order = Uuid::now_v7();
    let status = |changes: serde_json::Value| {
        let mut data = json!({ "orderId": order, "userId": user, "status": "SHIPPED",
            "previousStatus": "CONFIRMED", "reason": null, "at": "2026-01-01T00:00:00Z",
            "total": "699.98", "currency": "USD" });
        if let (Some(data), Some(changes)) = (data.as_object_mut(), changes.as_object()) {
            data.extend(changes.clone());
        }
        envelope("order.status_changed", &order.to_string(), data)
    };
    let malformed = [
        status(json!({ "userId": "not-a-uuid" })),
        status(json!({ "status": "LOST_AT_SEA" })),
        status(json!({ "total": "6.999" })),
        status(json!({ "currency": "dollars" })),
        status(json!({ "orderId": 42 })),
        envelope(
            "user.registered",
            &user.to_string(),
            json!({ "userId": user, "email": "not an address", "name": "Ann" }),
        ),
        envelope(
            "order.placed",
            &order.to_string(),
            json!({ "orderId": order }),
        ),
    ];

    for event in &malformed {
        let outcome = fixture.handle(event).await;
        assert!(
            matches!(outcome, Err(HandlerError::Permanent(_))),
            "{}: {outcome:?}",
            event.data
        );
    }
    assert!(fixture.feed(user).await.is_empty());
}

#[tokio::test]
async fn an_unreachable_store_is_a_retryable_failure() {
    let client = mongodb::Client::with_uri_str(
        "mongodb://127.0.0.1:1/?retryWrites=false&serverSelectionTimeoutMS=200",
    )
    .await
    .expect("client");
    let store = NotificationStore::new(&client.database("unreachable"));
    let handler = NotificationsHandler::new(Notifier::new(store, TestDelivery::default()));
    let event = Order::of(Uuid::now_v7()).status_changed("SHIPPED", Some("CONFIRMED"), None);

    let outcome = emporium_kernel::events::consumer::Handler::handle(&handler, &event).await;

    assert!(
        matches!(outcome, Err(HandlerError::Retryable(_))),
        "{outcome:?}"
    );
}
