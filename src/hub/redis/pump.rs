//! The command pump: publishes and registry changes leave in order,
//! pipelined in batches, from one task, so that relaying never waits on Redis.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use tokio::sync::mpsc;

use super::conn::{Batch, Conn};
use super::keys::{channel, node_conns};
use super::shortcut::{Route, Ticket};
use super::wire::Stamp;
use crate::session::SessionId;

pub(super) enum Command {
    /// A payload for a channel; with the route that waits for Redis's answer.
    Publish(String, Vec<u8>, Option<(Arc<Route>, Ticket)>),
    Subscribe(String),
    Unsubscribe(String),
    Register(String),
    Unregister(String),
    /// Answered once every command sent before it is carried out (a
    /// subscription: confirmed by Redis).
    Barrier(tokio::sync::oneshot::Sender<()>),
}

/// What this node sends to Redis, and what it knows of its sessions' channels.
pub(super) struct Outgoing {
    commands: mpsc::UnboundedSender<Command>,
    /// Bytes of `Command::Publish` sent and not yet taken by `run_commands`.
    pub backlog: Arc<AtomicUsize>,
    /// This node, in the stamp of its publishes.
    pub origin: u64,
    /// The number of this node's last publish.
    seq: AtomicU64,
    /// The shortcut of each session this node holds a link of.
    routes: RwLock<HashMap<SessionId, Arc<Route>>>,
}

impl Outgoing {
    pub fn new(commands: mpsc::UnboundedSender<Command>) -> Outgoing {
        Outgoing {
            commands,
            backlog: Arc::default(),
            origin: rand::random(),
            seq: AtomicU64::new(0),
            routes: RwLock::default(),
        }
    }

    pub fn send(&self, command: Command) {
        let _ = self.commands.send(command);
    }

    /// Publishes on the session's channel the payload `frame` makes with
    /// this publish's stamp; counted by the session's route, if any.
    pub fn publish(&self, id: SessionId, frame: impl FnOnce(Stamp) -> Vec<u8>) {
        let stamp = |seq| Stamp {
            origin: self.origin,
            seq,
        };
        let next = || self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let send = |payload: Vec<u8>, answer| {
            self.backlog.fetch_add(payload.len(), Ordering::Relaxed);
            self.send(Command::Publish(channel(id), payload, answer));
        };
        match self.route(id) {
            Some(route) => route.publish(next, |seq, ticket| {
                send(frame(stamp(seq)), Some((route.clone(), ticket)))
            }),
            None => send(frame(stamp(next())), None),
        }
    }

    /// Subscribes to the session's channel, then tells the nodes listening
    /// there that this one does too.
    pub fn listen(&self, id: SessionId) {
        self.send(Command::Subscribe(channel(id)));
        self.publish(id, super::wire::hello);
    }

    pub fn route(&self, id: SessionId) -> Option<Arc<Route>> {
        self.routes.read().expect("routes lock").get(&id).cloned()
    }

    pub fn add_route(&self, id: SessionId) {
        let mut routes = self.routes.write().expect("routes lock");
        routes.entry(id).or_default();
    }

    pub fn remove_route(&self, id: SessionId) {
        self.routes.write().expect("routes lock").remove(&id);
    }

    /// Closes every shortcut, as when a node announces itself everywhere.
    pub fn close_routes(&self) {
        for route in self.routes.read().expect("routes lock").values() {
            route.announced();
        }
    }
}

/// Sends publishes and registry changes in order, pipelined in batches;
/// subscription changes in between (they wait for their confirmation).
pub(super) async fn run_commands(
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
                Command::Publish(ch, payload, answer) => {
                    backlog.fetch_sub(payload.len(), Ordering::Relaxed);
                    let publish = conn.publish(&ch, payload);
                    match answer {
                        Some(answer) => batch.answered(&ch, publish, answer),
                        None => {
                            batch.on(&ch).add_command(publish).ignore();
                        }
                    }
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

/// Sends the batch; each route learns how many subscribers its publish reached.
async fn flush(conn: &Conn, batch: &mut Batch<(Arc<Route>, Ticket)>) {
    if batch.is_empty() {
        return;
    }
    let (answers, failure) = batch.send_answered::<i64>(conn).await;
    for ((route, ticket), receivers) in answers {
        route.answered(ticket, receivers);
    }
    if let Some(e) = failure {
        tracing::warn!(error = %e, "Redis publish failed: frames lost, receivers will resynchronise");
    }
}
