//! `cobrowse-bench relay`: the relay load benchmark (see bench/README.md).
//!
//! Opens N sessions (a customer and an agent WebSocket each) against the
//! cobrowse server, started here as a child process, has both sides send
//! `rate` messages/s of about `size` bytes, and measures what the peers
//! receive: throughput, relay latency, losses, and the server's memory per
//! session. Then it runs the same load against a minimal socket.io room relay
//! (bench/socketio/relay.js) and prints both side by side with ratios.

mod hist;
mod sys;
mod wire;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use tokio::process::Command;
use tokio::sync::{Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio_tungstenite::tungstenite::Message;

use hist::Histogram;
use sys::{ProcSample, Server};
use wire::{Incoming, Proto, Side, Ws};

#[derive(Parser)]
#[command(name = "cobrowse-bench", about = "Benchmarks for the cobrowse server")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Relay load: N concurrent sessions, both sides streaming; cobrowse vs a socket.io room relay.
    Relay(RelayArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Against {
    /// cobrowse, then socket.io, then the comparison
    Both,
    Cobrowse,
    Socketio,
}

#[derive(Args, Clone, Debug)]
struct RelayArgs {
    /// Concurrent sessions (each is a customer and an agent connection).
    #[arg(long, default_value_t = 8000)]
    sessions: usize,
    /// Messages per second sent by each side of each session.
    #[arg(long, default_value_t = 5.0)]
    rate: f64,
    /// Approximate size of each message, in bytes.
    #[arg(long, default_value_t = 1024)]
    size: usize,
    /// Measured seconds of traffic.
    #[arg(long, default_value_t = 30.0)]
    duration: f64,
    /// Seconds of traffic before measuring starts.
    #[arg(long, default_value_t = 3.0)]
    warmup: f64,
    /// Sessions opened per second during the ramp-up (no traffic flows during it).
    #[arg(long, default_value_t = 1000.0)]
    ramp: f64,
    /// Sessions being opened at the same moment, at most.
    #[arg(long, default_value_t = 128)]
    open_concurrency: usize,
    /// Seconds allowed to open one session (both connections and handshakes).
    #[arg(long, default_value_t = 10.0)]
    connect_timeout: f64,
    /// Seconds allowed for the whole ramp-up; the run goes on with the sessions open by then.
    #[arg(long, default_value_t = 120.0)]
    ramp_timeout: f64,
    /// Seconds, after the last send, to wait for messages still in flight.
    #[arg(long, default_value_t = 5.0)]
    drain: f64,
    /// Which relays to run.
    #[arg(long, value_enum, default_value_t = Against::Both)]
    against: Against,
    /// Load-generator threads: 1 = a current-thread tokio runtime. Two measured
    /// lower latencies than one on 2 cores (the generator's own queueing is
    /// part of every figure), for ~10 % more generator CPU: see bench/README.md.
    #[arg(long, default_value_t = 2)]
    client_threads: usize,
    /// The cobrowse binary [default: `cobrowse` next to this executable, built first when run by cargo].
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Do not run `cargo build --release --bin cobrowse` first.
    #[arg(long)]
    no_build: bool,
    /// Node.js, for the socket.io relay.
    #[arg(long, default_value = "node")]
    node: String,
    /// Directory of relay.js and its package.json [default: bench/socketio in the source tree].
    #[arg(long)]
    socketio_dir: Option<PathBuf>,
    /// Runs again, up to this many times, a relay whose measured window other
    /// processes disturbed (more than 15 % of a core).
    #[arg(long, default_value_t = 2)]
    retries: u32,
    /// Extra environment for the cobrowse server, KEY=VALUE, repeatable
    /// (e.g. COBROWSE_LIMITS__SEND_QUEUE=64, TOKIO_WORKER_THREADS=1, MALLOC_ARENA_MAX=2).
    #[arg(long = "server-env", value_name = "KEY=VALUE")]
    server_env: Vec<String>,
    /// Seconds to wait, before each run, for other work on the machine to stop.
    #[arg(long, default_value_t = 300.0)]
    quiet_wait: f64,
    /// Seconds to wait after the server starts, before anything else, e.g. to
    /// attach a profiler (`heaptrack -p PID`, `perf record -p PID`).
    #[arg(long, default_value_t = 0.0, hide = true)]
    hold: f64,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn main() -> Result<()> {
    let Cmd::Relay(args) = Cli::parse().cmd;
    let (soft, hard) = sys::raise_nofile_limit().unwrap_or_else(|e| {
        eprintln!("bench: warning: {e}");
        (0, 0)
    });
    let need = args.sessions as u64 * 2 + 100;
    eprintln!(
        "bench: open files limit {soft} (hard {hard}); this run needs about {need} in the bench and in the server"
    );
    if soft != 0 && soft < need {
        eprintln!(
            "bench: warning: not enough open files for {} sessions; expect connection errors",
            args.sessions
        );
    }
    let rt = if args.client_threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.client_threads)
            .enable_all()
            .build()?
    };
    rt.block_on(relay(args))
}

/// The source tree: where cargo ran us from, else where we were built from.
fn source_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

async fn prepare_cobrowse(args: &RelayArgs) -> Result<PathBuf> {
    if let Some(bin) = &args.server_bin {
        return Ok(bin.clone());
    }
    let me = std::env::current_exe()?;
    let dir = me.parent().context("executable has no directory")?;
    if dir.file_name().is_some_and(|n| n != "release") {
        eprintln!(
            "bench: warning: this bench is not a release build; its own overhead will distort the figures"
        );
    }
    // `cargo run --bin cobrowse-bench` builds only the bench: make sure the
    // server next to it is current, or the run would measure stale code.
    if !args.no_build
        && let Some(cargo) = std::env::var_os("CARGO")
    {
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--release", "--bin", "cobrowse"]);
        sys::run_setup("cargo build --release --bin cobrowse", cmd, &source_dir()).await?;
    }
    let bin = dir.join("cobrowse");
    if !bin.exists() {
        bail!(
            "{} is missing: run `cargo build --release --bin cobrowse` or pass --server-bin",
            bin.display()
        );
    }
    Ok(bin)
}

async fn prepare_socketio(args: &RelayArgs) -> Result<PathBuf> {
    let dir = args
        .socketio_dir
        .clone()
        .unwrap_or_else(|| source_dir().join("bench/socketio"));
    if !dir.join("relay.js").exists() {
        bail!("{} has no relay.js", dir.display());
    }
    if !dir.join("node_modules/socket.io").exists() {
        let mut cmd = Command::new("npm");
        cmd.args(["ci", "--no-audit", "--no-fund"]);
        sys::run_setup("npm ci (socket.io for the reference relay)", cmd, &dir).await?;
    }
    Ok(dir)
}

async fn relay(args: RelayArgs) -> Result<()> {
    let mut targets = Vec::new();
    if args.against != Against::Socketio {
        targets.push((Proto::Cobrowse, prepare_cobrowse(&args).await?));
    }
    if args.against != Against::Cobrowse {
        targets.push((Proto::SocketIo, prepare_socketio(&args).await?));
    }
    let mut results = Vec::new();
    for (proto, path) in targets {
        let mut attempt = 0;
        let r = loop {
            attempt += 1;
            eprintln!("\nbench: ── {} (attempt {attempt}) ──", proto.label());
            wait_quiet(args.quiet_wait).await;
            let r = match run_target(proto, &path, &args).await {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("bench: {} run failed: {e:#}", proto.label());
                    TargetResult::failed(proto, args.sessions, format!("{e:#}"))
                }
            };
            // Let the kernel settle (sockets in TIME_WAIT, freed memory) between runs.
            tokio::time::sleep(Duration::from_secs(2)).await;
            if r.ok() && r.others_cpu_pct > DISTURBED_PCT && attempt <= args.retries {
                eprintln!(
                    "bench: other processes took {:.0} % of a core during the window: running {} again",
                    r.others_cpu_pct,
                    proto.label()
                );
                continue;
            }
            break r;
        };
        results.push(r);
    }
    let table = report(&args, &results);
    println!("{table}");
    if let Some(path) = &args.json {
        let json = serde_json::json!({
            "args": format!("{args:?}"),
            "results": results.iter().map(TargetResult::json).collect::<Vec<_>>(),
        });
        std::fs::write(path, serde_json::to_string_pretty(&json)?)?;
        eprintln!("bench: results written to {}", path.display());
    }
    Ok(())
}

/// Other processes' CPU (% of one core) above which a window counts as disturbed.
const DISTURBED_PCT: f64 = 15.0;

/// Waits, up to `max_secs`, for three seconds in a row with the machine
/// nearly idle: a compiler running beside the bench would take cores from
/// both the server and the generator.
async fn wait_quiet(max_secs: f64) {
    let until = Instant::now() + Duration::from_secs_f64(max_secs);
    let mut quiet = 0;
    let mut said = false;
    loop {
        let Some(busy) = sys::machine_busy_cores(Duration::from_secs(1)).await else {
            return;
        };
        if busy < 0.3 {
            quiet += 1;
            if quiet >= 3 {
                return;
            }
        } else {
            quiet = 0;
            if !said {
                eprintln!(
                    "bench: the machine is busy ({busy:.1} cores in use by other work); waiting up to {max_secs:.0} s for it to calm down"
                );
                said = true;
            }
        }
        if Instant::now() >= until {
            eprintln!(
                "bench: warning: the machine is still busy ({busy:.1} cores); running anyway, figures will suffer"
            );
            return;
        }
    }
}

// ---------------------------------------------------------------- one run

/// When traffic starts and stops, in µs since `Shared::base`.
#[derive(Clone, Copy, Debug)]
struct Plan {
    go: u64,
    t0: u64,
    t1: u64,
}

#[derive(Default)]
struct Counters {
    established: AtomicU64,
    open_failed: AtomicU64,
    late: AtomicU64,
    sent: AtomicU64,
    sent_window: AtomicU64,
    received: AtomicU64,
    received_window: AtomicU64,
    gaps: AtomicU64,
    out_of_order: AtomicU64,
    disconnects: AtomicU64,
    send_errors: AtomicU64,
    problems: AtomicU64,
    /// Sends (in the window) that waited for an earlier send the server was slow to take.
    held_up: AtomicU64,
}

struct Shared {
    proto: Proto,
    base: Instant,
    plan: OnceLock<Plan>,
    c: Counters,
    /// Relay latency: peer's receive time − sender's send time, received inside the window.
    latency: Histogram,
    /// How late the generator itself sent (actual − scheduled) when not held up
    /// by the server: its own health.
    send_lag: Histogram,
    /// Time to open one session.
    open_time: Histogram,
    samples: Mutex<Vec<String>>,
    pad: String,
    period_us: u64,
    secret: String,
    port: u16,
}

impl Shared {
    fn now_us(&self) -> u64 {
        self.base.elapsed().as_micros() as u64
    }
    fn at(&self, us: u64) -> tokio::time::Instant {
        tokio::time::Instant::from_std(self.base + Duration::from_micros(us))
    }
    fn in_window(&self, us: u64) -> bool {
        self.plan.get().is_some_and(|p| us >= p.t0 && us < p.t1)
    }
    fn sample(&self, what: String) {
        let mut s = self.samples.lock().unwrap();
        if s.len() < 12 {
            s.push(what);
        }
    }
}

async fn run_target(proto: Proto, path: &Path, args: &RelayArgs) -> Result<TargetResult> {
    let secret: String = {
        let mut rng = rand::rng();
        (0..32)
            .map(|_| format!("{:02x}", rng.random::<u8>()))
            .collect()
    };
    let data_dir = std::env::temp_dir().join(format!(
        "cobrowse-bench-{}-{}",
        std::process::id(),
        rand::rng().random::<u32>()
    ));
    let cmd = match proto {
        Proto::Cobrowse => {
            std::fs::create_dir_all(&data_dir)?;
            let mut cmd = Command::new(path);
            cmd.arg("serve")
                .arg("--listen")
                .arg("127.0.0.1:0")
                .arg("--data-dir")
                .arg(&data_dir);
            cmd.env("COBROWSE_AUTH__JWT_SECRET", &secret)
                .env(
                    "COBROWSE_LIMITS__JOIN_ATTEMPTS_PER_MINUTE_PER_IP",
                    "100000000",
                )
                .env("COBROWSE_LIMITS__SESSIONS_PER_MINUTE_PER_IP", "100000000");
            for kv in &args.server_env {
                let (k, v) = kv
                    .split_once('=')
                    .with_context(|| format!("--server-env {kv}: expected KEY=VALUE"))?;
                cmd.env(k, v);
            }
            cmd
        }
        Proto::SocketIo => {
            let mut cmd = Command::new(&args.node);
            cmd.arg(path.join("relay.js")).current_dir(path);
            cmd
        }
    };
    let result = match Server::start(proto.label(), cmd, Duration::from_secs(30)).await {
        Ok(mut server) => {
            let result = drive(proto, &mut server, secret, args).await;
            server.stop().await;
            result
        }
        Err(e) => Err(e),
    };
    if proto == Proto::Cobrowse {
        let _ = std::fs::remove_dir_all(&data_dir);
    }
    result
}

async fn drive(
    proto: Proto,
    server: &mut Server,
    secret: String,
    args: &RelayArgs,
) -> Result<TargetResult> {
    eprintln!(
        "bench: {} (pid {}) listening on 127.0.0.1:{}",
        server.name, server.pid, server.port
    );
    if args.hold > 0.0 {
        eprintln!("bench: holding {} s (--hold)", args.hold);
        tokio::time::sleep(Duration::from_secs_f64(args.hold)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = sys::proc_sample(server.pid).context("reading the server's /proc")?;
    let shared = Arc::new(Shared {
        proto,
        base: Instant::now(),
        plan: OnceLock::new(),
        c: Counters::default(),
        latency: Histogram::new(),
        send_lag: Histogram::new(),
        open_time: Histogram::new(),
        samples: Mutex::new(Vec::new()),
        pad: wire::pad(args.size),
        period_us: (1e6 / args.rate.max(0.001)) as u64,
        secret,
        port: server.port,
    });
    let (plan_tx, plan_rx) = watch::channel(None::<Plan>);
    let loops: Arc<Mutex<Vec<JoinHandle<()>>>> =
        Arc::new(Mutex::new(Vec::with_capacity(args.sessions * 2)));

    // Ramp-up: open sessions at `ramp` per second, `open_concurrency` at a time.
    let n = args.sessions;
    let ramp_start = Instant::now();
    let ramp_deadline =
        tokio::time::Instant::from_std(ramp_start + Duration::from_secs_f64(args.ramp_timeout));
    let connect_timeout = Duration::from_secs_f64(args.connect_timeout);
    let sem = Arc::new(Semaphore::new(args.open_concurrency.max(1)));
    let mut openers = JoinSet::new();
    let mut launched = 0u64;
    let mut progress = Progress::new(&shared, server.pid);
    for i in 0..n {
        let due = tokio::time::Instant::from_std(
            ramp_start + Duration::from_secs_f64(i as f64 / args.ramp.max(0.001)),
        );
        tokio::time::sleep_until(due).await;
        let Ok(Ok(permit)) =
            tokio::time::timeout_at(ramp_deadline, sem.clone().acquire_owned()).await
        else {
            eprintln!("bench: ramp-up timed out after {launched} sessions launched");
            break;
        };
        if let Some(status) = server.exited() {
            bail!(
                "{} exited during the ramp-up: {status}\n{}",
                server.name,
                server.tail_text()
            );
        }
        let (shared, plan_rx, loops) = (shared.clone(), plan_rx.clone(), loops.clone());
        openers.spawn(async move {
            let started = Instant::now();
            let opened = tokio::time::timeout(connect_timeout, async {
                match shared.proto {
                    Proto::Cobrowse => wire::open_cobrowse(shared.port, &shared.secret, i).await,
                    Proto::SocketIo => wire::open_socketio(shared.port, i).await,
                }
            })
            .await;
            drop(permit);
            match opened {
                Ok(Ok((customer, agent))) => {
                    if shared.plan.get().is_some() {
                        shared.c.late.fetch_add(1, Relaxed);
                        return;
                    }
                    shared
                        .open_time
                        .record(started.elapsed().as_micros() as u64);
                    shared.c.established.fetch_add(1, Relaxed);
                    let a = tokio::spawn(conn_loop(
                        customer,
                        Side::Customer,
                        shared.clone(),
                        plan_rx.clone(),
                    ));
                    let b = tokio::spawn(conn_loop(agent, Side::Agent, shared.clone(), plan_rx));
                    loops.lock().unwrap().extend([a, b]);
                }
                Ok(Err(e)) => {
                    shared.c.open_failed.fetch_add(1, Relaxed);
                    shared.sample(format!("session {i}: {e:#}"));
                }
                Err(_) => {
                    shared.c.open_failed.fetch_add(1, Relaxed);
                    shared.sample(format!("session {i}: not open after {connect_timeout:?}"));
                }
            }
        });
        launched = i as u64 + 1;
        while openers.try_join_next().is_some() {}
        progress.tick("ramp", false);
    }
    // Wait for the openers still running (each is bounded by the connect timeout).
    let wait_until = (tokio::time::Instant::now() + connect_timeout + Duration::from_secs(1))
        .min(ramp_deadline.max(tokio::time::Instant::now()));
    while !openers.is_empty() && tokio::time::Instant::now() < wait_until {
        let _ = tokio::time::timeout(Duration::from_millis(200), openers.join_next()).await;
        progress.tick("ramp", false);
    }
    let open_secs = ramp_start.elapsed().as_secs_f64();
    let established = shared.c.established.load(Relaxed);
    eprintln!(
        "bench: {established} of {n} sessions open in {open_secs:.1} s ({} failed)",
        shared.c.open_failed.load(Relaxed)
    );
    if established == 0 {
        openers.abort_all();
        bail!(
            "no session could be opened: {}\n{}",
            shared.samples.lock().unwrap().join("\n"),
            server.tail_text()
        );
    }

    // Memory with every session open, before any traffic.
    let idle = sys::proc_sample(server.pid).unwrap_or_default();

    // Traffic: every connection starts at `go` plus a random phase within its period.
    let now = shared.now_us();
    let go = now + 200_000;
    let t0 = go + (args.warmup * 1e6) as u64;
    let t1 = t0 + (args.duration * 1e6) as u64;
    let plan = Plan { go, t0, t1 };
    let _ = shared.plan.set(plan);
    let _ = plan_tx.send(Some(plan));
    openers.abort_all();

    let mut cpu0 = None;
    let mut window_closed = false;
    let mut after = ProcSample::default();
    let mut cpu1 = (ProcSample::default(), 0, None);
    let drain_end = t1 + (args.drain * 1e6) as u64;
    let mut failure = None;
    loop {
        let mut wake = shared.now_us() + 100_000;
        for edge in [t0, t1] {
            if shared.now_us() < edge {
                wake = wake.min(edge);
            }
        }
        tokio::time::sleep_until(shared.at(wake)).await;
        let now = shared.now_us();
        if let Some(status) = server.exited() {
            failure = Some(format!(
                "{} exited during the run: {status}\n{}",
                server.name,
                server.tail_text()
            ));
            break;
        }
        if cpu0.is_none() && now >= t0 {
            cpu0 = Some((
                sys::proc_sample(server.pid).unwrap_or_default(),
                sys::self_cpu_ticks(),
                sys::machine_cpu_ticks(),
            ));
        }
        if !window_closed && now >= t1 {
            // Memory while every session is still open and after traffic ran.
            after = sys::proc_sample(server.pid).unwrap_or_default();
            cpu1 = (after, sys::self_cpu_ticks(), sys::machine_cpu_ticks());
            window_closed = true;
        }
        progress.tick(
            if now < t0 {
                "warm-up"
            } else if now < t1 {
                "measure"
            } else {
                "drain"
            },
            true,
        );
        let in_flight = shared
            .c
            .sent
            .load(Relaxed)
            .saturating_sub(shared.c.received.load(Relaxed));
        if window_closed && (in_flight == 0 || now >= drain_end) {
            break;
        }
    }
    // Stop every connection: aborting a task drops its WebSocket, which closes it.
    drop(plan_tx);
    let handles: Vec<_> = std::mem::take(&mut *loops.lock().unwrap());
    for h in &handles {
        h.abort();
    }
    let stop_by = tokio::time::Instant::now() + Duration::from_secs(5);
    for h in handles {
        let _ = tokio::time::timeout_at(stop_by, h).await;
    }
    if let Some(f) = failure {
        bail!(f);
    }
    let cpu0 = cpu0.unwrap_or_default();
    let secs = args.duration;
    let ticks = |a: u64, b: u64| (b.saturating_sub(a)) as f64 / 100.0 / secs * 100.0;
    // Machine-wide busy time in the window, minus the server's and ours: other work.
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as f64;
    let others_pct = match (cpu0.2, cpu1.2) {
        (Some((b0, a0)), Some((b1, a1))) => {
            let machine = (b1 - b0) as f64 / (a1 - a0).max(1) as f64 * cores * 100.0;
            (machine - ticks(cpu0.0.cpu_ticks, cpu1.0.cpu_ticks) - ticks(cpu0.1, cpu1.1)).max(0.0)
        }
        _ => 0.0,
    };
    let c = &shared.c;
    let per_session = |s: &ProcSample| {
        (s.rss_kib.saturating_sub(before.rss_kib) as f64 * 1024.0) / established as f64
    };
    let mem_per_session = per_session(&after);
    let idle_mem_per_session = per_session(&idle);
    Ok(TargetResult {
        proto,
        requested: n as u64,
        established,
        open_failed: c.open_failed.load(Relaxed),
        open_secs,
        open_p99_ms: shared.open_time.quantile(0.99).map(|v| v as f64 / 1000.0),
        offered_per_s: c.sent_window.load(Relaxed) as f64 / secs,
        relayed_per_s: c.received_window.load(Relaxed) as f64 / secs,
        p50_ms: shared.latency.quantile(0.50).map(ms),
        p99_ms: shared.latency.quantile(0.99).map(ms),
        p999_ms: shared.latency.quantile(0.999).map(ms),
        max_ms: (shared.latency.count() > 0).then(|| ms(shared.latency.max())),
        mean_ms: shared.latency.mean() / 1000.0,
        sent: c.sent.load(Relaxed),
        received: c.received.load(Relaxed),
        gaps: c.gaps.load(Relaxed),
        out_of_order: c.out_of_order.load(Relaxed),
        disconnects: c.disconnects.load(Relaxed),
        send_errors: c.send_errors.load(Relaxed),
        problems: c.problems.load(Relaxed),
        rss_before_kib: before.rss_kib,
        rss_after_kib: after.rss_kib,
        hwm_kib: after.hwm_kib,
        mem_per_session_bytes: mem_per_session,
        idle_mem_per_session_bytes: idle_mem_per_session,
        server_cpu_pct: ticks(cpu0.0.cpu_ticks, cpu1.0.cpu_ticks),
        client_cpu_pct: ticks(cpu0.1, cpu1.1),
        others_cpu_pct: others_pct,
        server_threads: after.threads,
        lag_p99_ms: shared.send_lag.quantile(0.99).map(ms),
        held_up: c.held_up.load(Relaxed),
        samples: shared.samples.lock().unwrap().clone(),
        failure: None,
    })
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// One connection, after its session is open: reads all the time, sends on
/// its schedule once the plan is known, until the driver aborts it.
async fn conn_loop(
    mut ws: Ws,
    side: Side,
    sh: Arc<Shared>,
    mut plan_rx: watch::Receiver<Option<Plan>>,
) {
    let proto = sh.proto;
    let far = tokio::time::Instant::now() + Duration::from_secs(86_400 * 365);
    let timer = tokio::time::sleep_until(far);
    tokio::pin!(timer);
    let mut next_send = u64::MAX; // scheduled time of the next send, µs
    let mut t1 = u64::MAX;
    let mut seq = 0u64;
    let mut expected = 1u64;
    let mut last_send_done = 0u64;
    let who = match side {
        Side::Customer => "customer",
        Side::Agent => "agent",
    };
    loop {
        tokio::select! {
            biased;
            // Polled only until the plan is known: the driver stops the task by aborting it.
            changed = plan_rx.changed(), if next_send == u64::MAX => {
                if changed.is_err() {
                    break;
                }
                if let Some(p) = *plan_rx.borrow_and_update() {
                    let phase = rand::rng().random_range(0..sh.period_us.max(1));
                    next_send = p.go + phase;
                    t1 = p.t1;
                    timer.as_mut().reset(sh.at(next_send));
                }
            }
            m = ws.next() => match m {
                Some(Ok(Message::Text(text))) => match wire::decode(proto, text.as_str()) {
                    Incoming::Data { s, ts } => {
                        let now = sh.now_us();
                        sh.c.received.fetch_add(1, Relaxed);
                        if sh.in_window(now) {
                            sh.c.received_window.fetch_add(1, Relaxed);
                            sh.latency.record(now.saturating_sub(ts));
                        }
                        if s > expected {
                            sh.c.gaps.fetch_add(s - expected, Relaxed);
                        } else if s < expected {
                            sh.c.out_of_order.fetch_add(1, Relaxed);
                        }
                        expected = expected.max(s + 1);
                    }
                    Incoming::Ping => {
                        if ws.send(Message::text("3")).await.is_err() {
                            sh.c.send_errors.fetch_add(1, Relaxed);
                            break;
                        }
                    }
                    Incoming::Problem(p) => {
                        sh.c.problems.fetch_add(1, Relaxed);
                        sh.sample(format!("{who} got: {p:.300}"));
                    }
                    Incoming::Other => {}
                },
                Some(Ok(Message::Close(f))) => {
                    sh.c.disconnects.fetch_add(1, Relaxed);
                    let f = f.map(|f| format!("{} {}", u16::from(f.code), f.reason)).unwrap_or_default();
                    sh.sample(format!("{who} closed by the server: {f}"));
                    break;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    sh.c.disconnects.fetch_add(1, Relaxed);
                    sh.sample(format!("{who} connection error: {e}"));
                    break;
                }
                None => {
                    sh.c.disconnects.fetch_add(1, Relaxed);
                    sh.sample(format!("{who} connection ended"));
                    break;
                }
            },
            () = &mut timer => {
                let now = sh.now_us();
                if next_send >= t1 {
                    timer.as_mut().reset(far);
                    continue;
                }
                seq += 1;
                let in_window = sh.in_window(now);
                // The send time a browser would stamp. If our previous send was
                // held up by the server not reading (TCP backpressure) past this
                // message's slot, the message waited for the server: stamp the
                // slot, so the wait counts as relay latency (no coordinated
                // omission). Otherwise stamp now, so the generator's own timer
                // slack is not charged to the server.
                let held_up = last_send_done > next_send;
                let ts = if held_up { next_send } else { now };
                if in_window {
                    if held_up {
                        sh.c.held_up.fetch_add(1, Relaxed);
                    } else {
                        sh.send_lag.record(now.saturating_sub(next_send));
                    }
                }
                let frame = wire::encode(proto, side, seq, ts, &sh.pad);
                let result = tokio::time::timeout(Duration::from_secs(10), ws.send(Message::text(frame))).await;
                last_send_done = sh.now_us();
                match result {
                    Ok(Ok(())) => {
                        sh.c.sent.fetch_add(1, Relaxed);
                        if in_window {
                            sh.c.sent_window.fetch_add(1, Relaxed);
                        }
                    }
                    Ok(Err(e)) => {
                        sh.c.send_errors.fetch_add(1, Relaxed);
                        sh.sample(format!("{who} send failed: {e}"));
                        break;
                    }
                    Err(_) => {
                        sh.c.send_errors.fetch_add(1, Relaxed);
                        sh.sample(format!("{who} send blocked for 10 s"));
                        break;
                    }
                }
                // A late generator catches up (bursts) rather than lowering the offered load.
                next_send += sh.period_us;
                timer.as_mut().reset(sh.at(next_send));
            }
        }
    }
}

/// A line on stderr every second, so a long run shows where it is.
struct Progress {
    sh: Arc<Shared>,
    pid: u32,
    last: Instant,
    last_sent: u64,
    last_received: u64,
}

impl Progress {
    fn new(sh: &Arc<Shared>, pid: u32) -> Self {
        Progress {
            sh: sh.clone(),
            pid,
            last: Instant::now(),
            last_sent: 0,
            last_received: 0,
        }
    }

    fn tick(&mut self, phase: &str, traffic: bool) {
        let dt = self.last.elapsed().as_secs_f64();
        if dt < 1.0 {
            return;
        }
        let c = &self.sh.c;
        let (sent, received) = (c.sent.load(Relaxed), c.received.load(Relaxed));
        let rss = sys::proc_sample(self.pid)
            .map(|s| s.rss_kib / 1024)
            .unwrap_or(0);
        let mut line = format!(
            "bench: {:>9} {:>7} open {} ({} failed), server RSS {rss} MiB",
            self.sh.proto.label(),
            phase,
            c.established.load(Relaxed),
            c.open_failed.load(Relaxed)
        );
        if traffic {
            line += &format!(
                ", sent {:.0}/s, received {:.0}/s, gaps {}, disconnects {}",
                (sent - self.last_sent) as f64 / dt,
                (received - self.last_received) as f64 / dt,
                c.gaps.load(Relaxed),
                c.disconnects.load(Relaxed)
            );
        }
        eprintln!("{line}");
        self.last = Instant::now();
        self.last_sent = sent;
        self.last_received = received;
    }
}

// ---------------------------------------------------------------- results

struct TargetResult {
    proto: Proto,
    requested: u64,
    established: u64,
    open_failed: u64,
    open_secs: f64,
    open_p99_ms: Option<f64>,
    offered_per_s: f64,
    relayed_per_s: f64,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
    p999_ms: Option<f64>,
    max_ms: Option<f64>,
    mean_ms: f64,
    sent: u64,
    received: u64,
    gaps: u64,
    out_of_order: u64,
    disconnects: u64,
    send_errors: u64,
    problems: u64,
    rss_before_kib: u64,
    rss_after_kib: u64,
    hwm_kib: u64,
    mem_per_session_bytes: f64,
    /// The same, measured after the ramp-up, before any traffic.
    idle_mem_per_session_bytes: f64,
    server_cpu_pct: f64,
    client_cpu_pct: f64,
    /// CPU used by everything else on the machine during the window (% of one core).
    others_cpu_pct: f64,
    server_threads: u64,
    lag_p99_ms: Option<f64>,
    held_up: u64,
    samples: Vec<String>,
    failure: Option<String>,
}

impl TargetResult {
    fn failed(proto: Proto, requested: usize, why: String) -> Self {
        TargetResult {
            proto,
            requested: requested as u64,
            established: 0,
            open_failed: 0,
            open_secs: 0.0,
            open_p99_ms: None,
            offered_per_s: 0.0,
            relayed_per_s: 0.0,
            p50_ms: None,
            p99_ms: None,
            p999_ms: None,
            max_ms: None,
            mean_ms: 0.0,
            sent: 0,
            received: 0,
            gaps: 0,
            out_of_order: 0,
            disconnects: 0,
            send_errors: 0,
            problems: 0,
            rss_before_kib: 0,
            rss_after_kib: 0,
            hwm_kib: 0,
            mem_per_session_bytes: 0.0,
            idle_mem_per_session_bytes: 0.0,
            server_cpu_pct: 0.0,
            client_cpu_pct: 0.0,
            others_cpu_pct: 0.0,
            server_threads: 0,
            lag_p99_ms: None,
            held_up: 0,
            samples: Vec::new(),
            failure: Some(why),
        }
    }

    fn ok(&self) -> bool {
        self.failure.is_none()
    }

    fn undelivered(&self) -> u64 {
        self.sent.saturating_sub(self.received)
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "relay": self.proto.label(),
            "failure": self.failure,
            "sessions_requested": self.requested,
            "sessions_established": self.established,
            "sessions_failed": self.open_failed,
            "open_seconds": self.open_secs,
            "open_p99_ms": self.open_p99_ms,
            "offered_msgs_per_s": self.offered_per_s,
            "relayed_msgs_per_s": self.relayed_per_s,
            "latency_ms": {"p50": self.p50_ms, "p99": self.p99_ms, "p999": self.p999_ms, "max": self.max_ms, "mean": self.mean_ms},
            "sent": self.sent,
            "received": self.received,
            "undelivered": self.undelivered(),
            "gaps": self.gaps,
            "out_of_order": self.out_of_order,
            "disconnects": self.disconnects,
            "send_errors": self.send_errors,
            "server_errors": self.problems,
            "server_rss_before_kib": self.rss_before_kib,
            "server_rss_after_kib": self.rss_after_kib,
            "server_peak_rss_kib": self.hwm_kib,
            "memory_per_session_bytes": self.mem_per_session_bytes,
            "memory_per_idle_session_bytes": self.idle_mem_per_session_bytes,
            "server_cpu_percent": self.server_cpu_pct,
            "server_threads": self.server_threads,
            "client_cpu_percent": self.client_cpu_pct,
            "other_processes_cpu_percent": self.others_cpu_pct,
            "client_send_lag_p99_ms": self.lag_p99_ms,
            "sends_held_up_by_server": self.held_up,
            "error_samples": self.samples,
        })
    }
}

fn fmt_ms(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if v < 10.0 => format!("{v:.2} ms"),
        Some(v) if v < 1000.0 => format!("{v:.1} ms"),
        Some(v) => format!("{:.2} s", v / 1000.0),
    }
}

fn fmt_int(v: f64) -> String {
    let s = format!("{:.0}", v.max(0.0));
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn ratio(a: f64, b: f64) -> String {
    if a > 0.0 && b > 0.0 {
        format!("{:.1}×", a / b)
    } else {
        "-".into()
    }
}

fn report(args: &RelayArgs, results: &[TargetResult]) -> String {
    let mut out = String::new();
    let runtime = if args.client_threads <= 1 {
        "current-thread runtime".to_string()
    } else {
        format!("{}-thread runtime", args.client_threads)
    };
    out += &format!(
        "\nrelay benchmark: {} sessions, {} msg/s per side of {} B, {} s measured after {} s warm-up; load generator: {runtime}, loopback\n\n",
        fmt_int(args.sessions as f64),
        args.rate,
        args.size,
        args.duration,
        args.warmup
    );
    let ours = results.iter().find(|r| r.proto == Proto::Cobrowse);
    let theirs = results.iter().find(|r| r.proto == Proto::SocketIo);
    let cols: Vec<&TargetResult> = results.iter().collect();
    let mut row = |label: &str, f: &dyn Fn(&TargetResult) -> String, r: String| {
        out += &format!("{label:<28}");
        for c in &cols {
            out += &format!(
                "{:>16}",
                if c.ok() || label == "relay" {
                    f(c)
                } else {
                    "-".into()
                }
            );
        }
        out += &format!("{r:>14}\n");
    };
    let both = |f: &dyn Fn(&TargetResult, &TargetResult) -> String| match (ours, theirs) {
        (Some(o), Some(t)) if o.ok() && t.ok() => f(o, t),
        _ => String::new(),
    };
    row(
        "relay",
        &|r| r.proto.label().into(),
        if ours.is_some() && theirs.is_some() {
            "ratio".into()
        } else {
            String::new()
        },
    );
    row(
        "sessions established",
        &|r| {
            format!(
                "{}/{}",
                fmt_int(r.established as f64),
                fmt_int(r.requested as f64)
            )
        },
        String::new(),
    );
    row(
        "time to open them",
        &|r| format!("{:.1} s", r.open_secs),
        String::new(),
    );
    row(
        "open time p99 (one session)",
        &|r| fmt_ms(r.open_p99_ms),
        String::new(),
    );
    row(
        "offered msgs/s",
        &|r| fmt_int(r.offered_per_s),
        String::new(),
    );
    row(
        "relayed msgs/s (received)",
        &|r| fmt_int(r.relayed_per_s),
        both(&|o, t| ratio(o.relayed_per_s, t.relayed_per_s)),
    );
    row(
        "latency p50",
        &|r| fmt_ms(r.p50_ms),
        both(&|o, t| ratio(t.p50_ms.unwrap_or(0.0), o.p50_ms.unwrap_or(0.0))),
    );
    row(
        "latency p99",
        &|r| fmt_ms(r.p99_ms),
        both(&|o, t| ratio(t.p99_ms.unwrap_or(0.0), o.p99_ms.unwrap_or(0.0))),
    );
    row(
        "latency p999",
        &|r| fmt_ms(r.p999_ms),
        both(&|o, t| ratio(t.p999_ms.unwrap_or(0.0), o.p999_ms.unwrap_or(0.0))),
    );
    row("latency max", &|r| fmt_ms(r.max_ms), String::new());
    row(
        "undelivered (sent−received)",
        &|r| fmt_int(r.undelivered() as f64),
        String::new(),
    );
    row(
        "sequence gaps (dropped)",
        &|r| fmt_int(r.gaps as f64),
        String::new(),
    );
    row(
        "errors: open/conn/server",
        &|r| {
            format!(
                "{}/{}/{}",
                r.open_failed,
                r.disconnects + r.send_errors,
                r.problems
            )
        },
        String::new(),
    );
    row(
        "server RSS before → after",
        &|r| format!("{}→{} MiB", r.rss_before_kib / 1024, r.rss_after_kib / 1024),
        String::new(),
    );
    row(
        "server memory per session",
        &|r| format!("{:.1} KB", r.mem_per_session_bytes / 1000.0),
        both(&|o, t| ratio(t.mem_per_session_bytes, o.mem_per_session_bytes)),
    );
    row(
        "  of which before traffic",
        &|r| format!("{:.1} KB", r.idle_mem_per_session_bytes / 1000.0),
        String::new(),
    );
    row(
        "server CPU (of one core)",
        &|r| format!("{:.0} %", r.server_cpu_pct),
        String::new(),
    );
    row(
        "bench CPU (of one core)",
        &|r| format!("{:.0} %", r.client_cpu_pct),
        String::new(),
    );
    row(
        "other processes' CPU",
        &|r| format!("{:.0} %", r.others_cpu_pct),
        String::new(),
    );
    row(
        "sends held up by the server",
        &|r| fmt_int(r.held_up as f64),
        String::new(),
    );
    row(
        "bench timer lag p99",
        &|r| fmt_ms(r.lag_p99_ms),
        String::new(),
    );
    out += "\nratios: throughput = ours ÷ socket.io; latency and memory = socket.io ÷ ours (higher is better for cobrowse)\n";

    for r in results {
        if let Some(f) = &r.failure {
            out += &format!("\n{} run FAILED: {f}\n", r.proto.label());
        }
        if !r.samples.is_empty() {
            out += &format!("\n{}: first errors seen:\n", r.proto.label());
            for s in &r.samples {
                out += &format!("  {s}\n");
            }
        }
    }

    for r in results
        .iter()
        .filter(|r| r.ok() && r.others_cpu_pct > DISTURBED_PCT)
    {
        out += &format!(
            "\nwarning: other processes used {:.0} % of a core during the {} run: the server and the generator had less CPU than the machine has; rerun on a quiet machine\n",
            r.others_cpu_pct,
            r.proto.label()
        );
    }

    if let Some(o) = ours.filter(|o| o.ok()) {
        let mark = |ok: bool| if ok { "PASS" } else { "FAIL" };
        out += "\ntargets (issue #2):\n";
        if o.requested >= 8000 {
            out += &format!(
                "  {}  8,000 concurrent sessions: {} of {} requested open\n",
                mark(o.established >= 8000),
                fmt_int(o.established as f64),
                fmt_int(o.requested as f64)
            );
        } else {
            out += &format!(
                "  ----  8,000 concurrent sessions: not tried ({} requested)\n",
                fmt_int(o.requested as f64)
            );
        }
        let p99 = o.p99_ms.unwrap_or(f64::INFINITY);
        out += &format!(
            "  {}  p99 under 10 ms: {}\n",
            mark(p99 < 10.0),
            fmt_ms(o.p99_ms)
        );
        out += &format!(
            "  {}  under 30 KB of server memory per session: {:.1} KB\n",
            mark(o.mem_per_session_bytes < 30_000.0),
            o.mem_per_session_bytes / 1000.0
        );
        if let Some(t) = theirs.filter(|t| t.ok()) {
            let x = if t.relayed_per_s > 0.0 {
                o.relayed_per_s / t.relayed_per_s
            } else {
                f64::INFINITY
            };
            out += &format!("  {}  ≥ 5× socket.io's throughput: {x:.1}×", mark(x >= 5.0));
            if o.offered_per_s < 5.0 * t.relayed_per_s {
                out += " (the offered load is below 5× what socket.io relays: run more sessions to show the ratio)";
            }
            out += "\n";
            out += &format!(
                "  {}  a p99 socket.io cannot reach: ours {} vs {}\n",
                mark(p99 < t.p99_ms.unwrap_or(0.0)),
                fmt_ms(o.p99_ms),
                fmt_ms(t.p99_ms)
            );
        }
        let lag = o.lag_p99_ms.unwrap_or(0.0);
        if lag > 5.0 {
            out += &format!(
                "\nnote: the load generator itself ran late (timer lag p99 {lag:.1} ms): latency figures include its own delay\n"
            );
        }
    }
    out
}
