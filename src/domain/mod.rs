//! What the server keeps and reasons about, apart from how it is stored: the
//! records of `crate::store` and the pure rules over them.

pub mod account;
pub mod audit;
pub mod editor_grant;
pub mod rule_set;
pub mod session_history;
pub mod sso;
pub mod url_pattern;
pub mod webhook;
