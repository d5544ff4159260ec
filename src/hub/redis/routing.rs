//! Frames between nodes: one pub/sub channel per session, subscribed while
//! this node holds a connection of it; between two parties of this node,
//! straight from one to the other while no other node listens.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_trait::async_trait;
use redis::{PushKind, Value};

use super::RedisHub;
use super::keys::{channel, member};
use super::pump::{Command, Outgoing};
use super::wire::{self, Frame};
use crate::hub::local::deliver_notice;
use crate::hub::{FrameRouting, Link, Links, Out, PeerId, Sent};
use crate::session::{Role, Session, SessionId};

#[async_trait]
impl FrameRouting for RedisHub {
    fn link(&self, id: SessionId) -> Arc<Link> {
        // Subscribed as the link is made, so that a later `subscribed` waits for it.
        self.links.get_or_create_with(id, || {
            self.outgoing.add_route(id);
            self.outgoing.listen(id);
        })
    }

    async fn subscribed(&self, id: SessionId) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.outgoing.send(Command::Barrier(tx));
        if tokio::time::timeout(Duration::from_secs(2), rx)
            .await
            .is_err()
        {
            tracing::warn!(session = %id, "Redis subscription not confirmed within 2 s");
        }
    }

    fn release(&self, id: SessionId) {
        if self.links.release(id) {
            self.outgoing.remove_route(id);
            self.outgoing.send(Command::Unsubscribe(channel(id)));
        }
    }

    fn relay(&self, link: &Link, to: Role, out: Out) -> Sent {
        if !self.healthy.load(Ordering::Relaxed)
            || self.outgoing.backlog.load(Ordering::Relaxed) >= self.backlog_limit
        {
            return Sent::Dropped;
        }
        if let Out::Frame(msg, at) = &out
            && self.outgoing.route(link.id()).is_some_and(|r| r.direct())
        {
            match link.relay(to, Out::Frame(msg.clone(), *at)) {
                // Nobody to hand it to here: published, as it would be anyway.
                Sent::NoPeer => {}
                sent => return sent,
            }
        }
        self.outgoing
            .publish(link.id(), |stamp| wire::relay(stamp, to, &out));
        Sent::Queued
    }

    fn notify(&self, id: SessionId, to: Role, out: Out) {
        self.outgoing
            .publish(id, |stamp| wire::notice(stamp, to, &out));
    }

    fn sync(&self, session: &Session) {
        let (active, write) = Link::flags(session);
        self.outgoing
            .publish(session.id, |stamp| wire::sync(stamp, active, write));
        if let Some(local) = self.links.get(session.id) {
            local.sync(session);
        }
    }

    fn attached(&self, id: SessionId, role: Role, peer: PeerId) {
        self.outgoing
            .send(Command::Register(member(id, role, peer)));
    }

    fn detached(&self, id: SessionId, role: Role, peer: PeerId) {
        self.outgoing
            .send(Command::Unregister(member(id, role, peer)));
    }
}

/// Hands frames from other nodes (and this one) to this node's connections.
pub(super) fn dispatch(links: &Links, outgoing: &Outgoing, push: redis::PushInfo) {
    match push.kind {
        PushKind::Message | PushKind::SMessage => {}
        PushKind::Disconnection => return listen_again(links, outgoing),
        _ => return,
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
    let Some((stamp, frame)) = wire::decode(payload) else {
        return;
    };
    match frame {
        Frame::Relay(role, out) => {
            let sent = link.relay(role, out);
            // Dropped here, at the receiver's node, for a receiver that
            // stopped reading: counted like a drop on an embedded node.
            if sent == Sent::Dropped {
                metrics::counter!(crate::metrics::MESSAGES_DROPPED).increment(1);
            }
        }
        Frame::Notice(role, out) => deliver_notice(&link, role, out),
        Frame::Sync { active, write } => link.set_flags(active, write),
        Frame::Hello => {
            if let Some(route) = outgoing.route(id) {
                route.announced();
            }
        }
    }
    // Heard back after it reached this node's parties: a frame handed
    // straight to one of them from now on cannot overtake it.
    if stamp.origin == outgoing.origin
        && let Some(route) = outgoing.route(id)
    {
        route.heard_back(stamp.seq);
    }
}

/// The connection to Redis was lost: what was on its way back may never
/// come, and another node's subscriptions may come back without a word. Every
/// shortcut closes, and this node subscribes again and announces itself on
/// each of its channels (the other nodes close theirs).
fn listen_again(links: &Links, outgoing: &Outgoing) {
    outgoing.close_routes();
    for link in links.all() {
        outgoing.listen(link.id());
    }
}
