//! Stock per variant: a product with options is stocked, reserved and announced per variant,
//! and its stock is the sum of its variants'.

use std::sync::Arc;

use emporium_inventory::domain::StockLevel;
use emporium_inventory::events::{InventoryHandler, CATALOG_QUEUE, ORDER_PLACED_QUEUE};
use emporium_inventory::service::SetStockOutcome;
use emporium_kernel::events::consumer::Handler;
use emporium_kernel::events::contract::products::{SelectedOption, Variant};
use emporium_kernel::trace::TraceContext;

use crate::*;

/// A `product.created` of a shirt in Red M (`stocks.0` units) and Blue L (`stocks.1`).
fn shirt_created(id: &str, variant_ids: [&str; 2], stocks: [u32; 2]) -> Envelope {
    let mut envelope = product_created(id, 0);
    let variant = |variant_id: &str, colour: &str, size: &str, stock: u32| Variant {
        id: variant_id.to_owned(),
        sku: format!("SHIRT-{colour}-{size}"),
        title: format!("{colour} / {size}"),
        selected_options: vec![
            SelectedOption {
                name: "Colour".to_owned(),
                value: colour.to_owned(),
            },
            SelectedOption {
                name: "Size".to_owned(),
                value: size.to_owned(),
            },
        ],
        price: Price {
            amount: "20.00".to_owned(),
            currency: "USD".to_owned(),
        },
        compare_at_price: None,
        initial_stock: Some(stock),
    };
    let variants = vec![
        variant(variant_ids[0], "Red", "M", stocks[0]),
        variant(variant_ids[1], "Blue", "L", stocks[1]),
    ];
    // The snapshot is flattened into the event.
    envelope.data["variants"] = serde_json::to_value(variants).expect("variants");
    envelope
}

/// The `product.updated` (the product's second event) after which the shirt sells
/// `variant_ids.0`, which it had, and `variant_ids.1`, new with `new_stock` units.
fn shirt_updated(id: &str, variant_ids: [&str; 2], new_stock: u32) -> Envelope {
    let mut updated = shirt_created(id, variant_ids, [0, new_stock]);
    updated.event_type = "product.updated".to_owned();
    updated.dataschema = "urn:emporium:event:product.updated:v1".to_owned();
    updated.id = uuid::Uuid::now_v7();
    updated.sequence = "2".to_owned();
    if let Some(data) = updated.data.as_object_mut() {
        data.remove("initialStock");
    }
    updated.data["variants"][0]["initialStock"] = serde_json::Value::Null;
    updated
}

/// An `order.placed` of `quantity` of one variant of `product`.
fn variant_order(product: &str, variant: &str, quantity: i32) -> Envelope {
    let mut envelope = order_placed(&[(product, i64::from(quantity))]);
    envelope.data["items"][0]["variantId"] = variant.into();
    envelope.data["items"][0]["variantTitle"] = "Red / M".into();
    envelope
}

#[tokio::test]
async fn the_last_red_m_is_sold_once_and_the_product_sums_its_variants() {
    let fixture = Arc::new(Fixture::new().await);
    let catalog = InventoryHandler::new(fixture.inventory.clone(), CATALOG_QUEUE);
    let (shirt, red_m, blue_l) = (product(), product(), product());
    let created = shirt_created(&shirt, [&red_m, &blue_l], [1, 4]);
    catalog.handle(&created).await.expect("created");
    catalog.handle(&created).await.expect("redelivered");
    assert_eq!(fixture.level(&red_m).await, StockLevel::new(1, 0));
    assert_eq!(fixture.level(&blue_l).await, StockLevel::new(4, 0));
    assert_eq!(fixture.product_level(&shirt).await, StockLevel::new(5, 0));

    // Ten shoppers race for the one Red M: one order reserves it, nine are rejected, and the
    // Blue L is untouched.
    let orders = Arc::new(InventoryHandler::new(
        fixture.inventory.clone(),
        ORDER_PLACED_QUEUE,
    ));
    let placed: Vec<Envelope> = (0..10).map(|_| variant_order(&shirt, &red_m, 1)).collect();
    let tasks: Vec<_> = placed
        .iter()
        .cloned()
        .map(|order| {
            let orders = orders.clone();
            tokio::spawn(async move { orders.handle(&order).await })
        })
        .collect();
    for task in tasks {
        task.await.expect("task").expect("handled");
    }
    let events = fixture.events().await;
    let count = |t: &str| events.iter().filter(|(ty, _)| ty == t).count();
    assert_eq!(count("inventory.reserved"), 1);
    assert_eq!(count("inventory.rejected"), 9);
    assert_eq!(fixture.level(&red_m).await, StockLevel::new(1, 1));
    assert_eq!(fixture.level(&blue_l).await, StockLevel::new(4, 0));
    assert_eq!(fixture.product_level(&shirt).await, StockLevel::new(5, 1));

    // Each variant's stock.changed names the product and the variant.
    let reserved_change = events
        .iter()
        .rfind(|(t, d)| t == "stock.changed" && d["variantId"] == red_m.as_str())
        .expect("a stock.changed of the Red M");
    assert_eq!(
        reserved_change.1,
        json!({ "productId": shirt, "variantId": red_m, "onHand": 1, "reserved": 1,
                "available": 0, "inStock": false })
    );

    // A product with variants takes its stock per variant.
    let trace = TraceContext::new_root();
    assert_eq!(
        fixture
            .inventory
            .set_stock(&stock_id(&shirt), 10, &trace)
            .await
            .expect("set"),
        SetStockOutcome::HasVariants
    );
    fixture.set(&blue_l, 10).await;
    assert_eq!(fixture.product_level(&shirt).await, StockLevel::new(11, 1));
    fixture.assert_no_drift().await;
}

#[tokio::test]
async fn an_update_stocks_new_variants_once_and_forgets_dropped_ones_keeping_the_rest() {
    let fixture = Fixture::new().await;
    let catalog = InventoryHandler::new(fixture.inventory.clone(), CATALOG_QUEUE);
    let (shirt, red_m, blue_l, green_s) = (product(), product(), product(), product());
    catalog
        .handle(&shirt_created(&shirt, [&red_m, &blue_l], [2, 3]))
        .await
        .expect("created");
    // The update keeps the Red M (no initial stock: it has one), adds the Green S with 4, and
    // drops the Blue L.
    let updated = shirt_updated(&shirt, [&red_m, &green_s], 4);
    catalog.handle(&updated).await.expect("updated");
    catalog.handle(&updated).await.expect("redelivered");

    assert_eq!(fixture.level(&red_m).await, StockLevel::new(2, 0));
    assert_eq!(fixture.level(&green_s).await, StockLevel::new(4, 0));
    assert_eq!(fixture.level(&blue_l).await, StockLevel::new(0, 0));
    assert_eq!(fixture.product_level(&shirt).await, StockLevel::new(6, 0));
    // The dropped variant's last stock.changed still names the product.
    let events = fixture.events().await;
    let dropped = events
        .iter()
        .rfind(|(t, d)| t == "stock.changed" && d["variantId"] == blue_l.as_str())
        .expect("a stock.changed of the Blue L");
    assert_eq!(dropped.1["productId"], shirt.as_str());
    assert_eq!(dropped.1["inStock"], false);
    fixture.assert_no_drift().await;
}

#[tokio::test]
async fn an_update_applied_before_the_creation_it_follows_keeps_the_variant_it_dropped_unsold() {
    let fixture = Fixture::new().await;
    let catalog = InventoryHandler::new(fixture.inventory.clone(), CATALOG_QUEUE);
    let (shirt, red_m, blue_l, green_s) = (product(), product(), product(), product());
    let created = shirt_created(&shirt, [&red_m, &blue_l], [2, 3]);
    let updated = shirt_updated(&shirt, [&red_m, &green_s], 4);

    // Competing consumers swapped them: the update (sequence 2) is applied first.
    catalog.handle(&updated).await.expect("updated");
    catalog.handle(&created).await.expect("created late");
    catalog.handle(&created).await.expect("redelivered");

    assert_eq!(fixture.level(&red_m).await, StockLevel::new(2, 0));
    assert_eq!(fixture.level(&green_s).await, StockLevel::new(4, 0));
    assert_eq!(fixture.level(&blue_l).await, StockLevel::new(0, 0));
    assert_eq!(
        fixture.product_level(&shirt).await,
        StockLevel::new(6, 0),
        "the Blue L is not counted"
    );
    let outcome = fixture
        .inventory
        .set_stock(&stock_id(&blue_l), 5, &TraceContext::new_root())
        .await
        .expect("set");
    assert!(
        matches!(outcome, SetStockOutcome::ProductDeleted),
        "the dropped variant is not sold: {outcome:?}"
    );

    // An older update arriving after a newer one changes nothing either.
    let mut stale = shirt_updated(&shirt, [&red_m, &blue_l], 9);
    stale.sequence = "1".to_owned();
    catalog.handle(&stale).await.expect("stale update");
    assert_eq!(fixture.product_level(&shirt).await, StockLevel::new(6, 0));
    fixture.assert_no_drift().await;
}

#[tokio::test]
async fn a_creation_and_its_update_handled_at_once_by_two_consumers_end_as_the_update_says() {
    let fixture = Fixture::new().await;
    let catalog = InventoryHandler::new(fixture.inventory.clone(), CATALOG_QUEUE);
    for _ in 0..10 {
        let (shirt, red_m, blue_l, green_s) = (product(), product(), product(), product());
        let created = shirt_created(&shirt, [&red_m, &blue_l], [2, 3]);
        let updated = shirt_updated(&shirt, [&red_m, &green_s], 4);
        let (a, b) = tokio::join!(catalog.handle(&created), catalog.handle(&updated));
        a.expect("created");
        b.expect("updated");

        assert_eq!(
            fixture.product_level(&shirt).await,
            StockLevel::new(6, 0),
            "Red M 2 + Green S 4"
        );
        assert_eq!(fixture.level(&blue_l).await.on_hand, 0);
    }
    fixture.assert_no_drift().await;
}
