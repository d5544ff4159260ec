//! The embedded hub: live sessions in this process's memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{
    Changed, FrameRouting, Link, Links, Out, PeerId, Result, Sent, SessionState, TOMBSTONE_KEPT_MS,
    Tombstone,
};
use crate::session::{
    Created, Event, Interaction, Millis, Page, Registry, Role, Session, SessionId, Timeouts,
};

#[derive(Default)]
pub struct LocalHub {
    registry: Mutex<Registry>,
    links: Links,
    /// Ended sessions' tombstones, with when each is forgotten.
    ends: Mutex<HashMap<SessionId, (Tombstone, Millis)>>,
}

impl LocalHub {
    pub fn new() -> Self {
        Self::default()
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().expect("registry lock")
    }
}

/// Hands a notice to this node's connection(s) of a party: every tab of the customer.
pub fn deliver_notice(link: &Link, to: Role, out: Out) {
    match (to, out) {
        (Role::Customer, Out::Frame(msg, at)) => {
            link.notify_all_customers(|| Out::Frame(msg.clone(), at))
        }
        (Role::Customer, Out::Close(code, reason)) => {
            link.notify_all_customers(|| Out::Close(code, reason.clone()))
        }
        (Role::Agent, out) => {
            link.notify(Role::Agent, out);
        }
    }
}

#[async_trait]
impl SessionState for LocalHub {
    async fn create(
        &self,
        interaction: Option<Interaction>,
        page: Page,
        timeouts: Timeouts,
        now: Millis,
    ) -> Result<(Created, Session)> {
        let mut reg = self.registry();
        let created = reg.create(&mut rand::rng(), interaction, page, timeouts, now);
        let session = reg
            .get(created.id)
            .expect("a created session is live")
            .clone();
        Ok((created, session))
    }

    async fn join(&self, id: SessionId, agent: &str, now: Millis) -> Result<Changed> {
        let mut reg = self.registry();
        let effects = reg.join(id, agent, now)?;
        let session = reg.get(id).expect("a joined session is live").clone();
        Ok((session, effects))
    }

    async fn apply(&self, id: SessionId, event: Event, now: Millis) -> Result<Changed> {
        Ok(self.registry().apply(id, event, now)?)
    }

    async fn get(&self, id: SessionId) -> Result<Option<Session>> {
        Ok(self.registry().get(id).cloned())
    }

    async fn live(&self) -> Result<Vec<Session>> {
        Ok(self.registry().live().cloned().collect())
    }

    async fn bound_to(&self, interaction_id: &str) -> Result<Vec<SessionId>> {
        Ok(self.registry().bound_to(interaction_id))
    }

    async fn tick(&self, now: Millis) -> Result<Vec<Changed>> {
        Ok(self.registry().tick(now))
    }

    async fn ready(&self) -> Result<()> {
        Ok(())
    }

    fn remember_end(&self, id: SessionId, tomb: Tombstone, now: Millis) {
        let mut ends = self.ends.lock().expect("tombstones lock");
        ends.retain(|_, (_, until)| *until > now);
        ends.insert(id, (tomb, now + TOMBSTONE_KEPT_MS));
    }

    async fn end_of(&self, id: SessionId, now: Millis) -> Result<Option<Tombstone>> {
        let ends = self.ends.lock().expect("tombstones lock");
        Ok(ends
            .get(&id)
            .filter(|(_, until)| *until > now)
            .map(|(tomb, _)| tomb.clone()))
    }

    fn shared(&self) -> bool {
        false
    }
}

#[async_trait]
impl FrameRouting for LocalHub {
    fn link(&self, id: SessionId) -> Arc<Link> {
        self.links.get_or_create_with(id, || {})
    }

    fn release(&self, id: SessionId) {
        self.links.release(id);
    }

    fn relay(&self, link: &Link, to: Role, out: Out) -> Sent {
        link.relay(to, out)
    }

    fn notify(&self, id: SessionId, to: Role, out: Out) {
        if let Some(link) = self.links.get(id) {
            deliver_notice(&link, to, out);
        }
    }

    fn sync(&self, session: &Session) {
        if let Some(link) = self.links.get(session.id) {
            link.sync(session);
        }
    }

    fn attached(&self, _: SessionId, _: Role, _: PeerId) {}

    fn detached(&self, _: SessionId, _: Role, _: PeerId) {}
}
