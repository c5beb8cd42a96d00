//! The inbox: a redelivered event has one effect.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use emporium_kernel::events::consumer::{Handler, HandlerError};
use emporium_kernel::events::inbox::{self, INBOX_TABLE_SQL};
use emporium_kernel::events::{Envelope, Publisher};
use emporium_kernel::testing::TestPostgres;
use sqlx::PgPool;
use uuid::Uuid;

use crate::rabbit::{self, eventually, fast_settings, Rabbit, RunningConsumer};

/// A database with the inbox and a table of effects without a unique key, so an event
/// applied twice shows as two rows; each row also names the transaction that wrote it.
pub async fn effects_database() -> (TestPostgres, PgPool) {
    let db = TestPostgres::create().await;
    let pool = PgPool::connect(&db.url()).await.expect("connect");
    sqlx::raw_sql(INBOX_TABLE_SQL)
        .execute(&pool)
        .await
        .expect("inbox table");
    sqlx::query(
        "CREATE TABLE effects (event_id uuid NOT NULL, txid bigint NOT NULL DEFAULT txid_current())",
    )
        .execute(&pool)
        .await
        .expect("effects table");
    (db, pool)
}

pub async fn effects(pool: &PgPool) -> (i64, i64) {
    sqlx::query_as("SELECT count(*), count(DISTINCT event_id) FROM effects")
        .fetch_one(pool)
        .await
        .expect("count effects")
}

/// Records each event as an effect, once, through the inbox.
#[derive(Clone)]
pub struct InboxHandler {
    pub pool: PgPool,
    pub consumer: &'static str,
    pub calls: Arc<AtomicUsize>,
}

impl Handler for InboxHandler {
    async fn handle(&self, envelope: &Envelope) -> Result<(), HandlerError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let Some(mut tx) = inbox::begin_once(&self.pool, self.consumer, envelope.id).await? else {
            return Ok(());
        };
        sqlx::query("INSERT INTO effects (event_id) VALUES ($1)")
            .bind(envelope.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

#[tokio::test]
async fn an_event_delivered_twice_has_one_effect() {
    let rabbit = Rabbit::start().await;
    let (_db, pool) = effects_database().await;
    let queue = "tests.inbox";
    let handler = InboxHandler {
        pool: pool.clone(),
        consumer: queue,
        calls: Arc::default(),
    };
    let consumer = RunningConsumer::spawn(
        &rabbit.broker,
        fast_settings(queue, &["order.placed"]),
        handler.clone(),
    );
    rabbit.wait_for_consumers(queue, 1).await;
    let envelope = rabbit::event("order.placed", "o-1");

    rabbit.broker.publish(&envelope).await.expect("published");
    rabbit
        .broker
        .publish(&envelope)
        .await
        .expect("published again");
    eventually("both deliveries handled", || async {
        (handler.calls.load(Ordering::SeqCst) == 2 && rabbit.depth(queue).await == 0).then_some(())
    })
    .await;
    consumer.stop().await;

    assert_eq!(effects(&pool).await, (1, 1));
}

#[tokio::test]
async fn a_concurrent_redelivery_waits_for_the_first_and_then_skips_the_event() {
    let (_db, pool) = effects_database().await;
    let event_id = Uuid::now_v7();
    let first = inbox::begin_once(&pool, "tests.inbox", event_id)
        .await
        .expect("begin")
        .expect("the first delivery applies the event");

    let second = tokio::spawn({
        let pool = pool.clone();
        async move { inbox::begin_once(&pool, "tests.inbox", event_id).await }
    });
    // The second insert waits on the first transaction's row lock rather than failing.
    eventually("the second delivery to wait on the first", || async {
        let waiting: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")
            .fetch_one(&pool)
            .await
            .ok()?;
        (waiting >= 1).then_some(())
    })
    .await;
    first.commit().await.expect("commit");
    let second = tokio::time::timeout(Duration::from_secs(10), second)
        .await
        .expect("the second delivery finishes")
        .expect("no panic");

    assert!(
        matches!(second, Ok(None)),
        "already handled: {:?}",
        second.map(|tx| tx.is_some())
    );
}

#[tokio::test]
async fn an_event_whose_first_handling_rolled_back_is_applied_by_the_redelivery() {
    let (_db, pool) = effects_database().await;
    let event_id = Uuid::now_v7();
    let first = inbox::begin_once(&pool, "tests.inbox", event_id)
        .await
        .expect("begin")
        .expect("first");

    first.rollback().await.expect("rollback");
    let second = inbox::begin_once(&pool, "tests.inbox", event_id)
        .await
        .expect("begin");
    let elsewhere = inbox::begin_once(&pool, "tests.other-consumer", event_id)
        .await
        .expect("begin");

    assert!(second.is_some(), "the event was never applied");
    assert!(elsewhere.is_some(), "each consumer has its own record");
}
