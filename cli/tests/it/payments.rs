//! Payments on the whole platform: a card token is never kept in plaintext (not in any
//! store, outbox, event, dead letter or log line), and production refuses the test provider.

use std::time::Duration;

use emporium_kernel::events::broker::{Broker, BrokerSettings};
use futures::TryStreamExt;

use crate::events::Consumer;
use crate::helpers::*;

/// Every row of every table of every Postgres database of the platform, as text.
async fn postgres_contents(platform: &Platform) -> String {
    let mut contents = String::new();
    for url in platform.postgres_urls() {
        let pool = sqlx::PgPool::connect(&url).await.expect("connect");
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT quote_ident(table_name) FROM information_schema.tables
             WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
        )
        .fetch_all(&pool)
        .await
        .expect("tables");
        assert!(tables.iter().any(|t| t == "outbox"), "{url}: {tables:?}");
        for table in tables {
            let rows: Vec<String> = sqlx::query_scalar(&format!("SELECT t::text FROM {table} t"))
                .fetch_all(&pool)
                .await
                .expect("rows");
            contents.push_str(&format!("{url} {table}: {}\n", rows.join("\n")));
        }
        pool.close().await;
    }
    contents
}

/// Every document of every collection of the platform's MongoDB database, as text.
async fn mongo_contents(platform: &Platform) -> String {
    let (url, name) = platform.mongo();
    let client = mongodb::Client::with_uri_str(url).await.expect("mongo");
    let db = client.database(name);
    let mut contents = String::new();
    let collections = db.list_collection_names().await.expect("collections");
    assert!(collections.iter().any(|c| c == "outbox"), "{collections:?}");
    for collection in collections {
        let documents: Vec<mongodb::bson::Document> = db
            .collection(&collection)
            .find(mongodb::bson::doc! {})
            .await
            .expect("find")
            .try_collect()
            .await
            .expect("documents");
        for document in documents {
            contents.push_str(&format!("{collection}: {document}\n"));
        }
    }
    contents
}

/// Every dead letter of the platform's queues and of `extra`, bodies and reasons, as text.
async fn dead_letters(platform: &Platform, extra: &str) -> String {
    let broker = Broker::connect(BrokerSettings::new(platform.stores.vhost.amqp_url()))
        .await
        .expect("broker");
    let mut contents = String::new();
    for queue in PLATFORM_QUEUES.iter().copied().chain([extra]) {
        let letters = emporium_kernel::events::dlq::show(&broker, queue, 1000)
            .await
            .expect("dead letters");
        for letter in letters {
            contents.push_str(&format!("{queue}: {letter:?}\n"));
        }
    }
    broker.close().await;
    contents
}

#[tokio::test]
async fn a_payment_token_appears_in_no_store_event_dead_letter_or_log_line() {
    // The most verbose level the platform's own crates log at.
    let platform = Platform::start_with(Options {
        log_filter: Some("debug,emporium=trace,emporium_kernel=trace,emporium_orders=trace,emporium_payments=trace".to_owned()),
        ..Options::default()
    })
    .await;
    let every_event = Consumer::start(&platform, "test.every-event", &["#"], false).await;
    // A consumer that fails every order.placed: each ends in its dead-letter queue.
    let _failing = Consumer::start(&platform, "test.dead-letters", &["order.placed"], true).await;
    let admin = platform.admin().await;
    let product = new_product(&platform, &admin, priced("19.99", 5)).await;
    let secret = uuid::Uuid::new_v4().simple().to_string();
    let approved_token = format!("tok_{secret}a");
    let declined_token = format!("tok_decline_{secret}d");

    let mut orders = Vec::new();
    for token in [&approved_token, &declined_token] {
        let customer = platform.customer().await;
        let (id, order) = buy(&platform, &customer, &product, 1, token).await;
        orders.push((order, id));
    }
    assert_eq!(orders[0].0["status"], "CONFIRMED", "{}", orders[0].0);
    assert_eq!(orders[0].0["payment"]["status"], "AUTHORIZED");
    assert_eq!(orders[1].0["status"], "REJECTED", "{}", orders[1].0);
    assert_eq!(orders[1].0["payment"]["failureReason"], "CARD_DECLINED");

    let events = every_event.events_of("order.placed", 2).await;
    every_event.events_of("order.status_changed", 4).await;
    for event in &events {
        assert!(
            event.data["paymentTokenSealed"].is_string(),
            "{}",
            event.data
        );
    }
    let mut dead = String::new();
    for _ in 0..200 {
        dead = dead_letters(&platform, "test.dead-letters").await;
        if dead.matches("order.placed").count() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        dead.contains("test.dead-letters"),
        "no dead letters: {dead}"
    );

    let published: String = every_event
        .all()
        .iter()
        .map(|e| format!("{}\n", serde_json::to_string(e).expect("JSON")))
        .collect();
    let places = [
        (
            "Postgres (every table, outboxes included)",
            postgres_contents(&platform).await,
        ),
        (
            "MongoDB (every collection)",
            mongo_contents(&platform).await,
        ),
        ("published events", published),
        ("dead letters", dead),
        ("the platform's log", platform.log()),
    ];
    for (place, contents) in &places {
        assert!(
            !contents.is_empty(),
            "{place} is empty: nothing was searched"
        );
        assert!(
            !contents.contains(secret.as_str()),
            "a payment token is in {place}:\n{contents}"
        );
    }
    // The searches can find what is there: the order ids are in each of the first four.
    for (place, contents) in &places[..4] {
        assert!(contents.contains(&orders[0].1), "{place} lacks the order");
    }
}

#[tokio::test]
async fn production_refuses_to_start_with_the_test_payment_provider() {
    for service in [&["up"][..], &["serve", "payments"], &["serve", "orders"]] {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_emporium"));
        command
            .args(service)
            .env("EMPORIUM_ENV", "production")
            // Nothing may be touched before the refusal: no store is reachable here.
            .env(
                "EMPORIUM_DATABASE_URL",
                "postgres://nobody@127.0.0.1:1/none",
            )
            .env(
                "EMPORIUM_PAYMENTS_DATABASE_URL",
                "postgres://nobody@127.0.0.1:1/none",
            )
            .env(
                "EMPORIUM_ORDERS_DATABASE_URL",
                "postgres://nobody@127.0.0.1:1/none",
            )
            .env("EMPORIUM_AMQP_URL", "amqp://nobody:x@127.0.0.1:1/%2f")
            .env(
                "EMPORIUM_DATA_DIR",
                std::env::temp_dir()
                    .join(format!("emporium-prod-{}", uuid::Uuid::new_v4().simple())),
            )
            .env("EMPORIUM_ROUTER_PORT", "0");
        // With no store reachable it cannot start either way; it must fail for this reason.
        let output = tokio::task::spawn_blocking(move || command.output())
            .await
            .expect("join")
            .expect("emporium runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{service:?} started: {stderr}");
        assert!(
            stderr.contains("EMPORIUM_ENV=production")
                && stderr.contains("test provider")
                && stderr.contains("PaymentProvider"),
            "{service:?}: {stderr}"
        );
    }
}
