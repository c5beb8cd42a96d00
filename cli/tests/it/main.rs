//! End-to-end tests: the real `emporium up` binary, driven through the router as a client
//! would, against the real Postgres and MongoDB on this machine.

mod accounts;
mod catalog;
mod deployment;
mod events;
mod helpers;
mod limits;
mod operations;
mod playground;
