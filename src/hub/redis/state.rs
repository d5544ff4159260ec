//! Session state in Redis: each change a compare-and-set on the session's
//! hash, indexes kept in step, an agent locked to one session cluster-wide.

use std::sync::atomic::Ordering;
use std::time::Duration;

use async_trait::async_trait;
use redis::{AsyncCommands, FromRedisValue, Script};

use super::conn::Batch;
use super::keys::{LIVE, agent_key, deadline, interaction_key, session_key, tombstone_key};
use super::{RedisHub, unavailable};
use crate::hub::{Changed, HubError, Result, SessionState, TOMBSTONE_KEPT_MS, Tombstone};
use crate::secret::{random_secret, sha256_hex};
use crate::session::{
    Created, Event, Interaction, Millis, Outcome, Page, Refusal, Session, SessionId, Timeouts,
};

const CAS_ATTEMPTS: usize = 64;
/// How long an agent's lock stays taken by a join that never finished (its
/// node died in between); long enough for any join to be written.
const JOIN_LEASE_MS: u64 = 5_000;

impl RedisHub {
    pub(super) async fn read(&self, id: SessionId) -> Result<Option<(Session, String)>> {
        let (json, version): (Option<String>, Option<String>) = redis::cmd("HMGET")
            .arg(session_key(id))
            .arg("s")
            .arg("v")
            .query_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        match (json, version) {
            (Some(json), Some(version)) => {
                let session = serde_json::from_str(&json)
                    .map_err(|e| HubError::Unavailable(format!("corrupt session {id}: {e}")))?;
                Ok(Some((session, version)))
            }
            _ => Ok(None),
        }
    }

    /// Reads, changes by the rules, writes back only if nobody wrote meanwhile.
    pub(super) async fn change(
        &self,
        id: SessionId,
        rule: impl Fn(&mut Session) -> Outcome,
    ) -> Result<Changed> {
        for _ in 0..CAS_ATTEMPTS {
            let Some((mut session, version)) = self.read(id).await? else {
                return Err(Refusal::NoSuchSession.into());
            };
            let before = session.clone();
            let effects = rule(&mut session)?;
            if session == before {
                return Ok((session, effects));
            }
            let json = if session.is_live() {
                serde_json::to_string(&session).expect("sessions serialize")
            } else {
                String::new()
            };
            let written: i64 = self
                .scripts
                .cas
                .key(session_key(id))
                .arg(&version)
                .arg(json)
                .invoke_async(&mut self.conn())
                .await
                .map_err(unavailable)?;
            if written == 1 {
                // The change is made: its effects must reach the parties even
                // if the indexes lag (the tick re-indexes what it finds stale).
                if let Err(e) = self.index(&session).await {
                    tracing::warn!(session = %id, error = %e, "session changed, indexes not updated");
                }
                return Ok((session, effects));
            }
        }
        Err(HubError::Unavailable(format!(
            "session {id} is changing too fast"
        )))
    }

    /// Keeps the deadline set and the agent and interaction indexes in step with a session.
    pub(super) async fn index(&self, s: &Session) -> Result<()> {
        let mut conn = self.conn();
        if s.is_live() {
            let _: () = conn
                .zadd(LIVE, s.id.to_string(), deadline(s))
                .await
                .map_err(unavailable)?;
            return Ok(());
        }
        let _: () = conn
            .zrem(LIVE, s.id.to_string())
            .await
            .map_err(unavailable)?;
        if let Some(agent) = &s.agent {
            self.unlock(agent, s.id).await?;
        }
        if let Some(i) = &s.interaction {
            let _: () = conn
                .srem(interaction_key(&i.id), s.id.to_string())
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    /// Runs one of the agent-lock scripts on the agent's key.
    async fn on_agent_lock<T: FromRedisValue>(
        &self,
        script: &Script,
        agent: &str,
        args: &[&str],
    ) -> Result<T> {
        let mut call = script.key(agent_key(agent));
        for arg in args {
            call.arg(*arg);
        }
        call.invoke_async(&mut self.conn())
            .await
            .map_err(unavailable)
    }

    async fn unlock(&self, agent: &str, id: SessionId) -> Result<()> {
        let id = id.to_string();
        self.on_agent_lock::<i64>(&self.scripts.unlock, agent, &[&id])
            .await?;
        Ok(())
    }

    /// Takes the agent's cluster-wide lock for this session, for a lease
    /// until the join is written. The lock is on a slot of its own, so it is
    /// taken before the session changes, not in the same script; a join of
    /// the same agent already under way elsewhere (a lease running) refuses
    /// this one, and a lock left by a session that has ended is taken over.
    async fn lock_agent(&self, agent: &str, id: SessionId) -> Result<()> {
        let (id, lease) = (id.to_string(), JOIN_LEASE_MS.to_string());
        for _ in 0..3 {
            let (holder, lease_left): (String, i64) = self
                .on_agent_lock(&self.scripts.lock, agent, &[&id, &lease])
                .await?;
            if holder == id {
                return Ok(());
            }
            if lease_left > 0 {
                return Err(Refusal::AgentInOtherSession.into());
            }
            let still_there = match holder.parse::<SessionId>() {
                Ok(other) => self
                    .read(other)
                    .await?
                    .is_some_and(|(s, _)| s.agent.as_deref() == Some(agent)),
                Err(_) => false,
            };
            if still_there {
                return Err(Refusal::AgentInOtherSession.into());
            }
            self.on_agent_lock::<i64>(&self.scripts.takeover, agent, &[&holder, &id, &lease])
                .await?;
        }
        Err(Refusal::AgentInOtherSession.into())
    }
}

#[async_trait]
impl SessionState for RedisHub {
    async fn create(
        &self,
        interaction: Option<Interaction>,
        page: Page,
        timeouts: Timeouts,
        now: Millis,
    ) -> Result<(Created, Session)> {
        // Part of a cluster may be away, where a new session's ID may land.
        if !self.healthy.load(Ordering::Relaxed) {
            return Err(HubError::Unavailable("Redis is unreachable".into()));
        }
        let token = random_secret(&mut rand::rng());
        for _ in 0..CAS_ATTEMPTS {
            let id = SessionId::random(&mut rand::rng());
            let session = Session::new(
                id,
                sha256_hex(&token),
                interaction.clone(),
                page.clone(),
                timeouts,
                now,
            );
            // The deadline goes in first: a node dying in between leaves a
            // deadline without a session (the tick drops it), never a session
            // that no timeout would end. `LT` never gives another live session
            // that drew this ID a later deadline (an earlier one only makes the
            // tick look at it sooner).
            let _: () = redis::cmd("ZADD")
                .arg(LIVE)
                .arg("LT")
                .arg(deadline(&session))
                .arg(id.to_string())
                .query_async(&mut self.conn())
                .await
                .map_err(unavailable)?;
            let json = serde_json::to_string(&session).expect("sessions serialize");
            let made: i64 = self
                .scripts
                .create
                .key(session_key(id))
                .arg(json)
                .invoke_async(&mut self.conn())
                .await
                .map_err(unavailable)?;
            if made == 1 {
                if let Some(i) = &interaction {
                    let _: () = self
                        .conn()
                        .sadd(interaction_key(&i.id), id.to_string())
                        .await
                        .map_err(unavailable)?;
                }
                return Ok((Created { id, token }, session));
            }
        }
        Err(HubError::Unavailable(
            "could not find a free session ID".into(),
        ))
    }

    async fn join(&self, id: SessionId, agent: &str, now: Millis) -> Result<Changed> {
        self.lock_agent(agent, id).await?;
        match self.change(id, |s| s.join(agent, now)).await {
            Ok(changed) => {
                let id = id.to_string();
                self.on_agent_lock::<i64>(&self.scripts.confirm, agent, &[&id])
                    .await?;
                Ok(changed)
            }
            Err(HubError::Refused(r)) => {
                self.unlock(agent, id).await?;
                Err(r.into())
            }
            // Unknown whether the join was written: the lease runs out by itself.
            Err(e) => Err(e),
        }
    }

    async fn apply(&self, id: SessionId, event: Event, now: Millis) -> Result<Changed> {
        self.change(id, |s| s.handle(event.clone(), now)).await
    }

    async fn get(&self, id: SessionId) -> Result<Option<Session>> {
        Ok(self.read(id).await?.map(|(s, _)| s))
    }

    async fn live(&self) -> Result<Vec<Session>> {
        let ids: Vec<String> = self.conn().zrange(LIVE, 0, -1).await.map_err(unavailable)?;
        let mut batch: Batch = Batch::new(&self.conn);
        for id in &ids {
            let key = format!("cb:{{{id}}}");
            batch.on(&key).hget(key, "s");
        }
        let jsons: Vec<Option<String>> = batch.send(&self.conn).await.map_err(unavailable)?;
        Ok(jsons
            .into_iter()
            .flatten()
            .filter_map(|j| serde_json::from_str(&j).ok())
            .collect())
    }

    async fn bound_to(&self, interaction_id: &str) -> Result<Vec<SessionId>> {
        let ids: Vec<String> = self
            .conn()
            .smembers(interaction_key(interaction_id))
            .await
            .map_err(unavailable)?;
        Ok(ids.iter().filter_map(|i| i.parse().ok()).collect())
    }

    async fn tick(&self, now: Millis) -> Result<Vec<Changed>> {
        let due: Vec<String> = self
            .conn()
            .zrangebyscore_limit(LIVE, "-inf", now as f64, 0, 1000)
            .await
            .map_err(unavailable)?;
        let mut fired = self.reap(now).await?;
        for id in due.iter().filter_map(|i| i.parse::<SessionId>().ok()) {
            match self.change(id, |s| s.handle(Event::Tick, now)).await {
                Ok((s, effects)) if !effects.is_empty() => fired.push((s, effects)),
                Ok((s, _)) => self.index(&s).await?,
                Err(HubError::Refused(_)) => {
                    let _: () = self
                        .conn()
                        .zrem(LIVE, id.to_string())
                        .await
                        .map_err(unavailable)?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(fired)
    }

    fn remember_end(&self, id: SessionId, tomb: Tombstone, _now: Millis) {
        let mut conn = self.conn();
        let json = serde_json::to_string(&tomb).expect("tombstones serialize");
        tokio::spawn(async move {
            let kept: redis::RedisResult<()> = redis::cmd("SET")
                .arg(tombstone_key(id))
                .arg(json)
                .arg("PX")
                .arg(TOMBSTONE_KEPT_MS)
                .query_async(&mut conn)
                .await;
            if let Err(e) = kept {
                tracing::warn!(session = %id, error = %e, "could not keep why the session ended");
            }
        });
    }

    async fn end_of(&self, id: SessionId, _now: Millis) -> Result<Option<Tombstone>> {
        let json: Option<String> = self
            .conn()
            .get(tombstone_key(id))
            .await
            .map_err(unavailable)?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }

    async fn ready(&self) -> Result<()> {
        tokio::time::timeout(Duration::from_secs(1), self.conn().check())
            .await
            .map_err(|_| HubError::Unavailable("Redis did not answer within 1 s".into()))?
            .map_err(HubError::Unavailable)
    }

    fn shared(&self) -> bool {
        true
    }
}
