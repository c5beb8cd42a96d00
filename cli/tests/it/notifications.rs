//! Notifications through the router, on the whole platform: the welcome, an order's life and
//! a declined card as the customer's feed tells them, redelivered events, strangers, and
//! unread counts.

use std::time::Duration;

use emporium_kernel::events::broker::{Broker, BrokerSettings};
use emporium_kernel::events::Publisher;
use serde_json::{json, Value};

use crate::events::Consumer;
use crate::helpers::*;

const NOTIFICATION: &str = "id kind title body orderId read createdAt";

/// The session's feed (newest first), as `notifications` and as `me { notifications }`.
async fn feeds(platform: &Platform, session: &Session, unread_only: bool) -> (Value, Value) {
    let mut data = platform
        .data(
            &format!(
                "query($unreadOnly: Boolean) {{
                    notifications(unreadOnly: $unreadOnly) {{ totalCount nodes {{ {NOTIFICATION} }} }}
                    me {{ notifications(unreadOnly: $unreadOnly) {{ totalCount nodes {{ {NOTIFICATION} }} }} }} }}"
            ),
            json!({ "unreadOnly": unread_only }),
            session.token(),
        )
        .await;
    (
        data["notifications"].take(),
        data["me"]["notifications"].take(),
    )
}

/// The session's settled feed: both ways of asking agree.
async fn feed(platform: &Platform, session: &Session, unread_only: bool) -> Value {
    let (feed, mine) = feeds(platform, session, unread_only).await;
    assert_eq!(mine, feed, "me.notifications and notifications differ");
    feed
}

fn kinds(feed: &Value) -> Vec<&str> {
    feed["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["kind"].as_str().unwrap_or_default())
        .collect()
}

/// Polls the feed until it holds `count` notifications, counted and listed alike both ways
/// (a notification arriving mid-request may be listed but not yet counted).
async fn feed_of(platform: &Platform, session: &Session, count: usize) -> Value {
    let both = poll_until(
        &format!("the feed never held {count} notifications, alike both ways"),
        Wait::secs(60),
        || async {
            let (feed, mine) = feeds(platform, session, false).await;
            json!([feed, mine])
        },
        |both| {
            kinds(&both[0]).len() >= count && both[0]["totalCount"] == count && both[1] == both[0]
        },
    )
    .await;
    both[0].clone()
}

async fn mark_read(platform: &Platform, session: &Session, id: &str) -> Value {
    let mutation = "mutation($id: ID!) { markNotificationRead(id: $id) { notification { id read } userErrors { code field } } }";
    let data = platform
        .data(mutation, json!({ "id": id }), session.token())
        .await;
    data["markNotificationRead"].clone()
}

#[tokio::test]
async fn an_orders_life_reaches_its_customer_once_in_order_and_no_one_else() {
    let platform = Platform::start().await;
    let sources = Consumer::start(
        &platform,
        "test.notification-sources",
        &["order.status_changed", "user.registered"],
        false,
    )
    .await;
    let admin = platform.admin().await;
    let customer = platform.customer().await;
    let stranger = platform.customer().await;
    let welcome = feed_of(&platform, &customer, 1).await;
    assert_eq!(kinds(&welcome), ["WELCOME"], "{welcome}");
    assert_eq!(welcome["nodes"][0]["orderId"], Value::Null);
    // The admin's account was created at start-up, before any request: its welcome too.
    assert_eq!(kinds(&feed_of(&platform, &admin, 1).await), ["WELCOME"]);
    let headphones = new_product(&platform, &admin, priced("349.99", 5)).await;

    let (order, settled) = buy(&platform, &customer, &headphones, 2, "tok_visa").await;
    assert_eq!(settled["status"], "CONFIRMED");
    let shipped = transition(&platform, &admin, "shipOrder", &order).await;
    assert_eq!(shipped["order"]["status"], "SHIPPED", "{shipped}");
    // Every event of the order so far, and the welcome, delivered again.
    let broker = Broker::connect(BrokerSettings::new(platform.stores.vhost.amqp_url()))
        .await
        .expect("broker");
    let again = sources.events_of("order.status_changed", 3).await;
    let registered = sources.events_of("user.registered", 2).await;
    for envelope in again.iter().chain(&registered) {
        broker.publish(envelope).await.expect("publish a copy");
    }
    broker.close().await;
    let delivered = transition(&platform, &admin, "deliverOrder", &order).await;
    assert_eq!(delivered["order"]["status"], "DELIVERED", "{delivered}");

    let life = feed_of(&platform, &customer, 4).await;
    // Give the copies time to do harm, then count.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let life_after = feed(&platform, &customer, false).await;
    assert_eq!(life_after, life, "copies added nothing");
    assert_eq!(
        kinds(&life),
        [
            "ORDER_DELIVERED",
            "ORDER_SHIPPED",
            "ORDER_CONFIRMED",
            "WELCOME"
        ]
    );
    assert_eq!(life["totalCount"], 4);
    let reference = format!("#{}", order.replace('-', "")[24..].to_uppercase());
    for notification in &life["nodes"].as_array().expect("nodes")[..3] {
        assert_eq!(notification["orderId"], order.as_str());
        let title = notification["title"].as_str().unwrap_or_default();
        let body = notification["body"].as_str().unwrap_or_default();
        assert!(title.contains(&reference), "{notification}");
        assert!(body.contains("$699.98"), "{notification}");
    }

    // Strangers see only their own feed and cannot touch the customer's.
    let theirs = feed(&platform, &stranger, false).await;
    assert_eq!(kinds(&theirs), ["WELCOME"], "{theirs}");
    let confirmed_id = life["nodes"][2]["id"].as_str().expect("id");
    let stolen = mark_read(&platform, &stranger, confirmed_id).await;
    assert_eq!(user_error_codes(&stolen), ["NOT_FOUND"], "{stolen}");
    assert_eq!(stolen["notification"], Value::Null);
    let (_, spying) = platform
        .post(
            "query($id: ID!) { user(id: $id) { notifications { totalCount } } }",
            json!({ "id": customer.user_id }),
            stranger.token(),
        )
        .await;
    assert_eq!(error_code(&spying), "FORBIDDEN", "{spying}");
    let query = "query($id: ID!) { user(id: $id) { notifications { totalCount } } }";
    let as_admin = platform
        .gql(query, json!({ "id": customer.user_id }), admin.token())
        .await;
    assert_eq!(
        as_admin["data"]["user"]["notifications"]["totalCount"], 4,
        "{as_admin}"
    );

    // Unread counts drop as the customer reads, and reading twice changes nothing.
    assert_eq!(feed(&platform, &customer, true).await["totalCount"], 4);
    let read = mark_read(&platform, &customer, confirmed_id).await;
    assert_eq!(read["notification"]["read"], true, "{read}");
    assert_eq!(feed(&platform, &customer, true).await["totalCount"], 3);
    assert_eq!(mark_read(&platform, &customer, confirmed_id).await, read);
    assert_eq!(feed(&platform, &customer, true).await["totalCount"], 3);
    for notification in life["nodes"].as_array().expect("nodes") {
        mark_read(
            &platform,
            &customer,
            notification["id"].as_str().expect("id"),
        )
        .await;
    }
    let unread = feed(&platform, &customer, true).await;
    assert_eq!(unread["totalCount"], 0, "{unread}");
    assert_eq!(feed(&platform, &customer, false).await["totalCount"], 4);
}

#[tokio::test]
async fn a_declined_card_tells_the_customer_the_payment_was_declined() {
    let Shop {
        platform,
        customer,
        product,
        ..
    } = Shop::open("10.00", 3).await;
    let (order, settled) = buy(&platform, &customer, &product, 2, DECLINED_CARD).await;
    assert_eq!(settled["status"], "REJECTED");

    let feed = feed_of(&platform, &customer, 2).await;
    assert_eq!(kinds(&feed), ["ORDER_REJECTED", "WELCOME"], "{feed}");
    let rejected = &feed["nodes"][0];
    assert_eq!(rejected["orderId"], order.as_str());
    let body = rejected["body"].as_str().unwrap_or_default();
    assert!(body.contains("payment"), "{rejected}");
    assert!(body.contains("declined"), "{rejected}");
    assert!(body.contains("$20.00"), "{rejected}");
    assert!(
        !body.contains("PAYMENT_DECLINED"),
        "plain words: {rejected}"
    );
}
