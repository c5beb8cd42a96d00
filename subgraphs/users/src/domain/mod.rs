//! The users service's rules, without I/O: who may register, how passwords are checked, when
//! an account locks, what a refresh token is,
//! what a mailed one-time link is.

pub mod account;
pub mod account_token;
pub mod lockout;
pub mod password;
pub mod refresh_token;
