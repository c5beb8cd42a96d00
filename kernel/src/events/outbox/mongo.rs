//! The outbox of a MongoDB-backed service: collections `outbox`, `outbox_sequences` and
//! `outbox_lease` in the service's own database. Producers write the event in the same
//! multi-document transaction as the change (MongoDB runs as a replica set for that).

use std::time::Duration;

use chrono::Utc;
use futures::TryStreamExt;
use mongodb::bson::{self, doc, Document};
use mongodb::options::ReturnDocument;
use mongodb::{ClientSession, Collection, Database};
use uuid::Uuid;

use super::{Backlog, Outbox, OutboxError, RelayPass};
use crate::events::{Envelope, EventDraft, Publisher};

const OUTBOX: &str = "outbox";
const SEQUENCES: &str = "outbox_sequences";
const LEASE: &str = "outbox_lease";
/// A relay that stops renewing its lease (crashed, partitioned) is replaced after this long.
const LEASE_MILLIS: i64 = 15_000;

/// Writes `draft` into the outbox inside the caller's transaction (`session`).
pub async fn enqueue(
    db: &Database,
    session: &mut ClientSession,
    source: &str,
    draft: EventDraft,
) -> Result<Envelope, OutboxError> {
    let sequences: Collection<Document> = db.collection(SEQUENCES);
    let counter = sequences
        .find_one_and_update(
            doc! { "_id": &draft.subject },
            doc! { "$inc": { "last": 1_i64 } },
        )
        .upsert(true)
        .return_document(ReturnDocument::After)
        .session(&mut *session)
        .await?
        .ok_or_else(|| OutboxError::Corrupt("the sequence upsert returned nothing".to_owned()))?;
    let sequence = counter
        .get_i64("last")
        .map_err(|e| OutboxError::Corrupt(e.to_string()))?;
    let envelope = draft.into_envelope(source, sequence, Utc::now());
    let entry = doc! {
        // UUIDv7 strings sort by creation time: the relay's order.
        "_id": envelope.id.to_string(),
        "envelope": bson::to_bson(&envelope).map_err(|e| OutboxError::Corrupt(e.to_string()))?,
        "created_at": bson::DateTime::now(),
        "published": false,
    };
    db.collection::<Document>(OUTBOX)
        .insert_one(entry)
        .session(&mut *session)
        .await?;
    Ok(envelope)
}

/// The last sequence number given to each aggregate's events (for a consumer that rebuilds a
/// projection from the producer's store and must know which later events are newer).
pub async fn last_sequences(
    db: &Database,
) -> Result<std::collections::HashMap<String, i64>, OutboxError> {
    let mut cursor = db.collection::<Document>(SEQUENCES).find(doc! {}).await?;
    let mut out = std::collections::HashMap::new();
    while let Some(entry) = cursor.try_next().await? {
        if let (Ok(subject), Ok(last)) = (entry.get_str("_id"), entry.get_i64("last")) {
            out.insert(subject.to_owned(), last);
        }
    }
    Ok(out)
}

/// Writes the first event of each of many new aggregates (sequence 1) inside the caller's
/// transaction, with two bulk inserts instead of a round trip per event. An aggregate that
/// already has events fails the transaction with a duplicate key: use [`enqueue`] for those.
pub async fn enqueue_first_events(
    db: &Database,
    session: &mut ClientSession,
    source: &str,
    drafts: Vec<EventDraft>,
) -> Result<Vec<Envelope>, OutboxError> {
    if drafts.is_empty() {
        return Ok(Vec::new());
    }
    let now = Utc::now();
    let envelopes: Vec<Envelope> = drafts
        .into_iter()
        .map(|d| d.into_envelope(source, 1, now))
        .collect();
    let counters: Vec<Document> = envelopes
        .iter()
        .map(|e| doc! { "_id": &e.subject, "last": 1_i64 })
        .collect();
    let entries = envelopes
        .iter()
        .map(|e| {
            Ok(doc! {
                "_id": e.id.to_string(),
                "envelope": bson::to_bson(e).map_err(|err| OutboxError::Corrupt(err.to_string()))?,
                "created_at": bson::DateTime::now(),
                "published": false,
            })
        })
        .collect::<Result<Vec<_>, OutboxError>>()?;
    db.collection::<Document>(SEQUENCES)
        .insert_many(counters)
        .session(&mut *session)
        .await?;
    db.collection::<Document>(OUTBOX)
        .insert_many(entries)
        .session(&mut *session)
        .await?;
    Ok(envelopes)
}

/// The relay side of a MongoDB outbox.
#[derive(Clone)]
pub struct MongoOutbox {
    db: Database,
    relay_id: String,
}

impl MongoOutbox {
    pub fn new(db: Database) -> Self {
        Self {
            db,
            relay_id: Uuid::new_v4().to_string(),
        }
    }

    /// Creates the index the relay's query uses; idempotent.
    pub async fn ensure_indexes(&self) -> Result<(), OutboxError> {
        let index = mongodb::IndexModel::builder()
            .keys(doc! { "published": 1, "_id": 1 })
            .build();
        self.db
            .collection::<Document>(OUTBOX)
            .create_index(index)
            .await?;
        Ok(())
    }

    /// Takes or renews the lease; false when another live relay holds it.
    async fn acquire_lease(&self) -> Result<bool, OutboxError> {
        let now = bson::DateTime::now();
        let until = bson::DateTime::from_millis(now.timestamp_millis() + LEASE_MILLIS);
        let result = self
            .db
            .collection::<Document>(LEASE)
            .update_one(
                doc! { "_id": "relay", "$or": [ { "owner": &self.relay_id }, { "until": { "$lt": now } } ] },
                doc! { "$set": { "owner": &self.relay_id, "until": until } },
            )
            .upsert(true)
            .await;
        match result {
            Ok(_) => Ok(true),
            // The filter did not match (another relay's live lease) and the upsert collided with it.
            Err(e) if is_duplicate_key(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
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

impl Outbox for MongoOutbox {
    async fn relay_batch<P: Publisher>(
        &self,
        publisher: &P,
        limit: usize,
    ) -> Result<RelayPass, OutboxError> {
        if !self.acquire_lease().await? {
            return Ok(RelayPass::NotLeader);
        }
        let outbox = self.db.collection::<Document>(OUTBOX);
        let entries: Vec<Document> = outbox
            .find(doc! { "published": false })
            .sort(doc! { "_id": 1 })
            .limit(limit as i64)
            .await?
            .try_collect()
            .await?;
        let mut ids = Vec::with_capacity(entries.len());
        let mut envelopes = Vec::with_capacity(entries.len());
        for entry in entries {
            let id = entry
                .get_str("_id")
                .map_err(|e| OutboxError::Corrupt(e.to_string()))?
                .to_owned();
            let envelope: Envelope = entry
                .get("envelope")
                .cloned()
                .map(bson::from_bson)
                .transpose()
                .map_err(|e| OutboxError::Corrupt(format!("outbox entry {id}: {e}")))?
                .ok_or_else(|| {
                    OutboxError::Corrupt(format!("outbox entry {id} has no envelope"))
                })?;
            ids.push(id);
            envelopes.push(envelope);
        }
        // Later entries of the same aggregate must not overtake a failed one.
        let outcome = publisher.publish_batch(&envelopes).await;
        let published = &ids[..outcome.confirmed];
        if !published.is_empty() {
            outbox
                .update_many(
                    doc! { "_id": { "$in": published } },
                    doc! { "$set": { "published": true, "published_at": bson::DateTime::now() } },
                )
                .await?;
        }
        match outcome.error {
            Some(err) => Err(err.into()),
            None => Ok(RelayPass::Published(published.len())),
        }
    }

    async fn prune(&self, retention: Duration) -> Result<u64, OutboxError> {
        let retention_ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
        let cutoff = bson::DateTime::from_millis(
            bson::DateTime::now()
                .timestamp_millis()
                .saturating_sub(retention_ms),
        );
        let deleted = self
            .db
            .collection::<Document>(OUTBOX)
            .delete_many(doc! { "published": true, "published_at": { "$lt": cutoff } })
            .await?;
        Ok(deleted.deleted_count)
    }

    async fn backlog(&self) -> Result<Backlog, OutboxError> {
        let outbox = self.db.collection::<Document>(OUTBOX);
        let entries = outbox.count_documents(doc! { "published": false }).await?;
        let oldest = outbox
            .find_one(doc! { "published": false })
            .sort(doc! { "_id": 1 })
            .await?;
        let oldest_age_secs = oldest
            .and_then(|d| d.get_datetime("created_at").ok().copied())
            .map(|at| {
                (bson::DateTime::now().timestamp_millis() - at.timestamp_millis()) as f64 / 1000.0
            })
            .unwrap_or(0.0);
        Ok(Backlog {
            entries,
            oldest_age_secs,
        })
    }
}
