//! The orders subgraph (issue 6). Built so far: the domain rules, without I/O. The store,
//! the GraphQL schema, the saga's consumers and the live feed come next.
//!
//! - [`status`]: the order state machine: which transition is legal from which status, for
//!   whom, and what each transition asks the rest of the platform to do.
//! - [`lines`]: order lines and totals in exact money.

pub mod lines;
pub mod status;
