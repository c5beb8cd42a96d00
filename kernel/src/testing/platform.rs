//! The throwaway stores of one whole platform ([`TestStores`]): a Postgres database per service
//! that keeps one (users, inventory, orders, payments), a MongoDB database, a Redis key prefix,
//! a RabbitMQ vhost and a data directory, and the `EMPORIUM_*` variables that put `emporium`
//! on them. Everything is removed when the handle is dropped; creating any of it panics with
//! the reason, as the other fixtures do.

use std::path::PathBuf;

use uuid::Uuid;

use super::{TestMongo, TestPostgres, TestRedis, TestVhost};

pub struct TestStores {
    pub users: TestPostgres,
    pub inventory: TestPostgres,
    pub orders: TestPostgres,
    pub payments: TestPostgres,
    pub mongo: TestMongo,
    /// The prefix under which every Redis key of the platform lives (hot counts, catalog
    /// cache, rate-limit buckets).
    pub redis: TestRedis,
    pub vhost: TestVhost,
    /// `emporium-<purpose>-<uuid>` under the system's temporary directory.
    pub data_dir: PathBuf,
}

impl TestStores {
    /// `purpose` names the data directory (`it`, `bench`, `replicas`…).
    pub async fn create(purpose: &str) -> Self {
        let data_dir =
            std::env::temp_dir().join(format!("emporium-{purpose}-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&data_dir)
            .unwrap_or_else(|e| panic!("creating {}: {e}", data_dir.display()));
        Self {
            users: TestPostgres::create().await,
            inventory: TestPostgres::create().await,
            orders: TestPostgres::create().await,
            payments: TestPostgres::create().await,
            mongo: TestMongo::create(),
            redis: TestRedis::create(),
            vhost: TestVhost::create().await,
            data_dir,
        }
    }

    /// The variables that put `emporium up` (or `emporium serve <service>`) on these stores.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let prefix = self.redis.prefix();
        vec![
            ("EMPORIUM_DATABASE_URL", self.users.url()),
            ("EMPORIUM_INVENTORY_DATABASE_URL", self.inventory.url()),
            ("EMPORIUM_ORDERS_DATABASE_URL", self.orders.url()),
            ("EMPORIUM_PAYMENTS_DATABASE_URL", self.payments.url()),
            // Many platforms run at once on one Postgres: a few connections each are plenty.
            ("EMPORIUM_POSTGRES_POOL_SIZE", "4".to_owned()),
            ("EMPORIUM_MONGODB_URL", self.mongo.server_url().to_owned()),
            ("EMPORIUM_MONGODB_DATABASE", self.mongo.name().to_owned()),
            ("EMPORIUM_AMQP_URL", self.vhost.amqp_url()),
            ("EMPORIUM_REDIS_URL", self.redis.url().to_owned()),
            ("EMPORIUM_REDIS_PREFIX", prefix.to_owned()),
            ("EMPORIUM_CATALOG_CACHE_PREFIX", format!("{prefix}catalog:")),
            ("EMPORIUM_RATE_LIMIT_PREFIX", format!("{prefix}ratelimit:")),
            ("EMPORIUM_DATA_DIR", self.data_dir.display().to_string()),
        ]
    }
}

impl Drop for TestStores {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}
