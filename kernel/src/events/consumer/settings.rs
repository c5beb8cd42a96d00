//! What a consumer consumes and how hard it tries ([`ConsumerSettings`]), checked before
//! anything is declared: a bad name, no binding or a zero limit is
//! [`ConsumerError::InvalidSettings`].

use std::time::Duration;

use lapin::types::ShortString;

use super::{dead_letter_queue, ConsumerError};

/// What [`run`] consumes and how hard it tries.
#[derive(Debug, Clone)]
pub struct ConsumerSettings {
    /// `<service>.<purpose>`, e.g. `inventory.order-placed`.
    pub queue: String,
    /// Routing keys bound on `ecommerce-events`, e.g. `product.*` or `order.placed`. Bindings
    /// are only ever added: removing one here does not unbind it from an existing queue.
    pub bindings: Vec<String>,
    /// How many unacknowledged messages the broker hands this consumer at once.
    pub prefetch: u16,
    /// How many of them are handled at once (never two of one aggregate). A consumer never
    /// holds more than `prefetch`, so that is the real limit when it is lower.
    pub concurrency: u16,
    /// Handler calls per message before it is dead-lettered (at least 1).
    pub max_attempts: u32,
    /// The pause before the first retry; it doubles up to `max_backoff`. Also paces
    /// re-establishing the consumer after a lost connection.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl ConsumerSettings {
    /// Settings with defaults: prefetch 32, 8 handled at once, 5 attempts, backoff 200 ms
    /// doubling up to 5 s.
    pub fn new(
        queue: impl Into<String>,
        bindings: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            queue: queue.into(),
            bindings: bindings.into_iter().map(Into::into).collect(),
            prefetch: 32,
            concurrency: 8,
            max_attempts: 5,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
        }
    }

    pub(super) fn validate(&self) -> Result<(), ConsumerError> {
        let invalid = |reason: String| Err(ConsumerError::InvalidSettings(reason));
        // The dead-letter queue's name is the longest name this consumer declares.
        if self.queue.is_empty() || ShortString::try_new(dead_letter_queue(&self.queue)).is_err() {
            return invalid(format!(
                "queue name must be 1 to 251 bytes: {:.60}",
                self.queue
            ));
        }
        if self.bindings.is_empty() {
            return invalid(format!("queue {} has no bindings", self.queue));
        }
        if let Some(binding) = self
            .bindings
            .iter()
            .find(|b| ShortString::try_new(b.as_str()).is_err())
        {
            return invalid(format!("binding longer than 255 bytes: {binding:.60}"));
        }
        if self.max_attempts == 0 || self.prefetch == 0 || self.concurrency == 0 {
            return invalid("max_attempts, prefetch and concurrency must be at least 1".to_owned());
        }
        Ok(())
    }
}
