//! `emporium dlq list` without queue names: every queue the platform's services consume, with
//! its dead letters, named from the binary's list of services (no management API needed).
//! Runs on its own vhost, without a platform.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use emporium_kernel::events::broker::{Broker, BrokerSettings};
use emporium_kernel::events::consumer::{self, ConsumerSettings, Handler, HandlerError};
use emporium_kernel::events::{dlq, Envelope, EventDraft, Publisher};
use emporium_kernel::testing::TestVhost;
use tokio_util::sync::CancellationToken;

use crate::helpers::{emporium_dlq, PLATFORM_QUEUES};

const NEVER_RAN: &str = "(no dead-letter queue: the consumer never ran)";

struct Failing;

impl Handler for Failing {
    async fn handle(&self, _: &Envelope) -> Result<(), HandlerError> {
        Err(HandlerError::retryable("the test handler always fails"))
    }
}

/// `emporium dlq list <queues>` on `vhost`: each printed line as queue → count.
async fn dlq_list(vhost: &TestVhost, queues: &'static [&'static str]) -> BTreeMap<String, String> {
    let stdout = emporium_dlq(vhost.amqp_url(), &[&["list"], queues].concat()).await;
    stdout
        .lines()
        .map(|line| {
            let (queue, count) = line.split_once('\t').expect("queue<TAB>count");
            (queue.to_owned(), count.to_owned())
        })
        .collect()
}

/// Dead-letters one event in `queue` on `vhost` through a consumer that always fails.
async fn dead_letter_one(vhost: &TestVhost, queue: &str) {
    let broker = Broker::connect(BrokerSettings::new(vhost.amqp_url()))
        .await
        .expect("broker");
    let mut settings = ConsumerSettings::new(queue, ["test.dlq-list"]);
    settings.max_attempts = 1;
    let shutdown = CancellationToken::new();
    tokio::spawn(consumer::run(
        broker.clone(),
        settings,
        Failing,
        shutdown.clone(),
    ));
    let broker_ref = &broker;
    let depth = move || async move {
        dlq::list(broker_ref, &[queue.to_owned()])
            .await
            .expect("list")[0]
            .1
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while depth().await.is_none() {
        assert!(Instant::now() < deadline, "the consumer declared no queues");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let envelope = EventDraft::new("test.dlq-list", "subject".to_owned(), serde_json::json!({}))
        .into_envelope("/test", 1, chrono::Utc::now());
    broker.publish(&envelope).await.expect("published");
    while depth().await != Some(1) {
        assert!(Instant::now() < deadline, "the event was not dead-lettered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shutdown.cancel();
    broker.close().await;
}

#[tokio::test]
async fn dlq_list_without_names_counts_the_dead_letters_of_every_consumed_queue() {
    let vhost = TestVhost::create().await;
    dead_letter_one(&vhost, "orders.saga").await;

    let every = dlq_list(&vhost, &[]).await;
    let named = dlq_list(&vhost, &["orders.saga"]).await;

    let mut listed: Vec<&str> = every.keys().map(String::as_str).collect();
    let mut expected = PLATFORM_QUEUES.to_vec();
    listed.sort_unstable();
    expected.sort_unstable();
    assert_eq!(listed, expected, "{every:?}");
    assert_eq!(every["orders.saga"], "1");
    for queue in PLATFORM_QUEUES
        .iter()
        .filter(|queue| **queue != "orders.saga")
    {
        assert_eq!(every[*queue], NEVER_RAN, "{queue}");
    }
    assert_eq!(
        named,
        BTreeMap::from([("orders.saga".to_owned(), "1".to_owned())])
    );
}
