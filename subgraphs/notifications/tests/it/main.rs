//! Notifications against the real MongoDB (the stand-in here) and the real `router()`:
//! events delivered twice or at once, an order's life, delivery failures, and the feed as
//! its owner, a stranger and an admin see it.

mod feed;
mod handling;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::Utc;
use emporium_kernel::events::consumer::{Handler, HandlerError};
use emporium_kernel::events::{Envelope, EventDraft};
use emporium_kernel::testing::{TestApp, TestMongo};
use emporium_notifications::delivery::{Delivery, DeliveryError, Outgoing};
use emporium_notifications::domain::{Kind, Notification};
use emporium_notifications::store::DeliveryState;
use emporium_notifications::{NotificationStore, NotificationsHandler, Notifier};
use serde_json::{json, Value};
use uuid::Uuid;

/// What a test delivery channel was asked to send: (notification, kind, address).
pub type Sent = Arc<Mutex<Vec<(Uuid, Kind, Option<String>)>>>;

/// A channel that records what it sends, or fails every send while `failing` is set; it
/// counts every attempt.
#[derive(Clone, Default)]
pub struct TestDelivery {
    pub sent: Sent,
    pub failing: Arc<AtomicBool>,
    pub attempts: Arc<AtomicUsize>,
}

impl TestDelivery {
    pub fn failing() -> Self {
        let delivery = Self::default();
        delivery.failing.store(true, Ordering::SeqCst);
        delivery
    }
}

impl Delivery for TestDelivery {
    async fn deliver(&self, outgoing: Outgoing<'_>) -> Result<(), DeliveryError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        if self.failing.load(Ordering::SeqCst) {
            return Err(DeliveryError::Channel("the mail server is down".to_owned()));
        }
        let n = outgoing.notification;
        let address = outgoing.contact.map(|c| c.email.as_str().to_owned());
        self.sent
            .lock()
            .expect("lock")
            .push((n.id, n.kind, address));
        Ok(())
    }
}

/// The notifications store on its own MongoDB database, and a handler of both queues.
pub struct Fixture {
    pub store: NotificationStore,
    pub handler: Arc<NotificationsHandler<TestDelivery>>,
    pub delivery: TestDelivery,
    pub mongo: TestMongo,
}

impl Fixture {
    pub async fn new() -> Self {
        Self::with_delivery(TestDelivery::default()).await
    }

    pub async fn with_delivery(delivery: TestDelivery) -> Self {
        let mongo = TestMongo::create();
        let client = mongodb::Client::with_uri_str(mongo.server_url())
            .await
            .expect("MongoDB client");
        let store = NotificationStore::new(&client.database(mongo.name()));
        store.ensure_indexes().await.expect("indexes");
        store.ensure_indexes().await.expect("indexes again");
        let handler = Arc::new(NotificationsHandler::new(Notifier::new(
            store.clone(),
            delivery.clone(),
        )));
        Self {
            store,
            handler,
            delivery,
            mongo,
        }
    }

    pub async fn handle(&self, envelope: &Envelope) -> Result<(), HandlerError> {
        self.handler.handle(envelope).await
    }

    /// Handles the event and expects success.
    pub async fn deliver(&self, envelope: &Envelope) {
        self.handle(envelope).await.expect("handled");
    }

    /// The user's whole feed, newest first.
    pub async fn feed(&self, user: Uuid) -> Vec<Notification> {
        self.store
            .page(user, false, None, 100)
            .await
            .expect("feed")
            .notifications
    }

    /// What the store knows of a notification's delivery; panics if there is no such entry.
    pub async fn delivery_of(&self, id: Uuid) -> DeliveryState {
        self.store
            .delivery(id)
            .await
            .expect("delivery")
            .expect("the entry")
    }

    /// Another process's notifier on the same store and channel (for its resender).
    pub fn notifier(&self) -> Notifier<TestDelivery> {
        Notifier::new(self.store.clone(), self.delivery.clone())
    }

    pub fn sent(&self) -> Vec<(Uuid, Kind, Option<String>)> {
        self.delivery.sent.lock().expect("lock").clone()
    }
}

pub fn envelope(event_type: &'static str, subject: &str, data: Value) -> Envelope {
    EventDraft::new(event_type, subject.to_owned(), data).into_envelope("/tests", 1, Utc::now())
}

pub fn user_registered(user: Uuid, email: &str) -> Envelope {
    envelope(
        "user.registered",
        &user.to_string(),
        json!({ "userId": user, "email": email, "name": "Ann Lee" }),
    )
}

/// An order of `user` with a total of 699.98 USD.
pub struct Order {
    pub id: Uuid,
    pub user: Uuid,
}

impl Order {
    pub fn of(user: Uuid) -> Self {
        Self {
            id: Uuid::now_v7(),
            user,
        }
    }

    pub fn status_changed(
        &self,
        status: &str,
        previous: Option<&str>,
        reason: Option<&str>,
    ) -> Envelope {
        envelope(
            "order.status_changed",
            &self.id.to_string(),
            json!({
                "orderId": self.id, "userId": self.user, "status": status,
                "previousStatus": previous, "reason": reason, "at": Utc::now(),
                "total": "699.98", "currency": "USD",
            }),
        )
    }
}

/// The real `router()` served on port 0, with a signing key for the tests' access tokens.
pub async fn spawn_app(store: NotificationStore) -> TestApp {
    TestApp::serve(|verifier| emporium_notifications::router(store, verifier, vec![])).await
}
