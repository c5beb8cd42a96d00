//! Many replicas on one host: two `emporium serve <service>` processes of every subgraph and
//! two routers, all on the same stores (the test's own databases, vhost and Redis prefix).
//! Checkouts go through both routers at once and every effect happens once; a subscriber on
//! one router sees an order driven through the other; both search replicas index everything;
//! and killing one replica of every service (and its router) with SIGKILL in the middle of
//! checkouts loses nothing.
//!
//! The machine is small and shared, so the load is small (a few dozen checkouts) and every
//! wait polls for its condition with a generous deadline; nothing asserts on time.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use emporium_kernel::testing::TestStores;
use serde_json::{json, Value};

use crate::helpers::*;

/// How long any one condition is waited for.
const PATIENCE: Duration = Duration::from_secs(180);

/// One `emporium serve <service>` process.
struct Replica {
    service: &'static str,
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Replica {
    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn kill_hard(&mut self) {
        // SIGKILL: no drain, no lease released politely, unacknowledged messages in flight.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two sets of replicas (`a` and `b`) of every subgraph, each behind its own router.
struct Replicas {
    sets: [Vec<Replica>; 2],
    routers: Vec<Replica>,
    http: reqwest::Client,
    env: Vec<(&'static str, String)>,
    data_dir: PathBuf,
    inventory_db: String,
    orders_db: String,
    payments_db: String,
    _stores: TestStores,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn log_filter() -> String {
    std::env::var("TEST_LOG").unwrap_or_else(|_| "warn".to_owned())
}

impl Replicas {
    async fn start() -> Self {
        let stores = TestStores::create("replicas").await;
        let data_dir = stores.data_dir.clone();
        let mut env = stores.env();
        env.extend([
            ("EMPORIUM_ADMIN_EMAIL", ADMIN_EMAIL.to_owned()),
            ("EMPORIUM_ADMIN_PASSWORD", ADMIN_PASSWORD.to_owned()),
            ("EMPORIUM_SEED_DEMO_CATALOG", "false".to_owned()),
            ("EMPORIUM_RATE_LIMIT_CAPACITY", "100000000".to_owned()),
            (
                "EMPORIUM_RATE_LIMIT_RESTORE_PER_SEC",
                "100000000".to_owned(),
            ),
        ]);
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(REQUEST_TIMEOUT)
            .build()
            .expect("http client");
        let mut replicas = Self {
            sets: [Vec::new(), Vec::new()],
            routers: Vec::new(),
            http,
            env,
            inventory_db: stores.inventory.url(),
            orders_db: stores.orders.url(),
            payments_db: stores.payments.url(),
            data_dir,
            _stores: stores,
        };
        // One set after the other: the first generates the shared keys, the second reads them.
        for set in 0..2 {
            replicas.start_set(set).await;
        }
        for set in 0..2 {
            let router = replicas.spawn_router(set);
            replicas.routers.push(router);
        }
        for set in 0..2 {
            let url = replicas.router_url(set);
            replicas
                .wait_for(&format!("router {set} answers"), || {
                    let http = replicas.http.clone();
                    let url = url.clone();
                    async move {
                        http.post(&url)
                            .json(&json!({ "query": "{ __typename }" }))
                            .send()
                            .await
                            .is_ok_and(|r| r.status().is_success())
                    }
                })
                .await;
        }
        replicas
    }

    fn set_name(set: usize) -> &'static str {
        ["a", "b"][set]
    }

    /// Starts every subgraph of one set and waits until each is ready.
    async fn start_set(&mut self, set: usize) {
        let ports: Vec<(&'static str, u16)> =
            SUBGRAPHS.iter().map(|name| (*name, free_port())).collect();
        let name = Self::set_name(set);
        for (service, port) in &ports {
            let log = self.data_dir.join(format!("{service}-{name}.log"));
            let file = std::fs::File::create(&log).expect("log file");
            let child = Command::new(emporium_binary())
                .args(["serve", service])
                .current_dir(repo())
                .envs(self.env.iter().map(|(k, v)| (*k, v)))
                // The set's own ports: every peer URL (the JWKS, the payment token key) then
                // points into the same set, as a Service would point at some replica.
                .envs(ports.iter().map(|(service, port)| {
                    (
                        format!("EMPORIUM_{}_PORT", service.to_uppercase()),
                        port.to_string(),
                    )
                }))
                .env(
                    "EMPORIUM_SEARCH_INDEX_DIR",
                    self.data_dir.join(format!("search-index-{name}")),
                )
                .env("EMPORIUM_SEARCH_REPLICA_ID", format!("search-{name}"))
                .env("RUST_LOG", log_filter())
                .stdin(Stdio::null())
                .stdout(file.try_clone().expect("log file"))
                .stderr(file)
                .spawn()
                .expect("spawn emporium serve");
            self.sets[set].push(Replica {
                service,
                child,
                port: *port,
                log,
            });
        }
        for i in 0..self.sets[set].len() {
            let deadline = Instant::now() + PATIENCE;
            loop {
                let replica = &mut self.sets[set][i];
                if let Ok(Some(status)) = replica.child.try_wait() {
                    panic!(
                        "{} ({name}) exited while starting ({status}); its log:\n{}",
                        replica.service,
                        std::fs::read_to_string(&replica.log).unwrap_or_default()
                    );
                }
                let ready = self
                    .http
                    .get(format!("{}/ready", replica.base()))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if ready {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{} ({name}) was not ready within {PATIENCE:?}; its log:\n{}",
                    replica.service,
                    std::fs::read_to_string(&replica.log).unwrap_or_default()
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }

    fn spawn_router(&self, set: usize) -> Replica {
        let port = free_port();
        let name = Self::set_name(set);
        let work_dir = self.data_dir.join(format!("router-{name}"));
        std::fs::create_dir_all(&work_dir).expect("router dir");
        let log = work_dir.join("router.log");
        let file = std::fs::File::create(&log).expect("log file");
        let mut command = Command::new(emporium_binary());
        command
            .args(["serve", "router"])
            .current_dir(repo())
            .envs(self.env.iter().map(|(k, v)| (*k, v)))
            .env("EMPORIUM_DATA_DIR", &work_dir)
            .env("EMPORIUM_ROUTER_PORT", port.to_string())
            .env("EMPORIUM_SUPERGRAPH", repo().join("schema.graphql"))
            .env("EMPORIUM_STOREFRONT_DIR", "off")
            .env("RUST_LOG", log_filter());
        for replica in &self.sets[set] {
            command.env(
                format!("EMPORIUM_{}_URL", replica.service.to_uppercase()),
                replica.base(),
            );
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file)
            .spawn()
            .expect("spawn emporium serve router");
        Replica {
            service: "router",
            child,
            port,
            log,
        }
    }

    fn router_url(&self, set: usize) -> String {
        format!("{}/graphql", self.routers[set].base())
    }

    fn replica(&self, set: usize, service: &str) -> &Replica {
        self.sets[set]
            .iter()
            .find(|r| r.service == service)
            .unwrap_or_else(|| panic!("no {service} in set {set}"))
    }

    /// The process ids of one set (one replica of every subgraph) and of its router.
    fn pids_of_set(&self, set: usize) -> Vec<u32> {
        self.sets[set]
            .iter()
            .chain(&self.routers[set..=set])
            .map(|r| r.child.id())
            .collect()
    }

    async fn wait_for<F, Fut>(&self, what: &str, check: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + PATIENCE;
        while !check().await {
            assert!(Instant::now() < deadline, "waited {PATIENCE:?} for: {what}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// GraphQL through `url`: a router, or a replica reached directly.
    fn at<'a>(&'a self, url: &'a str) -> Endpoint<'a> {
        Endpoint {
            http: &self.http,
            url,
        }
    }

    /// Adds to the cart once the orders service has seen the product.
    async fn add_to_cart(&self, router: &str, session: &Session, product: &str, quantity: i64) {
        let wait = Wait {
            timeout: PATIENCE,
            every: Duration::from_millis(100),
        };
        let router = self.at(router);
        add_line_within(&router, session, "productId", product, quantity, wait).await;
    }

    /// Checks out; the new order's id.
    async fn checkout(&self, router: &str, session: &Session) -> String {
        let mutation = "mutation($input: CheckoutInput!) { checkout(input: $input) { order { id } userErrors { code message } } }";
        let key = uuid::Uuid::new_v4().to_string();
        let input = json!({ "shippingAddress": address(), "paymentToken": "tok_visa", "idempotencyKey": key });
        let body = self
            .at(router)
            .gql(mutation, json!({ "input": input }), session.token())
            .await;
        body["data"]["checkout"]["order"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("checkout: {body}"))
            .to_owned()
    }

    async fn order(&self, router: &str, session: &Session, id: &str) -> Value {
        let query = "query($id: ID!) { order(id: $id) { id status statusReason payment { status } history { status } } }";
        let data = self
            .at(router)
            .data(query, json!({ "id": id }), session.token())
            .await;
        data["order"].clone()
    }

    /// Polls the order (through `router`) until it left PENDING.
    async fn settled(&self, router: &str, session: &Session, id: &str) -> Value {
        let wait = Wait {
            timeout: PATIENCE,
            every: Duration::from_millis(250),
        };
        let stayed = format!("order {id} stayed PENDING");
        let order = || self.order(router, session, id);
        poll_until(&stayed, wait, order, |o| o["status"] != "PENDING").await
    }

    async fn stock(&self, router: &str, product: &str) -> Value {
        let query = "query($id: ID!) { product(id: $id) { stock { onHand reserved } } }";
        let body = self
            .at(router)
            .gql(query, json!({ "id": product }), None)
            .await;
        body["data"]["product"]["stock"].clone()
    }

    async fn notifications(&self, router: &str, session: &Session) -> Vec<(String, Value)> {
        let query = "{ notifications(first: 50) { nodes { kind orderId } } }";
        let data = self
            .at(router)
            .data(query, json!({}), session.token())
            .await;
        data["notifications"]["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|n| {
                (
                    n["kind"].as_str().unwrap_or_default().to_owned(),
                    n["orderId"].clone(),
                )
            })
            .collect()
    }

    /// `emporium <args>` against the shared stores.
    async fn emporium(&self, args: &[&str]) -> std::process::Output {
        let mut command = Command::new(emporium_binary());
        command
            .args(args)
            .current_dir(repo())
            .envs(self.env.iter().map(|(k, v)| (*k, v)))
            .env("RUST_LOG", "warn");
        tokio::task::spawn_blocking(move || command.output().expect("emporium runs"))
            .await
            .expect("emporium command")
    }

    fn logs(&self) -> String {
        let mut out = String::new();
        for replica in self.sets.iter().flatten().chain(&self.routers) {
            let log = std::fs::read_to_string(&replica.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            out.push_str(&format!(
                "--- {} ({}) ---\n",
                replica.service,
                replica.log.display()
            ));
            for line in tail.into_iter().rev() {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }
}

impl Drop for Replicas {
    fn drop(&mut self) {
        for replica in self
            .sets
            .iter_mut()
            .flatten()
            .chain(self.routers.iter_mut())
        {
            replica.kill_hard();
        }
        if std::thread::panicking() {
            eprintln!("--- replica logs ---\n{}", self.logs());
        }
    }
}

async fn pool(url: &str) -> sqlx::PgPool {
    sqlx::PgPool::connect(url).await.expect("connect")
}

/// Every effect of these orders happened once: the order settled once (its history), the
/// payment was decided once, every stock movement of an order is one row and every order has
/// one reservation outcome, each notification came once, and Redis agrees with the ledger.
async fn assert_effects_once(
    replicas: &Replicas,
    router: &str,
    orders: &[(Session, String)],
) -> usize {
    let mut confirmed = 0;
    for (session, id) in orders {
        let order = replicas.settled(router, session, id).await;
        let history: Vec<&str> = order["history"]
            .as_array()
            .expect("history")
            .iter()
            .map(|h| h["status"].as_str().unwrap_or_default())
            .collect();
        match order["status"].as_str() {
            Some("CONFIRMED") => {
                confirmed += 1;
                assert_eq!(history, ["PENDING", "CONFIRMED"], "{order}");
                assert_eq!(order["payment"]["status"], "AUTHORIZED", "{order}");
            }
            Some("REJECTED") => {
                assert_eq!(history, ["PENDING", "REJECTED"], "{order}");
                assert_eq!(order["statusReason"], "OUT_OF_STOCK", "{order}");
            }
            _ => panic!("unexpected settlement: {order}"),
        }
    }
    let ids: Vec<String> = orders.iter().map(|(_, id)| id.clone()).collect();

    let inventory = pool(&replicas.inventory_db).await;
    let repeated: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT order_id, product_id, kind, count(*) FROM stock_movements
         WHERE order_id = ANY($1) GROUP BY 1, 2, 3 HAVING count(*) > 1",
    )
    .bind(&ids)
    .fetch_all(&inventory)
    .await
    .expect("movements");
    assert_eq!(repeated, [], "stock movements recorded twice");
    let reservations: i64 =
        sqlx::query_scalar("SELECT count(*) FROM reservations WHERE order_id = ANY($1)")
            .bind(&ids)
            .fetch_one(&inventory)
            .await
            .expect("reservations");
    assert_eq!(
        reservations as usize,
        ids.len(),
        "one reservation outcome per order"
    );
    let settled_twice: Vec<(uuid::Uuid, i64)> = sqlx::query_as(
        "SELECT order_id, count(*) FROM order_history
         WHERE order_id::text = ANY($1) AND status IN ('CONFIRMED', 'REJECTED')
         GROUP BY 1 HAVING count(*) <> 1",
    )
    .bind(&ids)
    .fetch_all(&pool(&replicas.orders_db).await)
    .await
    .expect("order history");
    assert_eq!(settled_twice, [], "orders settled more than once");
    let payments = pool(&replicas.payments_db).await;
    let authorized: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM payments WHERE order_id = ANY($1) AND status = 'AUTHORIZED'",
    )
    .bind(&ids)
    .fetch_one(&payments)
    .await
    .expect("payments");
    assert_eq!(
        authorized as usize, confirmed,
        "one authorization per confirmed order"
    );

    // Notifications: one per (kind, order) for each customer, and each order's arrives.
    for (session, id) in orders {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let feed = replicas.notifications(router, session).await;
            let mut seen = std::collections::BTreeSet::new();
            for (kind, order) in &feed {
                assert!(
                    seen.insert((kind.clone(), order.to_string())),
                    "notification {kind} of {order} twice: {feed:?}"
                );
            }
            let arrived = feed.iter().any(|(kind, order)| {
                order == id.as_str() && (kind == "ORDER_CONFIRMED" || kind == "ORDER_REJECTED")
            });
            if arrived {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "order {id}'s notification never came: {feed:?}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    let reconcile = replicas.emporium(&["inventory", "reconcile"]).await;
    assert!(
        reconcile.status.success(),
        "reconcile: {}{}",
        String::from_utf8_lossy(&reconcile.stdout),
        String::from_utf8_lossy(&reconcile.stderr)
    );
    assert!(String::from_utf8_lossy(&reconcile.stdout).contains("no drift"));
    confirmed
}

/// Places one order per customer at once, the customers' routers given; their ids.
async fn checkouts(
    replicas: &Replicas,
    customers: &[(String, Session)],
    placed: &AtomicUsize,
) -> Vec<(Session, String)> {
    let tasks = customers.iter().map(|(router, session)| async move {
        let id = replicas.checkout(router, session).await;
        placed.fetch_add(1, Ordering::SeqCst);
        (session.clone(), id)
    });
    futures::future::join_all(tasks).await
}

type Socket = WsSocket;

/// A graphql-transport-ws subscription of one order's status on a router.
async fn status_feed(router: &str, session: &Session, order_id: &str) -> Socket {
    let subscription = "subscription($id: ID!) { orderStatusChanged(orderId: $id) { orderId status previousStatus } }";
    subscribe(router, session, subscription, json!({ "id": order_id })).await
}

/// The statuses the subscription reports until it completes.
async fn statuses_until_complete(socket: &mut Socket) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let message = next_message(socket, PATIENCE).await;
        match message["type"].as_str() {
            Some("next") => {
                assert!(message["payload"]["errors"].is_null(), "{message}");
                let status = &message["payload"]["data"]["orderStatusChanged"]["status"];
                seen.push(status.as_str().unwrap_or_default().to_owned());
            }
            Some("complete") => return seen,
            _ => panic!("unexpected message: {message}"),
        }
    }
}

/// The ids a search replica answers for `word`, asked directly (not through a router).
async fn search_ids(replicas: &Replicas, set: usize, word: &str) -> Vec<String> {
    let url = format!("{}/graphql", replicas.replica(set, "search").base());
    let query =
        "query($q: String!) { search(query: $q, first: 50) { edges { node { product { id } } } } }";
    let data = replicas
        .at(&url)
        .data(query, json!({ "q": word }), None)
        .await;
    let mut ids: Vec<String> = data["search"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .filter_map(|e| e["node"]["product"]["id"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_of_every_service_behind_two_routers_do_everything_once() {
    let replicas = Replicas::start().await;
    let routers = [replicas.router_url(0), replicas.router_url(1)];
    let admin = replicas.at(&routers[0]).admin().await;

    // Checkouts through both routers at once: 20 customers want one of 10 scarce units.
    const CUSTOMERS: usize = 20;
    const SCARCE: i64 = 10;
    let scarce = new_product(&replicas.at(&routers[0]), &admin, priced("5.00", SCARCE)).await;
    let plenty = new_product(&replicas.at(&routers[1]), &admin, priced("2.00", 1000)).await;
    let mut customers = Vec::new();
    for n in 0..CUSTOMERS {
        let router = routers[n % 2].clone();
        let session = replicas.at(&router).customer().await;
        replicas.add_to_cart(&router, &session, &scarce, 1).await;
        replicas.add_to_cart(&router, &session, &plenty, 2).await;
        customers.push((router, session));
    }
    let placed = AtomicUsize::new(0);
    let wave = checkouts(&replicas, &customers, &placed).await;
    // Read back through the other router than the one each order came through.
    let confirmed = assert_effects_once(&replicas, &routers[1], &wave).await;
    assert_eq!(confirmed as i64, SCARCE, "exactly the units there were");
    assert_eq!(
        replicas.stock(&routers[0], &scarce).await,
        json!({ "onHand": SCARCE, "reserved": SCARCE })
    );
    assert_eq!(
        replicas.stock(&routers[1], &plenty).await,
        json!({ "onHand": 1000, "reserved": 2 * SCARCE })
    );

    // A subscriber on router A sees every change of an order driven through router B.
    let watcher = replicas.at(&routers[1]).customer().await;
    replicas
        .add_to_cart(&routers[1], &watcher, &plenty, 1)
        .await;
    let watched = replicas.checkout(&routers[1], &watcher).await;
    let mut feed = status_feed(&routers[0], &watcher, &watched).await;
    let settled = replicas.settled(&routers[1], &watcher, &watched).await;
    assert_eq!(settled["status"], "CONFIRMED", "{settled}");
    for mutation in ["shipOrder", "deliverOrder"] {
        let moved = transition(&replicas.at(&routers[1]), &admin, mutation, &watched).await;
        assert_eq!(moved["userErrors"], json!([]), "{mutation}: {moved}");
    }
    let seen = statuses_until_complete(&mut feed).await;
    let mut changes: Vec<&str> = seen.iter().map(String::as_str).collect();
    // The feed opens with the status current when it subscribed (PENDING or CONFIRMED).
    if changes.first() == Some(&"PENDING") {
        changes.remove(0);
    }
    assert_eq!(changes, ["CONFIRMED", "SHIPPED", "DELIVERED"], "{seen:?}");

    // A burst of catalogue writes through both routers: both search replicas index it all.
    let word = format!(
        "replicaword{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let mut burst = Vec::new();
    for n in 0..8 {
        let router = &routers[n % 2];
        burst.push(
            new_product(
                &replicas.at(router),
                &admin,
                json!({ "name": format!("Lamp {word} {n}") }),
            )
            .await,
        );
    }
    for (n, id) in burst.iter().enumerate().take(3) {
        let router = replicas.at(&routers[(n + 1) % 2]);
        update_product(&router, &admin, id, json!({ "name": format!("Chair {n}") })).await;
    }
    let mut expected: Vec<String> = burst[3..].to_vec();
    expected.sort();
    for set in 0..2 {
        let wanted = expected.clone();
        replicas
            .wait_for(&format!("search replica {set} indexes the burst"), || {
                let wanted = wanted.clone();
                let replicas = &replicas;
                let word = word.clone();
                async move { search_ids(replicas, set, &word).await == wanted }
            })
            .await;
    }
    assert_eq!(
        search_ids(&replicas, 0, &word).await,
        search_ids(&replicas, 1, &word).await
    );

    // Set A, started first and so most likely holding the products relay's lease, dies with
    // SIGKILL in the middle of checkouts through router B: nothing is lost.
    const SECOND: i64 = 6;
    let survivor = &routers[1];
    let second = new_product(&replicas.at(survivor), &admin, priced("3.00", SECOND)).await;
    let mut late = Vec::new();
    for _ in 0..12 {
        let session = replicas.at(survivor).customer().await;
        replicas.add_to_cart(survivor, &session, &second, 1).await;
        replicas.add_to_cart(survivor, &session, &plenty, 1).await;
        late.push((survivor.clone(), session));
    }
    let victims = replicas.pids_of_set(0);
    let placed = AtomicUsize::new(0);
    let kill_after = late.len() / 3;
    let killer = async {
        while placed.load(Ordering::SeqCst) < kill_after {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // SIGKILL: no drain, no lease given back, deliveries unacknowledged, transactions cut
        // off. The kill lands while the sagas of most of these orders are still running.
        for pid in &victims {
            let killed = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status()
                .expect("kill runs");
            assert!(killed.success(), "SIGKILL to {pid}");
        }
        // For the log of a run: how much of the load the kill cut into.
        let pending: i64 =
            sqlx::query_scalar("SELECT count(*) FROM orders WHERE status = 'PENDING'")
                .fetch_one(&pool(&replicas.orders_db).await)
                .await
                .expect("orders");
        eprintln!("killed set A with {pending} orders still PENDING");
    };
    let (wave, ()) = tokio::join!(checkouts(&replicas, &late, &placed), killer);
    let confirmed = assert_effects_once(&replicas, survivor, &wave).await;
    assert_eq!(confirmed as i64, SECOND, "exactly the units there were");
    assert_eq!(
        replicas.stock(survivor, &second).await,
        json!({ "onHand": SECOND, "reserved": SECOND })
    );

    // Every `order.placed` so far reached each consumer group exactly once: the inventory's
    // inbox has one row per event, and payments (idempotent by its state) one row per order.
    let total = CUSTOMERS + 1 + late.len();
    let handled: i64 =
        sqlx::query_scalar("SELECT count(*) FROM inbox WHERE consumer = 'inventory.order-placed'")
            .fetch_one(&pool(&replicas.inventory_db).await)
            .await
            .expect("inbox");
    assert_eq!(
        handled as usize, total,
        "inventory handled each order.placed once"
    );
    let payments: i64 = sqlx::query_scalar("SELECT count(*) FROM payments")
        .fetch_one(&pool(&replicas.payments_db).await)
        .await
        .expect("payments");
    assert_eq!(payments as usize, total, "one payment per order");

    // The survivors' relays publish what is written now, the products relay once the dead
    // holder's lease ran out: a new product reaches the orders' catalogue and the search index.
    let after = new_product(
        &replicas.at(survivor),
        &admin,
        json!({ "name": format!("Desk {word}"), "initialStock": 1 }),
    )
    .await;
    let buyer = replicas.at(survivor).customer().await;
    replicas.add_to_cart(survivor, &buyer, &after, 1).await;
    let mut wanted = expected.clone();
    wanted.push(after);
    wanted.sort();
    replicas
        .wait_for(
            "the surviving search replica indexes a product made after the kill",
            || {
                let wanted = wanted.clone();
                let replicas = &replicas;
                let word = word.clone();
                async move { search_ids(replicas, 1, &word).await == wanted }
            },
        )
        .await;
}
