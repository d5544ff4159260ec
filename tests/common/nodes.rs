//! Server nodes as child processes (`cobrowse serve`), for tests that need
//! several of them or need to kill one.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_cobrowse");

pub struct Node {
    pub url: String,
    pub host: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Node {
    /// Starts a node with the given `COBROWSE_*` settings; returns once it listens.
    pub fn start(env: &[(&str, String)]) -> Node {
        Node::start_with(&[], env)
    }

    /// The same, with more `serve` flags (`--redis`, `--database`).
    pub fn start_with(flags: &[String], env: &[(&str, String)]) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .args(flags)
            .env("COBROWSE_DEMO", "false")
            .env("COBROWSE_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().expect("node printed nothing").unwrap();
        let url = first
            .split_whitespace()
            .find(|w| w.starts_with("http"))
            .expect("listening line")
            .to_string();
        // Keep reading so the node never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let host = url.trim_start_matches("http://").to_string();
        Node {
            url,
            host,
            child,
            _dir: dir,
        }
    }

    /// `kill -9`: no goodbye to anyone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}
