//! cobrowse: live co-browsing for contact centers. See README.md and docs/.

pub mod config;
pub mod protocol;
pub mod session;
pub mod store;
