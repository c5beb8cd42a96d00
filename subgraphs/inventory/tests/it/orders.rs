//! Reservations: never oversold, all lines or none, once per order.

use std::sync::Arc;

use emporium_inventory::domain::{Shortage, StockLevel};
use emporium_inventory::events::{InventoryHandler, ORDER_PLACED_QUEUE, ORDER_UPDATES_QUEUE};
use emporium_inventory::service::OrderOutcome;
use emporium_kernel::events::consumer::Handler;
use serde_json::json;

use crate::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_orders_for_the_last_units_reserve_exactly_what_there_is() {
    let fixture = Arc::new(Fixture::new().await);
    let (scarce, plenty) = (product(), product());
    fixture.set(&scarce, 7).await;
    fixture.set(&plenty, 1000).await;

    // 40 orders at once, each wanting one unit of the scarce product (some also two of the
    // other): 7 can be filled.
    let orders: Vec<_> = (0..40)
        .map(|i| {
            if i % 2 == 0 {
                order_placed(&[(&scarce, 1)])
            } else {
                order_placed(&[(&scarce, 1), (&plenty, 2)])
            }
        })
        .collect();
    let tasks: Vec<_> = orders
        .iter()
        .cloned()
        .map(|order| {
            let fixture = fixture.clone();
            tokio::spawn(async move { fixture.place(&order).await })
        })
        .collect();
    let mut reserved_orders = Vec::new();
    let mut rejected = 0;
    for (task, order) in tasks.into_iter().zip(&orders) {
        match task.await.expect("task") {
            OrderOutcome::Reserved => reserved_orders.push(order.clone()),
            OrderOutcome::Rejected(short) => {
                assert_eq!(short[0].product_id, scarce);
                rejected += 1;
            }
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(
        reserved_orders.len(),
        7,
        "exactly the units on hand are reserved"
    );
    assert_eq!(rejected, 33);
    assert_eq!(fixture.level(&scarce).await, StockLevel::new(7, 7));
    let plenty_reserved: i32 = reserved_orders
        .iter()
        .map(|o| {
            if o.data["items"].as_array().map_or(0, Vec::len) == 2 {
                2
            } else {
                0
            }
        })
        .sum();
    assert_eq!(
        fixture.level(&plenty).await,
        StockLevel::new(1000, plenty_reserved)
    );
    fixture.assert_no_drift().await;

    let events = fixture.events().await;
    let count = |t: &str| events.iter().filter(|(ty, _)| ty == t).count();
    assert_eq!(count("inventory.reserved"), 7);
    assert_eq!(count("inventory.rejected"), 33);
}

#[tokio::test]
async fn an_order_whose_second_line_is_short_reserves_nothing() {
    let fixture = Fixture::new().await;
    let (a, b) = (product(), product());
    fixture.set(&a, 5).await;
    fixture.set(&b, 1).await;
    let order = order_placed(&[(&a, 2), (&b, 2)]);

    let outcome = fixture.place(&order).await;

    let expected = Shortage {
        product_id: b.clone(),
        requested: 2,
        available: 1,
    };
    assert_eq!(outcome, OrderOutcome::Rejected(vec![expected]));
    assert_eq!(fixture.level(&a).await, StockLevel::new(5, 0));
    assert_eq!(fixture.level(&b).await, StockLevel::new(1, 0));
    fixture.assert_no_drift().await;
    let events = fixture.events().await;
    let (kind, data) = events.last().expect("an event");
    assert_eq!(kind, "inventory.rejected");
    assert_eq!(data["reason"], "OUT_OF_STOCK");
    assert_eq!(
        data["items"],
        json!([{ "productId": b, "requested": 2, "available": 1 }])
    );
}

#[tokio::test]
async fn redelivered_and_duplicated_order_events_change_nothing_twice() {
    let fixture = Fixture::new().await;
    let p = product();
    fixture.set(&p, 10).await;
    let placed = order_placed(&[(&p, 3)]);
    let handler = InventoryHandler::new(fixture.inventory.clone(), ORDER_PLACED_QUEUE);

    // The same event twice (a redelivery), then the same order in a second event.
    handler.handle(&placed).await.expect("first delivery");
    handler.handle(&placed).await.expect("redelivery");
    let again = about(
        &placed,
        "order.placed",
        json!({ "items": placed.data["items"].clone() }),
    );
    assert_eq!(fixture.place(&again).await, OrderOutcome::NoChange);
    assert_eq!(fixture.level(&p).await, StockLevel::new(10, 3));

    // Released by the declined payment, and again by the cancellation that follows.
    let updates = InventoryHandler::new(fixture.inventory.clone(), ORDER_UPDATES_QUEUE);
    let declined = about(
        &placed,
        "payment.declined",
        json!({ "paymentId": "p1", "reason": "declined" }),
    );
    updates.handle(&declined).await.expect("declined");
    updates
        .handle(&declined)
        .await
        .expect("declined redelivered");
    let cancelled = about(
        &placed,
        "order.status_changed",
        json!({ "status": "REJECTED", "previousStatus": "PENDING" }),
    );
    updates.handle(&cancelled).await.expect("rejected");
    assert_eq!(fixture.level(&p).await, StockLevel::new(10, 0));
    fixture.assert_no_drift().await;

    let events = fixture.events().await;
    let count = |t: &str| events.iter().filter(|(ty, _)| ty == t).count();
    assert_eq!(count("inventory.reserved"), 1);
    assert_eq!(count("inventory.released"), 1);
    let movements: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM stock_movements WHERE product_id = $1 AND order_id IS NOT NULL",
    )
    .bind(&p)
    .fetch_one(fixture.inventory.pool())
    .await
    .expect("movements");
    assert_eq!(movements, 2, "one reserve and one release");
}

#[tokio::test]
async fn a_retry_after_redis_changed_but_the_ledger_did_not_records_the_change_once() {
    let fixture = Fixture::new().await;
    let p = product();
    fixture.set(&p, 4).await;
    let placed = order_placed(&[(&p, 3)]);
    let lines = lines_of(&placed);
    let order_id = placed.data["orderId"].as_str().expect("orderId");

    // An attempt that reserved in Redis and died before its transaction committed...
    fixture
        .inventory
        .hot()
        .reserve(order_id, &lines)
        .await
        .expect("script");
    // ...and its redelivery.
    assert_eq!(fixture.place(&placed).await, OrderOutcome::Reserved);
    assert_eq!(fixture.level(&p).await, StockLevel::new(4, 3));
    fixture.assert_no_drift().await;

    // The same for a release: Redis released, the ledger did not hear of it.
    fixture
        .inventory
        .hot()
        .release(order_id, false)
        .await
        .expect("script");
    let cancelled = about(
        &placed,
        "order.status_changed",
        json!({ "status": "CANCELLED" }),
    );
    assert_eq!(
        fixture.release(&cancelled, false).await,
        OrderOutcome::Released
    );
    assert_eq!(fixture.level(&p).await, StockLevel::new(4, 0));
    fixture.assert_no_drift().await;
}

#[tokio::test]
async fn shipping_takes_the_reserved_units_off_hand_and_a_cancellation_first_blocks_a_late_order() {
    let fixture = Fixture::new().await;
    let p = product();
    fixture.set(&p, 10).await;
    let placed = order_placed(&[(&p, 4)]);
    fixture.place(&placed).await;
    let shipped = about(
        &placed,
        "order.status_changed",
        json!({ "status": "SHIPPED" }),
    );
    assert_eq!(
        fixture.release(&shipped, true).await,
        OrderOutcome::Fulfilled
    );
    assert_eq!(fixture.level(&p).await, StockLevel::new(6, 0));

    // A cancellation that overtook its order.placed: the late order reserves nothing.
    let late = order_placed(&[(&p, 1)]);
    let cancelled = about(
        &late,
        "order.status_changed",
        json!({ "status": "CANCELLED" }),
    );
    assert_eq!(
        fixture.release(&cancelled, false).await,
        OrderOutcome::NoChange
    );
    assert_eq!(fixture.place(&late).await, OrderOutcome::NoChange);
    assert_eq!(fixture.level(&p).await, StockLevel::new(6, 0));
    fixture.assert_no_drift().await;
}

#[tokio::test]
async fn malformed_order_events_are_refused_for_good() {
    let fixture = Fixture::new().await;
    let handler = InventoryHandler::new(fixture.inventory.clone(), ORDER_PLACED_QUEUE);
    let p = product();
    for data in [
        json!({ "orderId": "o1", "items": [] }),
        json!({ "orderId": "o2", "items": [{ "productId": p, "quantity": 0 }] }),
        json!({ "orderId": "o3" }),
        json!({ "orderId": "", "items": [{ "productId": p, "quantity": 1 }] }),
    ] {
        let event = envelope("order.placed", "o", data.clone());
        let err = handler.handle(&event).await.expect_err("refused");
        assert!(
            matches!(
                err,
                emporium_kernel::events::consumer::HandlerError::Permanent(_)
            ),
            "{data}: {err:?}"
        );
    }
    assert!(fixture.events().await.is_empty());
}
