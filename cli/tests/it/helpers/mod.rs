//! Test support, by role: a whole platform on its own stores ([`platform`]), GraphQL as a
//! client sends it ([`graphql`]), the catalogue and its stock ([`catalog`]), the cart,
//! checkout and orders ([`shop`]), GraphQL subscriptions over WebSocket ([`ws`]), and
//! waiting for what happens in the background ([`poll`]). Each fails the test, with what it
//! saw, rather than return an error.

pub mod catalog;
pub mod graphql;
pub mod platform;
pub mod poll;
pub mod shop;
pub mod ws;

pub use catalog::*;
pub use graphql::*;
pub use platform::*;
pub use poll::*;
pub use shop::*;
pub use ws::*;
