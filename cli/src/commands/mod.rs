//! The admin commands, one module each; `main` parses them and calls these.

pub mod accounts;
pub mod catalog;
pub mod compose;
pub mod dlq;
pub mod inventory;
pub mod search;
