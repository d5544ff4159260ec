//! The command pump: publishes and registry changes leave in order,
//! pipelined in batches, from one task, so that relaying never waits on Redis.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use redis::Value;
use tokio::sync::mpsc;

use super::RedisHub;
use super::conn::{Batch, Conn};
use super::keys::{channel, node_conns};
use crate::session::SessionId;

pub(super) enum Command {
    Publish(String, Vec<u8>),
    Subscribe(String),
    Unsubscribe(String),
    Register(String),
    Unregister(String),
    /// Answered once every command sent before it is carried out (a
    /// subscription: confirmed by Redis).
    Barrier(tokio::sync::oneshot::Sender<()>),
}

impl RedisHub {
    pub(super) fn send(&self, command: Command) {
        let _ = self.commands.send(command);
    }

    pub(super) fn publish(&self, id: SessionId, payload: Vec<u8>) {
        self.backlog.fetch_add(payload.len(), Ordering::Relaxed);
        self.send(Command::Publish(channel(id), payload));
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
