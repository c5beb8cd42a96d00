use emporium_kernel::ids::OrderId;
use emporium_kernel::trace::TraceContext;
use emporium_orders::orders::CheckoutOutcome;
use emporium_orders::status::OrderStatus;
use emporium_orders::store::LineTarget;

use crate::{request, Fixture};

#[tokio::test]
async fn checkout_places_a_pending_order_from_the_cart_and_empties_it() {
    let fx = Fixture::new().await;
    let tv = fx.product("Television", "349.99").await;
    let cable = fx.product("Cable", "0.10").await;
    let user = fx.customer_with(&tv, 3).await;
    fx.add(user, &cable, 3).await;

    let order = fx.place(user).await;
    assert_eq!(order.status, OrderStatus::Pending);
    assert_eq!(order.total.to_decimal_string(), "1050.27");
    assert!(fx.store.cart(user).await.expect("cart").is_empty());

    let items = fx
        .orders
        .items(order.id, order.total.currency())
        .await
        .expect("items");
    let lines: Vec<_> = items
        .iter()
        .map(|l| {
            (
                l.product_name.as_str(),
                l.quantity,
                l.unit_price.to_decimal_string(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("Television", 3, "349.99".to_owned()),
            ("Cable", 3, "0.10".to_owned())
        ]
    );

    let placed = fx.events_of(order.id, "order.placed").await;
    assert_eq!(placed.len(), 1);
    assert_eq!(placed[0]["total"], "1050.27");
    assert_eq!(placed[0]["currency"], "USD");
    assert_eq!(placed[0]["userId"], user.to_string());
    // The token travels sealed to payments and bound to its order; nowhere in plaintext.
    assert_eq!(placed[0].get("paymentToken"), None);
    let sealed = placed[0]["paymentTokenSealed"]
        .as_str()
        .expect("sealed token");
    assert!(!placed[0].to_string().contains("tok_visa"), "{}", placed[0]);
    assert_eq!(
        fx.payment_token_keys
            .open(sealed, order.id.to_string().as_bytes())
            .expect("payments opens it"),
        b"tok_visa"
    );
    assert_eq!(placed[0]["items"][0]["productId"], tv.as_str());
    assert_eq!(placed[0]["items"][0]["quantity"], 3);
    assert_eq!(placed[0]["items"][0]["unitPrice"], "349.99");

    let changes = fx.events_of(order.id, "order.status_changed").await;
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["status"], "PENDING");
    assert_eq!(changes[0]["previousStatus"], serde_json::Value::Null);
    let history = fx.orders.history(order.id).await.expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].status, OrderStatus::Pending);
}

#[tokio::test]
async fn the_same_key_replays_the_order_and_a_changed_request_is_refused() {
    let fx = Fixture::new().await;
    let tv = fx.product("Television", "349.99").await;
    let user = fx.customer_with(&tv, 1).await;
    let first = match fx.checkout(user, "key-1").await {
        CheckoutOutcome::Placed(order) => order,
        other => panic!("{other:?}"),
    };
    // The cart is empty now, yet the same key answers with the same order.
    match fx.checkout(user, "key-1").await {
        CheckoutOutcome::Replayed(order) => assert_eq!(order.id, first.id),
        other => panic!("{other:?}"),
    }
    let other_token = fx
        .orders
        .checkout(
            user,
            &request("key-1", "tok_mastercard"),
            &TraceContext::new_root(),
        )
        .await
        .expect("checkout");
    assert!(
        matches!(other_token, CheckoutOutcome::KeyReused),
        "{other_token:?}"
    );
    // A new key with an empty cart places nothing.
    assert!(matches!(
        fx.checkout(user, "key-2").await,
        CheckoutOutcome::EmptyCart
    ));
    // Another customer may use the same key for their own order.
    let someone = fx.customer_with(&tv, 1).await;
    assert!(matches!(
        fx.checkout(someone, "key-1").await,
        CheckoutOutcome::Placed(_)
    ));
    assert_eq!(fx.events_of(first.id, "order.placed").await.len(), 1);
}

#[tokio::test]
async fn identical_checkouts_racing_place_one_order_and_one_event() {
    let fx = Fixture::new().await;
    let tv = fx.product("Television", "349.99").await;
    let user = fx.customer_with(&tv, 2).await;
    let attempts = (0..12).map(|_| fx.checkout(user, "same-key"));
    let outcomes = futures::future::join_all(attempts).await;
    let mut ids: Vec<OrderId> = outcomes
        .iter()
        .map(|outcome| match outcome {
            CheckoutOutcome::Placed(order) | CheckoutOutcome::Replayed(order) => order.id,
            other => panic!("{other:?}"),
        })
        .collect();
    let placed = outcomes
        .iter()
        .filter(|o| matches!(o, CheckoutOutcome::Placed(_)))
        .count();
    assert_eq!(placed, 1, "exactly one checkout places the order");
    ids.dedup();
    assert_eq!(ids.len(), 1, "every answer names the same order");
    let placed_events = fx
        .events()
        .await
        .into_iter()
        .filter(|(t, _, _)| t == "order.placed")
        .count();
    assert_eq!(placed_events, 1);
}

#[tokio::test]
async fn different_keys_racing_cannot_order_one_cart_twice() {
    let fx = Fixture::new().await;
    let tv = fx.product("Television", "349.99").await;
    let user = fx.customer_with(&tv, 2).await;
    let keys: Vec<String> = (0..8).map(|i| format!("key-{i}")).collect();
    let attempts = keys.iter().map(|key| fx.checkout(user, key));
    let outcomes = futures::future::join_all(attempts).await;
    let placed = outcomes
        .iter()
        .filter(|o| matches!(o, CheckoutOutcome::Placed(_)))
        .count();
    let empty = outcomes
        .iter()
        .filter(|o| matches!(o, CheckoutOutcome::EmptyCart))
        .count();
    assert_eq!((placed, empty), (1, 7));
}

#[tokio::test]
async fn lines_of_products_deleted_from_the_catalog_are_not_ordered() {
    let fx = Fixture::new().await;
    let tv = fx.product("Television", "349.99").await;
    let gone = fx.product("Discontinued", "5.00").await;
    let user = fx.customer_with(&tv, 1).await;
    fx.add(user, &gone, 1).await;
    fx.store.project_deletion(&gone, 2).await.expect("delete");
    let order = fx.place(user).await;
    assert_eq!(order.total.to_decimal_string(), "349.99");
    let only_gone = fx.customer_with(&tv, 1).await;
    fx.store
        .set(
            only_gone,
            &LineTarget::Product(tv.parse().expect("id")),
            None,
        )
        .await
        .expect("remove");
    fx.add(only_gone, &gone, 1).await;
    assert!(matches!(
        fx.checkout(only_gone, "k").await,
        CheckoutOutcome::EmptyCart
    ));
}
