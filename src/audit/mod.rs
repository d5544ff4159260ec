//! Appending to the audit trail off the relay path: a bounded queue drained by
//! one task that writes each drained batch in one transaction and signs the
//! checkpoints, so that no session ever waits on the trail. A record that
//! cannot be kept is an alert (metric, webhook, error log), never silence.

mod actions;
mod appender;
pub mod cli;
pub mod identity;
pub mod trail;

pub use appender::Auditor;
