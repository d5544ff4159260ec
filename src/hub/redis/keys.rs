//! The Redis keys a hub uses: a session's keys share its hash tag `{<id>}`,
//! a node's its `{<node>}`, so that each script or pipeline stays in one slot.

use crate::hub::PeerId;
use crate::session::{Role, Session, SessionId};

pub(super) const LIVE: &str = "cb:live";
pub(super) const NODES: &str = "cb:nodes";
/// Where an ended session's tombstone is kept, in its session's slot.
pub(super) fn tombstone_key(id: SessionId) -> String {
    format!("cb:{{{id}}}:end")
}

/// A session's score in the deadline set: when the tick should look at it next.
pub(super) fn deadline(s: &Session) -> f64 {
    s.next_deadline().unwrap_or(u64::MAX / 2) as f64
}

pub(super) fn session_key(id: SessionId) -> String {
    format!("cb:{{{id}}}")
}

pub(super) fn channel(id: SessionId) -> String {
    format!("cb:{{{id}}}:ch")
}

pub(super) fn agent_key(agent: &str) -> String {
    format!("cb:agent:{agent}")
}

pub(super) fn interaction_key(interaction: &str) -> String {
    format!("cb:ix:{interaction}")
}

pub(super) fn node_key(node: &str) -> String {
    format!("cb:node:{{{node}}}")
}

pub(super) fn node_conns(node: &str) -> String {
    format!("cb:node:{{{node}}}:conns")
}

pub(super) fn node_reaping(node: &str) -> String {
    format!("cb:node:{{{node}}}:reaping")
}

pub(super) fn member(id: SessionId, role: Role, peer: PeerId) -> String {
    format!(
        "{id}:{}:{peer}",
        if role == Role::Agent { "a" } else { "c" }
    )
}
