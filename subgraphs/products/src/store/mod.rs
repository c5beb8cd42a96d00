//! The catalog's stores: MongoDB (the truth) and the Redis cache in front of it.

pub mod mongo;
pub mod redis;

pub use mongo::{Page, ProductStore, StoreError, Updated};
pub use redis::{CacheError, CatalogCache};
