//! Reservations: never oversold, all lines or none, once per order.

use std::sync::Arc;

use emporium_inventory::domain::{Shortage, StockLevel};
use emporium_inventory::events::{InventoryHandler, ORDER_PLACED_QUEUE, ORDER_UPDATES_QUEUE};
use emporium_inventory::service::OrderOutcome;
use emporium_kernel::events::consumer::Handler;
use serde_json::json;

use crate::*;

on_both_redis_modes! {
    async fn concurrent_orders_for_the_last_units_reserve_exactly_what_there_is(fixture: Fixture) {
        let fixture = Arc::new(fixture);
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
}

on_both_redis_modes! {
    async fn an_order_whose_second_line_is_short_reserves_nothing(fixture: Fixture) {
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
}

on_both_redis_modes! {
    async fn redelivered_and_duplicated_order_events_change_nothing_twice(fixture: Fixture) {
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
            json!({ "reason": "declined" }),
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
}

on_both_redis_modes! {
    async fn a_retry_after_redis_changed_but_the_ledger_did_not_records_the_change_once(fixture: Fixture) {
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
            .release(order_id, &lines, false)
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
}

on_both_redis_modes! {
    async fn a_reservation_that_died_half_way_is_finished_or_given_back_by_its_redelivery(fixture: Fixture) {
        // Three products, most likely in different buckets (and so, on a cluster, on
        // different masters): the reservation is a sequence of per-product scripts.
        let (a, b, c) = (product(), product(), product());
        fixture.set(&a, 5).await;
        fixture.set(&b, 5).await;
        fixture.set(&c, 1).await;
        let hot = fixture.inventory.hot();

        // An attempt held the first line and died before the rest; its redelivery takes the
        // rest, without taking the first line twice.
        let fits = order_placed(&[(&a, 2), (&b, 2)]);
        let fits_lines = lines_of(&fits);
        let fits_id = fits.data["orderId"].as_str().expect("orderId");
        hot.reserve(fits_id, &fits_lines[..1]).await.expect("first line");
        assert_eq!(fixture.place(&fits).await, OrderOutcome::Reserved);
        assert_eq!(fixture.level(&a).await, StockLevel::new(5, 2));
        assert_eq!(fixture.level(&b).await, StockLevel::new(5, 2));
        fixture.assert_no_drift().await;

        // An attempt held two lines of an order whose third is short; the redelivery rejects
        // it and gives back what the dead attempt held.
        let short = order_placed(&[(&a, 1), (&b, 1), (&c, 2)]);
        let short_lines = lines_of(&short);
        let short_id = short.data["orderId"].as_str().expect("orderId");
        let held: Vec<_> = short_lines.iter().filter(|l| l.product_id.as_str() != c).cloned().collect();
        hot.reserve(short_id, &held).await.expect("two lines");
        assert_eq!(fixture.level(&a).await, StockLevel::new(5, 3));
        match fixture.place(&short).await {
            OrderOutcome::Rejected(shortages) => {
                assert_eq!(shortages.len(), 1);
                assert_eq!(shortages[0].product_id, c);
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
        assert_eq!(fixture.level(&a).await, StockLevel::new(5, 2));
        assert_eq!(fixture.level(&b).await, StockLevel::new(5, 2));
        assert_eq!(fixture.level(&c).await, StockLevel::new(1, 0));
        fixture.assert_no_drift().await;

        // An attempt held a line, died, and the order was cancelled before the redelivery:
        // the late `order.placed` meets the closed order and gives the stray hold back.
        let closed = order_placed(&[(&a, 1)]);
        let closed_id = closed.data["orderId"].as_str().expect("orderId");
        hot.reserve(closed_id, &lines_of(&closed)).await.expect("held");
        let cancelled = about(&closed, "order.status_changed", json!({ "status": "CANCELLED" }));
        assert_eq!(fixture.release(&cancelled, false).await, OrderOutcome::NoChange);
        let drift = fixture.inventory.reconcile().await.expect("reconcile");
        assert_eq!(drift.orders.len(), 1, "reconcile sees the stray hold: {drift:?}");
        assert_eq!(fixture.place(&closed).await, OrderOutcome::NoChange);
        assert_eq!(fixture.level(&a).await, StockLevel::new(5, 2));
        fixture.assert_no_drift().await;
    }
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
