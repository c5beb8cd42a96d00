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
//!
//! Each document also carries its outbound delivery: a status, the attempts so far and, while
//! it still has to go out, `delivery.retryAt` (indexed): when the resender takes it if nothing
//! else did. A sender claims a delivery with one conditional update, so however many
//! processes look, one sends each attempt.

use chrono::{DateTime, Utc};
use emporium_kernel::email::Email;
use emporium_kernel::mongo::CountedPage;
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
    /// Not attempted yet: written by versions before the resender, which never retry it.
    Pending,
    /// Claimed by a sender, which is sending it now (or stopped while it did). A new
    /// notification is written claimed by its handler, for the first attempt.
    Sending,
    Sent,
    /// The last attempt failed; it is tried again when due, unless it used up its attempts.
    Failed,
}

impl DeliveryStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Sending => "SENDING",
            Self::Sent => "SENT",
            Self::Failed => "FAILED",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        [Self::Pending, Self::Sending, Self::Sent, Self::Failed]
            .into_iter()
            .find(|status| status.as_str() == raw)
    }
}

/// Attempts at sending one notification out before it is given up (it stays in the feed).
pub const MAX_DELIVERY_ATTEMPTS: i32 = 10;
/// How long a claimed attempt (a new notification's first one too) may take before the
/// resender takes the delivery again.
pub const ATTEMPT_LEASE: chrono::Duration = chrono::Duration::minutes(2);

/// When to try again after `attempts` failed ones: 30 s, doubling, at most an hour; `None`
/// once they are used up.
pub fn retry_after(attempts: i32) -> Option<chrono::Duration> {
    if attempts >= MAX_DELIVERY_ATTEMPTS {
        return None;
    }
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 7)).unwrap_or(0);
    Some((chrono::Duration::seconds(30) * 2_i32.pow(doublings)).min(chrono::Duration::hours(1)))
}

/// What the store knows of a notification's delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryState {
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub error: Option<String>,
    /// When it is (re)tried if nothing else sends it first; `None` once sent or given up.
    pub retry_at: Option<DateTime<Utc>>,
}

/// A delivery due for an attempt, as [`NotificationStore::due`] finds it: its retry time and
/// its count of attempts, which every claim increments (a retry time alone could be written
/// again unchanged within one millisecond, letting a second claim match).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub id: Uuid,
    retry_at: bson::DateTime,
    attempts: i32,
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
#[serde(rename_all = "camelCase")]
struct DeliveryDoc {
    status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    at: bson::DateTime,
    #[serde(default)]
    attempts: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry_at: Option<bson::DateTime>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ContactDoc {
    #[serde(rename = "_id")]
    user_id: String,
    email: String,
    name: String,
}

fn bson_at(at: DateTime<Utc>) -> bson::DateTime {
    bson::DateTime::from_millis(at.timestamp_millis())
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
            status: DeliveryStatus::Sending.as_str().to_owned(),
            error: None,
            at: bson::DateTime::now(),
            attempts: 1,
            retry_at: Some(bson_at(Utc::now() + ATTEMPT_LEASE)),
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
                index(doc! { "delivery.retryAt": 1 }, "delivery_due"),
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

    /// Claims an attempt at a delivery [`Self::due`] found, unless another sender claimed it
    /// (or it was sent) since.
    pub async fn claim_due(&self, due: &Due) -> Result<Option<(Notification, i32)>, StoreError> {
        self.claim(doc! {
            "_id": due.id.to_string(),
            "delivery.retryAt": due.retry_at,
            "delivery.attempts": due.attempts,
        })
        .await
    }

    /// Marks the matching delivery SENDING, counts the attempt and gives it a lease; returns
    /// the notification and the attempt's number.
    async fn claim(&self, filter: Document) -> Result<Option<(Notification, i32)>, StoreError> {
        let now = Utc::now();
        let claimed = self
            .notifications
            .find_one_and_update(
                filter,
                doc! {
                    "$set": {
                        "delivery.status": DeliveryStatus::Sending.as_str(),
                        "delivery.at": bson_at(now),
                        "delivery.retryAt": bson_at(now + ATTEMPT_LEASE),
                    },
                    "$inc": { "delivery.attempts": 1 },
                },
            )
            .return_document(ReturnDocument::After)
            .await?;
        claimed
            .map(|doc| {
                let attempts = doc.delivery.attempts;
                Notification::try_from(doc).map(|n| (n, attempts))
            })
            .transpose()
    }

    /// Deliveries whose retry time is at or before `now`, oldest first, at most `limit`.
    pub async fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Due>, StoreError> {
        // Only the id and the retry time: the claim reads the whole document.
        let docs: Vec<Document> = self
            .notifications
            .clone_with_type::<Document>()
            .find(doc! { "delivery.retryAt": { "$lte": bson_at(now) } })
            .projection(doc! { "_id": 1, "delivery.retryAt": 1, "delivery.attempts": 1 })
            .sort(doc! { "delivery.retryAt": 1 })
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .await?
            .try_collect()
            .await?;
        docs.iter()
            .map(|doc| {
                let corrupt = |e: bson::document::ValueAccessError| {
                    StoreError::Corrupt(format!("a due delivery: {e}"))
                };
                let id = parse_uuid("notification id", doc.get_str("_id").map_err(corrupt)?)?;
                let delivery = doc.get_document("delivery").map_err(corrupt)?;
                let retry_at = *delivery.get_datetime("retryAt").map_err(corrupt)?;
                let attempts = delivery.get_i32("attempts").map_err(corrupt)?;
                Ok(Due {
                    id,
                    retry_at,
                    attempts,
                })
            })
            .collect()
    }

    /// Records how attempt number `attempt` went: sent, or failed with `error` (tried again
    /// later unless the attempts are used up).
    pub async fn record_delivery(
        &self,
        id: Uuid,
        attempt: i32,
        outcome: Result<(), String>,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        let mut set = doc! { "delivery.at": bson_at(now) };
        let mut unset = Document::new();
        match outcome {
            Ok(()) => {
                set.insert("delivery.status", DeliveryStatus::Sent.as_str());
                unset.insert("delivery.error", "");
                unset.insert("delivery.retryAt", "");
            }
            Err(error) => {
                set.insert("delivery.status", DeliveryStatus::Failed.as_str());
                set.insert("delivery.error", error);
                match retry_after(attempt) {
                    Some(wait) => {
                        set.insert("delivery.retryAt", bson_at(now + wait));
                    }
                    None => {
                        unset.insert("delivery.retryAt", "");
                    }
                }
            }
        }
        let mut update = doc! { "$set": set };
        if !unset.is_empty() {
            update.insert("$unset", unset);
        }
        // Only the attempt that holds the claim records its outcome.
        self.notifications
            .update_one(
                doc! {
                    "_id": id.to_string(),
                    "delivery.status": DeliveryStatus::Sending.as_str(),
                    "delivery.attempts": attempt,
                },
                update,
            )
            .await?;
        Ok(())
    }

    /// How sending the notification out went; `None` when there is no such notification.
    pub async fn delivery(&self, id: Uuid) -> Result<Option<DeliveryState>, StoreError> {
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
        Ok(Some(DeliveryState {
            status,
            attempts: doc.delivery.attempts,
            error: doc.delivery.error,
            retry_at: doc.delivery.retry_at.map(to_chrono),
        }))
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
        let count_filter = filter.clone();
        if let Some(after) = after {
            filter.insert("_id", doc! { "$lt": after.to_string() });
        }
        // One snapshot for both, so a page counts what it lists even while notifications
        // arrive; one extra row tells whether another page follows.
        let (total_count, docs) = CountedPage {
            count_filter,
            page_filter: filter,
            sort: doc! { "_id": -1 },
            limit: limit as i64 + 1,
        }
        .read(&self.notifications)
        .await?;
        let mut notifications: Vec<Notification> = docs
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_from_30_seconds_to_an_hour_and_stop_after_the_last_attempt() {
        let secs = |attempts| retry_after(attempts).map(|d| d.num_seconds());
        assert_eq!(secs(1), Some(30));
        assert_eq!(secs(2), Some(60));
        assert_eq!(secs(3), Some(120));
        assert_eq!(secs(7), Some(1920));
        assert_eq!(secs(8), Some(3600));
        assert_eq!(secs(MAX_DELIVERY_ATTEMPTS - 1), Some(3600));
        assert_eq!(secs(MAX_DELIVERY_ATTEMPTS), None);
    }
}
