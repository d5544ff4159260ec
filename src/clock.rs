//! The wall clock, in the milliseconds every record and deadline is counted in.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::session::Millis;

/// Milliseconds since the epoch, or an RFC 3339 date-time.
pub fn parse_instant(s: &str) -> Option<Millis> {
    if let Ok(ms) = s.parse::<u64>() {
        return Some(ms);
    }
    humantime::parse_rfc3339_weak(s)
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as Millis)
}

pub fn now_ms() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis)
}
