//! Real Redis (one server, or a Redis Cluster) and PostgreSQL servers for the
//! tests, each on a port of its own in a temporary directory, stopped when
//! dropped. `scripts/test` installs the Debian packages. A test that needs
//! one carries `#[cfg_attr(missing_redis, ignore = …)]` (or `missing_postgres`,
//! set by `build.rs` outside CI when the service is not installed): it shows
//! as ignored there, and fails everywhere else if the service is missing.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn missing(what: &str) -> ! {
    panic!("{what} is not installed: run scripts/test, which installs it")
}

fn wait_for_port(port: u16, child: &mut Child, what: &str) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited: {status}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{what} did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A `redis-server` on loopback, without snapshots; a test may stop it and
/// start it again on the same port, as in an outage.
pub struct Redis {
    pub port: u16,
    args: Vec<String>,
    child: Option<Child>,
    _data: Option<tempfile::TempDir>,
}

/// Server settings: with `dir`, the data is kept there (append-only file,
/// written before each answer), so a restart finds every session again.
fn persistence(dir: Option<&Path>) -> Vec<String> {
    match dir {
        Some(d) => vec![
            "--dir".into(),
            d.display().to_string(),
            "--appendonly".into(),
            "yes".into(),
            "--appendfsync".into(),
            "always".into(),
        ],
        None => vec!["--appendonly".into(), "no".into()],
    }
}

impl Redis {
    pub fn start() -> Redis {
        Self::on_port(free_port(), persistence(None), None)
    }

    /// A server that keeps its data across a restart, in a directory of its own.
    pub fn keeping_data() -> Redis {
        let data = tempfile::tempdir().unwrap();
        Self::on_port(free_port(), persistence(Some(data.path())), Some(data))
    }

    fn on_port(port: u16, args: Vec<String>, data: Option<tempfile::TempDir>) -> Redis {
        installed("redis-server");
        let mut redis = Redis {
            port,
            args,
            child: None,
            _data: data,
        };
        redis.restart();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Starts the server (again), and returns once it listens.
    pub fn restart(&mut self) {
        let mut child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", ""])
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for_port(self.port, &mut child, "redis-server");
        self.child = Some(child);
    }

    /// Kills the server without warning.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

fn installed(program: &str) {
    if Command::new(program).arg("--version").output().is_err() {
        missing(program)
    }
}

/// A Redis Cluster of three masters without replicas, the smallest Redis
/// accepts; its node tables (and data, if kept) live in a temporary directory.
pub struct RedisCluster {
    pub masters: Vec<Redis>,
    _dir: tempfile::TempDir,
}

impl RedisCluster {
    pub fn start(keep_data: bool) -> RedisCluster {
        installed("redis-cli");
        let dir = tempfile::Builder::new()
            .prefix("cobrowse-redis-cluster")
            .tempdir()
            .unwrap();
        let mut masters = Vec::new();
        for _ in 0..3 {
            let port = free_port();
            let table = dir.path().join(format!("nodes-{port}.conf"));
            let mut args = vec![
                "--cluster-enabled".into(),
                "yes".into(),
                "--cluster-config-file".into(),
                table.display().to_string(),
                // The bus port defaults to port + 10000, which may be taken or past 65535.
                "--cluster-port".into(),
                free_port().to_string(),
                "--appenddirname".into(),
                format!("aof-{port}"),
            ];
            args.extend(persistence(keep_data.then_some(dir.path())));
            masters.push(Redis::on_port(port, args, None));
        }
        let create = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(masters.iter().map(|m| format!("127.0.0.1:{}", m.port)))
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .unwrap();
        assert!(
            create.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&create.stdout)
        );
        let cluster = RedisCluster { masters, _dir: dir };
        cluster.wait_until_ok();
        cluster
    }

    /// Waits until every node sees every slot served.
    fn wait_until_ok(&self) {
        let start = Instant::now();
        for master in &self.masters {
            while !self
                .cli(master, &["cluster", "info"])
                .contains("cluster_state:ok")
            {
                assert!(
                    start.elapsed() < Duration::from_secs(20),
                    "Redis Cluster node {} not ready",
                    master.port
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    fn cli(&self, master: &Redis, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &master.port.to_string()])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn urls(&self) -> Vec<String> {
        self.masters.iter().map(Redis::url).collect()
    }
}

/// Which Redis the nodes of a test share: tests of the rules across nodes run on both.
#[derive(Clone, Copy, Debug)]
pub enum RedisKind {
    One,
    Cluster,
}

pub enum SharedRedis {
    One(Redis),
    Cluster(RedisCluster),
}

impl SharedRedis {
    pub fn start(kind: RedisKind) -> SharedRedis {
        Self::launch(kind, false)
    }

    /// A Redis that keeps its data across a restart (for outage tests).
    pub fn keeping_data(kind: RedisKind) -> SharedRedis {
        Self::launch(kind, true)
    }

    fn launch(kind: RedisKind, keep_data: bool) -> SharedRedis {
        match kind {
            RedisKind::One if keep_data => SharedRedis::One(Redis::keeping_data()),
            RedisKind::One => SharedRedis::One(Redis::start()),
            RedisKind::Cluster => SharedRedis::Cluster(RedisCluster::start(keep_data)),
        }
    }

    /// The server that holds `key`: on a cluster, the master of its slot.
    pub fn holder(&mut self, key: &str) -> &mut Redis {
        match self {
            SharedRedis::One(r) => r,
            SharedRedis::Cluster(c) => {
                let i = (0..c.masters.len())
                    .find(|&i| c.cli(&c.masters[i], &["exists", key]).trim() == "1")
                    .expect("a master holds the key");
                &mut c.masters[i]
            }
        }
    }

    /// The setting, as in a configuration file.
    pub fn config(&self) -> cobrowse::config::RedisConfig {
        use cobrowse::config::{RedisCluster as Seeds, RedisConfig};
        match self {
            SharedRedis::One(r) => RedisConfig::Single(r.url()),
            SharedRedis::Cluster(c) => RedisConfig::Cluster(Seeds { cluster: c.urls() }),
        }
    }

    /// The setting, as a node's environment variable.
    pub fn env(&self) -> (&'static str, String) {
        match self {
            SharedRedis::One(r) => ("COBROWSE_REDIS", r.url()),
            SharedRedis::Cluster(c) => ("COBROWSE_REDIS__CLUSTER", c.urls().join(",")),
        }
    }
}

pub struct Postgres {
    pub port: u16,
    child: Child,
    data: PathBuf,
    _dir: tempfile::TempDir,
}

fn postgres_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin"))
        .collect();
    versions.sort();
    versions.pop().filter(|b| b.join("initdb").exists())
}

/// Runs a PostgreSQL program, as the `postgres` user when we are root (it refuses root).
fn as_postgres(bin: PathBuf) -> Command {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    }
}

impl Postgres {
    pub fn start() -> Postgres {
        let Some(bin) = postgres_bin() else {
            missing("PostgreSQL")
        };
        let dir = tempfile::Builder::new()
            .prefix("cobrowse-pg")
            .tempdir()
            .unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let _ = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(dir.path())
            .status();
        let init = as_postgres(bin.join("initdb"))
            .args(["-A", "trust", "-U", "cobrowse", "-E", "UTF8", "-D"])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(init.success(), "initdb failed");
        let port = free_port();
        let mut child = as_postgres(bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args([
                "-p",
                &port.to_string(),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-k",
            ])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for_port(port, &mut child, "postgres");
        Postgres {
            port,
            child,
            data,
            _dir: dir,
        }
    }

    pub fn url(&self) -> String {
        format!("postgres://cobrowse@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // SIGINT to the postmaster itself (not to runuser): PostgreSQL's fast shutdown.
        let pid = std::fs::read_to_string(self.data.join("postmaster.pid")).ok();
        match pid.as_deref().and_then(|p| p.lines().next()) {
            Some(pid) => {
                let _ = Command::new("kill").args(["-INT", pid]).status();
            }
            None => {
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait();
    }
}
