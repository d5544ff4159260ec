//! The wall clock, in the milliseconds every record and deadline is counted in.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::session::Millis;

pub fn now_ms() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis)
}
