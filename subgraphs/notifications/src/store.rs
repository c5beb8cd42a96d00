//! Notifications in MongoDB: one document per notification in `notifications`, keyed by the id
//! of the event it was made from, and each user's contact (from `user.registered`) in
//! `notification_contacts`, keyed by the user id.
//!
//! The event id as `_id` is what makes handling idempotent: MongoDB refuses a second document
//! with the same `_id`, so a redelivered event, or two deliveries racing each other, leave one
//! notification and no "check first" query can race. Event ids are UUIDv7, whose hyphenated
//! strings sort by creation time, so `_id` descending is the feed's newest-first order and a
//! cursor is the last `_id` seen. The feed's indexes are `(userId, _id)` and
//! `(userId, read, _id)`.

use chrono::{DateTime, Utc};
use emporium_kernel::email::Email;
use futures::TryStreamExt;
use mongodb::bson::{self, doc, Document};
use mongodb::options::{IndexOptions, ReturnDocument};
use mongodb::{Collection, Database, IndexModel};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{Contact, Kind, Notification};

pub const NOTIFICATIONS: &str = "notifications";
pub const CONTACTS: &str = "notification_contacts";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("stored notification data is corrupt: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Mongo(#[from] mongodb::error::Error),
}

/// Whether an insert made a new notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    Created,
    /// A notification with this id exists: its event was handled before.
    AlreadyThere,
}

/// How sending a notification out went; recorded on its document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Not attempted yet (or the process stopped between writing and sending).
    Pending,
    Sent,
    Failed,
}

impl DeliveryStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Sent => "SENT",
            Self::Failed => "FAILED",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        [Self::Pending, Self::Sent, Self::Failed]
            .into_iter()
            .find(|status| status.as_str() == raw)
    }
}

/// One page of a feed, newest first.
#[derive(Debug)]
pub struct Page {
    pub notifications: Vec<Notification>,
    pub has_next_page: bool,
    pub total_count: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NotificationDoc {
    #[serde(rename = "_id")]
    id: String,
    user_id: String,
    kind: String,
    title: String,
    body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    order_id: Option<String>,
    read: bool,
    created_at: bson::DateTime,
    delivery: DeliveryDoc,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct DeliveryDoc {
    status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    at: bson::DateTime,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ContactDoc {
    #[serde(rename = "_id")]
    user_id: String,
    email: String,
    name: String,
}

fn to_chrono(at: bson::DateTime) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or_default()
}

fn parse_uuid(what: &str, raw: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(raw).map_err(|_| StoreError::Corrupt(format!("{what} {raw:?} is not a UUID")))
}

impl TryFrom<NotificationDoc> for Notification {
    type Error = StoreError;

    fn try_from(doc: NotificationDoc) -> Result<Self, StoreError> {
        Ok(Notification {
            id: parse_uuid("notification id", &doc.id)?,
            user_id: parse_uuid("user id", &doc.user_id)?,
            kind: Kind::parse(&doc.kind).ok_or_else(|| {
                StoreError::Corrupt(format!("{}: unknown kind {:?}", doc.id, doc.kind))
            })?,
            title: doc.title,
            body: doc.body,
            order_id: doc
                .order_id
                .as_deref()
                .map(|id| parse_uuid("order id", id))
                .transpose()?,
            is_read: doc.read,
            created_at: to_chrono(doc.created_at),
        })
    }
}

fn new_doc(notification: &Notification) -> NotificationDoc {
    NotificationDoc {
        id: notification.id.to_string(),
        user_id: notification.user_id.to_string(),
        kind: notification.kind.as_str().to_owned(),
        title: notification.title.clone(),
        body: notification.body.clone(),
        order_id: notification.order_id.map(|id| id.to_string()),
        read: notification.is_read,
        created_at: bson::DateTime::from_millis(notification.created_at.timestamp_millis()),
        delivery: DeliveryDoc {
            status: DeliveryStatus::Pending.as_str().to_owned(),
            error: None,
            at: bson::DateTime::now(),
        },
    }
}

fn is_duplicate_key(err: &mongodb::error::Error) -> bool {
    use mongodb::error::{ErrorKind, WriteFailure};
    match err.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(e)) => e.code == 11000,
        ErrorKind::Command(e) => e.code == 11000,
        _ => false,
    }
}

#[derive(Clone)]
pub struct NotificationStore {
    db: Database,
    notifications: Collection<NotificationDoc>,
    contacts: Collection<ContactDoc>,
}

impl NotificationStore {
    pub fn new(db: &Database) -> Self {
        Self {
            db: db.clone(),
            notifications: db.collection(NOTIFICATIONS),
            contacts: db.collection(CONTACTS),
        }
    }

    /// Whether MongoDB answers (the readiness probe).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.run_command(doc! { "ping": 1 }).await?;
        Ok(())
    }

    /// Creates the feed's indexes; idempotent.
    pub async fn ensure_indexes(&self) -> Result<(), StoreError> {
        let index = |keys: Document, name: &str| {
            IndexModel::builder()
                .keys(keys)
                .options(IndexOptions::builder().name(name.to_owned()).build())
                .build()
        };
        self.notifications
            .create_indexes([
                index(doc! { "userId": 1, "_id": -1 }, "user_newest"),
                index(
                    doc! { "userId": 1, "read": 1, "_id": -1 },
                    "user_read_newest",
                ),
            ])
            .await?;
        Ok(())
    }

    /// Adds a notification unless one with its id exists.
    pub async fn insert(&self, notification: &Notification) -> Result<Inserted, StoreError> {
        match self.notifications.insert_one(new_doc(notification)).await {
            Ok(_) => Ok(Inserted::Created),
            Err(e) if is_duplicate_key(&e) => Ok(Inserted::AlreadyThere),
            Err(e) => Err(e.into()),
        }
    }

    /// Records how sending the notification out went.
    pub async fn record_delivery(
        &self,
        id: Uuid,
        status: DeliveryStatus,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut delivery = doc! { "status": status.as_str(), "at": bson::DateTime::now() };
        if let Some(error) = error {
            delivery.insert("error", error);
        }
        self.notifications
            .update_one(
                doc! { "_id": id.to_string() },
                doc! { "$set": { "delivery": delivery } },
            )
            .await?;
        Ok(())
    }

    /// How sending the notification out went, with the failure when it failed; `None` when
    /// there is no such notification.
    pub async fn delivery(
        &self,
        id: Uuid,
    ) -> Result<Option<(DeliveryStatus, Option<String>)>, StoreError> {
        let Some(doc) = self
            .notifications
            .find_one(doc! { "_id": id.to_string() })
            .await?
        else {
            return Ok(None);
        };
        let status = DeliveryStatus::parse(&doc.delivery.status).ok_or_else(|| {
            StoreError::Corrupt(format!("{}: delivery {:?}", doc.id, doc.delivery.status))
        })?;
        Ok(Some((status, doc.delivery.error)))
    }

    /// A user's notifications (only the unread ones with `unread_only`), newest first, after
    /// the cursor `after`; the total counts the whole feed, not just this page.
    pub async fn page(
        &self,
        user_id: Uuid,
        unread_only: bool,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let mut filter = doc! { "userId": user_id.to_string() };
        if unread_only {
            filter.insert("read", false);
        }
        let total_count = self.notifications.count_documents(filter.clone()).await?;
        if let Some(after) = after {
            filter.insert("_id", doc! { "$lt": after.to_string() });
        }
        // One extra row tells whether another page follows.
        let mut notifications: Vec<Notification> = self
            .notifications
            .find(filter)
            .sort(doc! { "_id": -1 })
            .limit(limit as i64 + 1)
            .await?
            .try_collect::<Vec<NotificationDoc>>()
            .await?
            .into_iter()
            .map(Notification::try_from)
            .collect::<Result<_, _>>()?;
        let has_next_page = notifications.len() > limit;
        notifications.truncate(limit);
        Ok(Page {
            notifications,
            has_next_page,
            total_count,
        })
    }

    /// Marks the user's notification read and returns it; `None` when the user has no
    /// notification with this id (someone else's is as absent as one that never existed).
    pub async fn mark_read(
        &self,
        id: Uuid,
        user_id: Uuid,
    ) -> Result<Option<Notification>, StoreError> {
        self.notifications
            .find_one_and_update(
                doc! { "_id": id.to_string(), "userId": user_id.to_string() },
                doc! { "$set": { "read": true } },
            )
            .return_document(ReturnDocument::After)
            .await?
            .map(Notification::try_from)
            .transpose()
    }

    /// Records (or updates) where the user's notifications can be sent.
    pub async fn save_contact(&self, contact: &Contact) -> Result<(), StoreError> {
        self.contacts
            .update_one(
                doc! { "_id": contact.user_id.to_string() },
                doc! { "$set": { "email": contact.email.as_str(), "name": &contact.name } },
            )
            .upsert(true)
            .await?;
        Ok(())
    }

    pub async fn contact(&self, user_id: Uuid) -> Result<Option<Contact>, StoreError> {
        let Some(doc) = self
            .contacts
            .find_one(doc! { "_id": user_id.to_string() })
            .await?
        else {
            return Ok(None);
        };
        let email = Email::parse(&doc.email)
            .map_err(|e| StoreError::Corrupt(format!("contact of {}: {e}", doc.user_id)))?;
        Ok(Some(Contact {
            user_id: parse_uuid("user id", &doc.user_id)?,
            email,
            name: doc.name,
        }))
    }
}
