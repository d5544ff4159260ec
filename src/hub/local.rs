//! The embedded hub: live sessions in this process's memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use async_trait::async_trait;

use super::{Changed, Hub, Link, Out, Result, Sent};
use crate::session::{Created, Event, Interaction, Millis, Page, Registry, Role, Session, SessionId, Timeouts};

#[derive(Default)]
pub struct LocalHub {
    registry: Mutex<Registry>,
    links: RwLock<HashMap<SessionId, Arc<Link>>>,
}

impl LocalHub {
    pub fn new() -> Self {
        Self::default()
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().expect("registry lock")
    }
}

#[async_trait]
impl Hub for LocalHub {
    async fn create(&self, interaction: Option<Interaction>, page: Page, timeouts: Timeouts, now: Millis) -> Result<Created> {
        Ok(self.registry().create(&mut rand::rng(), interaction, page, timeouts, now))
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

    fn link(&self, id: SessionId) -> Arc<Link> {
        if let Some(link) = self.links.read().expect("links lock").get(&id) {
            return link.clone();
        }
        self.links.write().expect("links lock").entry(id).or_default().clone()
    }

    fn release(&self, id: SessionId) {
        let mut links = self.links.write().expect("links lock");
        if links.get(&id).is_some_and(|l| l.is_empty()) {
            links.remove(&id);
        }
    }

    fn relay(&self, link: &Link, to: Role, out: Out) -> Sent {
        link.relay(to, out)
    }

    fn notify(&self, link: &Link, to: Role, out: Out) {
        match (to, out) {
            (Role::Customer, Out::Frame(msg, at)) => link.notify_all_customers(|| Out::Frame(msg.clone(), at)),
            (Role::Customer, Out::Close(code, reason)) => link.notify_all_customers(|| Out::Close(code, reason.clone())),
            (Role::Agent, out) => {
                link.notify(Role::Agent, out);
            }
        }
    }
}
