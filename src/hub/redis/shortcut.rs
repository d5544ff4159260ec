//! When a session's frames may skip Redis on this node: its receiver is
//! connected here, no other node listens on the session's channel, and
//! nothing this node published for the session is still on its way back.
//!
//! A frame handed straight to its receiver must not overtake one published
//! before it, and must not miss a connection of another node. So a node
//! relays a session's frames directly only while:
//!
//! - its last publish for the session reached one subscriber (Redis says how
//!   many), and it came back here: that one was this node;
//! - no node announced itself on the channel since that publish was sent (a
//!   node starting to listen announces itself once subscribed, so one that
//!   came after the count is heard of);
//! - that publish, and so everything this node published before it for the
//!   session (one channel, published in order), has come back.
//!
//! Anything else (a publish not yet answered or not yet back, another node
//! listening, a lost connection) publishes, as without the shortcut, and the
//! next publish answered alone and heard back opens the shortcut again.

use std::sync::Mutex;

/// What a publish carried when it was sent, for its answer.
#[derive(Clone, Copy, Debug)]
pub struct Ticket {
    seq: u64,
    announcements: u64,
}

#[derive(Default)]
struct Track {
    /// This node's last publish for the session (node-wide numbers, so that
    /// one still coming back from an earlier link of the session is older).
    sent: u64,
    /// The last of this node's publishes heard back on the channel.
    heard: u64,
    /// A publish that reached this node only, with no announcement between
    /// its sending and its answer; 0 for none since the last announcement.
    alone: u64,
    /// Announcements heard on the channel (this node's own too).
    announcements: u64,
}

/// One session's shortcut on this node.
#[derive(Default)]
pub struct Route(Mutex<Track>);

impl Route {
    fn track(&self) -> std::sync::MutexGuard<'_, Track> {
        self.0.lock().expect("route lock")
    }

    /// Numbers a publish with `seq` and hands it on with `send`, under the
    /// route's lock, so that publishes leave in the order they are numbered.
    pub fn publish(&self, seq: impl FnOnce() -> u64, send: impl FnOnce(u64, Ticket)) {
        let mut t = self.track();
        t.sent = seq();
        let ticket = Ticket {
            seq: t.sent,
            announcements: t.announcements,
        };
        send(t.sent, ticket);
    }

    /// Redis's answer to a publish: how many subscribers it reached (`None`
    /// when the publish failed).
    pub fn answered(&self, ticket: Ticket, receivers: Option<i64>) {
        let mut t = self.track();
        if receivers == Some(1) && t.announcements == ticket.announcements {
            t.alone = t.alone.max(ticket.seq);
        }
    }

    /// One of this node's publishes came back on the channel.
    pub fn heard_back(&self, seq: u64) {
        let mut t = self.track();
        t.heard = t.heard.max(seq);
    }

    /// A node announced itself on the channel: it may hold a receiver.
    pub fn announced(&self) {
        let mut t = self.track();
        t.announcements += 1;
        t.alone = 0;
    }

    /// Whether a frame may go straight to a receiver on this node.
    pub fn direct(&self) -> bool {
        let t = self.track();
        t.sent != 0 && t.heard == t.sent && t.alone == t.sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Publishes with the next number, returning its ticket.
    fn publish(route: &Route, seq: u64) -> Ticket {
        let mut got = None;
        route.publish(|| seq, |_, t| got = Some(t));
        got.expect("sent")
    }

    #[test]
    fn opens_once_a_publish_reached_this_node_alone_and_came_back() {
        let route = Route::default();
        assert!(!route.direct());
        let t = publish(&route, 1);
        route.answered(t, Some(1));
        assert!(!route.direct(), "not heard back yet");
        route.heard_back(1);
        assert!(route.direct());
    }

    #[test]
    fn a_publish_in_flight_closes_it_until_it_comes_back() {
        let route = Route::default();
        let t = publish(&route, 1);
        route.heard_back(1);
        route.answered(t, Some(1));
        let t = publish(&route, 2);
        assert!(!route.direct(), "2 is on its way");
        route.heard_back(2);
        assert!(!route.direct(), "2 not answered");
        route.answered(t, Some(1));
        assert!(route.direct());
    }

    #[test]
    fn another_subscriber_keeps_it_closed() {
        let route = Route::default();
        let t = publish(&route, 1);
        route.heard_back(1);
        route.answered(t, Some(2));
        assert!(!route.direct());
    }

    #[test]
    fn an_announcement_closes_it_even_between_a_publish_and_its_answer() {
        let route = Route::default();
        let t = publish(&route, 1);
        route.heard_back(1);
        route.announced();
        route.answered(t, Some(1));
        assert!(!route.direct(), "announced before the answer");
        let t = publish(&route, 2);
        route.heard_back(2);
        route.answered(t, Some(1));
        assert!(route.direct());
        route.announced();
        assert!(!route.direct(), "announced after");
    }

    #[test]
    fn a_lost_publish_or_a_reply_without_this_node_keeps_it_closed() {
        let route = Route::default();
        let t = publish(&route, 1);
        route.answered(t, None);
        assert!(!route.direct());
        // Answered alone but never heard back: the one subscriber was not this node.
        let t = publish(&route, 2);
        route.answered(t, Some(1));
        route.heard_back(1);
        assert!(!route.direct());
        // A later publish heard back settles the lost ones before it.
        let t = publish(&route, 3);
        route.answered(t, Some(1));
        route.heard_back(3);
        assert!(route.direct());
    }
}
