//! cobrowse: live co-browsing for contact centers. See README.md and docs/.

pub mod auth;
pub mod config;
pub mod protocol;
pub mod ratelimit;
pub mod session;
pub mod store;
