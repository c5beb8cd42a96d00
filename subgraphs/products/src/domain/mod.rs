//! The catalog's rules, without I/O: what a valid product is.

pub mod product;
pub mod variant;
