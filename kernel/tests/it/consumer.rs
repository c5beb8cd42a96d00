//! The consumer runtime and the dead-letter tools: retries, dead letters, poison messages,
//! redrive, shutdown.

use std::sync::Arc;

use emporium_kernel::events::broker::QueueType;
use emporium_kernel::events::consumer::{
    dead_letter_queue, ConsumerSettings, Handler, HandlerError,
};
use emporium_kernel::events::dlq::{self, DeadLetterBody};
use emporium_kernel::events::envelope::schema_urn;
use emporium_kernel::events::{metrics, Envelope, Publisher, EXCHANGE};
use lapin::options::BasicPublishOptions;
use lapin::BasicProperties;
use tokio::sync::Semaphore;

use crate::rabbit::{
    self, eventually, fast_settings, Behaviour, Rabbit, RecordingHandler, RunningConsumer,
};

#[tokio::test]
async fn a_message_that_keeps_failing_is_dead_lettered_then_redriven_to_its_queue_only() {
    let rabbit = Rabbit::start().await;
    let queue = "tests.always-fails";
    let failing = RecordingHandler::new(Behaviour::FailRetryably);
    let consumer = RunningConsumer::spawn(
        &rabbit.broker,
        fast_settings(queue, &["stock.changed"]),
        failing.clone(),
    );
    // Another purpose bound to the same type: a redrive must not deliver to it again.
    let bystander = RecordingHandler::new(Behaviour::Succeed);
    let audit = RunningConsumer::spawn(
        &rabbit.broker,
        fast_settings("tests.audit", &["stock.*"]),
        bystander.clone(),
    );
    rabbit.wait_for_consumers(queue, 1).await;
    rabbit.wait_for_consumers("tests.audit", 1).await;
    let envelope = rabbit::event("stock.changed", "p-1");

    rabbit.broker.publish(&envelope).await.expect("published");
    eventually("the dead letter", || async {
        (rabbit.depth(&dead_letter_queue(queue)).await == 1).then_some(())
    })
    .await;

    assert_eq!(failing.calls(), 3, "max_attempts calls, no more");
    let shown = dlq::show(&rabbit.broker, queue, 10).await.expect("show");
    assert_eq!(shown.len(), 1);
    assert_eq!(
        shown[0].body,
        DeadLetterBody::Envelope(Box::new(envelope.clone()))
    );
    assert_eq!(shown[0].reason.as_deref(), Some("boom #3"));
    assert_eq!(shown[0].attempts, Some(3));
    assert_eq!(
        shown[0].original_routing_key.as_deref(),
        Some("stock.changed")
    );
    // Showing takes the dead letter and puts it back; a quorum queue counts it again only once
    // the requeue has gone through its log, so the depth is waited for, not read at once.
    eventually("showing leaves the dead letter in place", || async {
        (rabbit.depth(&dead_letter_queue(queue)).await == 1).then_some(())
    })
    .await;
    let depths = dlq::list(
        &rabbit.broker,
        &[queue.to_owned(), "tests.never-ran".to_owned()],
    )
    .await
    .expect("list");
    assert_eq!(
        depths,
        [
            (queue.to_owned(), Some(1)),
            ("tests.never-ran".to_owned(), None)
        ]
    );
    let dead_lettered = metrics::events()
        .dead_lettered
        .with_label_values(&["stock.changed", queue])
        .get();
    assert_eq!(dead_lettered, 1);

    consumer.stop().await;
    let fixed = RecordingHandler::new(Behaviour::Succeed);
    let consumer = RunningConsumer::spawn(
        &rabbit.broker,
        fast_settings(queue, &["stock.changed"]),
        fixed.clone(),
    );
    let moved = dlq::redrive(&rabbit.broker, queue, 10)
        .await
        .expect("redrive");
    eventually("the redriven event", || async {
        (!fixed.handled().is_empty()).then_some(())
    })
    .await;

    assert_eq!(moved, 1);
    assert_eq!(fixed.handled(), std::slice::from_ref(&envelope));
    assert_eq!(rabbit.depth(&dead_letter_queue(queue)).await, 0);
    assert_eq!(rabbit.depth(queue).await, 0);
    assert_eq!(
        bystander.handled(),
        [envelope],
        "the other queue got the event once"
    );
    consumer.stop().await;
    audit.stop().await;
}

#[tokio::test]
async fn a_poison_message_is_dead_lettered_without_calling_the_handler() {
    let rabbit = Rabbit::start().await;
    let queue = "tests.poison";
    let handler = RecordingHandler::new(Behaviour::Succeed);
    let consumer = RunningConsumer::spawn(
        &rabbit.broker,
        fast_settings(queue, &["order.placed"]),
        handler.clone(),
    );
    rabbit.wait_for_consumers(queue, 1).await;

    let channel = rabbit.broker.channel().await.expect("channel");
    channel
        .basic_publish(
            EXCHANGE.into(),
            "order.placed".into(),
            BasicPublishOptions::default(),
            b"this is not json",
            BasicProperties::default(),
        )
        .await
        .expect("publish");
    let mut newer = rabbit::event("order.placed", "o-2");
    newer.dataschema = schema_urn("order.placed", 2);
    rabbit.broker.publish(&newer).await.expect("published");
    eventually("both dead letters", || async {
        (rabbit.depth(&dead_letter_queue(queue)).await == 2).then_some(())
    })
    .await;

    assert_eq!(handler.calls(), 0);
    let shown = dlq::show(&rabbit.broker, queue, 10).await.expect("show");
    // The two were published on different channels: their order in the queue is not fixed.
    let (raw, versioned): (Vec<_>, Vec<_>) = shown
        .iter()
        .partition(|d| matches!(d.body, DeadLetterBody::Raw(_)));
    let (raw, versioned) = (raw[0], versioned[0]);
    assert_eq!(raw.body, DeadLetterBody::Raw("this is not json".to_owned()));
    assert!(
        raw.reason
            .as_deref()
            .is_some_and(|r| r.contains("not an envelope")),
        "{:?}",
        raw.reason
    );
    assert_eq!(raw.attempts, Some(0));
    assert_eq!(raw.original_routing_key.as_deref(), Some("order.placed"));
    assert!(
        versioned
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("unknown dataschema")),
        "{:?}",
        versioned.reason
    );
    consumer.stop().await;
}

#[tokio::test]
async fn a_retryable_failure_is_retried_until_the_handler_succeeds() {
    let rabbit = Rabbit::start().await;
    let queue = "tests.flaky";
    let handler = RecordingHandler::new(Behaviour::FailTimes(2));
    let consumer = RunningConsumer::spawn(
        &rabbit.broker,
        fast_settings(queue, &["payment.*"]),
        handler.clone(),
    );
    rabbit.wait_for_consumers(queue, 1).await;
    let envelope = rabbit::event("payment.authorized", "pay-1");

    rabbit.broker.publish(&envelope).await.expect("published");
    eventually("the handled event", || async {
        (!handler.handled().is_empty()).then_some(())
    })
    .await;
    consumer.stop().await;

    assert_eq!(handler.calls(), 3);
    assert_eq!(handler.handled(), [envelope]);
    assert_eq!(rabbit.depth(queue).await, 0, "acknowledged");
    assert_eq!(rabbit.depth(&dead_letter_queue(queue)).await, 0);
    assert_eq!(
        metrics::events()
            .retried
            .with_label_values(&["payment.authorized", queue])
            .get(),
        2
    );
    assert_eq!(
        metrics::events()
            .consumed
            .with_label_values(&["payment.authorized", queue])
            .get(),
        1
    );
}

#[tokio::test]
async fn a_permanent_failure_is_dead_lettered_at_once() {
    let rabbit = Rabbit::start().await;
    let queue = "tests.permanent";
    let handler = RecordingHandler::new(Behaviour::FailPermanently);
    let consumer = RunningConsumer::spawn(
        &rabbit.broker,
        fast_settings(queue, &["order.placed"]),
        handler.clone(),
    );
    rabbit.wait_for_consumers(queue, 1).await;

    rabbit
        .broker
        .publish(&rabbit::event("order.placed", "o-1"))
        .await
        .expect("published");
    eventually("the dead letter", || async {
        (rabbit.depth(&dead_letter_queue(queue)).await == 1).then_some(())
    })
    .await;
    consumer.stop().await;

    assert_eq!(handler.calls(), 1);
    let shown = dlq::show(&rabbit.broker, queue, 1).await.expect("show");
    assert_eq!(shown[0].reason.as_deref(), Some("never"));
    assert_eq!(shown[0].attempts, Some(1));
}

/// Blocks in its handler until the test releases it.
struct GatedHandler {
    entered: Semaphore,
    gate: Semaphore,
    handled: RecordingHandler,
}

impl Handler for GatedHandler {
    async fn handle(&self, envelope: &Envelope) -> Result<(), HandlerError> {
        self.entered.add_permits(1);
        let _permit = self.gate.acquire().await.map_err(HandlerError::retryable)?;
        self.handled.handle(envelope).await
    }
}

#[tokio::test]
async fn shutdown_lets_the_messages_in_flight_finish_and_leaves_the_rest_queued() {
    let rabbit = Rabbit::start().await;
    let queue = "tests.shutdown";
    let handler = Arc::new(GatedHandler {
        entered: Semaphore::new(0),
        gate: Semaphore::new(0),
        handled: RecordingHandler::new(Behaviour::Succeed),
    });
    // Two handled at once: two of the three messages (of three aggregates) are in flight.
    let settings = ConsumerSettings {
        concurrency: 2,
        ..fast_settings(queue, &["order.placed"])
    };
    let consumer = RunningConsumer::spawn(&rabbit.broker, settings, handler.clone());
    rabbit.wait_for_consumers(queue, 1).await;
    for n in 0..3 {
        rabbit
            .broker
            .publish(&rabbit::event("order.placed", &format!("o-{n}")))
            .await
            .expect("published");
    }
    let entered = handler
        .entered
        .acquire_many(2)
        .await
        .expect("two messages are in flight");
    entered.forget();

    consumer.request_stop();
    let stopping = tokio::spawn(consumer.stop());
    // The consumer cannot finish while its handler is held, but it cancels its subscription at
    // once. A quorum queue keeps counting a cancelled consumer until the messages it holds are
    // settled, so only a classic queue's count shows that.
    if rabbit::test_queue_type() == QueueType::Classic {
        eventually("the consumer to stop consuming", || async {
            (rabbit.consumers(queue).await == 0).then_some(())
        })
        .await;
    }
    handler.gate.add_permits(2);
    stopping.await.expect("stopped");

    assert_eq!(
        handler.handled.handled().len(),
        2,
        "the messages in flight finished"
    );
    // A quorum queue returns a closed channel's unacknowledged messages through its log, so the
    // count shows them a moment after the channel is gone; a classic queue at once.
    eventually("the prefetched rest to be back in the queue", || async {
        (rabbit.depth(queue).await == 1).then_some(())
    })
    .await;
    assert_eq!(
        handler.handled.handled().len(),
        2,
        "no other message was handled on the way out"
    );
}

/// Records the order events are applied in, takes a while per event (some longer than others,
/// so that events overtake each other when they run at once), and counts how many calls
/// overlap.
#[derive(Default)]
struct OrderingHandler {
    applied: std::sync::Mutex<Vec<(String, i64)>>,
    in_flight: std::sync::atomic::AtomicUsize,
    most_in_flight: std::sync::atomic::AtomicUsize,
}

impl Handler for OrderingHandler {
    async fn handle(&self, envelope: &Envelope) -> Result<(), HandlerError> {
        use std::sync::atomic::Ordering::SeqCst;
        let now = self.in_flight.fetch_add(1, SeqCst) + 1;
        self.most_in_flight.fetch_max(now, SeqCst);
        // Varies by aggregate and by event, so a later event would overtake an earlier one
        // of its aggregate if both ran at once.
        let sequence = u64::try_from(envelope.sequence_number()).unwrap_or(0);
        let slow = (envelope.subject.bytes().map(u64::from).sum::<u64>() + sequence * 3) % 4;
        tokio::time::sleep(std::time::Duration::from_millis(1 + slow * 4)).await;
        self.applied
            .lock()
            .expect("lock")
            .push((envelope.subject.clone(), envelope.sequence_number()));
        self.in_flight.fetch_sub(1, SeqCst);
        Ok(())
    }
}

#[tokio::test]
async fn concurrent_handling_never_applies_one_aggregates_events_out_of_order() {
    let rabbit = Rabbit::start().await;
    let queue = "tests.ordering";
    let handler = Arc::new(OrderingHandler::default());
    let settings = ConsumerSettings {
        prefetch: 32,
        concurrency: 8,
        ..fast_settings(queue, &["stock.changed"])
    };
    let consumer = RunningConsumer::spawn(&rabbit.broker, settings, handler.clone());
    rabbit.wait_for_consumers(queue, 1).await;

    // Fewer aggregates than slots, so each aggregate has several events held at once.
    let aggregates = 3;
    let per_aggregate = 40;
    let mut batch = Vec::new();
    for sequence in 1..=per_aggregate {
        for aggregate in 0..aggregates {
            let mut envelope = rabbit::event("stock.changed", &format!("p-{aggregate}"));
            envelope.sequence = sequence.to_string();
            batch.push(envelope);
        }
    }
    let outcome = rabbit.broker.publish_batch(&batch).await;
    assert!(outcome.error.is_none(), "published: {:?}", outcome.error);
    assert_eq!(outcome.confirmed, batch.len());

    let total = batch.len();
    eventually("every event to be applied", || async {
        (handler.applied.lock().expect("lock").len() >= total).then_some(())
    })
    .await;
    consumer.stop().await;

    let applied = handler.applied.lock().expect("lock").clone();
    assert_eq!(applied.len(), total, "each event applied once");
    for aggregate in 0..aggregates {
        let subject = format!("p-{aggregate}");
        let sequences: Vec<i64> = applied
            .iter()
            .filter(|(s, _)| *s == subject)
            .map(|(_, sequence)| *sequence)
            .collect();
        let expected: Vec<i64> = (1..=per_aggregate).collect();
        assert_eq!(sequences, expected, "{subject} applied in order");
    }
    let most = handler
        .most_in_flight
        .load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        most > 1,
        "events of different aggregates were handled at once (at most {most} were)"
    );
}
