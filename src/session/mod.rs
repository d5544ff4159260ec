//! The session rules of docs/sessions.md, as pure code: no I/O, no clock.
//! Networking, storage and time stand around it (see `crate::hub`).

mod id;
mod machine;
mod registry;
mod view;

pub use id::{BadSessionId, SessionId};
pub use machine::{
    ControlOutcome, Effect, EndReason, Event, Interaction, MAX_TABS, Millis, Mode, Outcome,
    PAGES_PER_MINUTE, Page, Refusal, Role, Session, State, Timeouts,
};
pub use registry::{Created, Registry, token_matches};
pub use view::{LiveSession, public_json};

#[cfg(test)]
mod tests;
