//! Orders through the router, on the whole platform: checkout, the saga (inventory, then
//! payments), the live status feed over WebSocket, cancellation with refunds, and the
//! guarantees under concurrency (one order per idempotency key, never oversold).

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;

/// A graphql-transport-ws client of the router, subscribed to one order's status.
struct StatusFeed {
    socket: WsSocket,
}

impl StatusFeed {
    async fn open(platform: &Platform, session: &Session, order_id: &str) -> Self {
        let subscription = "subscription($id: ID!) { orderStatusChanged(orderId: $id) { orderId status previousStatus reason at } }";
        let variables = json!({ "id": order_id });
        let socket = subscribe(&platform.graphql_url(), session, subscription, variables).await;
        Self { socket }
    }

    /// The next protocol message (pings are answered and skipped).
    async fn message(&mut self) -> Value {
        next_message(&mut self.socket, Duration::from_secs(60)).await
    }

    /// The next status change; panics on an error or the end of the subscription.
    async fn next_change(&mut self) -> Value {
        let message = self.message().await;
        assert_eq!(message["type"], "next", "{message}");
        assert!(message["payload"]["errors"].is_null(), "{message}");
        message["payload"]["data"]["orderStatusChanged"].clone()
    }

    /// Changes until one with `status`, which is returned with the statuses seen before it.
    async fn until(&mut self, status: &str) -> (Value, Vec<String>) {
        let mut before = Vec::new();
        loop {
            let change = self.next_change().await;
            if change["status"] == status {
                return (change, before);
            }
            before.push(change["status"].as_str().unwrap_or_default().to_owned());
        }
    }
}

/// The quantities in the session's cart.
async fn cart_items(platform: &Platform, session: &Session) -> Value {
    let query = "{ cart { items { quantity } } }";
    let data = platform.data(query, json!({}), session.token()).await;
    data["cart"]["items"].clone()
}

fn statuses(order: &Value) -> Vec<&str> {
    order["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|h| h["status"].as_str().unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn an_order_is_confirmed_live_then_shipped_delivered_and_its_payment_captured() {
    let Shop {
        platform,
        admin,
        customer,
        product: headphones,
    } = Shop::open("349.99", 5).await;
    add_to_cart(&platform, &customer, &headphones, 2).await;

    let placed = checkout(&platform, &customer, "tok_visa", "checkout-1").await;
    assert_eq!(placed["userErrors"], json!([]), "{placed}");
    let id = placed["order"]["id"].as_str().expect("id").to_owned();
    assert_eq!(
        placed["order"]["total"],
        json!({ "amount": "699.98", "currency": "USD" })
    );
    assert_eq!(
        placed["order"]["items"][0]["productName"],
        "Sony WH-1000XM5 Wireless Headphones"
    );
    assert_eq!(placed["order"]["shippingAddress"]["country"], "US");
    assert_eq!(placed["order"]["customer"]["id"], customer.user_id.as_str());
    let cart = cart_items(&platform, &customer).await;
    assert_eq!(cart, json!([]), "the cart is emptied");

    // The feed starts with the current status, so CONFIRMED is seen however fast the saga.
    let mut feed = StatusFeed::open(&platform, &customer, &id).await;
    let (confirmed, before) = feed.until("CONFIRMED").await;
    assert!(before.iter().all(|s| s == "PENDING"), "{before:?}");
    assert_eq!(confirmed["orderId"], id.as_str());
    assert_eq!(confirmed["previousStatus"], "PENDING");

    let current = order(&platform, &customer, &id).await;
    assert_eq!(current["payment"]["status"], "AUTHORIZED", "{current}");
    assert_eq!(current["payment"]["amount"]["amount"], "699.98");
    stock_becomes(&platform, &headphones, stock(5, 2, 3)).await;

    // A customer may not ship; the admin does, and the subscriber sees it live.
    let mutation = "mutation($id: ID!) { shipOrder(id: $id) { order { id } } }";
    let (_, forbidden) = platform
        .post(mutation, json!({ "id": id }), customer.token())
        .await;
    assert_eq!(error_code(&forbidden), "FORBIDDEN");
    let shipped = transition(&platform, &admin, "shipOrder", &id).await;
    assert_eq!(shipped["order"]["status"], "SHIPPED", "{shipped}");
    let (change, _) = feed.until("SHIPPED").await;
    assert_eq!(change["previousStatus"], "CONFIRMED");
    order_until(&platform, &customer, &id, "captured", |o| {
        o["payment"]["status"] == "CAPTURED"
    })
    .await;
    stock_becomes(&platform, &headphones, stock(3, 0, 3)).await;

    let cancel = transition(&platform, &customer, "cancelOrder", &id).await;
    assert_eq!(
        user_error_codes(&cancel),
        ["ILLEGAL_TRANSITION"],
        "{cancel}"
    );
    let delivered = transition(&platform, &admin, "deliverOrder", &id).await;
    assert_eq!(delivered["order"]["status"], "DELIVERED");
    let (_, _) = feed.until("DELIVERED").await;
    // DELIVERED is final: the subscription completes.
    let end = feed.message().await;
    assert_eq!(end["type"], "complete", "{end}");

    let done = order(&platform, &customer, &id).await;
    assert_eq!(
        statuses(&done),
        ["PENDING", "CONFIRMED", "SHIPPED", "DELIVERED"]
    );
    let query = "{ me { orders(first: 5) { totalCount nodes { id status } } } orders(status: DELIVERED) { totalCount } }";
    let mine = platform.data(query, json!({}), customer.token()).await;
    assert_eq!(mine["me"]["orders"]["totalCount"], 1, "{mine}");
    assert_eq!(mine["me"]["orders"]["nodes"][0]["id"], id.as_str());
    assert_eq!(mine["orders"]["totalCount"], 1);
}

#[tokio::test]
async fn declined_cards_and_missing_stock_reject_the_order_and_take_nothing() {
    let Shop {
        platform,
        customer,
        product,
        ..
    } = Shop::open("10.00", 3).await;

    let (_, rejected) = buy(&platform, &customer, &product, 2, DECLINED_CARD).await;
    assert_eq!(rejected["status"], "REJECTED", "{rejected}");
    assert_eq!(rejected["statusReason"], "PAYMENT_DECLINED");
    assert_eq!(rejected["payment"]["status"], "DECLINED");
    assert!(
        rejected["payment"]["failureReason"].is_string(),
        "{rejected}"
    );
    stock_becomes(&platform, &product, stock(3, 0, 3)).await;

    let (_, rejected) = buy(&platform, &customer, &product, 4, "tok_visa").await;
    assert_eq!(rejected["status"], "REJECTED", "{rejected}");
    assert_eq!(rejected["statusReason"], "OUT_OF_STOCK");
    assert_eq!(
        rejected["payment"],
        Value::Null,
        "no payment was taken: {rejected}"
    );
    assert_eq!(statuses(&rejected), ["PENDING", "REJECTED"]);
    stock_becomes(&platform, &product, stock(3, 0, 3)).await;

    // Bad input is a userError that names the field and changes nothing.
    add_to_cart(&platform, &customer, &product, 1).await;
    let bad = checkout(&platform, &customer, "4242-4242-4242-4242", "k").await;
    assert_eq!(user_error_codes(&bad), ["INVALID_INPUT"], "{bad}");
    assert_eq!(
        bad["userErrors"][0]["field"],
        json!(["input", "paymentToken"])
    );
    let cart = cart_items(&platform, &customer).await;
    assert_eq!(cart, json!([{ "quantity": 1 }]));
    let other = platform.customer().await;
    let empty = checkout(&platform, &other, "tok_visa", "k").await;
    assert_eq!(user_error_codes(&empty), ["CART_EMPTY"], "{empty}");
    let mutation = "mutation { checkout(input: { shippingAddress: { line1: \"a\", city: \"b\", postalCode: \"c\", country: \"US\" }, paymentToken: \"tok_visa\", idempotencyKey: \"k\" }) { order { id } } }";
    let (_, anonymous) = platform.post(mutation, json!({}), None).await;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED");
}

#[tokio::test]
async fn the_same_checkout_sent_twice_at_once_is_one_order_one_payment_one_reservation() {
    let Shop {
        platform,
        customer,
        product,
        ..
    } = Shop::open("25.00", 10).await;
    add_to_cart(&platform, &customer, &product, 3).await;

    let (a, b) = tokio::join!(
        checkout(&platform, &customer, "tok_visa", "double-click"),
        checkout(&platform, &customer, "tok_visa", "double-click"),
    );
    assert_eq!(a["userErrors"], json!([]), "{a}");
    assert_eq!(b["userErrors"], json!([]), "{b}");
    let id = a["order"]["id"].as_str().expect("id");
    assert_eq!(b["order"]["id"], id, "both answers name one order");
    let confirmed = settled(&platform, &customer, id).await;
    assert_eq!(confirmed["status"], "CONFIRMED", "{confirmed}");
    assert_eq!(confirmed["payment"]["amount"]["amount"], "75.00");
    // A third retry, later, still replays it.
    let again = checkout(&platform, &customer, "tok_visa", "double-click").await;
    assert_eq!(again["order"]["id"], id);
    stock_becomes(&platform, &product, stock(10, 3, 7)).await;
    let orders = platform
        .data("{ orders { totalCount } }", json!({}), customer.token())
        .await;
    assert_eq!(orders["orders"]["totalCount"], 1);
    let reused = checkout(&platform, &customer, "tok_mastercard", "double-click").await;
    assert_eq!(
        user_error_codes(&reused),
        ["IDEMPOTENCY_KEY_REUSED"],
        "{reused}"
    );
}

#[tokio::test]
async fn many_customers_buying_the_last_units_at_once_confirm_exactly_that_many() {
    const UNITS: i64 = 3;
    const CUSTOMERS: usize = 8;
    let (platform, admin) = Platform::with_admin().await;
    let product = new_product(&platform, &admin, priced("5.00", UNITS)).await;
    let mut customers = Vec::new();
    for _ in 0..CUSTOMERS {
        let customer = platform.customer().await;
        add_to_cart(&platform, &customer, &product, 1).await;
        customers.push(customer);
    }
    let checkouts = customers
        .iter()
        .map(|customer| place(&platform, customer, "tok_visa"));
    let ids = futures::future::join_all(checkouts).await;
    let mut outcomes = Vec::new();
    for (customer, id) in customers.iter().zip(&ids) {
        let order = settled(&platform, customer, id).await;
        outcomes.push((
            order["status"].as_str().unwrap_or_default().to_owned(),
            order["statusReason"].clone(),
        ));
    }
    let confirmed = outcomes.iter().filter(|(s, _)| s == "CONFIRMED").count();
    assert_eq!(confirmed as i64, UNITS, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .filter(|(s, _)| s != "CONFIRMED")
            .all(|(s, reason)| s == "REJECTED" && reason == "OUT_OF_STOCK"),
        "{outcomes:?}"
    );
    stock_becomes(&platform, &product, stock(UNITS, UNITS, 0)).await;
}

#[tokio::test]
async fn cancelling_a_confirmed_order_refunds_and_releases_and_strangers_see_nothing() {
    let Shop {
        platform,
        admin,
        customer,
        product,
    } = Shop::open("19.99", 4).await;
    let stranger = platform.customer().await;
    let (id, confirmed) = buy(&platform, &customer, &product, 1, "tok_visa").await;
    assert_eq!(confirmed["status"], "CONFIRMED", "{confirmed}");

    // Another customer: the order does not exist for them, over HTTP and over WebSocket.
    let (_, foreign) = platform
        .post(
            "query($id: ID!) { order(id: $id) { id } }",
            json!({ "id": id }),
            stranger.token(),
        )
        .await;
    assert_eq!(error_code(&foreign), "NOT_FOUND", "{foreign}");
    assert_eq!(foreign["data"]["order"], Value::Null);
    let steal = transition(&platform, &stranger, "cancelOrder", &id).await;
    assert_eq!(user_error_codes(&steal), ["NOT_FOUND"], "{steal}");
    let mut spy = StatusFeed::open(&platform, &stranger, &id).await;
    let refused = spy.message().await;
    assert_eq!(refused["type"], "next", "{refused}");
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{refused}"
    );
    let (_, theirs) = platform
        .post("{ orders { totalCount } }", json!({}), stranger.token())
        .await;
    assert_eq!(theirs["data"]["orders"]["totalCount"], 0);

    let cancelled = transition(&platform, &customer, "cancelOrder", &id).await;
    assert_eq!(cancelled["order"]["status"], "CANCELLED", "{cancelled}");
    assert_eq!(cancelled["order"]["statusReason"], "CANCELLED_BY_CUSTOMER");
    order_until(&platform, &customer, &id, "refunded", |o| {
        o["payment"]["status"] == "REFUNDED"
    })
    .await;
    stock_becomes(&platform, &product, stock(4, 0, 4)).await;
    let again = transition(&platform, &customer, "cancelOrder", &id).await;
    assert_eq!(user_error_codes(&again), ["ILLEGAL_TRANSITION"], "{again}");

    // The admin sees every order.
    let query = "{ orders(status: CANCELLED) { nodes { id } } }";
    let all = platform.data(query, json!({}), admin.token()).await;
    assert_eq!(all["orders"]["nodes"][0]["id"], id.as_str(), "{all}");
}
