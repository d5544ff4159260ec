//! What the load runs against: one cobrowse node, the socket.io relay, or
//! two cobrowse nodes sharing one Redis. Starts and stops the processes, says
//! which node each party of a session connects to, and reads their /proc.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rand::Rng;
use tokio::process::Command;

use crate::sys::{self, ProcSample, ReadyLine, Server};
use crate::wire::Proto;

/// A way to serve the load.
pub enum Setup {
    /// One cobrowse node as shipped: in-process hub, SQLite.
    Embedded { bin: PathBuf },
    /// `node relay.js` in `dir`: the socket.io room relay.
    SocketIo { node: String, dir: PathBuf },
    /// Two cobrowse nodes sharing one `redis-server` (each with its own SQLite:
    /// the relay needs no shared database).
    Cluster {
        bin: PathBuf,
        redis_server: String,
        placement: Placement,
    },
}

/// Where a session's two parties connect when there are several nodes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Placement {
    /// Customer and agent on different nodes: every message crosses nodes.
    #[default]
    Split,
    /// Customer and agent on the same node, sessions alternating between nodes.
    Same,
}

/// The processes serving one run, and the ports the parties connect to.
pub struct Deployment {
    /// The column's name in the report.
    pub label: &'static str,
    pub proto: Proto,
    /// The agents' JWT secret, shared by every node.
    pub secret: String,
    /// Every process whose memory and CPU count as the server's.
    pub procs: Vec<Server>,
    /// The ports of the processes the parties connect to (see `parties`).
    pub nodes: Vec<u16>,
    pub placement: Placement,
    dirs: Vec<PathBuf>,
}

const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The ports of session `i`'s customer and agent. With two nodes and
/// `Split`, they are always on different nodes (customer on A and agent on B
/// for even `i`, the reverse for odd), so every message crosses from one node
/// to the other; with `Same`, both are on A for even `i` and on B for odd.
/// Either way each node holds half the customers and half the agents.
pub fn parties(nodes: &[u16], placement: Placement, i: usize) -> (u16, u16) {
    let n = nodes.len();
    match placement {
        Placement::Split => (nodes[i % n], nodes[(i + 1) % n]),
        Placement::Same => (nodes[i % n], nodes[i % n]),
    }
}

impl Deployment {
    /// Starts what `setup` needs; on failure, stops whatever had started.
    pub async fn start(label: &'static str, setup: &Setup, server_env: &[String]) -> Result<Self> {
        let proto = match setup {
            Setup::SocketIo { .. } => Proto::SocketIo,
            Setup::Embedded { .. } | Setup::Cluster { .. } => Proto::Cobrowse,
        };
        let mut d = Deployment {
            label,
            proto,
            secret: random_hex(32),
            procs: Vec::new(),
            nodes: Vec::new(),
            placement: match setup {
                Setup::Cluster { placement, .. } => *placement,
                Setup::Embedded { .. } | Setup::SocketIo { .. } => Placement::default(),
            },
            dirs: Vec::new(),
        };
        match d.launch(setup, server_env).await {
            Ok(()) => Ok(d),
            Err(e) => {
                d.stop().await;
                Err(e)
            }
        }
    }

    async fn launch(&mut self, setup: &Setup, server_env: &[String]) -> Result<()> {
        match setup {
            Setup::Embedded { bin } => {
                let cmd = self.cobrowse(bin, None, server_env)?;
                self.add("cobrowse", cmd, ReadyLine::LISTENING, true).await
            }
            Setup::SocketIo { node, dir } => {
                let mut cmd = Command::new(node);
                cmd.arg(dir.join("relay.js")).current_dir(dir);
                self.add("socket.io", cmd, ReadyLine::LISTENING, true).await
            }
            Setup::Cluster {
                bin, redis_server, ..
            } => {
                let port = sys::free_port()?;
                let mut cmd = Command::new(redis_server);
                cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                    // Live state only: nothing to keep across a restart here.
                    .args(["--save", "", "--appendonly", "no"])
                    .arg("--dir")
                    .arg(self.temp_dir()?);
                let ready = ReadyLine {
                    text: "Ready to accept connections",
                    port: Some(port),
                };
                self.add("redis", cmd, ready, false).await?;
                let url = format!("redis://127.0.0.1:{port}/");
                for name in ["node A", "node B"] {
                    let cmd = self.cobrowse(bin, Some(&url), server_env)?;
                    self.add(name, cmd, ReadyLine::LISTENING, true).await?;
                }
                Ok(())
            }
        }
    }

    /// `cobrowse serve` on a port of its own, with a data directory of its
    /// own, the shared secret, and the per-IP limits lifted (connections too):
    /// every session comes from 127.0.0.1.
    fn cobrowse(
        &mut self,
        bin: &Path,
        redis: Option<&str>,
        server_env: &[String],
    ) -> Result<Command> {
        let mut cmd = Command::new(bin);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(self.temp_dir()?)
            .env("COBROWSE_AUTH__JWT_SECRET", &self.secret)
            .env(
                "COBROWSE_LIMITS__JOIN_ATTEMPTS_PER_MINUTE_PER_IP",
                "100000000",
            )
            .env("COBROWSE_LIMITS__SESSIONS_PER_MINUTE_PER_IP", "100000000")
            .env("COBROWSE_CONNECTIONS__PER_IP", "100000000");
        if let Some(url) = redis {
            cmd.env("COBROWSE_REDIS", url);
        }
        for kv in server_env {
            let (k, v) = kv
                .split_once('=')
                .with_context(|| format!("--server-env {kv}: expected KEY=VALUE"))?;
            cmd.env(k, v);
        }
        Ok(cmd)
    }

    async fn add(
        &mut self,
        name: &'static str,
        cmd: Command,
        ready: ReadyLine,
        node: bool,
    ) -> Result<()> {
        let server = Server::start(name, cmd, ready, START_TIMEOUT).await?;
        eprintln!(
            "bench: {name} (pid {}) listening on 127.0.0.1:{}",
            server.pid, server.port
        );
        if node {
            self.nodes.push(server.port);
        }
        self.procs.push(server);
        Ok(())
    }

    fn temp_dir(&mut self) -> Result<PathBuf> {
        let dir = std::env::temp_dir().join(format!(
            "cobrowse-bench-{}-{}",
            std::process::id(),
            random_hex(4)
        ));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        self.dirs.push(dir.clone());
        Ok(dir)
    }

    pub fn pids(&self) -> Vec<u32> {
        self.procs.iter().map(|p| p.pid).collect()
    }

    /// Each process's memory and CPU now, in the order of `procs`; zeros
    /// for a process that has exited (which `exited` reports).
    pub fn sample(&self) -> Vec<ProcSample> {
        self.procs
            .iter()
            .map(|p| sys::proc_sample(p.pid).unwrap_or_default())
            .collect()
    }

    /// Why the run cannot go on: a process has exited (with its last lines).
    pub fn exited(&mut self) -> Option<String> {
        self.procs.iter_mut().find_map(|p| {
            p.exited()
                .map(|status| format!("{} exited: {status}\n{}", p.name, p.tail_text()))
        })
    }

    /// The last lines every process printed, for error reports.
    pub fn tail_text(&self) -> String {
        self.procs
            .iter()
            .map(|p| format!("  {}:\n{}", p.name, p.tail_text()))
            .collect()
    }

    /// Stops the nodes before Redis (the reverse of the start order), then
    /// removes the data directories.
    pub async fn stop(&mut self) {
        for p in self.procs.iter_mut().rev() {
            p.stop().await;
        }
        for dir in self.dirs.drain(..) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn random_hex(bytes: usize) -> String {
    let mut rng = rand::rng();
    (0..bytes)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}

/// Fails early, with what to do, when `redis-server` cannot run.
pub async fn check_redis(redis_server: &str) -> Result<()> {
    match Command::new(redis_server).arg("--version").output().await {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => bail!(
            "`{redis_server} --version` failed ({}): the cluster run needs a working redis-server",
            out.status
        ),
        Err(e) => bail!(
            "the cluster run needs redis-server, and `{redis_server}` could not run: {e}. \
             Install it (Debian: `apt-get install redis-server`) or name it with --redis-server PATH"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_nodes_put_the_parties_apart() {
        let nodes = [1000, 2000];
        assert_eq!(parties(&nodes, Placement::Split, 0), (1000, 2000));
        assert_eq!(parties(&nodes, Placement::Split, 1), (2000, 1000));
        assert_eq!(parties(&nodes, Placement::Split, 2), (1000, 2000));
        assert_eq!(parties(&[7], Placement::Split, 5), (7, 7));
    }

    #[test]
    fn same_placement_alternates_sessions_between_nodes() {
        let nodes = [1000, 2000];
        assert_eq!(parties(&nodes, Placement::Same, 0), (1000, 1000));
        assert_eq!(parties(&nodes, Placement::Same, 1), (2000, 2000));
        assert_eq!(parties(&nodes, Placement::Same, 2), (1000, 1000));
    }
}
