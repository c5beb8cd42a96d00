//! Transactional outboxes and their relay, against the real Postgres and MongoDB.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use emporium_kernel::events::outbox::mongo::{self as mongo_outbox, MongoOutbox};
use emporium_kernel::events::outbox::postgres::{self as pg_outbox, PgOutbox, OUTBOX_TABLES_SQL};
use emporium_kernel::events::outbox::{Outbox, RelayPass};
use emporium_kernel::events::{Envelope, EventDraft, PublishError, Publisher};
use emporium_kernel::testing::{TestMongo, TestPostgres};
use serde_json::json;
use sqlx::PgPool;

/// Records what it is asked to publish; fails the publishes whose number is in `fail_at`.
#[derive(Clone, Default)]
struct RecordingPublisher {
    published: Arc<Mutex<Vec<Envelope>>>,
    attempts: Arc<Mutex<usize>>,
    fail_at: Vec<usize>,
}

impl RecordingPublisher {
    fn failing_at(fail_at: Vec<usize>) -> Self {
        Self {
            fail_at,
            ..Self::default()
        }
    }

    fn published(&self) -> Vec<Envelope> {
        self.published.lock().expect("lock").clone()
    }
}

impl Publisher for RecordingPublisher {
    async fn publish(&self, envelope: &Envelope) -> Result<(), PublishError> {
        let attempt = {
            let mut attempts = self.attempts.lock().expect("lock");
            *attempts += 1;
            *attempts
        };
        // Give a concurrent relay every chance to interleave.
        tokio::task::yield_now().await;
        if self.fail_at.contains(&attempt) {
            return Err(PublishError::Unavailable("broker down (test)".to_owned()));
        }
        self.published.lock().expect("lock").push(envelope.clone());
        Ok(())
    }
}

async fn outbox_database() -> (TestPostgres, PgPool) {
    let db = TestPostgres::create().await;
    let pool = PgPool::connect(&db.url()).await.expect("connect");
    sqlx::raw_sql(OUTBOX_TABLES_SQL)
        .execute(&pool)
        .await
        .expect("outbox tables");
    sqlx::query("CREATE TABLE widgets (id int PRIMARY KEY)")
        .execute(&pool)
        .await
        .expect("widgets");
    (db, pool)
}

/// Enqueues `count` events about `subject`, each in its own transaction.
async fn enqueue_each(pool: &PgPool, subject: &str, count: usize) {
    for n in 0..count {
        let mut conn = pool.acquire().await.expect("conn");
        pg_outbox::enqueue(&mut conn, "/test", draft(subject, n))
            .await
            .expect("enqueue");
    }
}

fn draft(subject: &str, n: usize) -> EventDraft {
    EventDraft::new("widget.changed", subject, json!({ "n": n }))
}

async fn drain<O: Outbox, P: Publisher>(outbox: &O, publisher: &P) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while outbox.backlog().await.expect("backlog").entries > 0 {
        assert!(Instant::now() < deadline, "the outbox did not drain");
        let _ = outbox.relay_batch(publisher, 50).await;
    }
}

#[tokio::test]
async fn a_postgres_change_and_its_event_commit_or_roll_back_together() {
    let (_db, pool) = outbox_database().await;

    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("INSERT INTO widgets VALUES (1)")
        .execute(&mut *tx)
        .await
        .expect("insert");
    pg_outbox::enqueue(&mut tx, "/test", draft("w-1", 1))
        .await
        .expect("enqueue");
    tx.rollback().await.expect("rollback");
    let after_rollback: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(&pool)
        .await
        .expect("count");

    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("INSERT INTO widgets VALUES (1)")
        .execute(&mut *tx)
        .await
        .expect("insert");
    let envelope = pg_outbox::enqueue(&mut tx, "/test", draft("w-1", 1))
        .await
        .expect("enqueue");
    tx.commit().await.expect("commit");
    let after_commit: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(&pool)
        .await
        .expect("count");

    assert_eq!(after_rollback, 0);
    assert_eq!(after_commit, 1);
    assert_eq!(
        envelope.sequence, "1",
        "the rolled-back event used no sequence number"
    );
}

#[tokio::test]
async fn sequences_increase_per_aggregate() {
    let (_db, pool) = outbox_database().await;
    let mut sequences = Vec::new();
    for subject in ["a", "a", "b", "a"] {
        let mut conn = pool.acquire().await.expect("conn");
        sequences.push(
            pg_outbox::enqueue(&mut conn, "/test", draft(subject, 0))
                .await
                .expect("enqueue")
                .sequence,
        );
    }
    assert_eq!(sequences, ["1", "2", "1", "3"]);
}

#[tokio::test]
async fn two_relays_on_one_postgres_outbox_publish_each_entry_once_in_order() {
    let (_db, pool) = outbox_database().await;
    for n in 0..300 {
        let mut conn = pool.acquire().await.expect("conn");
        pg_outbox::enqueue(&mut conn, "/test", draft(&format!("w-{}", n % 7), n))
            .await
            .expect("enqueue");
    }
    let publisher = RecordingPublisher::default();
    let (a, b) = (
        PgOutbox::new(pool.clone(), "test"),
        PgOutbox::new(pool.clone(), "test"),
    );

    let (passes_a, passes_b) = tokio::join!(
        relay_until_empty(&a, &publisher),
        relay_until_empty(&b, &publisher)
    );

    let published = publisher.published();
    assert_eq!(
        published.len(),
        300,
        "each entry once (relay passes: {passes_a:?} / {passes_b:?})"
    );
    assert_in_order_per_subject(&published);
}

async fn relay_until_empty<O: Outbox, P: Publisher>(outbox: &O, publisher: &P) -> (usize, usize) {
    let (mut led, mut waited) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    while outbox.backlog().await.expect("backlog").entries > 0 && Instant::now() < deadline {
        match outbox.relay_batch(publisher, 20).await.expect("pass") {
            RelayPass::Published(_) => led += 1,
            RelayPass::NotLeader => waited += 1,
        }
    }
    (led, waited)
}

fn assert_in_order_per_subject(published: &[Envelope]) {
    let mut last: HashMap<&str, i64> = HashMap::new();
    for envelope in published {
        let previous = last
            .insert(&envelope.subject, envelope.sequence_number())
            .unwrap_or(0);
        assert_eq!(
            envelope.sequence_number(),
            previous + 1,
            "{} out of order",
            envelope.subject
        );
    }
}

#[tokio::test]
async fn a_failed_publish_stops_the_pass_and_the_rest_follow_in_order() {
    let (_db, pool) = outbox_database().await;
    enqueue_each(&pool, "w", 5).await;
    let outbox = PgOutbox::new(pool.clone(), "test");
    let publisher = RecordingPublisher::failing_at(vec![3]);

    let first = outbox.relay_batch(&publisher, 10).await;
    let backlog = outbox.backlog().await.expect("backlog");
    drain(&outbox, &publisher).await;

    assert!(first.is_err(), "the pass reports the broker failure");
    assert_eq!(
        backlog.entries, 3,
        "the two confirmed entries are marked, the rest stay"
    );
    assert_eq!(publisher.published().len(), 5);
    assert_in_order_per_subject(&publisher.published());
}

async fn mongo_database() -> (TestMongo, mongodb::Database) {
    let test = TestMongo::create();
    let client = mongodb::Client::with_uri_str(test.server_url())
        .await
        .expect("mongo");
    let db = client.database(test.name());
    (test, db)
}

#[tokio::test]
async fn a_mongo_change_and_its_event_commit_or_abort_together() {
    let (_test, db) = mongo_database().await;
    let widgets = db.collection::<mongodb::bson::Document>("widgets");
    let outbox = MongoOutbox::new(db.clone());
    outbox.ensure_indexes().await.expect("indexes");

    let mut session = db.client().start_session().await.expect("session");
    // The same change and event, first aborted, then committed.
    for commit in [false, true] {
        session.start_transaction().await.expect("start");
        widgets
            .insert_one(mongodb::bson::doc! { "_id": 1 })
            .session(&mut session)
            .await
            .expect("insert");
        mongo_outbox::enqueue(&db, &mut session, "/test", draft("w-1", 1))
            .await
            .expect("enqueue");
        if commit {
            session.commit_transaction().await.expect("commit");
        } else {
            session.abort_transaction().await.expect("abort");
            let after_abort = outbox.backlog().await.expect("backlog").entries;
            assert_eq!(after_abort, 0);
        }
    }
    let after_commit = outbox.backlog().await.expect("backlog").entries;

    assert_eq!(
        widgets
            .count_documents(mongodb::bson::doc! {})
            .await
            .expect("count"),
        1
    );
    assert_eq!(after_commit, 1);
}

#[tokio::test]
async fn two_relays_on_one_mongo_outbox_publish_each_entry_once_in_order() {
    let (_test, db) = mongo_database().await;
    let drafts: Vec<EventDraft> = (0..100).map(|n| draft(&format!("new-{n}"), n)).collect();
    let mut session = db.client().start_session().await.expect("session");
    session.start_transaction().await.expect("start");
    mongo_outbox::enqueue_first_events(&db, &mut session, "/test", drafts)
        .await
        .expect("bulk enqueue");
    for n in 0..50 {
        mongo_outbox::enqueue(
            &db,
            &mut session,
            "/test",
            draft(&format!("w-{}", n % 5), n),
        )
        .await
        .expect("enqueue");
    }
    session.commit_transaction().await.expect("commit");
    let publisher = RecordingPublisher::default();
    let (a, b) = (MongoOutbox::new(db.clone()), MongoOutbox::new(db.clone()));

    tokio::join!(
        relay_until_empty(&a, &publisher),
        relay_until_empty(&b, &publisher)
    );

    let published = publisher.published();
    assert_eq!(published.len(), 150, "each entry once");
    assert_in_order_per_subject(&published);
}

#[tokio::test]
async fn an_idle_postgres_relay_wakes_when_an_entry_commits_not_at_its_next_poll() {
    use emporium_kernel::events::outbox::{run_relay, RelaySettings};
    let (db, pool) = outbox_database().await;
    let publisher = RecordingPublisher::default();
    let shutdown = tokio_util::sync::CancellationToken::new();
    // A poll interval far longer than the test waits: only the waker's notification can
    // make the relay look before it.
    let settings = RelaySettings {
        poll_interval: Duration::from_secs(600),
        ..RelaySettings::default()
    };
    let relay = tokio::spawn(run_relay(
        "wake-test",
        PgOutbox::new(pool.clone(), "wake-test"),
        publisher.clone(),
        settings,
        shutdown.clone(),
    ));
    // Another process's producer: its own pool and waker on the same database.
    let producer = PgPool::connect(&db.url()).await.expect("connect");
    let waker = pg_outbox::OutboxWaker::new(producer.clone());
    for n in 0..3 {
        // Let the relay go idle (LISTENing) before each commit.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut tx = producer.begin().await.expect("begin");
        pg_outbox::enqueue(&mut tx, "/test", draft("w", n))
            .await
            .expect("enqueue");
        tx.commit().await.expect("commit");
        waker.wake();
        let deadline = Instant::now() + Duration::from_secs(60);
        while publisher.published().len() < n + 1 {
            assert!(
                Instant::now() < deadline,
                "entry {n} was not published before the relay's next poll"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    // A rolled-back entry publishes nothing, even when someone wakes the relay.
    let mut tx = producer.begin().await.expect("begin");
    pg_outbox::enqueue(&mut tx, "/test", draft("w", 99))
        .await
        .expect("enqueue");
    tx.rollback().await.expect("rollback");
    waker.wake();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(publisher.published().len(), 3);
    shutdown.cancel();
    relay.await.expect("relay stops");
}

/// Postgres serialises the commits of all transactions that `NOTIFY`, through their WAL
/// flush, so a producer's transaction must not: only the waker notifies, after the commit,
/// and a burst of wakes costs a notification or two, not one each.
#[tokio::test]
async fn producers_transactions_notify_nobody_and_a_burst_of_wakes_sends_few_notifications() {
    let (db, pool) = outbox_database().await;
    let mut listener = sqlx::postgres::PgListener::connect(&db.url())
        .await
        .expect("listen connection");
    listener
        .listen(pg_outbox::WAKE_CHANNEL)
        .await
        .expect("listen");

    for n in 0..20 {
        let mut tx = pool.begin().await.expect("begin");
        pg_outbox::enqueue(&mut tx, "/test", draft("quiet", n))
            .await
            .expect("enqueue");
        tx.commit().await.expect("commit");
    }
    let heard = tokio::time::timeout(Duration::from_millis(500), listener.recv()).await;
    assert!(
        heard.is_err(),
        "a producer's commit notified the relays: {heard:?}"
    );

    let waker = pg_outbox::OutboxWaker::new(pool.clone());
    for _ in 0..200 {
        waker.clone().wake();
    }
    listener
        .recv()
        .await
        .expect("the burst of wakes sends a notification");
    let mut notifications = 1;
    while tokio::time::timeout(Duration::from_millis(500), listener.recv())
        .await
        .is_ok()
    {
        notifications += 1;
    }
    // The first wake starts a send; the other 199 share the one slot behind it.
    assert!(
        notifications <= 2,
        "200 wakes sent {notifications} notifications"
    );
}

#[tokio::test]
async fn a_listening_relay_holds_no_connection_of_its_services_pool() {
    use emporium_kernel::events::outbox::{run_relay, RelaySettings};
    let (db, _setup) = outbox_database().await;
    // A service pool of one connection: if the LISTEN held it, nothing else could run.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .connect(&db.url())
        .await
        .expect("connect");
    let publisher = RecordingPublisher::default();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let relay = tokio::spawn(run_relay(
        "one-connection",
        PgOutbox::new(pool.clone(), "one-connection"),
        publisher.clone(),
        RelaySettings {
            poll_interval: Duration::from_secs(600),
            ..RelaySettings::default()
        },
        shutdown.clone(),
    ));
    // The relay goes idle and LISTENs.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut tx = pool
        .begin()
        .await
        .expect("the pool's one connection is free");
    pg_outbox::enqueue(&mut tx, "/test", draft("w", 1))
        .await
        .expect("enqueue");
    tx.commit().await.expect("commit");
    // The wake goes through the same one-connection pool.
    pg_outbox::OutboxWaker::new(pool.clone()).wake();
    let deadline = Instant::now() + Duration::from_secs(60);
    while publisher.published().is_empty() {
        assert!(Instant::now() < deadline, "the entry was not published");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shutdown.cancel();
    relay.await.expect("relay stops");
}

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

#[tokio::test]
async fn pruning_a_postgres_outbox_deletes_only_entries_published_before_the_retention() {
    let (_db, pool) = outbox_database().await;
    enqueue_each(&pool, "w-1", 6).await;
    let outbox = PgOutbox::new(pool.clone(), "widgets");
    let publisher = RecordingPublisher::default();
    assert_eq!(
        outbox.relay_batch(&publisher, 4).await.expect("relay"),
        RelayPass::Published(4)
    );
    // Three were published two days ago; every entry was created then, the unpublished too.
    sqlx::query("UPDATE outbox SET created_at = now() - interval '2 days'")
        .execute(&pool)
        .await
        .expect("age");
    sqlx::query(
        "UPDATE outbox SET published_at = now() - interval '2 days'
         WHERE position IN (SELECT position FROM outbox ORDER BY position LIMIT 3)",
    )
    .execute(&pool)
    .await
    .expect("age");

    assert_eq!(outbox.prune(DAY).await.expect("prune"), 3);
    assert_eq!(outbox.prune(DAY).await.expect("prune again"), 0);

    let left: Vec<(i64, bool)> =
        sqlx::query_as("SELECT position, published_at IS NOT NULL FROM outbox ORDER BY position")
            .fetch_all(&pool)
            .await
            .expect("left");
    assert_eq!(left, [(4, true), (5, false), (6, false)]);
    assert_eq!(
        outbox.relay_batch(&publisher, 10).await.expect("relay"),
        RelayPass::Published(2),
        "what was not published yet still goes out"
    );
    let numbers: Vec<_> = publisher
        .published()
        .iter()
        .map(|e| e.data["n"].clone())
        .collect();
    assert_eq!(numbers, [0, 1, 2, 3, 4, 5].map(|n| json!(n)));
}

/// Every entry of a MongoDB outbox in order: (id, published).
async fn mongo_entries(
    entries: &mongodb::Collection<mongodb::bson::Document>,
) -> Vec<(String, bool)> {
    let mut found = Vec::new();
    let mut cursor = entries
        .find(mongodb::bson::doc! {})
        .sort(mongodb::bson::doc! { "_id": 1 })
        .await
        .expect("find");
    while cursor.advance().await.expect("next") {
        let entry = cursor.current();
        found.push((
            entry.get_str("_id").expect("id").to_owned(),
            entry.get_bool("published").expect("published"),
        ));
    }
    found
}

#[tokio::test]
async fn pruning_a_mongo_outbox_deletes_only_entries_published_before_the_retention() {
    use mongodb::bson::{doc, Document};
    let (_test, db) = mongo_database().await;
    let mut session = db.client().start_session().await.expect("session");
    session.start_transaction().await.expect("start");
    for n in 0..6 {
        mongo_outbox::enqueue(&db, &mut session, "/test", draft("w-1", n))
            .await
            .expect("enqueue");
    }
    session.commit_transaction().await.expect("commit");
    let outbox = MongoOutbox::new(db.clone());
    let publisher = RecordingPublisher::default();
    assert_eq!(
        outbox.relay_batch(&publisher, 4).await.expect("relay"),
        RelayPass::Published(4)
    );
    let entries = db.collection::<Document>("outbox");
    let ids: Vec<String> = mongo_entries(&entries)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let two_days_ago = mongodb::bson::DateTime::from_millis(
        mongodb::bson::DateTime::now().timestamp_millis() - 2 * 24 * 60 * 60 * 1000,
    );
    entries
        .update_many(
            doc! { "_id": { "$in": &ids[..3] } },
            doc! { "$set": { "published_at": two_days_ago } },
        )
        .await
        .expect("age");
    entries
        .update_many(
            doc! { "published": false },
            doc! { "$set": { "created_at": two_days_ago } },
        )
        .await
        .expect("age");

    assert_eq!(outbox.prune(DAY).await.expect("prune"), 3);
    assert_eq!(outbox.prune(DAY).await.expect("prune again"), 0);

    assert_eq!(
        mongo_entries(&entries).await,
        [
            (ids[3].clone(), true),
            (ids[4].clone(), false),
            (ids[5].clone(), false)
        ]
    );
    assert_eq!(
        outbox.relay_batch(&publisher, 10).await.expect("relay"),
        RelayPass::Published(2)
    );
}
