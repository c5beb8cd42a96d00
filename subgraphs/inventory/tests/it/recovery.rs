//! Redis keeps nothing on disk: when it loses everything, the counts come back from the
//! ledger exactly, also while orders keep arriving.

use std::sync::Arc;

use emporium_inventory::domain::StockLevel;
use emporium_inventory::service::OrderOutcome;

use crate::*;

on_both_redis_modes! {
    async fn after_a_flush_a_rebuild_restores_every_count_and_reservation(fixture: Fixture) {
        let (a, b) = (product(), product());
        fixture.set(&a, 10).await;
        fixture.set(&b, 4).await;
        let kept = order_placed(&[(&a, 3), (&b, 1)]);
        let released = order_placed(&[(&a, 2)]);
        fixture.place(&kept).await;
        fixture.place(&released).await;
        fixture
            .release(
                &about(&released, "payment.declined", serde_json::json!({})),
                false,
            )
            .await;
        let before = (fixture.level(&a).await, fixture.level(&b).await);
        assert_eq!(before, (StockLevel::new(10, 3), StockLevel::new(4, 1)));

        fixture.redis.flush();

        let drift = fixture.inventory.reconcile().await.expect("reconcile");
        assert!(
            drift.not_loaded,
            "reconcile notices the lost counts: {drift:?}"
        );
        assert_eq!(drift.products.len(), 2);
        let rebuilt = fixture.inventory.rebuild().await.expect("rebuild");
        assert_eq!((rebuilt.products, rebuilt.reservations), (2, 1));
        assert_eq!((fixture.level(&a).await, fixture.level(&b).await), before);
        fixture.assert_no_drift().await;

        // The rebuilt reservation can still be released.
        let cancelled = about(
            &kept,
            "order.status_changed",
            serde_json::json!({ "status": "CANCELLED" }),
        );
        assert_eq!(
            fixture.release(&cancelled, false).await,
            OrderOutcome::Released
        );
        assert_eq!(fixture.level(&a).await, StockLevel::new(10, 0));
        fixture.assert_no_drift().await;
    }
}

on_both_redis_modes! {
    async fn redis_flushed_while_orders_arrive_loses_and_oversells_nothing(fixture: Fixture) {
        let fixture = Arc::new(fixture);
        let p = product();
        fixture.set(&p, 25).await;
        let orders: Vec<_> = (0..60).map(|_| order_placed(&[(&p, 1)])).collect();
        let tasks: Vec<_> = orders
            .into_iter()
            .enumerate()
            .map(|(i, order)| {
                let fixture = fixture.clone();
                tokio::spawn(async move {
                    // Spread the orders out so the flush lands in the middle of them.
                    tokio::time::sleep(std::time::Duration::from_millis(5 * i as u64)).await;
                    fixture.place(&order).await
                })
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(120)).await;
        fixture.redis.flush();

        let mut reserved = 0;
        for task in tasks {
            if task.await.expect("task") == OrderOutcome::Reserved {
                reserved += 1;
            }
        }
        assert_eq!(reserved, 25, "every unit sold once, none twice");
        assert_eq!(fixture.level(&p).await, StockLevel::new(25, 25));
        fixture.assert_no_drift().await;
    }
}

#[tokio::test]
async fn reading_stock_after_a_flush_rebuilds_instead_of_answering_zero() {
    let fixture = Fixture::new().await;
    let p = product();
    fixture.set(&p, 9).await;
    fixture.redis.flush();
    assert_eq!(fixture.level(&p).await, StockLevel::new(9, 0));
    fixture.assert_no_drift().await;
}
