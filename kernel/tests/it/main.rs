//! Integration tests of the kernel against the real Postgres, MongoDB and RabbitMQ.

mod outbox;
