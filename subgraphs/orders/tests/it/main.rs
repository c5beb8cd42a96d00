//! Orders against the real Postgres and RabbitMQ: idempotent checkout under races, the
//! saga's replies delivered twice or late, the time-out sweeper, and the live feed fanning
//! out to every replica.

mod checkout;
mod errors;
mod listing;
mod live;
mod pricing;
mod saga;
mod variants;

use chrono::Utc;
use emporium_kernel::events::{Envelope, EventDraft};
use emporium_kernel::ids::{OrderId, Quantity, UserId};
use emporium_kernel::money::{Currency, Money};
use emporium_kernel::sealed::{OpeningKey, OpeningKeys};
use emporium_kernel::testing::TestPostgres;
use emporium_kernel::trace::TraceContext;
use emporium_orders::checkout::{Address, CheckoutRequest};
use emporium_orders::orders::{CheckoutOutcome, Order};
use emporium_orders::store::{CatalogProduct, LineTarget};
use emporium_orders::{OrderStore, Orders};
use uuid::Uuid;

/// The orders service on its own Postgres database.
pub struct Fixture {
    pub store: OrderStore,
    pub orders: Orders,
    /// The payments key the payment tokens are sealed to.
    pub payment_token_keys: OpeningKeys,
    _postgres: TestPostgres,
}

impl Fixture {
    pub async fn new() -> Self {
        let (postgres, pool) = TestPostgres::migrated(&emporium_orders::MIGRATOR).await;
        let payment_token_keys = OpeningKeys::new(OpeningKey::generate(), vec![]);
        Self {
            store: OrderStore::new(pool.clone()),
            orders: Orders::new(pool, payment_token_keys.sealing_key().clone()),
            payment_token_keys,
            _postgres: postgres,
        }
    }

    /// A product in the catalog projection, at `price` dollars.
    pub async fn product(&self, name: &str, price: &str) -> String {
        let id = Uuid::now_v7().to_string();
        self.store
            .project_product(&CatalogProduct {
                product_id: id.clone(),
                sku: format!("SKU-{name}"),
                name: name.to_owned(),
                price: Money::parse_price(price, Currency::USD).expect("price"),
                variants: vec![],
                sequence: 1,
            })
            .await
            .expect("project product");
        id
    }

    /// A customer with `quantity` of `product` in the cart.
    pub async fn customer_with(&self, product: &str, quantity: i32) -> UserId {
        let user = UserId::from(Uuid::now_v7());
        self.add(user, product, quantity).await;
        user
    }

    /// Puts `quantity` of `product` in `user`'s cart.
    pub async fn add(&self, user: UserId, product: &str, quantity: i32) {
        let product = LineTarget::Product(product.parse().expect("product id"));
        let quantity = Quantity::try_from(quantity).expect("quantity");
        self.store
            .add(user, &product, quantity)
            .await
            .expect("add to cart");
    }

    pub async fn checkout(&self, user: UserId, key: &str) -> CheckoutOutcome {
        self.orders
            .checkout(user, &request(key, "tok_visa"), &TraceContext::new_root())
            .await
            .expect("checkout")
    }

    /// Checks out and expects a new order.
    pub async fn place(&self, user: UserId) -> Order {
        match self.checkout(user, &Uuid::now_v7().to_string()).await {
            CheckoutOutcome::Placed(order) => order,
            other => panic!("expected a placed order, got {other:?}"),
        }
    }

    /// The order as stored now; panics when it is missing.
    pub async fn stored(&self, order: OrderId) -> Order {
        self.orders
            .order(order)
            .await
            .expect("read")
            .expect("order")
    }

    /// The events in the outbox, oldest first: (type, subject, data).
    pub async fn events(&self) -> Vec<(String, String, serde_json::Value)> {
        sqlx::query_as("SELECT event_type, subject, envelope->'data' FROM outbox ORDER BY position")
            .fetch_all(self.orders.pool())
            .await
            .expect("outbox")
    }

    pub async fn events_of(&self, order: OrderId, event_type: &str) -> Vec<serde_json::Value> {
        self.events()
            .await
            .into_iter()
            .filter(|(t, subject, _)| t == event_type && *subject == order.to_string())
            .map(|(_, _, data)| data)
            .collect()
    }
}

pub fn address() -> Address {
    Address {
        line1: "1 Main St".into(),
        line2: None,
        city: "Springfield".into(),
        postal_code: "12345".into(),
        country: "US".into(),
    }
}

pub fn request(key: &str, token: &str) -> CheckoutRequest {
    CheckoutRequest::parse(address(), token, key, |t| t.starts_with("tok_")).expect("valid request")
}

/// An event about `order` as another service would publish it: the fields of `data` in
/// place of a valid payload's.
pub fn reply(event_type: &'static str, order: OrderId, data: serde_json::Value) -> Envelope {
    let mut payload = match event_type {
        "inventory.rejected" => serde_json::json!({ "reason": "OUT_OF_STOCK", "items": [] }),
        "payment.declined" => {
            serde_json::json!({ "paymentId": Uuid::now_v7(), "reason": "CARD_DECLINED" })
        }
        _ => {
            serde_json::json!({ "paymentId": Uuid::now_v7(), "amount": "349.99", "currency": "USD" })
        }
    };
    if let (Some(payload), Some(data)) = (payload.as_object_mut(), data.as_object()) {
        payload.extend(data.clone());
    }
    let mut data = payload;
    data["orderId"] = serde_json::Value::String(order.to_string());
    EventDraft::new(event_type, order.to_string(), data).into_envelope("/tests", 1, Utc::now())
}
