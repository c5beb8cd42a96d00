//! The budget's tests: lease arithmetic without Redis, and the store against a real Redis.

use super::*;

/// 1,000 points refilled at 1 a second: leases of 100, and a refill slow enough that a
/// test can tell a returned lease from it.
const BUCKET: Bucket = Bucket {
    capacity: 1_000,
    restore_per_second: 1,
};

/// A million points at 1 a second: leases of [`LARGEST_LEASE`].
const BIG: Bucket = Bucket {
    capacity: 1_000_000,
    restore_per_second: 1,
};

fn limits(ttl: Duration, max_clients: usize) -> LeaseLimits {
    LeaseLimits { ttl, max_clients }
}

// The lease arithmetic, without Redis.

#[test]
fn a_fresh_lease_pays_until_it_runs_short_then_goes_towards_the_ask() {
    let mut leases = Leases::new(limits(Duration::from_secs(60), 10));
    let now = Instant::now();
    assert_eq!(
        leases.spend("c", BUCKET, 21, now),
        Local::Ask {
            kept: 0,
            returned: 0
        }
    );
    // Redis granted 21 + 100 and holds 879.
    let (left, handbacks) = leases.record_answer("c", BUCKET, 100, 879, now);
    assert_eq!((left, handbacks), (979, vec![]));
    assert_eq!(
        leases.spend("c", BUCKET, 60, now),
        Local::Paid { left: 919 }
    );
    assert_eq!(
        leases.spend("c", BUCKET, 40, now),
        Local::Paid { left: 879 }
    );
    assert_eq!(
        leases.spend("c", BUCKET, 1, now),
        Local::Ask {
            kept: 0,
            returned: 0
        }
    );
    leases.record_answer("c", BUCKET, 100, 778, now);
    assert_eq!(
        leases.spend("c", BUCKET, 150, now),
        Local::Ask {
            kept: 100,
            returned: 0
        }
    );
    assert_eq!(leases.by_client["c"].points, 0, "withdrawn for the ask");
}

#[test]
fn a_stale_lease_or_one_of_another_bucket_goes_back_with_the_next_ask() {
    let ttl = Duration::from_secs(1);
    let mut leases = Leases::new(limits(ttl, 10));
    let then = Instant::now();
    leases.record_answer("c", BUCKET, 100, 879, then);
    assert_eq!(
        leases.spend("c", BUCKET, 1, then + ttl),
        Local::Ask {
            kept: 0,
            returned: 100
        }
    );
    leases.record_answer("c", BUCKET, 100, 879, then);
    let admin = Bucket {
        capacity: 4_000,
        restore_per_second: 4,
    };
    assert_eq!(
        leases.spend("c", admin, 1, then),
        Local::Ask {
            kept: 0,
            returned: 100
        }
    );
}

#[test]
fn refunds_fill_the_lease_and_only_what_it_cannot_hold_goes_back() {
    let mut leases = Leases::new(limits(Duration::from_secs(60), 10));
    let now = Instant::now();
    leases.record_answer("c", BUCKET, 30, 500, now);
    assert_eq!(leases.refund("c", BUCKET, 70), None);
    assert_eq!(leases.by_client["c"].points, 100);
    assert_eq!(
        leases.refund("c", BUCKET, 25),
        Some(Handback {
            client: "c".into(),
            bucket: BUCKET,
            points: 25
        })
    );
    assert_eq!(
        leases.by_client["c"].points, 100,
        "a lease never outgrows its size"
    );
    // A client not tracked (evicted meanwhile) gets its refund in Redis.
    assert_eq!(
        leases.refund("gone", BUCKET, 5),
        Some(Handback {
            client: "gone".into(),
            bucket: BUCKET,
            points: 5
        })
    );
    // Concurrent grants past the size are cut down too.
    let (_, handbacks) = leases.record_answer("c", BUCKET, 100, 400, now);
    assert_eq!(
        handbacks,
        vec![Handback {
            client: "c".into(),
            bucket: BUCKET,
            points: 100
        }]
    );
}

#[test]
fn tracked_clients_stay_within_the_limit_and_evicted_leases_go_back() {
    let mut leases = Leases::new(limits(Duration::from_secs(60), 8));
    let now = Instant::now();
    let mut handed_back = 0;
    for i in 0..1_000 {
        let (_, handbacks) = leases.record_answer(&format!("c{i}"), BUCKET, 7, 900, now);
        assert!(
            leases.by_client.len() <= 8,
            "{} tracked",
            leases.by_client.len()
        );
        handed_back += handbacks.iter().map(|h| h.points).sum::<u64>();
        // The most recently seen client is never the one evicted.
        leases.spend("c0", BUCKET, 0, now);
    }
    let held: u64 = leases.by_client.values().map(|l| l.points).sum();
    assert_eq!(
        handed_back + held,
        7 * 1_000,
        "every evicted lease goes back"
    );
    assert!(
        leases.by_client.contains_key("c0"),
        "the busiest client stays"
    );
    assert!(leases.by_client.contains_key("c999"));
}

#[test]
fn a_small_bucket_gets_no_lease_and_a_large_one_a_bounded_lease() {
    let bucket = |capacity| Bucket {
        capacity,
        restore_per_second: 1,
    };
    assert_eq!(lease_size(bucket(9)), 0);
    assert_eq!(lease_size(bucket(100)), 10);
    assert_eq!(lease_size(bucket(5_000)), 500);
    assert_eq!(lease_size(bucket(1_000_000_000)), LARGEST_LEASE);
}

// Against the local Redis.

/// A key prefix of its own on the local Redis (`EMPORIUM_TEST_REDIS_URL`, by default
/// 127.0.0.1:6379); its keys are deleted on drop.
struct TestRedis {
    url: String,
    prefix: String,
}

impl TestRedis {
    fn new() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let url = std::env::var("EMPORIUM_TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
        let prefix = format!(
            "emporium-test-budget:{}-{}-{}:",
            std::process::id(),
            now_ms(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        Self { url, prefix }
    }

    fn store(&self, limits: LeaseLimits) -> BudgetStore {
        BudgetStore::with_limits(&self.url.clone().into(), self.prefix.clone(), limits)
            .expect("a store")
    }

    fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url.as_str())
            .and_then(|client| client.get_connection())
            .expect("the local Redis")
    }

    /// The bucket's stored points and the time of its last script call.
    fn bucket(&self, client: &str) -> (f64, String) {
        let (points, at): (Option<f64>, Option<String>) = redis::cmd("HMGET")
            .arg(format!("{}{client}", self.prefix))
            .arg("points")
            .arg("at")
            .query(&mut self.connection())
            .expect("HMGET");
        (points.expect("a bucket"), at.expect("a bucket"))
    }

    fn delete(&self, client: &str) {
        let _: () = redis::cmd("DEL")
            .arg(format!("{}{client}", self.prefix))
            .query(&mut self.connection())
            .expect("DEL");
    }

    /// Waits until the bucket holds at least `points` (a return landed).
    fn wait_for(&self, client: &str, points: f64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (held, _) = self.bucket(client);
            if held >= points {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{client}'s bucket holds {held}, never {points}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let mut connection = self.connection();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", self.prefix))
            .query(&mut connection)
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: redis::RedisResult<()> = redis::cmd("DEL").arg(keys).query(&mut connection);
        }
    }
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(future)
}

/// Asserts `actual` is `expected` plus at most the refill since `since` (1 point a second).
fn assert_near(actual: u64, expected: u64, since: Instant, what: &str) {
    let refill = since.elapsed().as_secs() + 1;
    assert!(
        (expected..=expected + refill).contains(&actual),
        "{what}: {actual}, expected {expected} (+ up to {refill} refilled)"
    );
}

fn taken(take: Take) -> u64 {
    match take {
        Take::Taken { left } => left,
        other => panic!("expected the cost taken, got {other:?}"),
    }
}

#[test]
fn leases_are_spent_locally_refunded_locally_and_shrink_to_the_cost_near_the_end() {
    let redis = TestRedis::new();
    let store = redis.store(limits(Duration::from_secs(60), 10));
    let started = Instant::now();
    block_on(async {
        // 21 and a lease of 100 from Redis.
        assert_near(
            taken(store.take("c", BUCKET, 21).await),
            979,
            started,
            "left",
        );
        let (points, at) = redis.bucket("c");
        assert_near(points as u64, 879, started, "Redis");

        // Paid by the lease and refunded to it: Redis is not called.
        assert_near(
            taken(store.take("c", BUCKET, 5).await),
            974,
            started,
            "left",
        );
        store.give_back("c", BUCKET, 3);
        assert_eq!(redis.bucket("c"), (points, at), "no script call");

        // 98 in the lease: Redis gives the other 22 and a new lease of 100.
        assert_near(
            taken(store.take("c", BUCKET, 120).await),
            857,
            started,
            "left",
        );
        assert_near(redis.bucket("c").0 as u64, 757, started, "Redis");

        // A refund the lease cannot hold goes to Redis.
        store.give_back("c", BUCKET, 50);
        redis.wait_for("c", 807.0);

        // Near the end: Redis holds about 807. 650 + a lease of 100 fit...
        assert_near(
            taken(store.take("c", BUCKET, 750).await),
            157,
            started,
            "left",
        );
        // ...but of about 57, only the 50 this operation needs (and no lease) ...
        let left = taken(store.take("c", BUCKET, 150).await);
        assert_near(left, 7, started, "left");
        assert_eq!(
            store.shared.leases.lock().expect("lock").by_client["c"].points,
            0
        );
        // ... and the next operation is answered exactly by Redis.
        match store.take("c", BUCKET, 40).await {
            Take::Refused { left, retry_after } => {
                assert!(left < 40, "{left}");
                let wait = retry_after.as_secs_f64();
                let missing = (40 - left) as f64;
                assert!(
                    missing - 1.0 <= wait && wait <= missing,
                    "{retry_after:?} for {missing} missing points at 1 a second"
                );
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    });
}

#[test]
fn two_stores_sharing_one_redis_overspend_by_at_most_one_lease_each() {
    let redis = TestRedis::new();
    let stores = [
        Arc::new(redis.store(limits(Duration::from_secs(60), 10))),
        Arc::new(redis.store(limits(Duration::from_secs(60), 10))),
    ];
    let lease = lease_size(BUCKET);
    block_on(async {
        // Each store holds a whole lease; then the bucket is full again (as after a long
        // pause): the worst case, capacity + 2 leases at hand.
        for store in &stores {
            taken(store.take("c", BUCKET, 1).await);
        }
        redis.delete("c");
        let started = Instant::now();
        let spent = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for (s, store) in stores.iter().enumerate() {
            for t in 0..8u64 {
                let (store, spent) = (store.clone(), spent.clone());
                tasks.push(tokio::spawn(async move {
                    for n in 0u64.. {
                        let cost = 1 + (n + t + s as u64) % 7;
                        match store.take("c", BUCKET, cost).await {
                            Take::Taken { .. } => {
                                // Every third operation costs half its estimate.
                                let unspent = if n % 3 == 0 { cost / 2 } else { 0 };
                                spent.fetch_add(cost - unspent, Ordering::SeqCst);
                                store.give_back("c", BUCKET, unspent);
                            }
                            Take::Refused { .. } => return,
                            Take::Unavailable => {
                                panic!("Redis did not answer within {REDIS_DEADLINE:?}")
                            }
                        }
                    }
                }));
            }
        }
        for task in tasks {
            task.await.expect("a task");
        }
        let spent = spent.load(Ordering::SeqCst);
        let refill = started.elapsed().as_secs() + 1;
        assert!(
            spent <= BUCKET.capacity + 2 * lease + refill,
            "spent {spent} of a budget of {} with two leases of {lease}",
            BUCKET.capacity
        );
        // Nothing was lost or invented: once both stores returned their leases, Redis
        // holds what was not spent.
        for store in &stores {
            store.return_leases().await;
        }
        let total = (BUCKET.capacity + 2 * lease) as f64;
        redis.wait_for("c", total - spent as f64);
        let held = redis.bucket("c").0 as u64;
        assert!(
            spent + held <= BUCKET.capacity + 2 * lease + refill,
            "spent {spent} and {held} in Redis"
        );
    });
}

#[test]
fn quiet_clients_leases_are_swept_back_to_redis() {
    let redis = TestRedis::new();
    let store = redis.store(limits(Duration::from_secs(2), 10));
    block_on(async {
        taken(store.take("c", BIG, 1).await);
    });
    let held = store.shared.leases.lock().expect("lock").by_client["c"].points;
    assert_eq!(held, LARGEST_LEASE, "a lease was taken");
    // The refill alone would take 500 s to give this back.
    redis.wait_for("c", 999_999.0);
    assert_eq!(store.tracked_clients(), 0);
}

#[test]
fn a_store_tracks_at_most_max_clients_and_hands_evicted_leases_back() {
    let redis = TestRedis::new();
    let store = redis.store(limits(Duration::from_secs(600), 8));
    block_on(async {
        for i in 0..40 {
            taken(store.take(&format!("c{i}"), BIG, 1).await);
            assert!(store.tracked_clients() <= 8, "{}", store.tracked_clients());
        }
    });
    // c0 was evicted long ago; its lease of 500 went back (the refill would take 500 s).
    redis.wait_for("c0", 999_999.0);
}
