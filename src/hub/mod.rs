//! Live sessions: where they are kept (`SessionState`) and how frames reach
//! the parties (`FrameRouting`). Two places implement both: this process
//! (`LocalHub`, the embedded default) and Redis (`RedisHub`, several nodes).
//! Everything above is the same code either way.

mod attachment;
mod link;
mod local;
mod outbox;
mod redis;

use std::sync::Arc;

use async_trait::async_trait;

use serde::{Deserialize, Serialize};

use crate::session::{
    Created, Effect, EndReason, Event, Interaction, Millis, Page, Refusal, Role, Session,
    SessionId, Timeouts,
};

pub use attachment::Attachment;
pub use link::{Link, Links, PeerId, next_peer_id};
pub use local::LocalHub;
pub use outbox::{Capacity, Out, Outbox, Queued, Sent, WsSink};
pub use redis::RedisHub;

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("live-session store unavailable: {0}")]
    Unavailable(String),
}

pub type Result<T> = std::result::Result<T, HubError>;

/// A session after a change, with what the change set off.
pub type Changed = (Session, Vec<Effect>);

/// Why a session ended, kept a while for its customer coming back just
/// after (a reload or the next page landing as the agent left): they are told
/// the real reason rather than "no such session". Only their token opens it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tombstone {
    pub token_hash: String,
    pub reason: EndReason,
    /// With `inactivity`: the timeout that ran out.
    pub after_ms: Option<u64>,
}

/// How long a tombstone is kept: past it, a customer back on the site was
/// away for long, whatever ended the session.
pub const TOMBSTONE_KEPT_MS: Millis = 60 * 60 * 1000;

/// Where live sessions are kept: the session rules applied under one lock
/// (this process's or Redis's), deadlines fired once, ends remembered.
#[async_trait]
pub trait SessionState: Send + Sync + 'static {
    /// A new idle session with an ID unique among live sessions.
    async fn create(
        &self,
        interaction: Option<Interaction>,
        page: Page,
        timeouts: Timeouts,
        now: Millis,
    ) -> Result<(Created, Session)>;
    /// An agent joins (or rejoins) a session, one session per agent.
    async fn join(&self, id: SessionId, agent: &str, now: Millis) -> Result<Changed>;
    async fn apply(&self, id: SessionId, event: Event, now: Millis) -> Result<Changed>;
    async fn get(&self, id: SessionId) -> Result<Option<Session>>;
    async fn live(&self) -> Result<Vec<Session>>;
    async fn bound_to(&self, interaction_id: &str) -> Result<Vec<SessionId>>;
    /// Fires due deadlines. Each deadline fires once, however many nodes tick.
    async fn tick(&self, now: Millis) -> Result<Vec<Changed>>;
    async fn ready(&self) -> Result<()>;
    /// Keeps a session's end for `TOMBSTONE_KEPT_MS` (best effort: a lost
    /// tombstone only makes the customer's notice less precise).
    fn remember_end(&self, id: SessionId, tomb: Tombstone, now: Millis);
    /// The end of a session that ended within `TOMBSTONE_KEPT_MS`.
    async fn end_of(&self, id: SessionId, now: Millis) -> Result<Option<Tombstone>>;
    /// Whether live sessions outlive this node (other nodes carry them on).
    fn shared(&self) -> bool;
}

/// How frames reach the parties: this node's connections to each session,
/// and (with Redis) the other nodes'. Nothing here changes a session.
#[async_trait]
pub trait FrameRouting: Send + Sync + 'static {
    /// This node's connections to a session; created when first asked for.
    fn link(&self, id: SessionId) -> Arc<Link>;
    /// Returns once frames and notices for the session, sent from any node,
    /// reach this node's link (after `link`): a party is told the session's
    /// state only then, so nothing said meanwhile is missed.
    async fn subscribed(&self, _id: SessionId) {}
    /// Forgets the link once no connection of this node uses it.
    fn release(&self, id: SessionId);
    /// Relays page content or pointer frames to a party, wherever it is connected.
    fn relay(&self, link: &Link, to: Role, out: Out) -> Sent;
    /// Sends a server notice to a party (every tab, for the customer), wherever it is.
    fn notify(&self, id: SessionId, to: Role, out: Out);
    /// Brings every node's copy of the relay checks (active, write mode) up to date.
    fn sync(&self, session: &Session);
    /// A party's connection opened or closed on this node, so that another
    /// node can count it gone if this one dies.
    fn attached(&self, id: SessionId, role: Role, peer: PeerId);
    fn detached(&self, id: SessionId, role: Role, peer: PeerId);
}
