//! The payments subgraph (issue 6). Built so far: the port to a payment provider and the
//! test provider the platform runs with. The store, the saga's consumers and `Order.payment`
//! come next.

pub mod provider;
