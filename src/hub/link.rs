//! A session's connections on this node, and the bounded queues feeding them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use super::outbox::{Out, Outbox, Sent};

use crate::session::{Mode, Role, Session, SessionId, State};

/// Identifies one WebSocket connection on this node.
pub type PeerId = u64;

static NEXT_PEER: AtomicU64 = AtomicU64::new(1);

pub fn next_peer_id() -> PeerId {
    NEXT_PEER.fetch_add(1, Ordering::Relaxed)
}

struct Peer {
    id: PeerId,
    out: Arc<Outbox>,
}

struct Tab {
    peer: Peer,
}

#[derive(Default)]
struct Peers {
    /// Customer connections, one per tab; the last is the one shown to the agent.
    customers: Vec<Tab>,
    agent: Option<Peer>,
}

/// Queue slots relayed content may not take, so that an `ended` notice and
/// the close still fit in the queue of a receiver that has stopped reading.
pub const RESERVED_FOR_NOTICES: usize = 4;

pub struct Link {
    id: SessionId,
    peers: Mutex<Peers>,
    /// Copies of the session state the relay path checks on every frame,
    /// kept current by the engine so no lock on the session is taken per frame.
    active: AtomicBool,
    write: AtomicBool,
}

impl Link {
    pub fn new(id: SessionId) -> Self {
        Link {
            id,
            peers: Mutex::default(),
            active: AtomicBool::new(false),
            write: AtomicBool::new(false),
        }
    }

    pub fn id(&self) -> SessionId {
        self.id
    }

    pub fn sync(&self, session: &Session) {
        let (active, write) = Link::flags(session);
        self.set_flags(active, write);
    }

    /// What the relay checks: is an agent in, and may the agent act.
    pub fn flags(session: &Session) -> (bool, bool) {
        let active = session.state == State::Active;
        (active, active && session.mode == Mode::Write)
    }

    /// This node's connections: customer tabs, and the agent's.
    pub fn peer_ids(&self) -> (Vec<PeerId>, Option<PeerId>) {
        let p = self.peers.lock().expect("link lock");
        (
            p.customers.iter().map(|t| t.peer.id).collect(),
            p.agent.as_ref().map(|a| a.id),
        )
    }

    pub fn set_flags(&self, active: bool, write: bool) {
        self.active.store(active, Ordering::Release);
        self.write.store(write, Ordering::Release);
    }

    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    pub fn is_write(&self) -> bool {
        self.write.load(Ordering::Acquire)
    }

    /// Adds a customer tab and makes it the shown one; the tab shown before
    /// is told to pause (it stops capturing until it is shown again).
    pub fn attach_customer(&self, id: PeerId, out: Arc<Outbox>, paused: impl Fn() -> Out) {
        let mut p = self.peers.lock().expect("link lock");
        if let Some(previous) = p.customers.last() {
            previous.peer.out.push(paused(), 0);
        }
        p.customers.push(Tab {
            peer: Peer { id, out },
        });
    }

    /// Makes a tab the shown one, pausing the one shown before; true if it was not already shown.
    pub fn focus_customer(&self, id: PeerId, paused: impl Fn() -> Out) -> bool {
        let mut p = self.peers.lock().expect("link lock");
        match p.customers.iter().position(|t| t.peer.id == id) {
            Some(i) if i + 1 != p.customers.len() => {
                if let Some(previous) = p.customers.last() {
                    previous.peer.out.push(paused(), 0);
                }
                let tab = p.customers.remove(i);
                p.customers.push(tab);
                true
            }
            _ => false,
        }
    }

    pub fn is_shown_customer(&self, id: PeerId) -> bool {
        self.peers
            .lock()
            .expect("link lock")
            .customers
            .last()
            .is_some_and(|t| t.peer.id == id)
    }

    /// Removes a tab; returns whether the shown tab changed to another one.
    pub fn detach_customer(&self, id: PeerId) -> bool {
        let mut p = self.peers.lock().expect("link lock");
        let was_shown = p.customers.last().is_some_and(|t| t.peer.id == id);
        p.customers.retain(|t| t.peer.id != id);
        was_shown && !p.customers.is_empty()
    }

    /// Sets the agent connection; an older one of the same agent is told to go.
    pub fn attach_agent(&self, id: PeerId, out: Arc<Outbox>) -> Option<Arc<Outbox>> {
        let mut p = self.peers.lock().expect("link lock");
        p.agent.replace(Peer { id, out }).map(|old| old.out)
    }

    /// Clears the agent connection if it is still this one.
    pub fn detach_agent(&self, id: PeerId) -> bool {
        let mut p = self.peers.lock().expect("link lock");
        if p.agent.as_ref().is_some_and(|a| a.id == id) {
            p.agent = None;
            true
        } else {
            false
        }
    }

    pub fn is_empty(&self) -> bool {
        let p = self.peers.lock().expect("link lock");
        p.customers.is_empty() && p.agent.is_none()
    }

    /// Sends relayed content to the party's connection on this node (the
    /// shown tab for the customer), keeping the last queue slots for notices.
    pub fn relay(&self, to: Role, out: Out) -> Sent {
        self.push(to, out, RESERVED_FOR_NOTICES)
    }

    /// Sends a server notice (mode, ended, close); may use the reserved slots.
    pub fn notify(&self, to: Role, out: Out) -> Sent {
        self.push(to, out, 0)
    }

    fn push(&self, to: Role, out: Out, keep_free: usize) -> Sent {
        // The outbox is taken out of the lock: a write may be a system call.
        let outbox = {
            let p = self.peers.lock().expect("link lock");
            match to {
                Role::Customer => p.customers.last().map(|t| t.peer.out.clone()),
                Role::Agent => p.agent.as_ref().map(|a| a.out.clone()),
            }
        };
        match outbox {
            None => Sent::NoPeer,
            Some(outbox) => outbox.push(out, keep_free),
        }
    }

    /// Sends a notice to every customer tab (state changes all tabs must know).
    pub fn notify_all_customers(&self, make: impl Fn() -> Out) {
        let p = self.peers.lock().expect("link lock");
        for tab in &p.customers {
            tab.peer.out.push(make(), 0);
        }
    }
}

/// The links of this node, by session.
#[derive(Default)]
pub struct Links(RwLock<HashMap<SessionId, Arc<Link>>>);

impl Links {
    pub fn get(&self, id: SessionId) -> Option<Arc<Link>> {
        self.0.read().expect("links lock").get(&id).cloned()
    }

    /// The link; `created` runs when this call makes it, before anyone else can get it.
    pub fn get_or_create_with(&self, id: SessionId, created: impl FnOnce()) -> Arc<Link> {
        if let Some(link) = self.get(id) {
            return link;
        }
        let mut map = self.0.write().expect("links lock");
        map.entry(id)
            .or_insert_with(|| {
                created();
                Arc::new(Link::new(id))
            })
            .clone()
    }

    /// Removes the link if no connection uses it; true if removed.
    pub fn release(&self, id: SessionId) -> bool {
        let mut map = self.0.write().expect("links lock");
        if map.get(&id).is_some_and(|l| l.is_empty()) {
            map.remove(&id);
            return true;
        }
        false
    }

    pub fn all(&self) -> Vec<Arc<Link>> {
        self.0
            .read()
            .expect("links lock")
            .values()
            .cloned()
            .collect()
    }
}
