//! The users service's Postgres store.

mod lockout_tables;
pub mod postgres;

pub use postgres::{Credentials, RefreshOutcome, StoreError, UserStore};
