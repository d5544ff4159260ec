//! Frames between nodes: one pub/sub channel per session, subscribed while
//! this node holds a connection of it.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_trait::async_trait;
use redis::{PushKind, Value};

use super::RedisHub;
use super::keys::{channel, member};
use super::pump::Command;
use super::wire::{self, Frame};
use crate::hub::local::deliver_notice;
use crate::hub::{FrameRouting, Link, Links, Out, PeerId, Sent};
use crate::session::{Role, Session, SessionId};

#[async_trait]
impl FrameRouting for RedisHub {
    fn link(&self, id: SessionId) -> Arc<Link> {
        // Subscribed as the link is made, so that a later `subscribed` waits for it.
        self.links
            .get_or_create_with(id, || self.send(Command::Subscribe(channel(id))))
    }

    async fn subscribed(&self, id: SessionId) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Command::Barrier(tx));
        if tokio::time::timeout(Duration::from_secs(2), rx)
            .await
            .is_err()
        {
            tracing::warn!(session = %id, "Redis subscription not confirmed within 2 s");
        }
    }

    fn release(&self, id: SessionId) {
        if self.links.release(id) {
            self.send(Command::Unsubscribe(channel(id)));
        }
    }

    fn relay(&self, link: &Link, to: Role, out: Out) -> Sent {
        if !self.healthy.load(Ordering::Relaxed)
            || self.backlog.load(Ordering::Relaxed) >= self.backlog_limit
        {
            return Sent::Dropped;
        }
        self.publish(link.id(), wire::relay(to, &out));
        Sent::Queued
    }

    fn notify(&self, id: SessionId, to: Role, out: Out) {
        self.publish(id, wire::notice(to, &out));
    }

    fn sync(&self, session: &Session) {
        let (active, write) = Link::flags(session);
        self.publish(session.id, wire::sync(active, write));
        if let Some(local) = self.links.get(session.id) {
            local.sync(session);
        }
    }

    fn attached(&self, id: SessionId, role: Role, peer: PeerId) {
        self.send(Command::Register(member(id, role, peer)));
    }

    fn detached(&self, id: SessionId, role: Role, peer: PeerId) {
        self.send(Command::Unregister(member(id, role, peer)));
    }
}

/// Hands frames from other nodes (and this one) to this node's connections.
pub(super) fn dispatch(links: &Links, push: redis::PushInfo) {
    if !matches!(push.kind, PushKind::Message | PushKind::SMessage) {
        return;
    }
    let [Value::BulkString(ch), Value::BulkString(payload), ..] = push.data.as_slice() else {
        return;
    };
    let Some(id) = std::str::from_utf8(ch)
        .ok()
        .and_then(|c| c.strip_prefix("cb:{"))
        .and_then(|c| c.split('}').next())
        .and_then(|i| i.parse::<SessionId>().ok())
    else {
        return;
    };
    let Some(link) = links.get(id) else { return };
    match wire::decode(payload) {
        Some(Frame::Relay(role, out)) => {
            let sent = link.relay(role, out);
            // Dropped here, at the receiver's node, for a receiver that
            // stopped reading: counted like a drop on an embedded node.
            if sent == Sent::Dropped {
                metrics::counter!(crate::metrics::MESSAGES_DROPPED).increment(1);
            }
        }
        Some(Frame::Notice(role, out)) => deliver_notice(&link, role, out),
        Some(Frame::Sync { active, write }) => link.set_flags(active, write),
        None => {}
    }
}
