//! Payments against the real Postgres: the saga's events in any order, twice, and at once;
//! captures, refunds and abandoned payments; `Order.payment` served by the real router.

mod authorization;
mod compensation;
mod graphql;

use std::sync::{Arc, LazyLock};

use chrono::Utc;
use emporium_kernel::events::consumer::{Handler, HandlerError};
use emporium_kernel::events::{Envelope, EventDraft};
use emporium_kernel::ids::OrderId;
use emporium_kernel::sealed::{OpeningKey, OpeningKeys};
use emporium_kernel::testing::{TestApp, TestPostgres};
use emporium_payments::domain::Payment;
use emporium_payments::{PaymentProvider, PaymentStore, Payments, PaymentsHandler, TestProvider};
use serde_json::json;
use uuid::Uuid;

/// The total every test order is placed for.
pub const TOTAL: &str = "1049.97";

/// The payments key every test fixture holds; test orders seal their tokens to it, as the
/// orders service does.
pub static TOKEN_KEYS: LazyLock<OpeningKeys> =
    LazyLock::new(|| OpeningKeys::new(OpeningKey::generate(), vec![]));

/// Payments on its own Postgres database, with a provider the test can look into.
pub struct Fixture<P = TestProvider> {
    pub store: PaymentStore,
    pub provider: P,
    pub handler: Arc<PaymentsHandler<P>>,
    _postgres: TestPostgres,
}

impl Fixture {
    pub async fn new() -> Self {
        Self::with_provider(TestProvider::new()).await
    }
}

impl<P: PaymentProvider + Clone + 'static> Fixture<P> {
    pub async fn with_provider(provider: P) -> Self {
        let (postgres, pool) = TestPostgres::migrated(&emporium_payments::MIGRATOR).await;
        let store = PaymentStore::new(pool);
        let payments = Payments::new(store.clone(), provider.clone(), TOKEN_KEYS.clone());
        Self {
            store,
            provider,
            handler: Arc::new(PaymentsHandler::new(payments)),
            _postgres: postgres,
        }
    }

    /// Delivers `envelope` as a consumer would; panics on failure.
    pub async fn deliver(&self, envelope: &Envelope) {
        self.handler
            .handle(envelope)
            .await
            .unwrap_or_else(|e| panic!("{} failed: {e}", envelope.event_type));
    }

    pub async fn try_deliver(&self, envelope: &Envelope) -> Result<(), HandlerError> {
        self.handler.handle(envelope).await
    }

    pub async fn payment(&self, order: &Order) -> Payment {
        self.store
            .find(order.order_id())
            .await
            .expect("find")
            .expect("a payment row")
    }

    /// The outbox, oldest first.
    pub async fn events(&self) -> Vec<Envelope> {
        let rows: Vec<serde_json::Value> =
            sqlx::query_scalar("SELECT envelope FROM outbox ORDER BY position")
                .fetch_all(self.store.pool())
                .await
                .expect("outbox");
        rows.into_iter()
            .map(|row| serde_json::from_value(row).expect("an envelope"))
            .collect()
    }

    /// The types of the events published about `order`, oldest first.
    pub async fn event_types(&self, order: &Order) -> Vec<String> {
        self.events()
            .await
            .into_iter()
            .filter(|e| e.subject == order.id)
            .map(|e| e.event_type)
            .collect()
    }

    /// The card token stored for `order` (tests only: nothing else reads it back).
    pub async fn stored_token(&self, order: &Order) -> Option<String> {
        sqlx::query_scalar("SELECT token FROM payments WHERE order_id = $1")
            .bind(&order.id)
            .fetch_one(self.store.pool())
            .await
            .expect("token")
    }
}

/// An order of the saga, and the events about it.
#[derive(Clone)]
pub struct Order {
    pub id: String,
    pub user_id: Uuid,
    pub token: String,
}

impl Order {
    /// Its id as the payments service holds it.
    pub fn order_id(&self) -> OrderId {
        self.id.parse().expect("the test's order ids are UUIDs")
    }

    pub fn paid_with(token: &str) -> Self {
        Self {
            id: Uuid::now_v7().to_string(),
            user_id: Uuid::now_v7(),
            token: token.to_owned(),
        }
    }

    /// An order paid with a card the test provider approves.
    pub fn approved() -> Self {
        Self::paid_with("tok_visa")
    }

    /// `order.placed` as the orders service sends it: the token sealed to payments' key.
    pub fn placed(&self) -> Envelope {
        let sealed = TOKEN_KEYS
            .sealing_key()
            .seal(self.token.as_bytes(), self.id.as_bytes())
            .expect("seal");
        self.placed_with(json!({ "paymentTokenSealed": sealed }))
    }

    /// `order.placed` as orders sent it before tokens were sealed.
    pub fn placed_in_plaintext(&self) -> Envelope {
        self.placed_with(json!({ "paymentToken": self.token }))
    }

    fn placed_with(&self, token: serde_json::Value) -> Envelope {
        let mut data = json!({
            "orderId": self.id,
            "userId": self.user_id,
            "items": [
                { "productId": Uuid::now_v7(), "productName": "Headphones", "quantity": 3,
                  "unitPrice": "349.99", "lineTotal": TOTAL },
            ],
            "total": TOTAL,
            "currency": "USD",
        });
        if let (Some(data), Some(token)) = (data.as_object_mut(), token.as_object()) {
            data.extend(token.clone());
        }
        envelope("order.placed", &self.id, data)
    }

    pub fn reserved(&self) -> Envelope {
        envelope(
            "inventory.reserved",
            &self.id,
            json!({ "orderId": self.id, "items": [{ "productId": Uuid::now_v7(), "quantity": 3 }] }),
        )
    }

    pub fn status_changed(&self, status: &str, previous: &str, reason: Option<&str>) -> Envelope {
        envelope(
            "order.status_changed",
            &self.id,
            json!({
                "orderId": self.id,
                "userId": self.user_id,
                "status": status,
                "previousStatus": previous,
                "reason": reason,
                "at": Utc::now(),
                "total": TOTAL,
                "currency": "USD",
            }),
        )
    }
}

pub fn envelope(event_type: &'static str, subject: &str, data: serde_json::Value) -> Envelope {
    EventDraft::new(event_type, subject.to_owned(), data).into_envelope("/tests", 1, Utc::now())
}

/// The real `router()` served on port 0, as the CLI serves it: with the public half of the
/// token key.
pub async fn spawn_app(store: PaymentStore) -> TestApp {
    TestApp::serve(|verifier| {
        emporium_payments::router(store, verifier, vec![]).merge(
            emporium_payments::token_key_routes(TOKEN_KEYS.sealing_key()),
        )
    })
    .await
}

/// `_entities` for these orders, as the router asks for `Order.payment`.
pub async fn order_payments(
    app: &TestApp,
    order_ids: &[&str],
    token: Option<&str>,
) -> serde_json::Value {
    let representations: Vec<_> = order_ids
        .iter()
        .map(|id| json!({ "__typename": "Order", "id": id }))
        .collect();
    let query = "query($representations: [_Any!]!) {
        _entities(representations: $representations) {
            ... on Order { id payment { id status amount { amount currency } failureReason createdAt } }
        }
    }";
    app.gql(query, json!({ "representations": representations }), token)
        .await
}
