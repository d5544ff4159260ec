//! The operating-system side of the bench: the open-files limit, the servers
//! as child processes, and what /proc says about them.

use std::collections::VecDeque;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

/// Raises this process's soft RLIMIT_NOFILE to its hard limit; the servers
/// started afterwards inherit it. Returns (soft, hard) after the change.
///
/// `setrlimit` is declared here directly (it is in the C library std already
/// links) rather than pulling in the `libc` crate for two calls.
#[cfg(all(
    target_os = "linux",
    target_pointer_width = "64",
    not(any(target_arch = "mips64", target_arch = "sparc64"))
))]
pub fn raise_nofile_limit() -> Result<(u64, u64)> {
    #[repr(C)]
    struct RLimit {
        cur: u64,
        max: u64,
    }
    const RLIMIT_NOFILE: i32 = 7;
    unsafe extern "C" {
        fn getrlimit(resource: i32, rlim: *mut RLimit) -> i32;
        fn setrlimit(resource: i32, rlim: *const RLimit) -> i32;
    }
    let mut lim = RLimit { cur: 0, max: 0 };
    // SAFETY: `lim` is a valid, writable `struct rlimit` (two `rlim_t`, u64 on 64-bit Linux).
    if unsafe { getrlimit(RLIMIT_NOFILE, &mut lim) } != 0 {
        bail!(
            "getrlimit(RLIMIT_NOFILE): {}",
            std::io::Error::last_os_error()
        );
    }
    if lim.cur < lim.max {
        let want = RLimit {
            cur: lim.max,
            max: lim.max,
        };
        // SAFETY: `want` is a valid `struct rlimit`; raising the soft limit up to the hard one is always allowed.
        if unsafe { setrlimit(RLIMIT_NOFILE, &want) } != 0 {
            bail!(
                "setrlimit(RLIMIT_NOFILE, {}): {}",
                lim.max,
                std::io::Error::last_os_error()
            );
        }
        lim.cur = lim.max;
    }
    Ok((lim.cur, lim.max))
}

#[cfg(not(all(
    target_os = "linux",
    target_pointer_width = "64",
    not(any(target_arch = "mips64", target_arch = "sparc64"))
)))]
pub fn raise_nofile_limit() -> Result<(u64, u64)> {
    bail!("raising RLIMIT_NOFILE is only implemented for 64-bit Linux")
}

/// Memory and CPU of a process, from /proc.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcSample {
    pub rss_kib: u64,
    pub hwm_kib: u64,
    /// user + system CPU time, in clock ticks (1/100 s on Linux).
    pub cpu_ticks: u64,
    /// The system part alone: on loopback most of it is TCP, which no
    /// userland change removes, so it bounds what a leaner relay could save.
    pub sys_ticks: u64,
    pub threads: u64,
}

/// Several processes serving together (two nodes and Redis) count as one server.
impl std::iter::Sum for ProcSample {
    fn sum<I: Iterator<Item = ProcSample>>(samples: I) -> ProcSample {
        samples.fold(ProcSample::default(), |a, b| ProcSample {
            rss_kib: a.rss_kib + b.rss_kib,
            hwm_kib: a.hwm_kib + b.hwm_kib,
            cpu_ticks: a.cpu_ticks + b.cpu_ticks,
            sys_ticks: a.sys_ticks + b.sys_ticks,
            threads: a.threads + b.threads,
        })
    }
}

pub fn proc_sample(pid: u32) -> Option<ProcSample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l[name.len()..].split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(ProcSample {
        rss_kib: field("VmRSS:"),
        hwm_kib: field("VmHWM:"),
        cpu_ticks: utime + stime,
        sys_ticks: stime,
        threads: field("Threads:"),
    })
}

/// The whole machine's CPU time from /proc/stat, in clock ticks: (busy, all).
/// Other work on the machine (a compiler, another container on the same
/// cores) slows both the server and the generator; the report shows it.
pub fn machine_cpu_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    let all: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4).copied().unwrap_or(0);
    Some((all - idle, all))
}

/// How many cores the machine has busy right now, measured over `over`.
pub async fn machine_busy_cores(over: std::time::Duration) -> Option<f64> {
    let (b0, a0) = machine_cpu_ticks()?;
    tokio::time::sleep(over).await;
    let (b1, a1) = machine_cpu_ticks()?;
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as f64;
    Some((b1 - b0) as f64 / (a1 - a0).max(1) as f64 * cores)
}

/// This process's own figures: the load generator's CPU.
pub fn self_sample() -> ProcSample {
    proc_sample(std::process::id()).unwrap_or_default()
}

/// A loopback port free right now, for a server that cannot be told to pick
/// its own and report it (redis-server).
pub fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// The line a server prints once it accepts connections.
#[derive(Clone, Copy, Debug)]
pub struct ReadyLine {
    pub text: &'static str,
    /// The port, when the server was given it; `None`: read it from the line
    /// (`listening on http://HOST:PORT`).
    pub port: Option<u16>,
}

impl ReadyLine {
    /// What cobrowse and the socket.io relay print, with the port they picked.
    pub const LISTENING: ReadyLine = ReadyLine {
        text: "listening on http://",
        port: None,
    };

    fn port_in(self, line: &str) -> Option<u16> {
        match self.port {
            Some(port) => line.contains(self.text).then_some(port),
            None => parse_listening(line),
        }
    }
}

/// A server under test, running as a child process.
pub struct Server {
    pub name: &'static str,
    pub child: Child,
    pub pid: u32,
    pub port: u16,
    /// The last lines it printed (stdout and stderr), for error reports.
    pub tail: Arc<Mutex<VecDeque<String>>>,
}

impl Server {
    /// Starts `cmd` and waits for its `ready` line.
    pub async fn start(
        name: &'static str,
        mut cmd: Command,
        ready: ReadyLine,
        timeout: Duration,
    ) -> Result<Server> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let program = cmd.as_std().get_program().to_string_lossy().into_owned();
        let mut child = match cmd.spawn() {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                bail!("starting {name}: `{program}` not found (not installed, or not on the PATH)")
            }
            Err(e) => return Err(e).with_context(|| format!("starting {name} ({program})")),
        };
        let pid = child.id().ok_or_else(|| anyhow!("{name} exited at once"))?;
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let (port_tx, port_rx) = oneshot::channel();
        let port_tx = Arc::new(Mutex::new(Some(port_tx)));
        let out = child.stdout.take().expect("piped");
        let err = child.stderr.take().expect("piped");
        for (stream, label) in [
            (
                Box::new(out) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
                "out",
            ),
            (Box::new(err), "err"),
        ] {
            let tail = tail.clone();
            let port_tx = port_tx.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(port) = ready.port_in(&line)
                        && let Some(tx) = port_tx.lock().unwrap().take()
                    {
                        let _ = tx.send(port);
                    }
                    let mut t = tail.lock().unwrap();
                    if t.len() >= 40 {
                        t.pop_front();
                    }
                    t.push_back(format!("[{label}] {line}"));
                }
            });
        }
        drop(port_tx);
        let mut server = Server {
            name,
            child,
            pid,
            port: 0,
            tail,
        };
        match tokio::time::timeout(timeout, port_rx).await {
            Ok(Ok(port)) => {
                server.port = port;
                Ok(server)
            }
            Ok(Err(_)) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let status = server.child.try_wait().ok().flatten();
                bail!(
                    "{name} ended without printing `{}…` (exit: {status:?})\n{}",
                    ready.text,
                    server.tail_text()
                )
            }
            Err(_) => {
                server.stop().await;
                bail!(
                    "{name} printed no `{}…` line within {timeout:?}\n{}",
                    ready.text,
                    server.tail_text()
                )
            }
        }
    }

    pub fn tail_text(&self) -> String {
        self.tail
            .lock()
            .unwrap()
            .iter()
            .map(|l| format!("    {l}\n"))
            .collect()
    }

    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGTERM (through kill(1)), then SIGKILL after 3 s.
    pub async fn stop(&mut self) {
        if self.exited().is_some() {
            return;
        }
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status()
            .await;
        if tokio::time::timeout(Duration::from_secs(3), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// Finds the port in a line containing `listening on http://HOST:PORT`.
fn parse_listening(line: &str) -> Option<u16> {
    let at = line.find("listening on http://")? + "listening on http://".len();
    let rest = &line[at..];
    let hostport = rest
        .split(|c: char| c == '/' || c == '"' || c.is_whitespace())
        .next()?;
    let digits = &hostport[hostport.rfind(':')? + 1..];
    digits.parse().ok().filter(|p| *p != 0)
}

/// Runs a setup command to completion (npm ci, cargo build), showing its output.
pub async fn run_setup(what: &str, mut cmd: Command, dir: &Path) -> Result<()> {
    eprintln!("bench: {what} (in {})", dir.display());
    let status = cmd
        .current_dir(dir)
        .status()
        .await
        .with_context(|| format!("{what}: could not start"))?;
    if !status.success() {
        bail!("{what} failed: {status}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_port() {
        assert_eq!(
            parse_listening("listening on http://127.0.0.1:4242"),
            Some(4242)
        );
        assert_eq!(
            parse_listening(r#"{"msg":"listening on http://127.0.0.1:80/","x":1}"#),
            Some(80)
        );
        assert_eq!(
            parse_listening("2026 INFO cobrowse: listening on http://127.0.0.1:5 (x)"),
            Some(5)
        );
        assert_eq!(parse_listening("listening on http://127.0.0.1:0"), None);
        assert_eq!(parse_listening("nothing"), None);
    }

    #[test]
    fn a_given_port_is_ready_on_its_line() {
        let redis = ReadyLine {
            text: "Ready to accept connections",
            port: Some(6400),
        };
        assert_eq!(
            redis.port_in("1:M 01 Jan 2026 * Ready to accept connections tcp"),
            Some(6400)
        );
        assert_eq!(redis.port_in("1:M 01 Jan 2026 * Server initialized"), None);
        assert_eq!(
            ReadyLine::LISTENING.port_in("listening on http://127.0.0.1:4242"),
            Some(4242)
        );
    }

    #[test]
    fn reads_own_proc() {
        let s = proc_sample(std::process::id()).unwrap();
        assert!(s.rss_kib > 0 && s.threads >= 1);
    }
}
