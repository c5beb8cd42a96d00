//! The users service's Postgres store.

pub mod postgres;

pub use postgres::{Credentials, RefreshOutcome, StoreError, UserStore};
