//! cobrowse: live co-browsing for contact centers. See README.md and docs/.

pub mod session;
