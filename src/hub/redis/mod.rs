//! Live sessions in Redis, for several nodes behind an ordinary load balancer.
//!
//! - A session is one hash (`cb:{<id>}`: JSON state and a version), changed
//!   only by compare-and-set, so the rules decide once however many nodes race:
//!   two agents joining on two nodes, two nodes firing the same deadline.
//! - Deadlines sit in a sorted set; every node ticks, the CAS lets one win.
//! - `cb:agent:<name>` locks an agent to one session across the cluster: taken
//!   for a short lease before a join, kept once the join is written.
//! - Frames travel by pub/sub on one channel per session (`cb:{<id>}:ch`); a
//!   node subscribes while it holds a connection of that session. A node
//!   that is the only one listening hands frames between two parties of its
//!   own straight to the receiver ([`shortcut`] says when).
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
mod keys;
mod nodes;
mod pump;
mod routing;
mod scripts;
mod shortcut;
mod state;
mod wire;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use tokio::sync::mpsc;

use self::conn::Conn;
use self::nodes::watch_health;
use self::pump::{Outgoing, run_commands};
use self::routing::dispatch;
use self::scripts::Scripts;
use super::{HubError, Links, Result};
use crate::config::RedisConfig;

fn unavailable(e: redis::RedisError) -> HubError {
    HubError::Unavailable(e.to_string())
}

pub struct RedisHub {
    node: String,
    conn: Conn,
    links: Arc<Links>,
    outgoing: Arc<Outgoing>,
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
        let (commands, command_rx) = mpsc::unbounded_channel();
        let outgoing = Arc::new(Outgoing::new(commands));
        let (to_links, from) = (links.clone(), outgoing.clone());
        // Frames from other nodes reach their receivers where the Redis client
        // reads them: dispatch only hands them to bounded queues, so a channel
        // and a task in between would add a wake per frame and a buffer
        // without a bound.
        let push = move |push| {
            dispatch(&to_links, &from, push);
            Ok::<(), Infallible>(())
        };
        let conn = Conn::connect(config, push).await.map_err(unavailable)?;
        let hub = Arc::new(RedisHub {
            node: hex::encode(rand::random::<[u8; 8]>()),
            conn,
            links,
            outgoing,
            backlog_limit,
            healthy: Arc::new(AtomicBool::new(true)),
            scripts: Scripts::new(),
        });
        tokio::spawn(run_commands(
            hub.node.clone(),
            hub.conn.clone(),
            command_rx,
            hub.outgoing.backlog.clone(),
        ));
        tokio::spawn(watch_health(Arc::downgrade(&hub)));
        Ok(hub)
    }

    fn conn(&self) -> Conn {
        self.conn.clone()
    }
}
