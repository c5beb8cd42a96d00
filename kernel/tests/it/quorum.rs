//! Quorum queues (`EMPORIUM_QUEUE_TYPE=quorum`): every durable queue a consumer declares, its
//! dead-letter queue included, is a quorum queue; the default stays classic; and a queue of
//! the other type is refused with an error that names it and says what to do. The rest of
//! the event tests run in quorum mode too: `./dev test` runs them again with
//! `EMPORIUM_TEST_QUEUE_TYPE=quorum`.

use emporium_kernel::events::broker::QueueType;
use emporium_kernel::events::consumer::{self, dead_letter_queue, ConsumerError};
use emporium_kernel::events::{dlq, Publisher};

use crate::rabbit::{
    self, eventually, fast_settings, Behaviour, Rabbit, RecordingHandler, RunningConsumer,
};

#[tokio::test]
async fn with_quorum_queues_a_consumer_queue_and_its_dead_letter_queue_are_quorum_queues() {
    let rabbit = Rabbit::start_with(QueueType::Quorum).await;
    let handled = RecordingHandler::new(Behaviour::Succeed);
    let failing = RecordingHandler::new(Behaviour::FailPermanently);
    let ok = RunningConsumer::spawn(
        &rabbit.broker,
        fast_settings("tests.quorum-ok", &["stock.changed"]),
        handled.clone(),
    );
    let bad = RunningConsumer::spawn(
        &rabbit.broker,
        fast_settings("tests.quorum-bad", &["stock.changed"]),
        failing.clone(),
    );
    rabbit.wait_for_consumers("tests.quorum-ok", 1).await;
    rabbit.wait_for_consumers("tests.quorum-bad", 1).await;

    let envelope = rabbit::event("stock.changed", "p-1");
    rabbit.broker.publish(&envelope).await.expect("published");
    eventually("the event handled", || async {
        (handled.handled().len() == 1).then_some(())
    })
    .await;
    eventually("the dead letter", || async {
        (rabbit.depth(&dead_letter_queue("tests.quorum-bad")).await == 1).then_some(())
    })
    .await;

    let types = rabbit.queue_types().await;
    for queue in [
        "tests.quorum-ok",
        "tests.quorum-ok.dlq",
        "tests.quorum-bad",
        "tests.quorum-bad.dlq",
    ] {
        assert_eq!(
            types.get(queue).map(String::as_str),
            Some("quorum"),
            "{queue}: {types:?}"
        );
    }
    // The dead letter comes back through a redrive, into its quorum queue only.
    bad.stop().await;
    let moved = dlq::redrive(&rabbit.broker, "tests.quorum-bad", 10)
        .await
        .expect("redrive");
    assert_eq!(moved, 1);
    assert_eq!(rabbit.depth("tests.quorum-bad").await, 1);
    assert_eq!(
        handled.handled(),
        vec![envelope],
        "no second delivery elsewhere"
    );
    ok.stop().await;
}

#[tokio::test]
async fn by_default_consumer_queues_stay_classic() {
    let rabbit = Rabbit::start_with(QueueType::default()).await;

    consumer::declare(
        &rabbit.broker,
        &fast_settings("tests.classic", &["stock.changed"]),
    )
    .await
    .expect("declared");

    let types = rabbit.queue_types().await;
    assert_eq!(
        types.get("tests.classic").map(String::as_str),
        Some("classic")
    );
    assert_eq!(
        types.get("tests.classic.dlq").map(String::as_str),
        Some("classic")
    );
}

#[tokio::test]
async fn switching_an_existing_queue_to_quorum_is_refused_with_the_queue_and_the_way_out() {
    let rabbit = Rabbit::start_with(QueueType::Classic).await;
    let settings = fast_settings("tests.switched", &["stock.changed"]);
    consumer::declare(&rabbit.broker, &settings)
        .await
        .expect("declared as classic");
    let quorum = rabbit::connect_with(&rabbit.vhost, QueueType::Quorum).await;

    let refused = consumer::declare(&quorum, &settings).await;

    let Err(ConsumerError::Topology { queue, reason }) = refused else {
        panic!("a classic queue redeclared as quorum: {refused:?}");
    };
    assert_eq!(queue, "tests.switched");
    for part in [
        "queue tests.switched already exists with other arguments than a quorum queue",
        "EMPORIUM_QUEUE_TYPE",
        "rabbitmqctl delete_queue tests.switched",
    ] {
        assert!(reason.contains(part), "{part:?} missing from: {reason}");
    }
    // Nothing changed: the queue is still the classic one.
    let types = rabbit.queue_types().await;
    assert_eq!(
        types.get("tests.switched").map(String::as_str),
        Some("classic")
    );
    quorum.close().await;
}

#[tokio::test]
async fn switching_an_existing_quorum_queue_back_to_classic_is_refused_too() {
    let rabbit = Rabbit::start_with(QueueType::Quorum).await;
    let settings = fast_settings("tests.switched-back", &["stock.changed"]);
    consumer::declare(&rabbit.broker, &settings)
        .await
        .expect("declared as quorum");
    let classic = rabbit::connect_with(&rabbit.vhost, QueueType::Classic).await;

    let refused = consumer::declare(&classic, &settings).await;

    let Err(ConsumerError::Topology { reason, .. }) = refused else {
        panic!("a quorum queue redeclared as classic: {refused:?}");
    };
    assert!(
        reason.contains(
            "queue tests.switched-back already exists with other arguments than a classic queue"
        ),
        "{reason}"
    );
    classic.close().await;
}
