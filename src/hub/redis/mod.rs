//! Live sessions in Redis, for several nodes behind an ordinary load balancer.
//!
//! - A session is one hash (`cb:{<id>}`: JSON state and a version), changed
//!   only by compare-and-set, so the rules decide once however many nodes race:
//!   two agents joining on two nodes, two nodes firing the same deadline.
//! - Deadlines sit in a sorted set; every node ticks, the CAS lets one win.
//! - `cb:agent:<name>` locks an agent to one session across the cluster: taken
//!   for a short lease before a join, kept once the join is written.
//! - Frames travel by pub/sub on one channel per session (`cb:{<id>}:ch`); a
//!   node subscribes while it holds a connection of that session.
//! - Each node keeps a heartbeat key and the list of its connections; when a
//!   node dies, another counts its connections gone, so grace periods still run.
//!
//! The same code runs on one Redis and on a Redis Cluster ([`conn`] holds the
//! few differences): every script and every pipeline touches keys of one
//! slot (a session's keys are hash-tagged `{<id>}`, a node's `{<node>}`), and
//! the indexes (deadlines, agent locks, interactions, nodes) are changed by
//! single-key commands of their own. On a cluster, frames use sharded pub/sub.
//!
//! The connection reconnects and resubscribes by itself (RESP3 push); while
//! Redis is away `/readyz` fails, new sessions are refused and connected
//! parties are told, and all recovers by itself.

mod conn;
mod wire;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use redis::{AsyncCommands, FromRedisValue, PushKind, Script, Value};
use tokio::sync::mpsc;

use self::conn::{Batch, Conn};
use self::wire::Frame;
use super::local::deliver_notice;
use super::{
    Changed, Hub, HubError, Link, Links, Out, PeerId, Result, Sent, TOMBSTONE_KEPT_MS, Tombstone,
};
use crate::config::RedisConfig;
use crate::protocol::{ServerMsg, close};
use crate::secret::{random_secret, sha256_hex};
use crate::session::{
    Created, Event, Interaction, Millis, Outcome, Page, Refusal, Role, Session, SessionId, Timeouts,
};

const LIVE: &str = "cb:live";
const NODES: &str = "cb:nodes";
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
/// A node silent this long is dead: its connections count as gone.
const NODE_TTL_MS: u64 = 4_000;
const CAS_ATTEMPTS: usize = 64;
/// How long an agent's lock stays taken by a join that never finished (its
/// node died in between); long enough for any join to be written.
const JOIN_LEASE_MS: u64 = 5_000;

/// Where an ended session's tombstone is kept, in its session's slot.
fn tombstone_key(id: SessionId) -> String {
    format!("cb:{{{id}}}:end")
}

/// A session's score in the deadline set: when the tick should look at it next.
fn deadline(s: &Session) -> f64 {
    s.next_deadline().unwrap_or(u64::MAX / 2) as f64
}

fn session_key(id: SessionId) -> String {
    format!("cb:{{{id}}}")
}

fn channel(id: SessionId) -> String {
    format!("cb:{{{id}}}:ch")
}

fn agent_key(agent: &str) -> String {
    format!("cb:agent:{agent}")
}

fn interaction_key(interaction: &str) -> String {
    format!("cb:ix:{interaction}")
}

fn node_key(node: &str) -> String {
    format!("cb:node:{{{node}}}")
}

fn node_conns(node: &str) -> String {
    format!("cb:node:{{{node}}}:conns")
}

fn node_reaping(node: &str) -> String {
    format!("cb:node:{{{node}}}:reaping")
}

fn unavailable(e: redis::RedisError) -> HubError {
    HubError::Unavailable(e.to_string())
}

enum Command {
    Publish(String, Vec<u8>),
    Subscribe(String),
    Unsubscribe(String),
    Register(String),
    Unregister(String),
    /// Answered once every command sent before it is carried out (a
    /// subscription: confirmed by Redis).
    Barrier(tokio::sync::oneshot::Sender<()>),
}

struct Scripts {
    create: Script,
    cas: Script,
    lock: Script,
    confirm: Script,
    unlock: Script,
    takeover: Script,
}

impl Scripts {
    fn new() -> Self {
        Scripts {
            create: Script::new(
                "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
                 redis.call('HSET', KEYS[1], 's', ARGV[1], 'v', 1) return 1",
            ),
            cas: Script::new(
                "local v = redis.call('HGET', KEYS[1], 'v')
                 if not v or v ~= ARGV[1] then return 0 end
                 if ARGV[2] == '' then redis.call('DEL', KEYS[1])
                 else redis.call('HSET', KEYS[1], 's', ARGV[2], 'v', tonumber(v) + 1) end
                 return 1",
            ),
            // The holder, and its lease left (-1: held by a joined session).
            lock: Script::new(
                "local cur = redis.call('GET', KEYS[1])
                 if not cur then
                   redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
                   return {ARGV[1], tonumber(ARGV[2])}
                 end
                 return {cur, redis.call('PTTL', KEYS[1])}",
            ),
            // Keeps the lock for good (also when its lease ran out meanwhile).
            confirm: Script::new(
                "local cur = redis.call('GET', KEYS[1])
                 if not cur or cur == ARGV[1] then redis.call('SET', KEYS[1], ARGV[1]) end
                 return 1",
            ),
            unlock: Script::new(
                "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end return 1",
            ),
            takeover: Script::new(
                "if redis.call('GET', KEYS[1]) == ARGV[1] then
                   redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1
                 end
                 return 0",
            ),
        }
    }
}

pub struct RedisHub {
    node: String,
    conn: Conn,
    links: Arc<Links>,
    commands: mpsc::UnboundedSender<Command>,
    /// Bytes of `Command::Publish` sent and not yet taken by `run_commands`.
    backlog: Arc<AtomicUsize>,
    /// Past this backlog, relayed frames are dropped (and counted) as for a
    /// receiver that stops reading: when Redis falls behind, the node's memory
    /// would otherwise grow without bound. Receivers resynchronise by sequence
    /// number; notices and state changes are never dropped.
    backlog_limit: usize,
    healthy: Arc<AtomicBool>,
    scripts: Scripts,
}

impl RedisHub {
    /// `backlog_limit`: `limits.publish_backlog_bytes`.
    pub async fn connect(config: &RedisConfig, backlog_limit: usize) -> Result<Arc<RedisHub>> {
        let links: Arc<Links> = Arc::default();
        let to_links = links.clone();
        // Frames from other nodes reach their receivers where the Redis client
        // reads them: dispatch only hands them to bounded queues, so a channel
        // and a task in between would add a wake per frame and a buffer
        // without a bound.
        let push = move |push| {
            dispatch(&to_links, push);
            Ok::<(), Infallible>(())
        };
        let conn = Conn::connect(config, push).await.map_err(unavailable)?;
        let (commands, command_rx) = mpsc::unbounded_channel();
        let hub = Arc::new(RedisHub {
            node: hex::encode(rand::random::<[u8; 8]>()),
            conn,
            links,
            commands,
            backlog: Arc::default(),
            backlog_limit,
            healthy: Arc::new(AtomicBool::new(true)),
            scripts: Scripts::new(),
        });
        tokio::spawn(run_commands(
            hub.node.clone(),
            hub.conn.clone(),
            command_rx,
            hub.backlog.clone(),
        ));
        tokio::spawn(watch_health(Arc::downgrade(&hub)));
        Ok(hub)
    }

    fn conn(&self) -> Conn {
        self.conn.clone()
    }

    fn send(&self, command: Command) {
        let _ = self.commands.send(command);
    }

    fn publish(&self, id: SessionId, payload: Vec<u8>) {
        self.backlog.fetch_add(payload.len(), Ordering::Relaxed);
        self.send(Command::Publish(channel(id), payload));
    }

    async fn read(&self, id: SessionId) -> Result<Option<(Session, String)>> {
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
    async fn change(
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
    async fn index(&self, s: &Session) -> Result<()> {
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

    /// Counts the connections of dead nodes as gone (once: the first node to
    /// rename a dead node's list does it).
    async fn reap(&self, now: Millis) -> Result<Vec<Changed>> {
        let mut conn = self.conn();
        let nodes: Vec<String> = conn.smembers(NODES).await.map_err(unavailable)?;
        let mut changed = Vec::new();
        for node in nodes.into_iter().filter(|n| *n != self.node) {
            let alive: bool = conn.exists(node_key(&node)).await.map_err(unavailable)?;
            if alive {
                continue;
            }
            let claimed: redis::RedisResult<bool> =
                conn.rename_nx(node_conns(&node), node_reaping(&node)).await;
            if let Ok(true) = claimed {
                let members: Vec<String> = conn
                    .smembers(node_reaping(&node))
                    .await
                    .map_err(unavailable)?;
                tracing::warn!(
                    node,
                    connections = members.len(),
                    "node is gone: counting its connections as closed"
                );
                for member in members {
                    let mut parts = member.split(':');
                    let (Some(id), Some(role)) = (
                        parts.next().and_then(|i| i.parse::<SessionId>().ok()),
                        parts.next(),
                    ) else {
                        continue;
                    };
                    let event = if role == "a" {
                        Event::AgentDisconnected
                    } else {
                        Event::CustomerDisconnected
                    };
                    if let Ok(c) = self.change(id, |s| s.handle(event.clone(), now)).await {
                        changed.push(c);
                    }
                }
                let _: () = conn.del(node_reaping(&node)).await.map_err(unavailable)?;
            }
            let _: () = conn.srem(NODES, &node).await.map_err(unavailable)?;
        }
        Ok(changed)
    }
}

impl RedisHub {
    async fn reannounce(&self) {
        let now = crate::clock::now_ms();
        for link in self.links.all() {
            let (customers, agent) = link.peer_ids();
            for peer in customers {
                if self
                    .change(link.id(), |s| s.handle(Event::CustomerConnected, now))
                    .await
                    .is_ok()
                {
                    self.attached(link.id(), Role::Customer, peer);
                }
            }
            if let Some(peer) = agent {
                let rejoined = self
                    .change(link.id(), |s| match s.agent.clone() {
                        Some(agent) => s.join(&agent, now),
                        None => Ok(vec![]),
                    })
                    .await;
                if rejoined.is_ok() {
                    self.attached(link.id(), Role::Agent, peer);
                }
            }
        }
    }
}

fn member(id: SessionId, role: Role, peer: PeerId) -> String {
    format!(
        "{id}:{}:{peer}",
        if role == Role::Agent { "a" } else { "c" }
    )
}

#[async_trait]
impl Hub for RedisHub {
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
        let mut batch = Batch::new(&self.conn);
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

    fn shared(&self) -> bool {
        true
    }
}

/// Sends publishes and registry changes in order, pipelined in batches;
/// subscription changes in between (they wait for their confirmation).
async fn run_commands(
    node: String,
    mut conn: Conn,
    mut rx: mpsc::UnboundedReceiver<Command>,
    backlog: Arc<AtomicUsize>,
) {
    let mut commands = Vec::with_capacity(256);
    let mut batch = Batch::new(&conn);
    let conns = node_conns(&node);
    while rx.recv_many(&mut commands, 256).await > 0 {
        for command in commands.drain(..) {
            let (subscribe, ch) = match command {
                Command::Publish(ch, payload) => {
                    backlog.fetch_sub(payload.len(), Ordering::Relaxed);
                    batch
                        .on(&ch)
                        .add_command(conn.publish(&ch, payload))
                        .ignore();
                    continue;
                }
                Command::Register(m) => {
                    batch.on(&conns).sadd(&conns, m).ignore();
                    continue;
                }
                Command::Unregister(m) => {
                    batch.on(&conns).srem(&conns, m).ignore();
                    continue;
                }
                Command::Subscribe(ch) => (true, ch),
                Command::Unsubscribe(ch) => (false, ch),
                Command::Barrier(done) => {
                    flush(&conn, &mut batch).await;
                    let _ = done.send(());
                    continue;
                }
            };
            flush(&conn, &mut batch).await;
            let result = if subscribe {
                conn.subscribe(&ch).await
            } else {
                conn.unsubscribe(&ch).await
            };
            if let Err(e) = result {
                tracing::warn!(error = %e, "Redis subscription change failed");
            }
        }
        flush(&conn, &mut batch).await;
    }
}

async fn flush(conn: &Conn, batch: &mut Batch) {
    if batch.is_empty() {
        return;
    }
    if let Err(e) = batch.send::<Value>(conn).await {
        tracing::warn!(error = %e, "Redis publish failed: frames lost, receivers will resynchronise");
    }
}

/// Hands frames from other nodes (and this one) to this node's connections.
fn dispatch(links: &Links, push: redis::PushInfo) {
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

impl RedisHub {
    /// A Redis that came back without its data (no persistence) has
    /// forgotten every live session: their parties here are told so and let
    /// go (as for an unknown session, which both scripts treat as final),
    /// instead of relaying on in a session no rule or timeout applies to.
    async fn let_go_of_lost_sessions(&self, conn: &mut Conn) {
        let message =
            "The co-browse service lost this session while restarting: please start a new one.";
        let error = ServerMsg::Error {
            code: "no_such_session",
            message,
        }
        .to_json();
        for link in self.links.all() {
            let exists = conn.exists::<_, bool>(session_key(link.id())).await;
            if exists != Ok(false) {
                continue;
            }
            tracing::warn!(session = %link.id(), "Redis came back without this session: letting its parties go");
            for role in [Role::Customer, Role::Agent] {
                deliver_notice(&link, role, Out::text(error.clone()));
                deliver_notice(
                    &link,
                    role,
                    Out::Close(close::NO_SUCH_SESSION, message.into()),
                );
            }
        }
    }
}

/// Heartbeat, connection registry, and telling local parties when Redis goes and comes back.
async fn watch_health(hub: std::sync::Weak<RedisHub>) {
    let mut every = tokio::time::interval(HEARTBEAT_EVERY);
    let mut last_beat_failed = false;
    loop {
        every.tick().await;
        let Some(hub) = hub.upgrade() else { return };
        let mut conn = hub.conn();
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(node_key(&hub.node))
            .arg(1)
            .arg("PX")
            .arg(NODE_TTL_MS)
            .arg("GET")
            .exists(node_conns(&hub.node));
        // A command waits for reconnection attempts; a second of silence is an outage.
        let beat = tokio::time::timeout(
            HEARTBEAT_EVERY,
            pipe.query_async::<(Option<String>, bool)>(&mut conn),
        )
        .await
        .map_err(|_| ())
        .and_then(|r| r.map_err(|_| ()));
        // Our heartbeat lapsed, and another node counted our connections
        // gone (it took their list): count them again. A failed beat may
        // have renewed the heartbeat without our hearing the answer (on a
        // cluster, while a shard fails over), so after one the missing list
        // is enough.
        // The same holds after Redis restarted empty, however short the
        // outage: the sessions it forgot are let go first.
        if let Ok((renewed, false)) = &beat
            && (renewed.is_none() || last_beat_failed)
        {
            hub.let_go_of_lost_sessions(&mut conn).await;
            hub.reannounce().await;
        }
        last_beat_failed = beat.is_err();
        // The set of nodes is a slot of its own (on a cluster): a command apart.
        let listed = tokio::time::timeout(HEARTBEAT_EVERY, conn.sadd::<_, _, ()>(NODES, &hub.node))
            .await
            .is_ok_and(|r| r.is_ok());
        let ok = beat.is_ok() && listed && hub.ready().await.is_ok();
        if hub.healthy.swap(ok, Ordering::Relaxed) != ok {
            if ok {
                tracing::info!("Redis is back");
                // One Redis's connection manager resubscribes by itself, but a
                // cluster connection was seen to come back to a restarted master
                // without its sharded subscriptions; subscribing twice is harmless.
                if matches!(conn, Conn::Cluster(_)) {
                    for link in hub.links.all() {
                        hub.send(Command::Subscribe(channel(link.id())));
                    }
                }
            } else {
                tracing::error!("Redis is unreachable: new sessions are refused until it returns");
            }
            let message = if ok {
                "The co-browse service is back."
            } else {
                "The co-browse service is having trouble; reconnecting…"
            };
            let notice = ServerMsg::Service {
                available: ok,
                message,
            }
            .to_json();
            for link in hub.links.all() {
                deliver_notice(&link, Role::Customer, Out::text(notice.clone()));
                deliver_notice(&link, Role::Agent, Out::text(notice.clone()));
            }
        }
    }
}
