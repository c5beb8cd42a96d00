//! The inventory against the real Redis and Postgres: concurrency, all-or-nothing orders,
//! a Redis that loses everything, and events that arrive twice. The tests written with
//! [`on_both_redis_modes!`] run twice: on one Redis server and on a Redis Cluster.

/// Runs a test body (given a [`Fixture`]) twice: `single_server` on the local Redis and
/// `cluster` on a Redis Cluster of three masters of its own.
macro_rules! on_both_redis_modes {
    (async fn $name:ident($fixture:ident: Fixture) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($fixture: Fixture) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn single_server() {
                run(Fixture::with(crate::Mode::Single).await).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn cluster() {
                run(Fixture::with(crate::Mode::Cluster).await).await
            }
        }
    };
}

mod orders;
mod recovery;
mod stock;
mod variants;

use chrono::Utc;
use emporium_inventory::domain::{normalise_lines, Line, Settlement, StockLevel};
use emporium_inventory::events::{ORDER_PLACED_QUEUE, ORDER_UPDATES_QUEUE};
use emporium_inventory::hot::RedisNodes;
use emporium_inventory::service::OrderOutcome;
use emporium_inventory::{HotStock, Inventory};
use emporium_kernel::events::contract::inventory::ReleaseReason;
use emporium_kernel::events::contract::orders::{OrderPlaced, OrderedItem};
use emporium_kernel::events::contract::products::{Price, ProductCreated, ProductSnapshot};
use emporium_kernel::events::{Envelope, EventDraft};
use emporium_kernel::ids::{OrderId, VariantId};
use emporium_kernel::testing::{TestPostgres, TestRedis, TestRedisCluster};
use emporium_kernel::trace::TraceContext;
use serde_json::json;

/// Where a fixture keeps its hot counts.
#[derive(Debug, Clone, Copy)]
pub enum Mode {
    /// The local Redis server, under a key prefix of its own (the default mode).
    Single,
    /// A Redis Cluster of three masters of its own.
    Cluster,
}

/// The test's Redis: a prefix on the shared server, or a cluster of its own.
pub enum TestHotRedis {
    Single(TestRedis),
    Cluster(TestRedisCluster),
}

impl TestHotRedis {
    /// Loses every count, as a Redis restarted without persistence does.
    pub fn flush(&self) {
        match self {
            Self::Single(redis) => redis.flush(),
            Self::Cluster(cluster) => cluster.flush(),
        }
    }
}

/// An inventory on its own Postgres database and Redis key prefix (or Redis Cluster).
pub struct Fixture {
    pub inventory: Inventory,
    pub redis: TestHotRedis,
    _postgres: TestPostgres,
}

impl Fixture {
    pub async fn new() -> Self {
        Self::with(Mode::Single).await
    }

    pub async fn with(mode: Mode) -> Self {
        let (postgres, pool) = TestPostgres::migrated(&emporium_inventory::MIGRATOR).await;
        let (redis, nodes, prefix) = match mode {
            Mode::Single => {
                let redis = TestRedis::create();
                let nodes = RedisNodes::Single(redis.url().to_owned());
                let prefix = redis.prefix().to_owned();
                (TestHotRedis::Single(redis), nodes, prefix)
            }
            Mode::Cluster => {
                let cluster = tokio::task::spawn_blocking(TestRedisCluster::start)
                    .await
                    .expect("start a Redis Cluster");
                let nodes = RedisNodes::Cluster(cluster.urls());
                let prefix = cluster.prefix().to_owned();
                (TestHotRedis::Cluster(cluster), nodes, prefix)
            }
        };
        let hot = HotStock::connect_to(&nodes, &prefix)
            .await
            .expect("connect to Redis");
        let inventory = Inventory::new(pool, hot);
        inventory.rebuild().await.expect("initial load");
        Self {
            inventory,
            redis,
            _postgres: postgres,
        }
    }

    pub async fn set(&self, product_id: &str, on_hand: i32) {
        let outcome = self
            .inventory
            .set_stock(&stock_id(product_id), on_hand, &TraceContext::new_root())
            .await
            .expect("set stock");
        assert!(
            matches!(
                outcome,
                emporium_inventory::service::SetStockOutcome::Set(_)
            ),
            "{outcome:?}"
        );
    }

    pub async fn level(&self, product_id: &str) -> StockLevel {
        self.inventory
            .stock(&stock_id(product_id))
            .await
            .expect("stock")
    }

    /// A product's stock: its variants' summed (its own for a product without options).
    pub async fn product_level(&self, product_id: &str) -> StockLevel {
        let id = emporium_kernel::ids::ProductId::parse(product_id).expect("a product id");
        self.inventory
            .product_stocks(&[id])
            .await
            .expect("product stock")[0]
    }

    /// Handles an `order.placed` event (as its consumer would).
    pub async fn place(&self, envelope: &Envelope) -> OrderOutcome {
        let order_id = order_id_of(envelope);
        let lines = lines_of(envelope);
        self.inventory
            .reserve_order(ORDER_PLACED_QUEUE, envelope, order_id, &lines)
            .await
            .expect("reserve")
    }

    pub async fn release(&self, envelope: &Envelope, fulfil: bool) -> OrderOutcome {
        let order_id = order_id_of(envelope);
        let settlement = if fulfil {
            Settlement::Fulfil
        } else {
            Settlement::Release(ReleaseReason::OrderCancelled)
        };
        self.inventory
            .release_order(ORDER_UPDATES_QUEUE, envelope, order_id, settlement)
            .await
            .expect("release")
    }

    /// Asserts Redis and the ledger agree.
    pub async fn assert_no_drift(&self) {
        let drift = self.inventory.reconcile().await.expect("reconcile");
        assert!(
            drift.is_empty(),
            "drift between Redis and the ledger: {drift:?}"
        );
    }

    /// The events the inventory wrote to its outbox, oldest first: (type, data).
    pub async fn events(&self) -> Vec<(String, serde_json::Value)> {
        sqlx::query_as::<_, (String, serde_json::Value)>(
            "SELECT event_type, envelope->'data' FROM outbox ORDER BY position",
        )
        .fetch_all(self.inventory.pool())
        .await
        .expect("outbox")
    }
}

pub fn product() -> String {
    uuid::Uuid::now_v7().to_string()
}

pub fn envelope(event_type: &'static str, subject: &str, data: serde_json::Value) -> Envelope {
    EventDraft::new(event_type, subject.to_owned(), data).into_envelope("/tests", 1, Utc::now())
}

/// An `order.placed` for a new order with these (product, quantity) lines.
pub fn order_placed(lines: &[(&str, i64)]) -> Envelope {
    let items = lines
        .iter()
        .map(|(p, q)| OrderedItem {
            product_id: (*p).to_owned(),
            product_name: format!("Product {p}"),
            quantity: i32::try_from(*q).expect("a test quantity"),
            unit_price: "1.00".to_owned(),
            line_total: format!("{q}.00"),
            variant_id: None,
            variant_title: None,
            sku: None,
        })
        .collect();
    let placed = OrderPlaced {
        order_id: uuid::Uuid::now_v7(),
        user_id: uuid::Uuid::new_v4(),
        items,
        total: "1.00".to_owned(),
        currency: "USD".to_owned(),
        subtotal: None,
        discount_total: None,
        shipping_total: None,
        tax_total: None,
        discount_codes: vec![],
        payment_token_sealed: Some("sealed".to_owned()),
        payment_token: None,
    };
    EventDraft::of(&placed).into_envelope("/tests", 1, Utc::now())
}

/// A `product.created` of a new product `id` starting with `initial_stock` units.
pub fn product_created(id: &str, initial_stock: u32) -> Envelope {
    let snapshot = ProductSnapshot {
        product_id: id.to_owned(),
        sku: format!("SKU-{id}"),
        name: "Radio".to_owned(),
        description: String::new(),
        category: "Audio".to_owned(),
        brand: None,
        price: Price {
            amount: "25.00".to_owned(),
            currency: "USD".to_owned(),
        },
        attributes: vec![],
        image_url: None,
        popularity: 0,
        created_at: Utc::now(),
        updated_at: Utc::now(),
        options: vec![],
        variants: vec![],
    };
    let created = ProductCreated {
        product: snapshot,
        initial_stock,
    };
    EventDraft::of(&created).into_envelope("/tests", 1, Utc::now())
}

/// A test's stock id (a variant's, or a product's without options).
pub fn stock_id(raw: &str) -> VariantId {
    VariantId::parse(raw).expect("a stock id")
}

/// The order an `order.*` event is about.
pub fn order_id_of(envelope: &Envelope) -> OrderId {
    envelope.data["orderId"]
        .as_str()
        .expect("orderId")
        .parse()
        .expect("an order id")
}

pub fn lines_of(envelope: &Envelope) -> Vec<Line> {
    normalise_lines(
        envelope.data["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| {
                (
                    i["productId"].as_str().expect("productId").to_owned(),
                    i["quantity"].as_i64().expect("quantity"),
                )
            }),
    )
    .expect("valid lines")
}

/// A follow-up event about the order of `placed`: what its producer would send, with the
/// fields of `extra` in place of the defaults.
pub fn about(placed: &Envelope, event_type: &'static str, extra: serde_json::Value) -> Envelope {
    let order_id = placed.data["orderId"].as_str().expect("orderId");
    let mut data = match event_type {
        "order.status_changed" => json!({
            "orderId": order_id, "userId": placed.data["userId"], "status": "CONFIRMED",
            "previousStatus": null, "reason": null, "at": "2026-11-23T10:20:00.000Z",
            "total": "1.00", "currency": "USD",
        }),
        "payment.declined" => json!({
            "orderId": order_id, "paymentId": uuid::Uuid::now_v7(), "reason": "CARD_DECLINED",
        }),
        _ => placed.data.clone(),
    };
    if let (Some(data), Some(extra)) = (data.as_object_mut(), extra.as_object()) {
        data.extend(extra.clone());
    }
    envelope(event_type, order_id, data)
}
