//! Orders in Postgres: checkout, reads, transitions and the time-out sweeper.
//!
//! Every change of an order is one transaction that also writes its events to the outbox:
//! checkout writes `order.placed` and the first `order.status_changed` (PENDING); each
//! transition writes its history entry and `order.status_changed`. A transition caused by
//! an event also records the event in the inbox, in the same transaction, which it may share
//! with other events' transitions (the kernel's batched inbox).

use chrono::{DateTime, Utc};
use emporium_kernel::events::inbox::{BatchError, BatchedInbox};
use emporium_kernel::events::outbox::postgres::OutboxWaker;
use emporium_kernel::events::Envelope;
use emporium_kernel::ids::{OrderId, UserId};
use emporium_kernel::money::Money;
use emporium_kernel::sealed::{SealError, SealingKey};
use emporium_kernel::trace::TraceContext;
use sqlx::PgPool;

use crate::checkout::Address;
use crate::lines::LinesError;
use crate::pricing::{AppliedDiscount, DiscountRefusal, TaxLine};
use crate::status::{OrderStatus, TransitionError};
use crate::store::StoreError;

mod events;
mod place;
mod reads;
mod rows;
mod transitions;

pub use events::status_changed;

/// The `source` of the events orders publishes.
pub const SOURCE: &str = "/subgraphs/orders";

#[derive(Debug, thiserror::Error)]
pub enum OrdersError {
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Lines(#[from] LinesError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("sealing the payment token: {0}")]
    Seal(#[from] SealError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// A transition caused by an event could not go through the batched inbox.
    #[error(transparent)]
    Inbox(#[from] BatchError),
}

/// An order as stored (its lines and history are read separately).
#[derive(Debug, Clone)]
pub struct Order {
    pub id: OrderId,
    pub user_id: UserId,
    pub status: OrderStatus,
    pub status_reason: Option<String>,
    /// The amount charged: `subtotal - discount_total + shipping_total + tax_total`.
    pub total: Money,
    /// The amounts the order was placed with (see `crate::pricing`).
    pub subtotal: Money,
    pub discounts: Vec<AppliedDiscount>,
    pub discount_total: Money,
    pub shipping_method_name: Option<String>,
    pub shipping_total: Money,
    pub tax_lines: Vec<TaxLine>,
    pub tax_total: Money,
    pub prices_include_tax: bool,
    pub shipping_address: Address,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One entry of an order's history: a status it reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub order_id: OrderId,
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
    /// Shipping methods serve the address's country and the cart has none of them.
    ShippingMethodRequired,
    /// One of the cart's codes does not apply at this moment (nothing was placed).
    DiscountRefused {
        code: String,
        refusal: DiscountRefusal,
    },
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
    pub user: Option<UserId>,
    pub status: Option<OrderStatus>,
}

#[derive(Clone)]
pub struct Orders {
    pool: PgPool,
    /// The payments service's public key: the payment token leaves checkout sealed to it.
    payment_token_key: SealingKey,
    /// The shop's setting: prices include tax (EU style) or tax is added (US style).
    prices_include_tax: bool,
    /// Where the saga's replies are applied once each, several per transaction.
    inbox: BatchedInbox,
    /// Wakes the relays after a commit that wrote events.
    waker: OutboxWaker,
}

/// The most saga replies one transaction applies.
const INBOX_BATCH: usize = 32;

impl Orders {
    /// `payment_token_key` is the payments service's public key; only payments can open what
    /// orders seals with it. Starts the batched inbox's task, so call it inside the runtime.
    pub fn new(pool: PgPool, payment_token_key: SealingKey) -> Self {
        Self {
            inbox: BatchedInbox::start(pool.clone(), INBOX_BATCH),
            waker: OutboxWaker::new(pool.clone()),
            pool,
            payment_token_key,
            prices_include_tax: false,
        }
    }

    /// The same orders for a shop whose prices include tax (`true`) or not (the default).
    pub fn with_prices_including_tax(mut self, prices_include_tax: bool) -> Self {
        self.prices_include_tax = prices_include_tax;
        self
    }

    /// Whether the shop's prices include tax.
    pub fn prices_include_tax(&self) -> bool {
        self.prices_include_tax
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}
