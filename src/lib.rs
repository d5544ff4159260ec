//! cobrowse: live co-browsing for contact centers. See README.md and docs/.

pub mod protocol;
pub mod session;
