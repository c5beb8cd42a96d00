//! The catalog's MongoDB store.

pub mod mongo;

pub use mongo::{Page, ProductStore, StoreError};
