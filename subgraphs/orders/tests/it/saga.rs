use std::time::Duration;

use emporium_kernel::events::consumer::Handler;
use emporium_kernel::trace::TraceContext;
use emporium_orders::orders::{Cause, TransitionOutcome};
use emporium_orders::saga::SagaHandler;
use emporium_orders::status::{Actor, Command, OrderStatus, TransitionError};
use serde_json::json;
use uuid::Uuid;

use crate::{reply, Fixture};

fn statuses(history: &[emporium_orders::orders::HistoryEntry]) -> Vec<OrderStatus> {
    history.iter().map(|h| h.status).collect()
}

#[tokio::test]
async fn an_authorized_payment_confirms_once_however_often_it_arrives() {
    let fx = Fixture::new().await;
    let tv = fx.product("Television", "349.99").await;
    let order = fx.place(fx.customer_with(&tv, 1).await).await;
    let saga = SagaHandler::new(fx.orders.clone());
    let authorized = reply(
        "payment.authorized",
        order.id,
        json!({ "paymentId": Uuid::now_v7(), "amount": "349.99", "currency": "USD" }),
    );
    // Redelivered, and delivered to two consumers at once.
    let (a, b) = tokio::join!(saga.handle(&authorized), saga.handle(&authorized));
    a.expect("handled");
    b.expect("handled");
    saga.handle(&authorized).await.expect("handled again");

    let history = fx.orders.history(order.id).await.expect("history");
    assert_eq!(
        statuses(&history),
        [OrderStatus::Pending, OrderStatus::Confirmed]
    );
    let changes = fx.events_of(order.id, "order.status_changed").await;
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[1]["status"], "CONFIRMED");
    assert_eq!(changes[1]["previousStatus"], "PENDING");
    assert_eq!(changes[1]["total"], "349.99");
    assert!(history[0].sequence < history[1].sequence);

    // A late rejection of the confirmed order changes nothing.
    let rejected = reply(
        "inventory.rejected",
        order.id,
        json!({ "reason": "OUT_OF_STOCK", "items": [] }),
    );
    saga.handle(&rejected).await.expect("handled");
    let order = fx.stored(order.id).await;
    assert_eq!(order.status, OrderStatus::Confirmed);
}

#[tokio::test]
async fn replies_for_many_orders_handled_at_once_each_move_their_order_once() {
    let fx = Fixture::new().await;
    let tv = fx.product("Television", "349.99").await;
    let saga = SagaHandler::new(fx.orders.clone());
    let mut orders = Vec::new();
    for _ in 0..12 {
        orders.push(fx.place(fx.customer_with(&tv, 1).await).await);
    }
    let replies: Vec<_> = orders
        .iter()
        .enumerate()
        .map(|(n, order)| match n % 3 {
            0 => reply("payment.declined", order.id, json!({})),
            1 => reply(
                "inventory.rejected",
                order.id,
                json!({ "reason": "OUT_OF_STOCK", "items": [] }),
            ),
            _ => reply(
                "payment.authorized",
                order.id,
                json!({ "paymentId": Uuid::now_v7(), "amount": "349.99", "currency": "USD" }),
            ),
        })
        .collect();
    // Every reply twice, all at once: the batched inbox applies them in shared transactions.
    let handled =
        futures::future::join_all(replies.iter().chain(replies.iter()).map(|r| saga.handle(r)))
            .await;
    assert!(handled.iter().all(Result::is_ok), "{handled:?}");

    for (n, order) in orders.iter().enumerate() {
        let expected = if n % 3 == 2 {
            OrderStatus::Confirmed
        } else {
            OrderStatus::Rejected
        };
        let history = fx.orders.history(order.id).await.expect("history");
        assert_eq!(
            statuses(&history),
            [OrderStatus::Pending, expected],
            "order {n}"
        );
        assert_eq!(
            fx.events_of(order.id, "order.status_changed").await.len(),
            2
        );
    }
}

#[tokio::test]
async fn rejections_carry_their_reason() {
    let fx = Fixture::new().await;
    let tv = fx.product("Television", "349.99").await;
    let saga = SagaHandler::new(fx.orders.clone());
    for (event_type, reason) in [
        ("inventory.rejected", "OUT_OF_STOCK"),
        ("payment.declined", "PAYMENT_DECLINED"),
    ] {
        let order = fx.place(fx.customer_with(&tv, 1).await).await;
        saga.handle(&reply(event_type, order.id, json!({})))
            .await
            .expect("handled");
        let order = fx.stored(order.id).await;
        assert_eq!(order.status, OrderStatus::Rejected);
        assert_eq!(order.status_reason.as_deref(), Some(reason));
        let changes = fx.events_of(order.id, "order.status_changed").await;
        assert_eq!(changes.last().expect("change")["reason"], reason);
    }
}

#[tokio::test]
async fn malformed_replies_are_permanent_failures_and_unknown_orders_are_ignored() {
    let fx = Fixture::new().await;
    let saga = SagaHandler::new(fx.orders.clone());
    let mut bad = reply("payment.authorized", Uuid::now_v7().into(), json!({}));
    bad.data["orderId"] = json!("not-an-id");
    assert!(saga.handle(&bad).await.is_err());
    let unknown = reply("payment.authorized", Uuid::now_v7().into(), json!({}));
    saga.handle(&unknown)
        .await
        .expect("an unknown order is not an error");
    assert!(fx.events().await.is_empty());
}

#[tokio::test]
async fn customers_cancel_only_their_own_orders_and_never_after_shipping() {
    let fx = Fixture::new().await;
    let tv = fx.product("Television", "349.99").await;
    let owner = fx.customer_with(&tv, 1).await;
    let order = fx.place(owner).await;
    let trace = TraceContext::new_root();

    let stranger = fx
        .orders
        .transition(
            order.id,
            Command::Cancel,
            Actor::Customer(Uuid::now_v7().into()),
            Cause::Request(&trace),
        )
        .await
        .expect("transition");
    assert!(
        matches!(stranger, TransitionOutcome::NotFound),
        "{stranger:?}"
    );

    let saga = SagaHandler::new(fx.orders.clone());
    saga.handle(&reply("payment.authorized", order.id, json!({})))
        .await
        .expect("confirm");
    let shipped = fx
        .orders
        .transition(
            order.id,
            Command::Ship,
            Actor::Admin,
            Cause::Request(&trace),
        )
        .await
        .expect("ship");
    assert!(matches!(shipped, TransitionOutcome::Done(_)), "{shipped:?}");
    let late = fx
        .orders
        .transition(
            order.id,
            Command::Cancel,
            Actor::Customer(owner),
            Cause::Request(&trace),
        )
        .await
        .expect("transition");
    assert!(
        matches!(
            late,
            TransitionOutcome::Refused(TransitionError::Illegal {
                from: OrderStatus::Shipped,
                ..
            })
        ),
        "{late:?}"
    );
    let history = fx.orders.history(order.id).await.expect("history");
    assert_eq!(
        statuses(&history),
        [
            OrderStatus::Pending,
            OrderStatus::Confirmed,
            OrderStatus::Shipped
        ]
    );
}

#[tokio::test]
async fn the_sweeper_rejects_orders_left_pending_and_nothing_else() {
    let fx = Fixture::new().await;
    let tv = fx.product("Television", "349.99").await;
    let stuck = fx.place(fx.customer_with(&tv, 1).await).await;
    let confirmed = fx.place(fx.customer_with(&tv, 1).await).await;
    SagaHandler::new(fx.orders.clone())
        .handle(&reply("payment.authorized", confirmed.id, json!({})))
        .await
        .expect("confirm");

    // Younger than the time-out: left alone.
    assert_eq!(
        fx.orders
            .reject_stale(Duration::from_secs(600))
            .await
            .expect("sweep"),
        0
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        fx.orders
            .reject_stale(Duration::from_millis(10))
            .await
            .expect("sweep"),
        1
    );
    let stuck = fx.stored(stuck.id).await;
    assert_eq!(stuck.status, OrderStatus::Rejected);
    assert_eq!(stuck.status_reason.as_deref(), Some("TIMED_OUT"));
    let confirmed = fx.stored(confirmed.id).await;
    assert_eq!(confirmed.status, OrderStatus::Confirmed);
    let changes = fx.events_of(stuck.id, "order.status_changed").await;
    assert_eq!(changes.last().expect("change")["status"], "REJECTED");

    // A reply that arrives after the time-out changes nothing.
    SagaHandler::new(fx.orders.clone())
        .handle(&reply("payment.authorized", stuck.id, json!({})))
        .await
        .expect("late reply");
    let stuck = fx.stored(stuck.id).await;
    assert_eq!(stuck.status, OrderStatus::Rejected);
}
