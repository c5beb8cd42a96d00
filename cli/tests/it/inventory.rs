//! Stock through the router, order events through the broker, and the admin commands that
//! rebuild and reconcile the Redis counts.

use std::time::Duration;

use chrono::Utc;
use emporium_kernel::events::broker::{Broker, BrokerSettings};
use emporium_kernel::events::{EventDraft, Publisher};
use serde_json::json;

use crate::events::Consumer;
use crate::helpers::*;

#[tokio::test]
async fn product_stock_comes_through_the_router_and_only_admins_set_it() {
    let Shop {
        platform,
        admin,
        customer,
        product: stocked,
    } = Shop::open_with(Options::default(), json!({ "initialStock": 5 })).await;
    let unstocked = new_product(&platform, &admin, json!({ "initialStock": 0 })).await;

    // initialStock arrives through product.created.
    stock_becomes(&platform, &stocked, stock(5, 0, 5)).await;
    assert_eq!(stock_of(&platform, &unstocked).await, stock(0, 0, 0));

    let anonymous = set_stock(&platform, None, &stocked, 9).await;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED");
    let forbidden = set_stock(&platform, customer.token(), &stocked, 9).await;
    assert_eq!(error_code(&forbidden), "FORBIDDEN");
    let negative = set_stock(&platform, admin.token(), &stocked, -1).await;
    assert_eq!(
        user_error_codes(&negative["data"]["setStock"]),
        ["INVALID_INPUT"]
    );
    assert_eq!(
        negative["data"]["setStock"]["userErrors"][0]["field"],
        json!(["onHand"])
    );
    assert_eq!(
        stock_of(&platform, &stocked).await["onHand"],
        5,
        "refused changes change nothing"
    );

    let set = set_stock(&platform, admin.token(), &unstocked, 12).await;
    assert_eq!(
        set["data"]["setStock"],
        json!({ "productId": unstocked, "stock": { "onHand": 12, "reserved": 0, "available": 12, "inStock": true }, "userErrors": [] })
    );

    // A page of the catalog gets every product's stock from the inventory in one plan.
    let data = platform
        .data(
            &format!("{{ products(first: 10) {{ nodes {{ id name {STOCK} }} }} }}"),
            json!({}),
            None,
        )
        .await;
    let nodes = data["products"]["nodes"].as_array().expect("nodes").clone();
    let on_hand = |id: &str| {
        nodes
            .iter()
            .find(|n| n["id"] == id)
            .map(|n| n["stock"]["onHand"].clone())
    };
    assert_eq!(on_hand(&stocked), Some(json!(5)));
    assert_eq!(on_hand(&unstocked), Some(json!(12)));
}

#[tokio::test]
async fn order_events_from_the_broker_reserve_once_and_release_once() {
    let (platform, admin) = Platform::with_admin().await;
    let product = new_product(&platform, &admin, json!({ "initialStock": 10 })).await;
    stock_becomes(&platform, &product, stock(10, 0, 10)).await;
    let watcher = Consumer::start(
        &platform,
        "test.inventory-watch",
        &["inventory.*", "stock.changed"],
        false,
    )
    .await;

    let order_id = uuid::Uuid::now_v7().to_string();
    let placed = EventDraft::new(
        "order.placed",
        order_id.clone(),
        json!({ "orderId": order_id, "userId": uuid::Uuid::new_v4(), "currency": "USD",
                "total": "1049.97",
                "items": [{ "productId": product, "productName": "Headphones", "quantity": 3,
                            "unitPrice": "349.99", "lineTotal": "1049.97" }] }),
    )
    .into_envelope("/tests", 1, Utc::now());
    let broker = Broker::connect(BrokerSettings::new(platform.stores.vhost.amqp_url()))
        .await
        .expect("broker");
    // Published twice: a redelivery must not reserve twice.
    broker.publish(&placed).await.expect("publish");
    broker.publish(&placed).await.expect("publish again");

    let reserved = watcher.events_of("inventory.reserved", 1).await;
    assert_eq!(reserved[0].subject, order_id);
    assert_eq!(
        reserved[0].correlationid, placed.correlationid,
        "the saga keeps its correlation id"
    );
    assert_eq!(
        reserved[0].data["items"],
        json!([{ "productId": product, "quantity": 3 }])
    );
    stock_becomes(&platform, &product, stock(10, 3, 7)).await;
    let changed = watcher.events_of("stock.changed", 1).await;
    assert_eq!(changed.last().expect("stock.changed").data["available"], 7);

    // Stock cannot be set below what is reserved.
    let below = set_stock(&platform, admin.token(), &product, 2).await;
    assert_eq!(
        user_error_codes(&below["data"]["setStock"]),
        ["BELOW_RESERVED"]
    );

    let declined = EventDraft::new(
        "payment.declined",
        order_id.clone(),
        json!({ "orderId": order_id, "paymentId": uuid::Uuid::new_v4(), "reason": "card declined" }),
    )
    .caused_by(&placed)
    .into_envelope("/tests", 1, Utc::now());
    broker.publish(&declined).await.expect("publish");
    broker.publish(&declined).await.expect("publish again");
    watcher.events_of("inventory.released", 1).await;
    stock_becomes(&platform, &product, stock(10, 0, 10)).await;

    // Give a duplicate time to do harm, then count: one of each.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(watcher.events_of("inventory.reserved", 1).await.len(), 1);
    assert_eq!(watcher.events_of("inventory.released", 1).await.len(), 1);
    broker.close().await;
}

#[tokio::test]
async fn after_redis_loses_everything_the_cli_reports_it_and_rebuilds_the_counts() {
    let (platform, admin) = Platform::with_admin().await;
    let product = new_product(&platform, &admin, json!({ "initialStock": 3 })).await;
    // Wait for the product.created event: handled after the flush, it would find Redis
    // empty and rebuild it before `reconcile` could see the loss.
    stock_becomes(&platform, &product, stock(3, 0, 3)).await;
    let set = set_stock(&platform, admin.token(), &product, 7).await;
    assert_eq!(set["data"]["setStock"]["userErrors"], json!([]), "{set}");

    let clean = platform.emporium(&["inventory", "reconcile"]).await;
    assert!(
        clean.status.success(),
        "{}",
        String::from_utf8_lossy(&clean.stdout)
    );
    assert!(String::from_utf8_lossy(&clean.stdout).contains("no drift"));

    platform.stores.redis.flush();
    let lost = platform.emporium(&["inventory", "reconcile"]).await;
    assert_eq!(lost.status.code(), Some(1));
    let report = String::from_utf8_lossy(&lost.stdout);
    assert!(report.contains("lost the stock counts"), "{report}");
    assert!(
        report.contains(&format!("product {product}: redis onHand=0")),
        "{report}"
    );

    let rebuilt = platform.emporium(&["inventory", "rebuild"]).await;
    assert!(
        rebuilt.status.success(),
        "{}",
        String::from_utf8_lossy(&rebuilt.stderr)
    );
    let again = platform.emporium(&["inventory", "reconcile"]).await;
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    assert_eq!(stock_of(&platform, &product).await, stock(7, 0, 7));
}
