//! Checkout with shipping, tax and discount codes against the real Postgres: the order keeps
//! the amounts it was placed with, a code's usage limit holds under racing checkouts, and a
//! cart without a shipping method (where methods exist) or with a code that no longer applies
//! places nothing.

use std::sync::Arc;

use emporium_kernel::ids::UserId;
use emporium_kernel::trace::TraceContext;
use emporium_orders::orders::CheckoutOutcome;
use emporium_orders::pricing::{
    DiscountCode, DiscountKind, DiscountRefusal, DiscountValue, ShippingMethod, TaxRate,
    TaxRateValue,
};
use uuid::Uuid;

use crate::{address, request, Fixture};

fn code(name: &str, percent: &str, usage_limit: Option<i32>) -> DiscountCode {
    DiscountCode {
        code: name.to_owned(),
        value: DiscountValue::parse(DiscountKind::Percentage, percent).expect("value"),
        minimum_subtotal_minor: None,
        starts_at: None,
        ends_at: None,
        usage_limit,
        times_used: 0,
        active: true,
    }
}

async fn standard_shipping(fx: &Fixture) -> Uuid {
    let method = ShippingMethod {
        id: Uuid::now_v7(),
        name: "Standard".into(),
        description: None,
        price_minor: 499,
        free_over_minor: None,
        countries: vec!["US".into()],
        estimated_days: Some(5),
    };
    fx.store
        .create_shipping_method(&method)
        .await
        .expect("method");
    method.id
}

#[tokio::test]
async fn an_order_keeps_its_shipping_discount_and_tax_and_its_event_carries_them() {
    let fx = Fixture::new().await;
    let tv = fx.product("Television", "349.99").await;
    let user = fx.customer_with(&tv, 1).await;
    let method = standard_shipping(&fx).await;
    fx.store
        .set_tax_rate(&TaxRate {
            country: "US".into(),
            name: "Sales tax".into(),
            rate: TaxRateValue::parse("0.0725").expect("rate"),
        })
        .await
        .expect("rate");
    assert!(fx
        .store
        .create_discount_code(&code("WELCOME10", "10", None))
        .await
        .expect("code"));
    fx.store
        .set_cart_address(user, &address())
        .await
        .expect("address");

    // Methods serve the US and none is chosen: nothing is placed.
    assert!(matches!(
        fx.checkout(user, "k1").await,
        CheckoutOutcome::ShippingMethodRequired
    ));
    assert!(fx
        .store
        .set_cart_method(user, method)
        .await
        .expect("method"));
    assert!(fx
        .store
        .add_cart_code(user, "WELCOME10")
        .await
        .expect("code"));

    let order = fx.place(user).await;
    // 349.99 - 35.00 (10 %, 34.999 → 35.00) = 314.99; tax 7.25 % of it = 22.836775 → 22.84.
    let amounts = [
        order.subtotal,
        order.discount_total,
        order.shipping_total,
        order.tax_total,
        order.total,
    ]
    .map(|m| m.to_decimal_string());
    assert_eq!(amounts, ["349.99", "35.00", "4.99", "22.84", "342.82"]);
    assert_eq!(order.shipping_method_name.as_deref(), Some("Standard"));
    assert_eq!(order.discounts[0].code, "WELCOME10");
    assert_eq!(order.tax_lines[0].name, "Sales tax");
    assert_eq!(order.tax_lines[0].rate.to_decimal_string(), "0.0725");
    // Read back as stored.
    let stored = fx.stored(order.id).await;
    assert_eq!(stored.total, order.total);
    assert_eq!(stored.tax_lines, order.tax_lines);
    assert_eq!(stored.discounts, order.discounts);

    let placed = fx.events_of(order.id, "order.placed").await;
    assert_eq!(placed[0]["total"], "342.82");
    assert_eq!(placed[0]["subtotal"], "349.99");
    assert_eq!(placed[0]["discountTotal"], "35.00");
    assert_eq!(placed[0]["shippingTotal"], "4.99");
    assert_eq!(placed[0]["taxTotal"], "22.84");
    assert_eq!(placed[0]["discountCodes"], serde_json::json!(["WELCOME10"]));
    let used = fx
        .store
        .discount_code("WELCOME10")
        .await
        .expect("read")
        .expect("code");
    assert_eq!(used.times_used, 1);
}

#[tokio::test]
async fn a_code_that_stopped_applying_is_refused_at_checkout_and_nothing_is_placed() {
    let fx = Fixture::new().await;
    let tv = fx.product("Television", "349.99").await;
    let user = fx.customer_with(&tv, 1).await;
    assert!(fx
        .store
        .create_discount_code(&code("SPRING", "20", None))
        .await
        .expect("code"));
    assert!(fx.store.add_cart_code(user, "SPRING").await.expect("code"));
    fx.store
        .deactivate_discount_code("SPRING")
        .await
        .expect("deactivate")
        .expect("code");
    match fx.checkout(user, "k").await {
        CheckoutOutcome::DiscountRefused { code, refusal } => {
            assert_eq!(code, "SPRING");
            assert_eq!(refusal, DiscountRefusal::Expired);
        }
        other => panic!("expected a refused code, got {other:?}"),
    }
    assert_eq!(fx.store.cart(user).await.expect("cart").len(), 1);
    assert!(fx.events().await.is_empty());
}

#[tokio::test]
async fn fifty_shoppers_racing_for_a_code_with_ten_uses_give_exactly_ten_discounted_orders() {
    let fx = Arc::new(Fixture::new().await);
    let tv = fx.product("Television", "100.00").await;
    assert!(fx
        .store
        .create_discount_code(&code("FIRST10", "10", Some(10)))
        .await
        .expect("code"));
    let mut shoppers: Vec<UserId> = Vec::new();
    for _ in 0..50 {
        let user = fx.customer_with(&tv, 1).await;
        assert!(fx.store.add_cart_code(user, "FIRST10").await.expect("code"));
        shoppers.push(user);
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(shoppers.len()));
    let racers: Vec<_> = shoppers
        .into_iter()
        .map(|user| {
            let (orders, barrier) = (fx.orders.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                orders
                    .checkout(
                        user,
                        &request("race", "tok_visa"),
                        &TraceContext::new_root(),
                    )
                    .await
                    .expect("checkout")
            })
        })
        .collect();
    let (mut discounted, mut refused) = (0, 0);
    for racer in racers {
        match racer.await.expect("racer") {
            CheckoutOutcome::Placed(order) => {
                assert_eq!(order.discount_total.to_decimal_string(), "10.00");
                assert_eq!(order.total.to_decimal_string(), "90.00");
                discounted += 1;
            }
            CheckoutOutcome::DiscountRefused { refusal, .. } => {
                assert_eq!(refusal, DiscountRefusal::LimitReached);
                refused += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((discounted, refused), (10, 40));
    let placed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM orders WHERE discount_total_minor > 0")
            .fetch_one(fx.orders.pool())
            .await
            .expect("count");
    assert_eq!(placed, 10);
    let code = fx
        .store
        .discount_code("FIRST10")
        .await
        .expect("read")
        .expect("code");
    assert_eq!(code.times_used, 10);
}

#[tokio::test]
async fn with_prices_including_tax_the_order_shows_the_tax_contained_and_charges_the_prices() {
    let fx = Fixture::new().await;
    let orders = fx.orders.clone().with_prices_including_tax(true);
    let lamp = fx.product("Lamp", "119.00").await;
    let user = fx.customer_with(&lamp, 1).await;
    fx.store
        .set_tax_rate(&TaxRate {
            country: "US".into(),
            name: "VAT".into(),
            rate: TaxRateValue::parse("0.19").expect("rate"),
        })
        .await
        .expect("rate");
    let placed = orders
        .checkout(user, &request("k", "tok_visa"), &TraceContext::new_root())
        .await
        .expect("checkout");
    let CheckoutOutcome::Placed(order) = placed else {
        panic!("expected an order, got {placed:?}");
    };
    // 119.00 contains 19.00 of 19 % VAT; nothing is added.
    assert!(order.prices_include_tax);
    assert_eq!(order.total.to_decimal_string(), "119.00");
    assert_eq!(order.tax_total.to_decimal_string(), "0.00");
    assert_eq!(order.tax_lines[0].amount.to_decimal_string(), "19.00");
    let event = fx.events_of(order.id, "order.placed").await;
    assert_eq!(event[0]["total"], "119.00");
}

#[tokio::test]
async fn seeding_the_demo_pricing_twice_writes_once_and_keeps_what_an_admin_changed() {
    let fx = Fixture::new().await;
    assert_eq!(fx.store.seed_demo_pricing().await.expect("seed"), 7);
    fx.store
        .set_tax_rate(&TaxRate {
            country: "DE".into(),
            name: "MwSt".into(),
            rate: TaxRateValue::parse("0.07").expect("rate"),
        })
        .await
        .expect("rate");
    assert_eq!(fx.store.seed_demo_pricing().await.expect("seed again"), 0);
    let names: Vec<String> = fx
        .store
        .shipping_methods()
        .await
        .expect("methods")
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(names, ["Standard", "Express"]);
    let welcome = fx
        .store
        .discount_code("WELCOME10")
        .await
        .expect("read")
        .expect("WELCOME10");
    assert_eq!(welcome.value.to_decimal_string(), "10");
    let mut conn = fx.orders.pool().acquire().await.expect("conn");
    let rate: (String, i32) =
        sqlx::query_as("SELECT name, rate_millionths FROM tax_rates WHERE country = 'DE'")
            .fetch_one(&mut *conn)
            .await
            .expect("DE");
    assert_eq!(rate, ("MwSt".to_owned(), 70_000));
}
