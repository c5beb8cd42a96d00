//! Test support for the RabbitMQ tests: a broker on a throwaway vhost, fast consumer
//! settings, recording handlers, and polling with a deadline instead of fixed sleeps.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use emporium_kernel::events::broker::{Broker, BrokerSettings, QueueType};
use emporium_kernel::events::consumer::{
    self, ConsumerError, ConsumerSettings, Handler, HandlerError,
};
use emporium_kernel::events::{Envelope, EventDraft};
use emporium_kernel::testing::TestVhost;
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use serde_json::json;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long anything may take before a test fails.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// A vhost of its own and a broker connected to it, with the shared topology declared.
pub struct Rabbit {
    pub broker: Broker,
    // Dropped after the broker (fields drop in order): deleting the vhost closes its connections.
    pub vhost: TestVhost,
}

impl Rabbit {
    /// With the queue type of [`test_queue_type`].
    pub async fn start() -> Self {
        Self::start_with(test_queue_type()).await
    }

    pub async fn start_with(queue_type: QueueType) -> Self {
        let vhost = TestVhost::create().await;
        let broker = connect_with(&vhost, queue_type).await;
        broker.declare_topology().await.expect("declare topology");
        Self { broker, vhost }
    }

    /// Each queue of the vhost with its type (`classic`, `quorum`), as `rabbitmqctl` lists them.
    pub async fn queue_types(&self) -> BTreeMap<String, String> {
        let vhost = self.vhost.name().to_owned();
        let output = tokio::task::spawn_blocking(move || {
            std::process::Command::new("rabbitmqctl")
                .args(["list_queues", "-p", &vhost, "name", "type"])
                .args(["--no-table-headers", "--quiet"])
                .output()
        })
        .await
        .expect("rabbitmqctl task")
        .expect("rabbitmqctl runs");
        assert!(output.status.success(), "rabbitmqctl list_queues failed");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| line.split_once('\t'))
            .map(|(name, kind)| (name.trim().to_owned(), kind.trim().to_owned()))
            .collect()
    }

    /// The number of ready messages in `queue`.
    pub async fn depth(&self, queue: &str) -> u32 {
        self.queue(queue).await.message_count()
    }

    pub async fn consumers(&self, queue: &str) -> u32 {
        self.queue(queue).await.consumer_count()
    }

    async fn queue(&self, queue: &str) -> lapin::Queue {
        let channel = self.broker.channel().await.expect("channel");
        let queue = channel
            .queue_declare(
                queue.into(),
                QueueDeclareOptions::durable().passive(),
                FieldTable::default(),
            )
            .await
            .expect("the queue exists");
        let _ = channel.close(200, "inspected".into()).await;
        queue
    }

    /// Waits until `count` consumers consume `queue`, so what is published next reaches it.
    pub async fn wait_for_consumers(&self, queue: &str, count: u32) {
        eventually(&format!("{count} consumers on {queue}"), || async move {
            let channel = self.broker.channel().await.ok()?;
            let declared = channel
                .queue_declare(
                    queue.into(),
                    QueueDeclareOptions::durable().passive(),
                    FieldTable::default(),
                )
                .await;
            let _ = channel.close(200, "inspected".into()).await;
            (declared.ok()?.consumer_count() >= count).then_some(())
        })
        .await;
    }
}

/// The queue type the event tests run with: classic, or quorum when
/// `EMPORIUM_TEST_QUEUE_TYPE=quorum` (`./dev test` runs them in both modes).
pub fn test_queue_type() -> QueueType {
    match std::env::var("EMPORIUM_TEST_QUEUE_TYPE") {
        Ok(raw) => raw
            .parse()
            .expect("EMPORIUM_TEST_QUEUE_TYPE: classic or quorum"),
        Err(_) => QueueType::Classic,
    }
}

/// A broker on `vhost` that reconnects within milliseconds, with [`test_queue_type`].
pub async fn connect(vhost: &TestVhost) -> Broker {
    connect_with(vhost, test_queue_type()).await
}

pub async fn connect_with(vhost: &TestVhost, queue_type: QueueType) -> Broker {
    let settings = BrokerSettings {
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(200),
        operation_timeout: Duration::from_secs(5),
        queue_type,
        ..BrokerSettings::new(vhost.amqp_url())
    };
    Broker::connect(settings)
        .await
        .expect("connect to RabbitMQ")
}

/// Consumer settings with millisecond backoff and three attempts.
pub fn fast_settings(queue: &str, bindings: &[&str]) -> ConsumerSettings {
    ConsumerSettings {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        ..ConsumerSettings::new(queue, bindings.iter().copied())
    }
}

/// A v1 envelope of `event_type`.
pub fn event(event_type: &'static str, subject: &str) -> Envelope {
    EventDraft::new(event_type, subject, json!({ "subject": subject })).into_envelope(
        "/tests",
        1,
        Utc::now(),
    )
}

/// A running consumer; stop it to wait for its end.
pub struct RunningConsumer {
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), ConsumerError>>,
}

impl RunningConsumer {
    pub fn spawn<H: Handler>(broker: &Broker, settings: ConsumerSettings, handler: H) -> Self {
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(consumer::run(
            broker.clone(),
            settings,
            handler,
            shutdown.clone(),
        ));
        Self { shutdown, task }
    }

    /// Asks the consumer to stop, without waiting.
    pub fn request_stop(&self) {
        self.shutdown.cancel();
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        let stopped = tokio::time::timeout(DEADLINE, self.task).await;
        stopped
            .expect("the consumer stops")
            .expect("the consumer task does not panic")
            .expect("the consumer ends without error");
    }
}

/// What a recording handler does with an event.
#[derive(Clone, Copy)]
pub enum Behaviour {
    Succeed,
    FailRetryably,
    FailPermanently,
    /// Fails retryably this many times, then succeeds.
    FailTimes(usize),
}

/// Records every call; behaves as told.
#[derive(Clone)]
pub struct RecordingHandler {
    behaviour: Behaviour,
    calls: Arc<AtomicUsize>,
    handled: Arc<Mutex<Vec<Envelope>>>,
}

impl RecordingHandler {
    pub fn new(behaviour: Behaviour) -> Self {
        Self {
            behaviour,
            calls: Arc::default(),
            handled: Arc::default(),
        }
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// The envelopes handled successfully.
    pub fn handled(&self) -> Vec<Envelope> {
        self.handled.lock().expect("lock").clone()
    }
}

impl Handler for RecordingHandler {
    async fn handle(&self, envelope: &Envelope) -> Result<(), HandlerError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        match self.behaviour {
            Behaviour::FailRetryably => {
                return Err(HandlerError::Retryable(format!("boom #{call}")))
            }
            Behaviour::FailPermanently => return Err(HandlerError::Permanent("never".to_owned())),
            Behaviour::FailTimes(n) if call <= n => {
                return Err(HandlerError::Retryable(format!("boom #{call}")))
            }
            Behaviour::Succeed | Behaviour::FailTimes(_) => {}
        }
        self.handled.lock().expect("lock").push(envelope.clone());
        Ok(())
    }
}

/// Polls `probe` every few milliseconds until it returns `Some`, failing after [`DEADLINE`].
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
