//! Events through the real pipeline: a change through the router → the service's outbox →
//! the relay → RabbitMQ → a consumer on the platform's own vhost; and dead letters managed
//! with `emporium dlq`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use emporium_kernel::events::broker::{Broker, BrokerSettings};
use emporium_kernel::events::consumer::{self, ConsumerSettings, Handler, HandlerError};
use emporium_kernel::events::Envelope;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::helpers::*;

/// Collects every event it sees; fails every delivery while `failing`.
#[derive(Clone, Default)]
struct Collector {
    seen: Arc<Mutex<Vec<Envelope>>>,
    failing: bool,
}

impl Handler for Collector {
    async fn handle(&self, envelope: &Envelope) -> Result<(), HandlerError> {
        if self.failing {
            return Err(HandlerError::retryable("the test handler always fails"));
        }
        self.seen.lock().expect("lock").push(envelope.clone());
        Ok(())
    }
}

/// A test consumer on the platform's vhost that collects what it receives.
pub(crate) struct Consumer {
    collector: Collector,
    shutdown: CancellationToken,
    broker: Broker,
}

impl Consumer {
    pub(crate) async fn start(
        platform: &Platform,
        queue: &str,
        bindings: &[&str],
        failing: bool,
    ) -> Self {
        let broker = Broker::connect(BrokerSettings::new(platform.stores.vhost.amqp_url()))
            .await
            .expect("broker");
        let collector = Collector {
            failing,
            ..Collector::default()
        };
        let mut settings = ConsumerSettings::new(queue, bindings.iter().copied());
        settings.max_attempts = 2;
        settings.initial_backoff = Duration::from_millis(10);
        let shutdown = CancellationToken::new();
        tokio::spawn(consumer::run(
            broker.clone(),
            settings,
            collector.clone(),
            shutdown.clone(),
        ));
        let consumer = Self {
            collector,
            shutdown,
            broker,
        };
        consumer.wait_until_bound(queue).await;
        consumer
    }

    async fn wait_until_bound(&self, queue: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while emporium_kernel::events::dlq::list(&self.broker, &[queue.to_owned()])
            .await
            .ok()
            .and_then(|d| d[0].1)
            .is_none()
        {
            assert!(
                Instant::now() < deadline,
                "the consumer did not declare its queues"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Every event received so far.
    pub(crate) fn all(&self) -> Vec<Envelope> {
        self.collector.seen.lock().expect("lock").clone()
    }

    /// Waits until `count` events of `event_type` arrived.
    pub(crate) async fn events_of(&self, event_type: &str, count: usize) -> Vec<Envelope> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let seen: Vec<Envelope> = self
                .collector
                .seen
                .lock()
                .expect("lock")
                .iter()
                .filter(|e| e.event_type == event_type)
                .cloned()
                .collect();
            if seen.len() >= count {
                return seen;
            }
            assert!(
                Instant::now() < deadline,
                "waited 15 s for {count} {event_type}, got {}",
                seen.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

#[tokio::test]
async fn registering_publishes_user_registered_in_the_trace_of_the_request() {
    let platform = Platform::start().await;
    let consumer = Consumer::start(&platform, "test.users", &["user.*"], false).await;
    let email = unique_email();
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    let response: Value = platform
        .http()
        .post(platform.graphql_url())
        .header("traceparent", traceparent)
        .json(&json!({
            "query": "mutation($input: RegisterInput!) { register(input: $input) { user { id } userErrors { code } } }",
            "variables": { "input": { "email": email, "password": PASSWORD, "name": "Ann Lee" } },
        }))
        .send()
        .await
        .expect("router answers")
        .json()
        .await
        .expect("JSON");
    let user_id = response["data"]["register"]["user"]["id"]
        .as_str()
        .expect("registered")
        .to_owned();
    let events = consumer.events_of("user.registered", 1).await;

    let event = &events[0];
    assert_eq!(event.subject, user_id);
    assert_eq!(event.source, "/subgraphs/users");
    assert_eq!(
        event.data,
        json!({ "userId": user_id, "email": email, "name": "Ann Lee" })
    );
    let trace_id = event.traceparent.as_deref().and_then(|t| t.get(3..35));
    assert_eq!(
        trace_id,
        Some("4bf92f3577b34da6a3ce929d0e0e4736"),
        "the event joins the request's trace: {event:?}"
    );
}

#[tokio::test]
async fn product_events_carry_full_snapshots_in_sequence() {
    let platform = Platform::start().await;
    let consumer = Consumer::start(&platform, "test.products", &["product.*"], false).await;
    let admin = platform.admin().await;
    let sku = unique_sku();
    let mut input = product_input(&sku);
    input["initialStock"] = json!(7);

    let created = create_product(&platform, &admin, input).await;
    let id = created["product"]["id"]
        .as_str()
        .expect("created")
        .to_owned();
    update_product(
        &platform,
        &admin,
        &id,
        json!({ "name": "Renamed", "price": "10.50" }),
    )
    .await;
    delete_product(&platform, &admin, &id).await;

    let created = &consumer.events_of("product.created", 1).await[0];
    let updated = &consumer.events_of("product.updated", 1).await[0];
    let deleted = &consumer.events_of("product.deleted", 1).await[0];
    assert_eq!(created.subject, id);
    assert_eq!(created.data["productId"], json!(id));
    assert_eq!(created.data["sku"], json!(sku));
    assert_eq!(
        created.data["price"],
        json!({ "amount": "349.99", "currency": "USD" })
    );
    assert_eq!(created.data["category"], json!("Audio > Headphones"));
    assert_eq!(
        created.data["attributes"],
        json!([{ "name": "Color", "value": "Black" }])
    );
    assert_eq!(created.data["initialStock"], json!(7));
    assert_eq!(updated.data["name"], json!("Renamed"));
    assert_eq!(updated.data["price"]["amount"], json!("10.50"));
    assert_eq!(
        updated.data["description"], created.data["description"],
        "an update carries the whole product"
    );
    assert_eq!(deleted.data, json!({ "productId": id, "sku": sku }));
    let sequences: Vec<&str> = [created, updated, deleted]
        .iter()
        .map(|e| e.sequence.as_str())
        .collect();
    assert_eq!(sequences, ["1", "2", "3"]);
    assert_eq!(created.dataschema, "urn:emporium:event:product.created:v1");
}

/// Runs `emporium dlq <args>` against the platform's vhost; its standard output.
async fn dlq(platform: &Platform, args: &[&str]) -> String {
    emporium_dlq(platform.stores.vhost.amqp_url(), args).await
}

#[tokio::test]
async fn a_failing_consumer_dead_letters_and_the_cli_shows_and_redrives_it() {
    let platform = Platform::start().await;
    let failing = Consumer::start(&platform, "test.fragile", &["product.created"], true).await;
    let admin = platform.admin().await;
    let id = new_product(&platform, &admin, json!({})).await;

    poll_until(
        "the event was not dead-lettered",
        Wait::secs(15).every_ms(100),
        || dlq(&platform, &["list", "test.fragile"]),
        |listed| listed.contains("test.fragile\t1"),
    )
    .await;
    let shown: Value = serde_json::from_str(
        dlq(&platform, &["show", "test.fragile"])
            .await
            .lines()
            .next()
            .expect("one line"),
    )
    .expect("JSON");
    drop(failing);
    let fixed = Consumer::start(&platform, "test.fragile", &["product.created"], false).await;
    let redriven = dlq(&platform, &["redrive", "test.fragile"]).await;
    let consumed = fixed.events_of("product.created", 1).await;

    assert_eq!(shown["type"], json!("product.created"));
    assert_eq!(shown["attempts"], json!(2));
    assert!(
        shown["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("always fails"),
        "{shown}"
    );
    assert_eq!(shown["message"]["subject"], json!(id));
    assert!(redriven.contains("moved 1"), "{redriven}");
    assert_eq!(consumed[0].subject, id);
    assert!(dlq(&platform, &["list", "test.fragile"])
        .await
        .contains("test.fragile\t0"));
}

#[tokio::test]
async fn subgraphs_report_published_events_and_the_outbox_backlog_as_metrics() {
    let platform = Platform::start().await;
    let consumer = Consumer::start(&platform, "test.metrics", &["product.*"], false).await;
    let admin = platform.admin().await;
    create_product(&platform, &admin, product_input(&unique_sku())).await;
    consumer.events_of("product.created", 1).await;

    // The relay counts a publish once its batch is marked sent, which can be a moment after
    // the consumer already has the message.
    let published = "events_published_total{type=\"product.created\"} 1";
    let metrics_url = format!("{}/metrics", platform.products);
    let metrics = poll_until(
        "the products relay never counted the publish",
        Wait::secs(15),
        || platform.get_text(&metrics_url),
        |metrics| metrics.contains(published),
    )
    .await;
    let ready_url = format!("{}/ready", platform.products);
    let ready: Value = platform.get(&ready_url).await.json().await.expect("json");

    assert!(
        metrics.contains("events_published_total{type=\"product.created\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("outbox_backlog{outbox=\"products\"}"),
        "{metrics}"
    );
    assert_eq!(
        ready["checks"],
        json!({ "mongodb": "ok", "rabbitmq": "ok" })
    );
}

#[tokio::test]
async fn events_written_while_the_broker_connection_drops_all_arrive() {
    let platform = Platform::start().await;
    let consumer = Consumer::start(&platform, "test.outage", &["user.registered"], false).await;

    let mut user_ids = std::collections::HashSet::new();
    for n in 0..20 {
        if n == 5 || n == 12 {
            // As a broker restart would: every connection to the vhost is closed, the relay's
            // and the consumer's alike. Sign-ups go on; their events wait in the outbox.
            platform.stores.vhost.close_connections().await;
        }
        user_ids.insert(platform.customer().await.user_id);
    }
    let arrived: std::collections::HashSet<String> = consumer
        .events_of("user.registered", 20)
        .await
        .into_iter()
        .map(|e| e.subject)
        .collect();

    assert_eq!(
        arrived, user_ids,
        "every event arrives after the connection comes back"
    );
}
