//! Confirmed publishing: the confirms of a batch awaited in order, and what a confirm (or its
//! absence) means for the caller.
//!
//! Failure: a broker that refuses a message (a nack, an unroutable message, a channel-level
//! error) is [`PublishError::NotConfirmed`]; anything that means the connection is in trouble is
//! [`PublishError::Unavailable`] and wakes the supervisor to reconnect.

use std::collections::VecDeque;

use lapin::{Confirmation, PublisherConfirm};

use super::connection::Live;
use super::{soft_error, BrokerError};
use crate::events::{metrics, PublishError};

/// A published envelope whose confirm has not been awaited yet.
pub(super) struct InFlight {
    pub(super) index: usize,
    pub(super) subject: String,
    pub(super) event_type: String,
    pub(super) confirm: PublisherConfirm,
}

/// The confirms of one batch, awaited in publishing order.
#[derive(Default)]
pub(super) struct ConfirmPipeline {
    pub(super) in_flight: VecDeque<InFlight>,
    /// Envelopes from the front of the batch the broker confirmed.
    pub(super) confirmed: usize,
}

impl ConfirmPipeline {
    /// The batch index of the in-flight envelope of `subject`, if there is one.
    pub(super) fn in_flight_of(&self, subject: &str) -> Option<usize> {
        self.in_flight
            .iter()
            .rev()
            .find(|f| f.subject == subject)
            .map(|f| f.index)
    }

    /// Awaits the confirms of every in-flight envelope up to batch index `through`.
    pub(super) async fn settle_through(
        &mut self,
        through: usize,
        live: &Live,
    ) -> Result<(), PublishError> {
        while let Some(next) = self.in_flight.front() {
            if next.index > through {
                break;
            }
            let Some(flight) = self.in_flight.pop_front() else {
                break;
            };
            let confirmation = flight
                .confirm
                .await
                .map_err(|err| publish_failure(live, err))?;
            confirmed(confirmation)?;
            metrics::count_published(&flight.event_type);
            self.confirmed = flight.index + 1;
        }
        Ok(())
    }
}

pub(super) fn confirmed(confirmation: Confirmation) -> Result<(), PublishError> {
    match confirmation {
        Confirmation::Ack(None) => Ok(()),
        Confirmation::Ack(Some(returned)) => Err(PublishError::NotConfirmed(format!(
            "no queue is bound for routing key {} ({})",
            returned.delivery.routing_key, returned.reply_text
        ))),
        Confirmation::Nack(_) => Err(PublishError::NotConfirmed(
            "the broker nacked the message".to_owned(),
        )),
        Confirmation::NotRequested => Err(PublishError::NotConfirmed(
            "the publishing channel is not in confirm mode".to_owned(),
        )),
    }
}

pub(super) fn unavailable(err: BrokerError) -> PublishError {
    PublishError::Unavailable(err.to_string())
}

/// A failed publish: the broker refusing it (channel-level) is `NotConfirmed` and costs only
/// the channel; anything else means the connection is in trouble.
pub(super) fn publish_failure(live: &Live, err: lapin::Error) -> PublishError {
    if soft_error(&err).is_some() {
        return PublishError::NotConfirmed(err.to_string());
    }
    PublishError::Unavailable(live.failure(err).to_string())
}
