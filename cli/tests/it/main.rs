//! End-to-end tests: the real `emporium up` binary, driven through the router as a client
//! would, against the real Postgres, MongoDB, Redis and RabbitMQ on this machine.

mod accounts;
mod cart;
mod catalog;
mod deployment;
mod dlq;
mod edge;
mod entities;
mod events;
mod helpers;
mod inventory;
mod kubernetes;
mod limits;
mod notifications;
mod operations;
mod orders;
mod payments;
mod playground;
mod pricing;
mod queues;
mod replicas;
mod search;
mod seeding;
mod storefront;
mod variants;
