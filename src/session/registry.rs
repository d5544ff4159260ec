//! All live sessions of one place (a node, or one Redis shard's view): the
//! rules that span sessions — unique IDs, one session per agent, interactions
//! that end several sessions at once. Pure, like the machine it holds.

use std::collections::HashMap;

use rand::Rng;

use super::SessionId;
use super::machine::{
    Effect, Event, Interaction, Millis, Outcome, Page, Refusal, Session, Timeouts,
};
use crate::secret::{hash_matches, random_secret, sha256_hex};

/// What the customer gets back once: the ID to read out and the secret token
/// that alone lets it act as the customer (reconnect, next page, exit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Created {
    pub id: SessionId,
    pub token: String,
}

/// Whether `token` is the customer's secret of this session.
pub fn token_matches(session: &Session, token: &str) -> bool {
    hash_matches(&session.token_hash, token)
}

#[derive(Default)]
pub struct Registry {
    sessions: HashMap<SessionId, Session>,
    by_agent: HashMap<String, SessionId>,
}

impl Registry {
    pub fn create(
        &mut self,
        rng: &mut impl Rng,
        interaction: Option<Interaction>,
        page: Page,
        timeouts: Timeouts,
        now: Millis,
    ) -> Created {
        let id = loop {
            let id = SessionId::random(rng);
            if !self.sessions.contains_key(&id) {
                break id;
            }
        };
        let token = random_secret(rng);
        self.sessions.insert(
            id,
            Session::new(id, sha256_hex(&token), interaction, page, timeouts, now),
        );
        Created { id, token }
    }

    pub fn get(&self, id: SessionId) -> Option<&Session> {
        self.sessions.get(&id)
    }

    pub fn live(&self) -> impl Iterator<Item = &Session> {
        self.sessions.values()
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// The session an agent is in, if any.
    pub fn session_of_agent(&self, agent: &str) -> Option<SessionId> {
        self.by_agent.get(agent).copied()
    }

    pub fn join(&mut self, id: SessionId, agent: &str, now: Millis) -> Outcome {
        let session = self.sessions.get_mut(&id).ok_or(Refusal::NoSuchSession)?;
        if let Some(other) = self.by_agent.get(agent)
            && *other != id
        {
            return Err(Refusal::AgentInOtherSession);
        }
        let effects = session.join(agent, now)?;
        self.by_agent.insert(agent.to_string(), id);
        Ok(effects)
    }

    /// Applies one event; an ended session leaves the registry at once, so its
    /// ID means nothing to joiners any more and its agent is free.
    pub fn apply(
        &mut self,
        id: SessionId,
        event: Event,
        now: Millis,
    ) -> Result<(Session, Vec<Effect>), Refusal> {
        let session = self.sessions.get_mut(&id).ok_or(Refusal::NoSuchSession)?;
        let effects = session.handle(event, now)?;
        let after = session.clone();
        if !after.is_live() {
            self.remove(id);
        }
        Ok((after, effects))
    }

    /// Fires due deadlines; returns the sessions that changed with what happened.
    pub fn tick(&mut self, now: Millis) -> Vec<(Session, Vec<Effect>)> {
        let due: Vec<SessionId> = self
            .sessions
            .values()
            .filter(|s| s.next_deadline().is_some_and(|d| d <= now))
            .map(|s| s.id)
            .collect();
        due.into_iter()
            .filter_map(|id| self.apply(id, Event::Tick, now).ok())
            .filter(|(_, effects)| !effects.is_empty())
            .collect()
    }

    /// Every live session bound to a chat or call.
    pub fn bound_to(&self, interaction_id: &str) -> Vec<SessionId> {
        self.sessions
            .values()
            .filter(|s| {
                s.interaction
                    .as_ref()
                    .is_some_and(|i| i.id == interaction_id)
            })
            .map(|s| s.id)
            .collect()
    }

    fn remove(&mut self, id: SessionId) {
        if let Some(session) = self.sessions.remove(&id)
            && let Some(agent) = session.agent
            && self.by_agent.get(&agent) == Some(&id)
        {
            self.by_agent.remove(&agent);
        }
    }
}
