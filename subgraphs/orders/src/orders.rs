//! Orders in Postgres: checkout, reads, transitions and the time-out sweeper.
//!
//! Every change of an order is one transaction that also writes its events to the outbox:
//! checkout writes `order.placed` and the first `order.status_changed` (PENDING); each
//! transition writes its history entry and `order.status_changed`. A transition caused by
//! an event also records the event in the inbox, in the same transaction.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use emporium_kernel::events::outbox::postgres::enqueue;
use emporium_kernel::events::{inbox, Envelope, EventDraft};
use emporium_kernel::money::{Currency, Money};
use emporium_kernel::sealed::{SealError, SealingKey};
use emporium_kernel::trace::TraceContext;
use serde_json::json;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::checkout::{Address, CheckoutRequest};
use crate::lines::{self, Line, LinesError};
use crate::status::{self, Actor, Command, OrderStatus, Reason, TransitionError};

/// The `source` of the events orders publishes.
pub const SOURCE: &str = "/subgraphs/orders";

#[derive(Debug, thiserror::Error)]
pub enum OrdersError {
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Lines(#[from] LinesError),
    #[error("sealing the payment token: {0}")]
    Seal(#[from] SealError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// An order as stored (its lines and history are read separately).
#[derive(Debug, Clone)]
pub struct Order {
    pub id: Uuid,
    pub user_id: Uuid,
    pub status: OrderStatus,
    pub status_reason: Option<String>,
    pub total: Money,
    pub shipping_address: Address,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One entry of an order's history: a status it reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub order_id: Uuid,
    /// The sequence number of the `order.status_changed` event that announced it.
    pub sequence: i64,
    pub status: OrderStatus,
    pub previous_status: Option<OrderStatus>,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

/// What a checkout came to.
#[derive(Debug)]
pub enum CheckoutOutcome {
    /// A new order, placed from the cart.
    Placed(Order),
    /// The idempotency key was used before with the same request: its order.
    Replayed(Order),
    /// Nothing (still sold) in the cart.
    EmptyCart,
    /// The idempotency key was used before with a different address or token.
    KeyReused,
}

/// What asked for a transition: a request, an event (handled at most once per queue), or
/// the time-out sweeper.
pub enum Cause<'a> {
    Request(&'a TraceContext),
    Event {
        queue: &'a str,
        envelope: &'a Envelope,
    },
    Sweeper,
}

/// What a transition came to.
#[derive(Debug)]
pub enum TransitionOutcome {
    Done(Box<Order>),
    /// No such order, or not one the customer may see.
    NotFound,
    /// The state machine refused; nothing changed.
    Refused(TransitionError),
    /// The event was handled before.
    AlreadyHandled,
}

/// Which orders a listing holds.
#[derive(Debug, Clone, Copy, Default)]
pub struct OrderFilter {
    /// Only this customer's orders (`None`: everyone's, for admins).
    pub user: Option<Uuid>,
    pub status: Option<OrderStatus>,
}

#[derive(Clone)]
pub struct Orders {
    pool: PgPool,
    /// The payments service's public key: the payment token leaves checkout sealed to it.
    payment_token_key: SealingKey,
}

const ORDER_COLUMNS: &str = "id, user_id, status, status_reason, total_minor, currency, \
                             shipping_address, created_at, updated_at";

impl Orders {
    /// `payment_token_key` is the payments service's public key; only payments can open what
    /// orders seals with it.
    pub fn new(pool: PgPool, payment_token_key: SealingKey) -> Self {
        Self {
            pool,
            payment_token_key,
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Places an order from the customer's cart, or replays the order placed before with
    /// the same idempotency key. Checkouts of one customer are serialised (an advisory lock
    /// per customer), so two identical requests racing give one order, and two different
    /// ones cannot both order the same cart.
    pub async fn checkout(
        &self,
        user: Uuid,
        request: &CheckoutRequest,
        trace: &TraceContext,
    ) -> Result<CheckoutOutcome, OrdersError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(emporium_kernel::advisory_lock_key(&format!(
                "orders-checkout:{user}"
            )))
            .execute(&mut *tx)
            .await?;
        let digest = request.digest();
        let earlier = sqlx::query(
            "SELECT id, request_digest FROM orders WHERE user_id = $1 AND idempotency_key = $2",
        )
        .bind(user)
        .bind(request.idempotency_key())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = earlier {
            tx.rollback().await?;
            let stored: String = row.try_get("request_digest")?;
            if stored != digest {
                return Ok(CheckoutOutcome::KeyReused);
            }
            let id: Uuid = row.try_get("id")?;
            return match self.order(id).await? {
                Some(order) => Ok(CheckoutOutcome::Replayed(order)),
                None => Err(OrdersError::Corrupt(format!("order {id} vanished"))),
            };
        }

        let lines = cart_for_checkout(&mut tx, user).await?;
        if lines.is_empty() {
            tx.rollback().await?;
            return Ok(CheckoutOutcome::EmptyCart);
        }
        let total = lines::total(&lines)?;
        let id = Uuid::now_v7();
        let address = serde_json::to_value(request.address())
            .map_err(|e| OrdersError::Corrupt(format!("address: {e}")))?;
        sqlx::query(
            "INSERT INTO orders (id, user_id, status, total_minor, currency, shipping_address,
                                 idempotency_key, request_digest)
             VALUES ($1, $2, 'PENDING', $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(user)
        .bind(total.minor())
        .bind(total.currency().as_str())
        .bind(&address)
        .bind(request.idempotency_key())
        .bind(&digest)
        .execute(&mut *tx)
        .await?;
        let positions: Vec<i32> = (1..).take(lines.len()).collect();
        sqlx::query(
            "INSERT INTO order_items (order_id, position, product_id, product_name,
                                      unit_price_minor, quantity)
             SELECT $1, * FROM UNNEST($2::int[], $3::text[], $4::text[], $5::bigint[], $6::int[])",
        )
        .bind(id)
        .bind(&positions)
        .bind(
            lines
                .iter()
                .map(|l| l.product_id.clone())
                .collect::<Vec<_>>(),
        )
        .bind(
            lines
                .iter()
                .map(|l| l.product_name.clone())
                .collect::<Vec<_>>(),
        )
        .bind(
            lines
                .iter()
                .map(|l| l.unit_price.minor())
                .collect::<Vec<_>>(),
        )
        .bind(lines.iter().map(|l| l.quantity).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM cart_items WHERE user_id = $1")
            .bind(user)
            .execute(&mut *tx)
            .await?;

        let sealed_token = self.payment_token_key.seal(
            request.payment_token().as_bytes(),
            id.to_string().as_bytes(),
        )?;
        let placed = order_placed(id, user, &lines, total, &sealed_token)?;
        let placed = enqueue(&mut tx, SOURCE, placed.traced(trace)).await?;
        let order = fetch_order(&mut tx, id, false)
            .await?
            .ok_or_else(|| OrdersError::Corrupt(format!("order {id} not readable")))?;
        record(
            &mut tx,
            &order,
            None,
            Some(&placed),
            EventOrigin::Trace(trace),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(order_id = %id, lines = lines.len(), total = %total.to_decimal_string(), "order placed");
        Ok(CheckoutOutcome::Placed(order))
    }

    pub async fn order(&self, id: Uuid) -> Result<Option<Order>, OrdersError> {
        let mut conn = self.pool.acquire().await?;
        fetch_order(&mut conn, id, false).await
    }

    /// The order if `viewer` may see it: its customer, or an admin.
    pub async fn visible_order(
        &self,
        id: Uuid,
        customer: Option<Uuid>,
    ) -> Result<Option<Order>, OrdersError> {
        Ok(self
            .order(id)
            .await?
            .filter(|order| customer.is_none_or(|user| user == order.user_id)))
    }

    /// The lines of one order, in the order they were placed.
    pub async fn items(
        &self,
        order_id: Uuid,
        currency: Currency,
    ) -> Result<Vec<Line>, OrdersError> {
        let mut lines = self.items_of(&[(order_id, currency)]).await?;
        Ok(lines.remove(&order_id).unwrap_or_default())
    }

    /// The lines of each of `orders` (with the currency it was placed in), in one query. An
    /// order without lines, or unknown, is absent.
    pub async fn items_of(
        &self,
        orders: &[(Uuid, Currency)],
    ) -> Result<HashMap<Uuid, Vec<Line>>, OrdersError> {
        let currencies: HashMap<Uuid, Currency> = orders.iter().copied().collect();
        let ids: Vec<Uuid> = currencies.keys().copied().collect();
        let rows = sqlx::query(
            "SELECT order_id, product_id, product_name, unit_price_minor, quantity
             FROM order_items WHERE order_id = ANY($1) ORDER BY order_id, position",
        )
        .bind(&ids)
        .fetch_all(&self.pool)
        .await?;
        let mut lines: HashMap<Uuid, Vec<Line>> = HashMap::with_capacity(ids.len());
        for row in &rows {
            let order_id: Uuid = row.try_get("order_id")?;
            let currency = currencies
                .get(&order_id)
                .copied()
                .ok_or_else(|| OrdersError::Corrupt(format!("line of unasked order {order_id}")))?;
            lines.entry(order_id).or_default().push(Line {
                product_id: row.try_get("product_id")?,
                product_name: row.try_get("product_name")?,
                unit_price: Money::from_minor(row.try_get("unit_price_minor")?, currency)
                    .map_err(|e| OrdersError::Corrupt(format!("price: {e}")))?,
                quantity: row.try_get("quantity")?,
            });
        }
        Ok(lines)
    }

    /// Every status the order reached, oldest first.
    pub async fn history(&self, order_id: Uuid) -> Result<Vec<HistoryEntry>, OrdersError> {
        let mut histories = self.histories(&[order_id]).await?;
        Ok(histories.remove(&order_id).unwrap_or_default())
    }

    /// The history of each of `orders`, oldest first, in one query.
    pub async fn histories(
        &self,
        orders: &[Uuid],
    ) -> Result<HashMap<Uuid, Vec<HistoryEntry>>, OrdersError> {
        let rows = sqlx::query(
            "SELECT order_id, sequence, status, previous_status, reason, at
             FROM order_history WHERE order_id = ANY($1) ORDER BY order_id, sequence",
        )
        .bind(orders)
        .fetch_all(&self.pool)
        .await?;
        let mut histories: HashMap<Uuid, Vec<HistoryEntry>> = HashMap::with_capacity(orders.len());
        for row in &rows {
            let entry = history_entry(row)?;
            histories.entry(entry.order_id).or_default().push(entry);
        }
        Ok(histories)
    }

    /// A page of orders, newest first, after the order `after` (exclusive); with whether
    /// more follow and how many match in all.
    pub async fn list(
        &self,
        filter: OrderFilter,
        after: Option<Uuid>,
        size: usize,
    ) -> Result<(Vec<Order>, bool, i64), OrdersError> {
        let limit = i64::try_from(size).unwrap_or(i64::MAX - 1) + 1;
        // One snapshot for the page and its count, so a page counts what it lists even while
        // orders are being placed.
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?;
        let rows = sqlx::query(&format!(
            "SELECT {ORDER_COLUMNS} FROM orders
             WHERE ($1::uuid IS NULL OR user_id = $1) AND ($2::text IS NULL OR status = $2)
               AND ($3::uuid IS NULL OR id < $3)
             ORDER BY id DESC LIMIT $4"
        ))
        .bind(filter.user)
        .bind(filter.status.map(OrderStatus::as_str))
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let mut orders = rows.iter().map(order_of).collect::<Result<Vec<_>, _>>()?;
        let more = orders.len() > size;
        orders.truncate(size);
        let total: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM orders
             WHERE ($1::uuid IS NULL OR user_id = $1) AND ($2::text IS NULL OR status = $2)",
        )
        .bind(filter.user)
        .bind(filter.status.map(OrderStatus::as_str))
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((orders, more, total))
    }

    /// Moves an order along the state machine: locks it, asks [`status::transition`], and
    /// records the change, its history entry and `order.status_changed` in one transaction.
    /// A customer asking about another customer's order gets `NotFound`.
    pub async fn transition(
        &self,
        order_id: Uuid,
        command: Command,
        actor: Actor,
        cause: Cause<'_>,
    ) -> Result<TransitionOutcome, OrdersError> {
        let mut tx = match &cause {
            Cause::Event { queue, envelope } => {
                match inbox::begin_once(&self.pool, queue, envelope.id).await? {
                    Some(tx) => tx,
                    None => return Ok(TransitionOutcome::AlreadyHandled),
                }
            }
            Cause::Request(_) | Cause::Sweeper => self.pool.begin().await?,
        };
        let Some(order) = fetch_order(&mut tx, order_id, true).await? else {
            // An event about an order this service never placed: recorded as handled.
            tx.commit().await?;
            return Ok(TransitionOutcome::NotFound);
        };
        if let Actor::Customer(user) = actor {
            if user != order.user_id {
                return Ok(TransitionOutcome::NotFound);
            }
        }
        let change = match status::transition(order.status, command, actor, order.user_id) {
            Ok(change) => change,
            Err(refused) => {
                // Recorded as handled: a late or repeated saga event changes nothing.
                tx.commit().await?;
                return Ok(TransitionOutcome::Refused(refused));
            }
        };
        let reason = change.reason.map(Reason::as_str);
        sqlx::query(
            "UPDATE orders SET status = $2, status_reason = $3, updated_at = now() WHERE id = $1",
        )
        .bind(order_id)
        .bind(change.to.as_str())
        .bind(reason)
        .execute(&mut *tx)
        .await?;
        let updated = fetch_order(&mut tx, order_id, false)
            .await?
            .ok_or_else(|| OrdersError::Corrupt(format!("order {order_id} not readable")))?;
        let origin = match &cause {
            Cause::Request(trace) => EventOrigin::Trace(trace),
            Cause::Event { envelope, .. } => EventOrigin::Event(envelope),
            Cause::Sweeper => EventOrigin::None,
        };
        record(&mut tx, &updated, Some(change.from), None, origin).await?;
        tx.commit().await?;
        tracing::info!(
            order_id = %order_id,
            from = change.from.as_str(),
            to = change.to.as_str(),
            reason = reason.unwrap_or(""),
            "order status changed"
        );
        Ok(TransitionOutcome::Done(Box::new(updated)))
    }

    /// Rejects (TIMED_OUT) every order PENDING for longer than `timeout`: a reply of the saga
    /// was lost. Safe with several replicas: each order is re-checked under its row lock.
    pub async fn reject_stale(&self, timeout: Duration) -> Result<usize, OrdersError> {
        let timeout_ms = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
        let stale: Vec<Uuid> = sqlx::query_scalar(
            "SELECT id FROM orders
             WHERE status = 'PENDING' AND created_at < now() - make_interval(secs => $1 / 1000.0)
             ORDER BY created_at LIMIT 500",
        )
        .bind(timeout_ms as f64)
        .fetch_all(&self.pool)
        .await?;
        let mut rejected = 0;
        for id in stale {
            let outcome = self
                .transition(
                    id,
                    Command::Reject(Reason::TimedOut),
                    Actor::System,
                    Cause::Sweeper,
                )
                .await?;
            if matches!(outcome, TransitionOutcome::Done(_)) {
                tracing::warn!(order_id = %id, "order timed out waiting for the saga: rejected");
                rejected += 1;
            }
        }
        Ok(rejected)
    }

    /// Runs [`Orders::reject_stale`] every little while until `shutdown`.
    pub async fn run_sweeper(self, timeout: Duration, shutdown: CancellationToken) {
        let every = (timeout / 4).clamp(Duration::from_millis(200), Duration::from_secs(30));
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
            if let Err(err) = self.reject_stale(timeout).await {
                tracing::warn!(error = %err, "the order time-out sweep failed; trying again");
            }
        }
    }
}

/// The cart's lines at checkout, locked so a concurrent cart change waits for the order.
async fn cart_for_checkout(conn: &mut PgConnection, user: Uuid) -> Result<Vec<Line>, OrdersError> {
    let rows = sqlx::query(
        "SELECT c.product_id, p.name, p.price_minor, p.currency, c.quantity
         FROM cart_items c JOIN catalog_products p ON p.product_id = c.product_id
         WHERE c.user_id = $1 AND NOT p.deleted
         ORDER BY c.added_at, c.product_id
         FOR UPDATE OF c",
    )
    .bind(user)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            let currency: String = row.try_get("currency")?;
            let currency = Currency::parse(&currency)
                .map_err(|e| OrdersError::Corrupt(format!("currency: {e}")))?;
            Ok(Line {
                product_id: row.try_get("product_id")?,
                product_name: row.try_get("name")?,
                unit_price: Money::from_minor(row.try_get("price_minor")?, currency)
                    .map_err(|e| OrdersError::Corrupt(format!("price: {e}")))?,
                quantity: row.try_get("quantity")?,
            })
        })
        .collect()
}

async fn fetch_order(
    conn: &mut PgConnection,
    id: Uuid,
    for_update: bool,
) -> Result<Option<Order>, OrdersError> {
    let lock = if for_update { " FOR UPDATE" } else { "" };
    let row = sqlx::query(&format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1{lock}"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(order_of).transpose()
}

fn order_of(row: &PgRow) -> Result<Order, OrdersError> {
    let status: String = row.try_get("status")?;
    let currency: String = row.try_get("currency")?;
    let currency =
        Currency::parse(&currency).map_err(|e| OrdersError::Corrupt(format!("currency: {e}")))?;
    let address: serde_json::Value = row.try_get("shipping_address")?;
    Ok(Order {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        status: OrderStatus::parse(&status)
            .ok_or_else(|| OrdersError::Corrupt(format!("status {status:?}")))?,
        status_reason: row.try_get("status_reason")?,
        total: Money::from_minor(row.try_get("total_minor")?, currency)
            .map_err(|e| OrdersError::Corrupt(format!("total: {e}")))?,
        shipping_address: serde_json::from_value(address)
            .map_err(|e| OrdersError::Corrupt(format!("address: {e}")))?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn history_entry(row: &PgRow) -> Result<HistoryEntry, OrdersError> {
    let parse = |raw: String| {
        OrderStatus::parse(&raw).ok_or_else(|| OrdersError::Corrupt(format!("status {raw:?}")))
    };
    Ok(HistoryEntry {
        order_id: row.try_get("order_id")?,
        sequence: row.try_get("sequence")?,
        status: parse(row.try_get("status")?)?,
        previous_status: row
            .try_get::<Option<String>, _>("previous_status")?
            .map(parse)
            .transpose()?,
        reason: row.try_get("reason")?,
        at: row.try_get("at")?,
    })
}

/// Where an event's correlation and trace come from.
enum EventOrigin<'a> {
    Trace(&'a TraceContext),
    Event(&'a Envelope),
    None,
}

/// Records that `order` reached its current status: the history entry and
/// `order.status_changed`, in the caller's transaction. `flow` is the event that started the
/// order's flow (checkout's `order.placed`), which the change then belongs to.
async fn record(
    conn: &mut PgConnection,
    order: &Order,
    previous: Option<OrderStatus>,
    flow: Option<&Envelope>,
    origin: EventOrigin<'_>,
) -> Result<HistoryEntry, OrdersError> {
    let at = order.updated_at;
    let mut draft = status_changed(order, previous, at);
    draft = match (flow, origin) {
        (Some(placed), _) => draft.caused_by(placed),
        (None, EventOrigin::Event(cause)) => draft.caused_by(cause),
        (None, EventOrigin::Trace(trace)) => draft.traced(trace),
        (None, EventOrigin::None) => draft,
    };
    let envelope = enqueue(&mut *conn, SOURCE, draft).await?;
    let entry = HistoryEntry {
        order_id: order.id,
        sequence: envelope.sequence_number(),
        status: order.status,
        previous_status: previous,
        reason: order.status_reason.clone(),
        at,
    };
    sqlx::query(
        "INSERT INTO order_history (order_id, sequence, status, previous_status, reason, at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(entry.order_id)
    .bind(entry.sequence)
    .bind(entry.status.as_str())
    .bind(entry.previous_status.map(OrderStatus::as_str))
    .bind(&entry.reason)
    .bind(entry.at)
    .execute(&mut *conn)
    .await?;
    Ok(entry)
}

/// `order.placed`: what inventory reserves and payments authorizes.
fn order_placed(
    id: Uuid,
    user: Uuid,
    lines: &[Line],
    total: Money,
    sealed_payment_token: &str,
) -> Result<EventDraft, OrdersError> {
    let items = lines
        .iter()
        .map(|line| {
            Ok(json!({
                "productId": line.product_id,
                "productName": line.product_name,
                "quantity": line.quantity,
                "unitPrice": line.unit_price.to_decimal_string(),
                "lineTotal": line.total()?.to_decimal_string(),
            }))
        })
        .collect::<Result<Vec<_>, LinesError>>()?;
    Ok(EventDraft::new(
        "order.placed",
        id.to_string(),
        json!({
            "orderId": id,
            "userId": user,
            "items": items,
            "total": total.to_decimal_string(),
            "currency": total.currency().as_str(),
            // The provider's single-use token (never a card number), sealed to the payments
            // service's key and bound to this order: the outbox, the broker and dead letters
            // never hold it in plaintext. Payments opens it to authorize once inventory has
            // reserved the lines.
            "paymentTokenSealed": sealed_payment_token,
        }),
    ))
}

/// `order.status_changed`: for notifications, live feeds, inventory and payments.
pub fn status_changed(
    order: &Order,
    previous: Option<OrderStatus>,
    at: DateTime<Utc>,
) -> EventDraft {
    EventDraft::new(
        "order.status_changed",
        order.id.to_string(),
        json!({
            "orderId": order.id,
            "userId": order.user_id,
            "status": order.status.as_str(),
            "previousStatus": previous.map(OrderStatus::as_str),
            "reason": order.status_reason,
            "at": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "total": order.total.to_decimal_string(),
            "currency": order.total.currency().as_str(),
        }),
    )
}
