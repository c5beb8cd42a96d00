//! Orders through the router, on the whole platform: checkout, the saga (inventory, then
//! payments), the live status feed over WebSocket, cancellation with refunds, and the
//! guarantees under concurrency (one order per idempotency key, never oversold).

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;

const ORDER: &str = "id status statusReason total { amount currency } customer { id }
    items { product { id } productName unitPrice { amount } quantity lineTotal { amount } }
    shippingAddress { line1 line2 city postalCode country }
    payment { status amount { amount currency } failureReason }
    history { status previousStatus reason at } createdAt updatedAt";
const STOCK: &str = "stock { onHand reserved available }";

fn address() -> Value {
    json!({ "line1": "1 Main St", "city": "Springfield", "postalCode": "12345", "country": "us" })
}

/// Adds to the cart once the orders service has seen the product.
pub(crate) async fn add_to_cart(
    platform: &Platform,
    session: &Session,
    product: &str,
    quantity: i64,
) {
    add_line(platform, session, "productId", product, quantity).await;
}

/// `addToCart` naming the line by `argument` (`productId` or `variantId`), retried while the
/// orders service's catalog projection has not seen the product yet.
pub(crate) async fn add_line(
    platform: &Platform,
    session: &Session,
    argument: &str,
    id: &str,
    quantity: i64,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let body = platform
            .gql(
                &format!("mutation($id: ID!, $n: Int!) {{ addToCart({argument}: $id, quantity: $n) {{ userErrors {{ code message }} }} }}"),
                json!({ "id": id, "n": quantity }),
                session.token(),
            )
            .await;
        let payload = &body["data"]["addToCart"];
        let codes = user_error_codes(payload);
        if codes.is_empty() {
            return;
        }
        assert!(
            codes == ["NOT_FOUND"] && Instant::now() < deadline,
            "addToCart: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn checkout(platform: &Platform, session: &Session, token: &str, key: &str) -> Value {
    let body = platform
        .gql(
            &format!("mutation($input: CheckoutInput!) {{ checkout(input: $input) {{ order {{ {ORDER} }} userErrors {{ code field message }} }} }}"),
            json!({ "input": { "shippingAddress": address(), "paymentToken": token, "idempotencyKey": key } }),
            session.token(),
        )
        .await;
    assert!(body["errors"].is_null(), "checkout: {body}");
    body["data"]["checkout"].clone()
}

/// Checks out and returns the new order's id.
pub(crate) async fn place(platform: &Platform, session: &Session, token: &str) -> String {
    let payload = checkout(platform, session, token, &uuid::Uuid::new_v4().to_string()).await;
    assert_eq!(payload["userErrors"], json!([]), "{payload}");
    payload["order"]["id"]
        .as_str()
        .expect("order id")
        .to_owned()
}

async fn order(platform: &Platform, session: &Session, id: &str) -> Value {
    let body = platform
        .gql(
            &format!("query($id: ID!) {{ order(id: $id) {{ {ORDER} }} }}"),
            json!({ "id": id }),
            session.token(),
        )
        .await;
    assert!(body["errors"].is_null(), "order: {body}");
    body["data"]["order"].clone()
}

/// Polls the order until `done` holds for it.
async fn order_until(
    platform: &Platform,
    session: &Session,
    id: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let current = order(platform, session, id).await;
        if done(&current) {
            return current;
        }
        assert!(
            Instant::now() < deadline,
            "order {id} never became {what}: {current}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) async fn settled(platform: &Platform, session: &Session, id: &str) -> Value {
    order_until(platform, session, id, "settled", |o| {
        o["status"] != "PENDING"
    })
    .await
}

async fn stock(platform: &Platform, product: &str) -> Value {
    let body = platform
        .gql(
            &format!("query($id: ID!) {{ product(id: $id) {{ {STOCK} }} }}"),
            json!({ "id": product }),
            None,
        )
        .await;
    body["data"]["product"]["stock"].clone()
}

/// Polls the product's stock until it equals `expected`.
async fn stock_becomes(platform: &Platform, product: &str, expected: Value) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let current = stock(platform, product).await;
        if current == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "stock stayed {current}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) async fn transition(
    platform: &Platform,
    session: &Session,
    mutation: &str,
    id: &str,
) -> Value {
    let body = platform
        .gql(
            &format!("mutation($id: ID!) {{ {mutation}(id: $id) {{ order {{ id status statusReason }} userErrors {{ code message }} }} }}"),
            json!({ "id": id }),
            session.token(),
        )
        .await;
    assert!(body["errors"].is_null(), "{mutation}: {body}");
    body["data"][mutation].clone()
}

/// A graphql-transport-ws client of the router, subscribed to one order's status.
struct StatusFeed {
    socket: WsSocket,
}

impl StatusFeed {
    async fn open(platform: &Platform, session: &Session, order_id: &str) -> Self {
        let socket = graphql_ws(
            &platform.graphql_url(),
            Some(json!({ "authorization": format!("Bearer {}", session.access_token) })),
        )
        .await;
        let mut feed = Self { socket };
        let subscribe = json!({
            "id": "1",
            "type": "subscribe",
            "payload": {
                "query": "subscription($id: ID!) { orderStatusChanged(orderId: $id) { orderId status previousStatus reason at } }",
                "variables": { "id": order_id },
            },
        });
        feed.socket
            .send(Message::text(subscribe.to_string()))
            .await
            .expect("send subscribe");
        feed
    }

    /// The next protocol message (pings are answered and skipped).
    async fn message(&mut self) -> Value {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(60), self.socket.next())
                .await
                .expect("a message within 60 s")
                .expect("the socket is open")
                .expect("a frame");
            let text = match frame {
                Message::Text(text) => text,
                Message::Ping(data) => {
                    let _ = self.socket.send(Message::Pong(data)).await;
                    continue;
                }
                Message::Close(frame) => panic!("the router closed the socket: {frame:?}"),
                _ => continue,
            };
            let message: Value = serde_json::from_str(&text).expect("JSON message");
            if message["type"] == "ping" {
                let pong = json!({ "type": "pong" }).to_string();
                let _ = self.socket.send(Message::text(pong)).await;
                continue;
            }
            return message;
        }
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
    let cart = platform
        .gql(
            "{ cart { items { quantity } } }",
            json!({}),
            customer.token(),
        )
        .await;
    assert_eq!(
        cart["data"]["cart"]["items"],
        json!([]),
        "the cart is emptied"
    );

    // The feed starts with the current status, so CONFIRMED is seen however fast the saga.
    let mut feed = StatusFeed::open(&platform, &customer, &id).await;
    let (confirmed, before) = feed.until("CONFIRMED").await;
    assert!(before.iter().all(|s| s == "PENDING"), "{before:?}");
    assert_eq!(confirmed["orderId"], id.as_str());
    assert_eq!(confirmed["previousStatus"], "PENDING");

    let current = order(&platform, &customer, &id).await;
    assert_eq!(current["payment"]["status"], "AUTHORIZED", "{current}");
    assert_eq!(current["payment"]["amount"]["amount"], "699.98");
    stock_becomes(
        &platform,
        &headphones,
        json!({ "onHand": 5, "reserved": 2, "available": 3 }),
    )
    .await;

    // A customer may not ship; the admin does, and the subscriber sees it live.
    let (_, forbidden) = platform
        .post(
            "mutation($id: ID!) { shipOrder(id: $id) { order { id } } }",
            json!({ "id": id }),
            customer.token(),
        )
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
    stock_becomes(
        &platform,
        &headphones,
        json!({ "onHand": 3, "reserved": 0, "available": 3 }),
    )
    .await;

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
    let mine = platform
        .gql(
            "{ me { orders(first: 5) { totalCount nodes { id status } } } orders(status: DELIVERED) { totalCount } }",
            json!({}),
            customer.token(),
        )
        .await;
    assert_eq!(mine["data"]["me"]["orders"]["totalCount"], 1, "{mine}");
    assert_eq!(mine["data"]["me"]["orders"]["nodes"][0]["id"], id.as_str());
    assert_eq!(mine["data"]["orders"]["totalCount"], 1);
}

#[tokio::test]
async fn declined_cards_and_missing_stock_reject_the_order_and_take_nothing() {
    let Shop {
        platform,
        customer,
        product,
        ..
    } = Shop::open("10.00", 3).await;

    add_to_cart(&platform, &customer, &product, 2).await;
    let declined = place(&platform, &customer, "tok_decline_insufficient_funds").await;
    let rejected = settled(&platform, &customer, &declined).await;
    assert_eq!(rejected["status"], "REJECTED", "{rejected}");
    assert_eq!(rejected["statusReason"], "PAYMENT_DECLINED");
    assert_eq!(rejected["payment"]["status"], "DECLINED");
    assert!(
        rejected["payment"]["failureReason"].is_string(),
        "{rejected}"
    );
    stock_becomes(
        &platform,
        &product,
        json!({ "onHand": 3, "reserved": 0, "available": 3 }),
    )
    .await;

    add_to_cart(&platform, &customer, &product, 4).await;
    let too_many = place(&platform, &customer, "tok_visa").await;
    let rejected = settled(&platform, &customer, &too_many).await;
    assert_eq!(rejected["status"], "REJECTED", "{rejected}");
    assert_eq!(rejected["statusReason"], "OUT_OF_STOCK");
    assert_eq!(
        rejected["payment"],
        Value::Null,
        "no payment was taken: {rejected}"
    );
    assert_eq!(statuses(&rejected), ["PENDING", "REJECTED"]);
    stock_becomes(
        &platform,
        &product,
        json!({ "onHand": 3, "reserved": 0, "available": 3 }),
    )
    .await;

    // Bad input is a userError that names the field and changes nothing.
    add_to_cart(&platform, &customer, &product, 1).await;
    let bad = checkout(&platform, &customer, "4242-4242-4242-4242", "k").await;
    assert_eq!(user_error_codes(&bad), ["INVALID_INPUT"], "{bad}");
    assert_eq!(
        bad["userErrors"][0]["field"],
        json!(["input", "paymentToken"])
    );
    let cart = platform
        .gql(
            "{ cart { items { quantity } } }",
            json!({}),
            customer.token(),
        )
        .await;
    assert_eq!(cart["data"]["cart"]["items"], json!([{ "quantity": 1 }]));
    let other = platform.customer().await;
    let empty = checkout(&platform, &other, "tok_visa", "k").await;
    assert_eq!(user_error_codes(&empty), ["CART_EMPTY"], "{empty}");
    let (_, anonymous) = platform
        .post(
            "mutation { checkout(input: { shippingAddress: { line1: \"a\", city: \"b\", postalCode: \"c\", country: \"US\" }, paymentToken: \"tok_visa\", idempotencyKey: \"k\" }) { order { id } } }",
            json!({}),
            None,
        )
        .await;
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
    stock_becomes(
        &platform,
        &product,
        json!({ "onHand": 10, "reserved": 3, "available": 7 }),
    )
    .await;
    let orders = platform
        .gql("{ orders { totalCount } }", json!({}), customer.token())
        .await;
    assert_eq!(orders["data"]["orders"]["totalCount"], 1);
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
    let platform = Platform::start().await;
    let admin = platform.admin().await;
    let product = new_product(
        &platform,
        &admin,
        json!({ "price": "5.00", "initialStock": UNITS }),
    )
    .await;
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
    stock_becomes(
        &platform,
        &product,
        json!({ "onHand": UNITS, "reserved": UNITS, "available": 0 }),
    )
    .await;
}

#[tokio::test]
async fn cancelling_a_confirmed_order_refunds_and_releases_and_strangers_see_nothing() {
    let platform = Platform::start().await;
    let admin = platform.admin().await;
    let customer = platform.customer().await;
    let stranger = platform.customer().await;
    let product = new_product(
        &platform,
        &admin,
        json!({ "price": "19.99", "initialStock": 4 }),
    )
    .await;
    add_to_cart(&platform, &customer, &product, 1).await;
    let id = place(&platform, &customer, "tok_visa").await;
    let confirmed = settled(&platform, &customer, &id).await;
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
    stock_becomes(
        &platform,
        &product,
        json!({ "onHand": 4, "reserved": 0, "available": 4 }),
    )
    .await;
    let again = transition(&platform, &customer, "cancelOrder", &id).await;
    assert_eq!(user_error_codes(&again), ["ILLEGAL_TRANSITION"], "{again}");

    // The admin sees every order.
    let all = platform
        .gql(
            "{ orders(status: CANCELLED) { nodes { id } } }",
            json!({}),
            admin.token(),
        )
        .await;
    assert_eq!(
        all["data"]["orders"]["nodes"][0]["id"],
        id.as_str(),
        "{all}"
    );
}
