//! The batched inbox: events handled at the same moment share a transaction, each is applied
//! once, and one effect's failure loses nobody else's.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use emporium_kernel::events::consumer::{ConsumerSettings, Handler, HandlerError};
use emporium_kernel::events::inbox::{BatchedInbox, EffectFuture};
use emporium_kernel::events::{Envelope, Publisher};
use emporium_kernel::testing::TestPostgres;
use futures::future::join_all;
use sqlx::{PgConnection, PgPool};
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::inbox::effects_database;
use crate::rabbit::{self, eventually, fast_settings, Rabbit, RunningConsumer};

const QUEUE: &str = "tests.batched";

/// The inbox tests' database of effects, with a constraint checked only at commit.
async fn applied_database() -> (TestPostgres, PgPool) {
    let (db, pool) = effects_database().await;
    sqlx::query(
        "CREATE TABLE deferred (id int, CONSTRAINT once UNIQUE (id) DEFERRABLE INITIALLY DEFERRED)",
    )
    .execute(&pool)
    .await
    .expect("deferred table");
    (db, pool)
}

type Effect =
    Box<dyn for<'c> Fn(&'c mut PgConnection) -> EffectFuture<'c, (), HandlerError> + Send>;

/// The effect that records `event_id` in `effects`.
fn record(event_id: Uuid) -> Effect {
    Box::new(move |conn| {
        Box::pin(async move {
            insert(conn, event_id).await?;
            Ok(())
        })
    })
}

async fn insert(conn: &mut PgConnection, event_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO effects (event_id) VALUES ($1)")
        .bind(event_id)
        .execute(conn)
        .await
        .map(drop)
}

fn apply(
    inbox: &BatchedInbox,
    event_id: Uuid,
    effect: Effect,
) -> impl std::future::Future<Output = Result<Option<()>, HandlerError>> {
    inbox.apply_once(QUEUE, event_id, effect)
}

/// A first event whose effect waits until released, so that everything queued meanwhile
/// forms the next batch.
struct Held {
    event_id: Uuid,
    release: oneshot::Sender<()>,
    answer: std::pin::Pin<Box<dyn std::future::Future<Output = Result<Option<()>, HandlerError>>>>,
}

async fn hold(inbox: &BatchedInbox) -> Held {
    let (started, running) = oneshot::channel();
    let (release, released) = oneshot::channel::<()>();
    // Taken by the first run (the held batch holds nothing else, so it runs once).
    let gate = Arc::new(Mutex::new(Some((started, released))));
    let event_id = Uuid::now_v7();
    let answer = apply(
        inbox,
        event_id,
        Box::new(move |conn| {
            let gate = gate.lock().expect("gate").take();
            Box::pin(async move {
                if let Some((started, released)) = gate {
                    let _ = started.send(());
                    let _ = released.await;
                }
                insert(conn, event_id).await?;
                Ok(())
            })
        }),
    );
    running.await.expect("the first batch runs");
    Held {
        event_id,
        release,
        answer: Box::pin(answer),
    }
}

impl Held {
    async fn release(self) {
        let _ = self.release.send(());
        assert_eq!(
            self.answer.await.expect("the held event"),
            Some(()),
            "the held event is applied"
        );
    }
}

/// (event id, transaction) of every effect, in no order.
async fn applied(pool: &PgPool) -> Vec<(Uuid, i64)> {
    sqlx::query_as("SELECT event_id, txid FROM effects")
        .fetch_all(pool)
        .await
        .expect("read effects")
}

async fn inbox_rows(pool: &PgPool) -> HashSet<Uuid> {
    sqlx::query_scalar("SELECT event_id FROM inbox")
        .fetch_all(pool)
        .await
        .expect("read inbox")
        .into_iter()
        .collect()
}

#[tokio::test]
async fn events_waiting_together_share_one_transaction_and_each_is_applied_once() {
    let (_db, pool) = applied_database().await;
    let inbox = BatchedInbox::start(pool.clone(), 64);
    let held = hold(&inbox).await;
    let first = held.event_id;

    let ids: Vec<Uuid> = (0..20).map(|_| Uuid::now_v7()).collect();
    let waiting: Vec<_> = ids
        .iter()
        .map(|id| apply(&inbox, *id, record(*id)))
        .collect();
    // A redelivery inside the same batch, and one of the held batch's event.
    let again = apply(&inbox, ids[3], record(ids[3]));
    let first_again = apply(&inbox, first, record(first));
    held.release().await;

    for answer in join_all(waiting).await {
        assert_eq!(answer.expect("applied"), Some(()));
    }
    assert_eq!(again.await.expect("answered"), None, "already handled");
    assert_eq!(
        first_again.await.expect("answered"),
        None,
        "already handled"
    );
    let rows = applied(&pool).await;
    assert_eq!(rows.len(), 21, "each event once: {rows:?}");
    let batch: HashSet<i64> = rows
        .iter()
        .filter(|(id, _)| *id != first)
        .map(|(_, txid)| *txid)
        .collect();
    assert_eq!(batch.len(), 1, "the 20 waiting events committed together");
    assert_eq!(inbox_rows(&pool).await.len(), 21);
}

#[tokio::test]
async fn an_effect_that_fails_or_panics_is_rolled_back_alone_and_stays_unhandled() {
    let (_db, pool) = applied_database().await;
    let inbox = BatchedInbox::start(pool.clone(), 64);
    let held = hold(&inbox).await;
    let [before, failing, panicking, after] = [(); 4].map(|()| Uuid::now_v7());

    let ok_before = apply(&inbox, before, record(before));
    let fails = apply(
        &inbox,
        failing,
        Box::new(move |conn| {
            Box::pin(async move {
                insert(conn, failing).await?;
                Err(HandlerError::retryable("the effect refused"))
            })
        }),
    );
    let panics = apply(
        &inbox,
        panicking,
        Box::new(move |conn| {
            Box::pin(async move {
                insert(conn, panicking).await?;
                panic!("the effect broke");
            })
        }),
    );
    let ok_after = apply(&inbox, after, record(after));
    held.release().await;

    assert_eq!(ok_before.await.expect("applied"), Some(()));
    assert_eq!(
        fails.await,
        Err(HandlerError::Retryable("the effect refused".into())),
        "the effect's own error"
    );
    match panics.await {
        Err(HandlerError::Permanent(reason)) => {
            assert!(reason.contains("the effect broke"), "{reason}")
        }
        other => panic!("a panic is a permanent failure: {other:?}"),
    }
    assert_eq!(ok_after.await.expect("applied"), Some(()));
    let ids: HashSet<Uuid> = applied(&pool).await.into_iter().map(|(id, _)| id).collect();
    assert!(ids.contains(&before) && ids.contains(&after), "{ids:?}");
    assert!(
        !ids.contains(&failing) && !ids.contains(&panicking),
        "{ids:?}"
    );
    let handled = inbox_rows(&pool).await;
    assert!(!handled.contains(&failing) && !handled.contains(&panicking));

    // Both stay unhandled, so their redeliveries apply them; the batcher outlived the panic.
    assert_eq!(apply(&inbox, failing, record(failing)).await, Ok(Some(())));
    assert_eq!(
        apply(&inbox, panicking, record(panicking)).await,
        Ok(Some(()))
    );
    assert_eq!(applied(&pool).await.len(), 5);
}

#[tokio::test]
async fn a_batch_whose_commit_fails_keeps_nothing_and_every_event_can_be_retried() {
    let (_db, pool) = applied_database().await;
    let inbox = BatchedInbox::start(pool.clone(), 64);
    let held = hold(&inbox).await;
    let first = held.event_id;
    let [one, two, bystander] = [(); 3].map(|()| Uuid::now_v7());
    // Each of these succeeds on its own; together they break a constraint checked at commit.
    let deferred = |event_id: Uuid| -> Effect {
        Box::new(move |conn| {
            Box::pin(async move {
                insert(conn, event_id).await?;
                sqlx::query("INSERT INTO deferred (id) VALUES (1)")
                    .execute(conn)
                    .await?;
                Ok(())
            })
        })
    };

    let answers = [
        apply(&inbox, one, deferred(one)),
        apply(&inbox, two, deferred(two)),
        apply(&inbox, bystander, record(bystander)),
    ];
    held.release().await;

    for answer in join_all(answers).await {
        match answer {
            Err(HandlerError::Retryable(reason)) => {
                assert!(reason.contains("inbox batch failed"), "{reason}")
            }
            other => panic!("the failed commit is retryable for every event: {other:?}"),
        }
    }
    let ids: Vec<Uuid> = applied(&pool).await.into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, vec![first], "nothing of the failed batch was kept");
    assert_eq!(inbox_rows(&pool).await, HashSet::from([first]));

    assert_eq!(
        apply(&inbox, bystander, record(bystander)).await,
        Ok(Some(()))
    );
    assert_eq!(apply(&inbox, one, deferred(one)).await, Ok(Some(())));
}

/// Records each event through the batched inbox, counting the handler's calls.
#[derive(Clone)]
struct BatchedHandler {
    inbox: BatchedInbox,
    calls: Arc<AtomicUsize>,
}

impl Handler for BatchedHandler {
    async fn handle(&self, envelope: &Envelope) -> Result<(), HandlerError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        apply(&self.inbox, envelope.id, record(envelope.id)).await?;
        Ok(())
    }
}

#[tokio::test]
async fn a_consumer_handling_eight_at_once_through_the_batched_inbox_applies_each_event_once() {
    let rabbit = Rabbit::start().await;
    let (_db, pool) = applied_database().await;
    let handler = BatchedHandler {
        inbox: BatchedInbox::start(pool.clone(), 32),
        calls: Arc::default(),
    };
    let settings = ConsumerSettings {
        concurrency: 8,
        ..fast_settings(QUEUE, &["order.placed"])
    };
    let consumer = RunningConsumer::spawn(&rabbit.broker, settings, handler.clone());
    rabbit.wait_for_consumers(QUEUE, 1).await;

    let events: Vec<Envelope> = (0..100)
        .map(|n| rabbit::event("order.placed", &format!("order-{n}")))
        .collect();
    // Every event twice: a redelivery of each, some in the batch of the first delivery.
    for envelope in events.iter().chain(events.iter()) {
        rabbit.broker.publish(envelope).await.expect("published");
    }
    eventually("every delivery handled", || async {
        (handler.calls.load(Ordering::SeqCst) == 200 && rabbit.depth(QUEUE).await == 0)
            .then_some(())
    })
    .await;
    consumer.stop().await;

    let rows = applied(&pool).await;
    let ids: HashSet<Uuid> = rows.iter().map(|(id, _)| *id).collect();
    let transactions: HashSet<i64> = rows.iter().map(|(_, txid)| *txid).collect();
    assert_eq!(rows.len(), 100, "each event once");
    assert_eq!(ids, events.iter().map(|e| e.id).collect::<HashSet<_>>());
    println!("100 events applied in {} transactions", transactions.len());
}
