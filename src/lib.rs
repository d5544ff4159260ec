//! cobrowse: live co-browsing for contact centers. See README.md and docs/.

pub mod audit;
pub mod auth;
pub mod clock;
pub mod config;
pub mod domain;
pub mod forwarded;
pub mod history;
pub mod http;
pub mod hub;
pub mod interactions;
pub mod listener;
pub mod live;
pub mod metrics;
pub mod netguard;
pub mod privacy;
pub mod protocol;
pub mod proxy;
pub mod ratelimit;
pub mod rules;
pub mod secret;
pub mod server;
pub mod session;
pub mod socket;
pub mod sso;
pub mod store;
pub mod webhooks;
