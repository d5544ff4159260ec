//! Nodes watching each other: a heartbeat per node, the list of its
//! connections, and reaping a dead node's connections so grace periods run;
//! telling local parties when Redis goes and comes back.

use std::sync::atomic::Ordering;
use std::time::Duration;

use redis::AsyncCommands;

use super::conn::Conn;
use super::keys::{NODES, node_conns, node_key, node_reaping, session_key};
use super::{RedisHub, unavailable};
use crate::hub::local::deliver_notice;
use crate::hub::{Changed, FrameRouting, Out, Result, SessionState};
use crate::protocol::{ServerMsg, close};
use crate::session::{Event, Millis, Role, SessionId};

const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
/// A node silent this long is dead: its connections count as gone.
const NODE_TTL_MS: u64 = 4_000;

impl RedisHub {
    /// Counts the connections of dead nodes as gone (once: the first node to
    /// rename a dead node's list does it).
    pub(super) async fn reap(&self, now: Millis) -> Result<Vec<Changed>> {
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
pub(super) async fn watch_health(hub: std::sync::Weak<RedisHub>) {
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
                        hub.outgoing.listen(link.id());
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
