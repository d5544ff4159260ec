//! A connection's place in a session's routing on this node.

use std::sync::Arc;

use super::{FrameRouting, Link, Out, PeerId, next_peer_id};
use crate::protocol::ServerMsg;
use crate::session::{Role, SessionId};

/// Made once a party is admitted, it subscribes this node to the session's
/// frames and counts the connection as attached; dropped, it undoes each step
/// in reverse, so that no way out of a connection's handler forgets one.
pub struct Attachment {
    routing: Arc<dyn FrameRouting>,
    pub id: SessionId,
    pub role: Role,
    pub peer: PeerId,
    pub link: Arc<Link>,
}

impl Attachment {
    /// Returns once frames for the session, from any node, reach the link:
    /// the party is told the session's state only after, so it misses nothing.
    pub async fn open(routing: Arc<dyn FrameRouting>, id: SessionId, role: Role) -> Self {
        let peer = next_peer_id();
        let link = routing.link(id);
        routing.subscribed(id).await;
        routing.attached(id, role, peer);
        Attachment {
            routing,
            id,
            role,
            peer,
            link,
        }
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        match self.role {
            Role::Customer => {
                if self.link.detach_customer(self.peer) && self.link.is_active() {
                    // Another tab of the site is now the one shown: it starts from a snapshot.
                    let resync = Out::text(ServerMsg::Resync.to_json());
                    self.routing.relay(&self.link, Role::Customer, resync);
                }
            }
            Role::Agent => {
                self.link.detach_agent(self.peer);
            }
        }
        self.routing.detached(self.id, self.role, self.peer);
        self.routing.release(self.id);
    }
}
