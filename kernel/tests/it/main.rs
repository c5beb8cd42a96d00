//! Integration tests of the kernel against the real Postgres, MongoDB and RabbitMQ.

mod batched_inbox;
mod broker;
mod consumer;
mod contract;
mod inbox;
mod outbox;
mod quorum;
mod rabbit;
mod reconnect;
