//! Setting stock: by an admin, from a new product's initial stock, on a deleted product.

use emporium_inventory::domain::StockLevel;
use emporium_inventory::events::{InventoryHandler, CATALOG_QUEUE};
use emporium_inventory::service::SetStockOutcome;
use emporium_kernel::events::consumer::Handler;
use emporium_kernel::trace::TraceContext;
use serde_json::json;

use crate::*;

#[tokio::test]
async fn stock_cannot_be_set_below_what_is_reserved() {
    let fixture = Fixture::new().await;
    let p = product();
    fixture.set(&p, 5).await;
    fixture.place(&order_placed(&[(&p, 3)])).await;

    let outcome = fixture
        .inventory
        .set_stock(&stock_id(&p), 2, &TraceContext::new_root())
        .await
        .expect("set stock");

    assert_eq!(
        outcome,
        SetStockOutcome::BelowReserved(StockLevel::new(5, 3))
    );
    assert_eq!(fixture.level(&p).await, StockLevel::new(5, 3));
    fixture.set(&p, 3).await;
    assert_eq!(fixture.level(&p).await.available(), 0);
    fixture.assert_no_drift().await;
}

#[tokio::test]
async fn a_new_products_initial_stock_arrives_once_and_never_overrides_a_set_stock() {
    let fixture = Fixture::new().await;
    let handler = InventoryHandler::new(fixture.inventory.clone(), CATALOG_QUEUE);
    let (p, q) = (product(), product());
    let created = product_created(&p, 12);
    handler.handle(&created).await.expect("created");
    handler.handle(&created).await.expect("redelivered");
    assert_eq!(fixture.level(&p).await, StockLevel::new(12, 0));

    // The admin was faster than the event.
    fixture.set(&q, 3).await;
    let created = product_created(&q, 50);
    handler.handle(&created).await.expect("created");
    assert_eq!(fixture.level(&q).await, StockLevel::new(3, 0));

    let events = fixture.events().await;
    let changes: Vec<_> = events
        .iter()
        .filter(|(t, d)| t == "stock.changed" && d["productId"] == p.as_str())
        .collect();
    assert_eq!(changes.len(), 1);
    assert_eq!(
        changes[0].1,
        json!({ "productId": p, "onHand": 12, "reserved": 0, "available": 12, "inStock": true })
    );
    fixture.assert_no_drift().await;
}

#[tokio::test]
async fn a_deleted_product_sells_nothing_more_but_keeps_its_reservations() {
    let fixture = Fixture::new().await;
    let handler = InventoryHandler::new(fixture.inventory.clone(), CATALOG_QUEUE);
    let p = product();
    fixture.set(&p, 8).await;
    let placed = order_placed(&[(&p, 2)]);
    fixture.place(&placed).await;

    let deleted = envelope("product.deleted", &p, json!({ "productId": p, "sku": "X" }));
    handler.handle(&deleted).await.expect("deleted");
    handler.handle(&deleted).await.expect("redelivered");

    assert_eq!(fixture.level(&p).await, StockLevel::new(2, 2));
    let outcome = fixture
        .inventory
        .set_stock(&stock_id(&p), 100, &TraceContext::new_root())
        .await
        .expect("set stock");
    assert_eq!(outcome, SetStockOutcome::ProductDeleted);
    let shipped = about(
        &placed,
        "order.status_changed",
        json!({ "status": "SHIPPED" }),
    );
    fixture.release(&shipped, true).await;
    assert_eq!(fixture.level(&p).await, StockLevel::new(0, 0));
    fixture.assert_no_drift().await;
}

#[tokio::test]
async fn stock_changes_are_announced_in_the_order_they_happened() {
    let fixture = std::sync::Arc::new(Fixture::new().await);
    let p = product();
    let tasks: Vec<_> = (1..=20)
        .map(|n| {
            let fixture = fixture.clone();
            let p = p.clone();
            tokio::spawn(async move { fixture.set(&p, n).await })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    let final_level = fixture.level(&p).await;
    // The last stock.changed by sequence carries the counts Redis ended with.
    let last: serde_json::Value = sqlx::query_scalar(
        "SELECT envelope->'data' FROM outbox WHERE subject = $1 ORDER BY (envelope->>'sequence')::bigint DESC LIMIT 1",
    )
    .bind(&p)
    .fetch_one(fixture.inventory.pool())
    .await
    .expect("last event");
    assert_eq!(last["onHand"], final_level.on_hand);
    fixture.assert_no_drift().await;
}

#[tokio::test]
async fn the_stock_of_100_products_is_one_redis_round_trip() {
    let fixture = Fixture::new().await;
    let ids: Vec<String> = (0..100).map(|_| product()).collect();
    for (n, id) in ids.iter().enumerate().take(10) {
        fixture.set(id, n as i32 + 1).await;
    }
    // The batch is gathered for longer than in production: this counts round trips, and a
    // machine busy with other tests may pause the request between its items for over 5 ms.
    let schema = emporium_inventory::graphql::schema_batching(
        fixture.inventory.clone(),
        std::time::Duration::from_millis(200),
    );
    let representations: Vec<_> = ids
        .iter()
        .map(|id| json!({ "__typename": "Product", "id": id }))
        .collect();
    let query = || {
        async_graphql::Request::new(
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id stock { onHand available } } } }",
        )
        .variables(async_graphql::Variables::from_json(
            json!({ "r": representations }),
        ))
    };
    // The first call may load the script into Redis (`NOSCRIPT`, `SCRIPT LOAD`).
    let first = schema.execute(query()).await;
    assert!(first.errors.is_empty(), "{:?}", first.errors);

    let crate::TestHotRedis::Single(redis) = &fixture.redis else {
        panic!("Fixture::new uses the single Redis server");
    };
    let monitor = emporium_kernel::testing::RedisMonitor::start(redis.url());
    let response = schema.execute(query()).await;
    let commands = monitor.commands_containing(redis.prefix());

    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let data = response.data.into_json().expect("json");
    let entities = data["_entities"].as_array().expect("entities");
    assert_eq!(entities.len(), 100);
    assert_eq!(entities[0]["stock"], json!({ "onHand": 1, "available": 1 }));
    assert_eq!(
        entities[99]["stock"],
        json!({ "onHand": 0, "available": 0 })
    );
    assert_eq!(commands.len(), 1, "{commands:#?}");
    assert!(commands[0].contains("\"EVALSHA\""), "{commands:#?}");
}
