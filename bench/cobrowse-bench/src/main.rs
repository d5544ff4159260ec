//! `cobrowse-bench`: the relay load benchmarks (see bench/README.md).
//!
//! `relay` opens N sessions (a customer and an agent WebSocket each) against
//! the cobrowse server, started here as a child process, has both sides send
//! `rate` messages/s of about `size` bytes, and measures what the peers
//! receive: throughput, relay latency, losses, and the server's memory per
//! session. Then it runs the same load against a minimal socket.io room relay
//! (bench/socketio/relay.js) and prints both side by side with ratios.
//!
//! `cluster` runs the same load against one embedded node, then against two
//! nodes sharing one redis-server with every session's parties on different
//! nodes, and prints what the cluster costs, as ratios.
//!
//! `capacity` repeats the relay load at a searched number of sessions to find
//! the most each relay carries with p99 under a bound (capacity.rs).
//!
//! `audit` appends audit records to SQLite through the server's appender and
//! verifies them (audit.rs).

mod audit;
mod capacity;
mod deploy;
mod frames;
mod hist;
mod report;
mod sys;
mod traffic;
mod wire;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use tokio::process::Command;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use deploy::{Deployment, Placement, Setup};
use hist::Histogram;
use report::{Comparison, DISTURBED_PCT, ProcFigures, TargetResult};
use sys::ProcSample;
use wire::{Proto, Side, Ws};

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
    /// The same load on one embedded node, then on two nodes sharing one Redis
    /// (each session's customer and agent on different nodes, or with
    /// `--placement same` on one node); cluster ÷ embedded.
    Cluster(ClusterArgs),
    /// The most sessions each relay carries with p99 under a bound (searched,
    /// up to --sessions); cobrowse ÷ socket.io.
    Capacity(CapacityArgs),
    /// Audit records per second one node keeps in SQLite, and verifying them.
    Audit(audit::AuditArgs),
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
    #[command(flatten)]
    load: LoadArgs,
    /// Which relays to run.
    #[arg(long, value_enum, default_value_t = Against::Both)]
    against: Against,
    /// Node.js, for the socket.io relay.
    #[arg(long, default_value = "node")]
    node: String,
    /// Directory of relay.js and its package.json [default: bench/socketio in the source tree].
    #[arg(long)]
    socketio_dir: Option<PathBuf>,
}

#[derive(Args, Clone, Debug)]
struct ClusterArgs {
    #[command(flatten)]
    load: LoadArgs,
    /// The Redis server the two nodes share, started on a free loopback port
    /// without persistence.
    #[arg(long, default_value = "redis-server")]
    redis_server: String,
    /// Where each session's parties connect: `split` puts the customer and
    /// the agent on different nodes, `same` both on one node (half the
    /// sessions on each).
    #[arg(long, value_enum, default_value_t = Placement::Split)]
    placement: Placement,
}

#[derive(Args, Clone, Debug)]
struct CapacityArgs {
    #[command(flatten)]
    relay: RelayArgs,
    /// The latency bound, in ms: a load counts as carried if p99 is within it
    /// (and every session opened and nothing was lost).
    #[arg(long, default_value_t = 10.0)]
    p99_ms: f64,
    /// Sessions of the first trial; the search doubles from there.
    #[arg(long, default_value_t = 250)]
    from: usize,
    /// The search stops when it knows the capacity to within this many
    /// sessions (or 5 % of it, whichever is more).
    #[arg(long, default_value_t = 100)]
    step: usize,
}

/// The load, and how the runs are made: the same for every subcommand.
#[derive(Args, Clone, Debug)]
struct LoadArgs {
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
    /// Milliseconds between a session's customer being in and its agent
    /// joining (a person takes seconds; 0 joins at once). Not counted in the
    /// open time. On a cluster, 0 showed a race, since fixed: see bench/README.md.
    #[arg(long, default_value_t = 0.0)]
    join_delay: f64,
    /// Seconds allowed for the whole ramp-up; the run goes on with the sessions open by then.
    #[arg(long, default_value_t = 120.0)]
    ramp_timeout: f64,
    /// Seconds, after the last send, to wait for messages still in flight.
    #[arg(long, default_value_t = 5.0)]
    drain: f64,
    /// Load-generator threads: each runs the traffic loop of its share of the
    /// connections (traffic.rs); 1 also opens the sessions on a current-thread
    /// runtime. At 8,000 sessions on 2 cores, one loop fell behind its reads
    /// (CPU went to the server's two threads) and the server relayed 60,000 of
    /// the 80,000 msg/s offered; two kept up: see bench/README.md.
    #[arg(long, default_value_t = 2)]
    client_threads: usize,
    /// The cobrowse binary [default: `cobrowse` next to this executable, built first when run by cargo].
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Do not run `cargo build --release --bin cobrowse` first.
    #[arg(long)]
    no_build: bool,
    /// Runs again, up to this many times, a run whose measured window other
    /// processes disturbed (more than 15 % of a core).
    #[arg(long, default_value_t = 2)]
    retries: u32,
    /// Extra environment for every cobrowse node, KEY=VALUE, repeatable
    /// (e.g. COBROWSE_LIMITS__SEND_QUEUE=64, TOKIO_WORKER_THREADS=1, MALLOC_ARENA_MAX=2).
    #[arg(long = "server-env", value_name = "KEY=VALUE")]
    server_env: Vec<String>,
    /// Seconds to wait, before each run, for other work on the machine to stop.
    #[arg(long, default_value_t = 300.0)]
    quiet_wait: f64,
    /// Seconds to wait after the servers start, before anything else, e.g. to
    /// attach a profiler (`heaptrack -p PID`, `perf record -p PID`).
    #[arg(long, default_value_t = 0.0, hide = true)]
    hold: f64,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn main() -> Result<()> {
    let cmd = Cli::parse().cmd;
    let load = match &cmd {
        Cmd::Relay(a) => &a.load,
        Cmd::Cluster(a) => &a.load,
        Cmd::Capacity(a) => &a.relay.load,
        Cmd::Audit(args) => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            return rt.block_on(audit::run(args));
        }
    };
    let (soft, hard) = sys::raise_nofile_limit().unwrap_or_else(|e| {
        eprintln!("bench: warning: {e}");
        (0, 0)
    });
    let need = load.sessions as u64 * 2 + 100;
    eprintln!(
        "bench: open files limit {soft} (hard {hard}); this run needs about {need} in the bench and in the server"
    );
    if soft != 0 && soft < need {
        eprintln!(
            "bench: warning: not enough open files for {} sessions; expect connection errors",
            load.sessions
        );
    }
    let rt = if load.client_threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(load.client_threads)
            .enable_all()
            .build()?
    };
    rt.block_on(async {
        match cmd {
            Cmd::Relay(args) => relay(args).await,
            Cmd::Cluster(args) => cluster(args).await,
            Cmd::Capacity(args) => capacity(args).await,
            Cmd::Audit(_) => unreachable!("run above"),
        }
    })
}

/// The repository: two levels above this crate's manifest, where cargo ran
/// us from, else where we were built from.
fn source_dir() -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest.join("../..")
}

async fn prepare_cobrowse(args: &LoadArgs) -> Result<PathBuf> {
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
    // `cargo run -p cobrowse-bench` builds only the bench: make sure the
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
    let targets = relay_targets(&args).await?;
    let results = run_all(&targets, &args.load).await;
    finish(&args.load, &results, Comparison::Relay, format!("{args:?}"))
}

/// cobrowse and the socket.io relay, or the one `--against` names.
async fn relay_targets(args: &RelayArgs) -> Result<Vec<(&'static str, Setup)>> {
    let mut targets = Vec::new();
    if args.against != Against::Socketio {
        let bin = prepare_cobrowse(&args.load).await?;
        targets.push(("cobrowse", Setup::Embedded { bin }));
    }
    if args.against != Against::Cobrowse {
        let dir = prepare_socketio(args).await?;
        let node = args.node.clone();
        targets.push(("socket.io", Setup::SocketIo { node, dir }));
    }
    Ok(targets)
}

async fn capacity(args: CapacityArgs) -> Result<()> {
    let targets = relay_targets(&args.relay).await?;
    let mut found = Vec::new();
    for target in &targets {
        let mut search = capacity::Search::new(args.from, args.relay.load.sessions, args.step);
        let mut f = capacity::Found {
            label: target.0,
            trials: Vec::new(),
            best: None,
            hit_max: false,
        };
        while let Some(n) = search.next() {
            let load = LoadArgs {
                sessions: n,
                ..args.relay.load.clone()
            };
            let r = run_all(std::slice::from_ref(target), &load).await.remove(0);
            let why = capacity::shortfall(&r, args.p99_ms);
            eprintln!(
                "bench: {} at {n} sessions: {}",
                target.0,
                why.as_deref().unwrap_or("carried")
            );
            search.record(n, why.is_none());
            if why.is_none() {
                f.best = Some(r);
            }
            f.trials.push((n, why));
        }
        eprintln!(
            "bench: {} carries {} sessions with p99 ≤ {} ms",
            target.0,
            search.capacity(),
            args.p99_ms
        );
        f.hit_max = search.hit_max();
        found.push(f);
    }
    let l = &args.relay.load;
    let text = capacity::report(&found, args.p99_ms, l.rate, l.size, l.duration);
    println!("{text}");
    if let Some(path) = &l.json {
        let json = serde_json::json!({
            "args": format!("{args:?}"),
            "relays": found.iter().map(|f| serde_json::json!({
                "relay": f.label,
                "capacity_sessions": f.best.as_ref().map(|r| r.requested),
                "trials": f.trials.iter().map(|(n, why)| serde_json::json!({"sessions": n, "shortfall": why})).collect::<Vec<_>>(),
                "at_capacity": f.best.as_ref().map(TargetResult::json),
            })).collect::<Vec<_>>(),
        });
        std::fs::write(path, serde_json::to_string_pretty(&json)?)?;
        eprintln!("bench: results written to {}", path.display());
    }
    Ok(())
}

async fn cluster(args: ClusterArgs) -> Result<()> {
    deploy::check_redis(&args.redis_server).await?;
    let bin = prepare_cobrowse(&args.load).await?;
    let targets = [
        ("embedded", Setup::Embedded { bin: bin.clone() }),
        (
            "2 nodes + Redis",
            Setup::Cluster {
                bin,
                redis_server: args.redis_server.clone(),
                placement: args.placement,
            },
        ),
    ];
    let results = run_all(&targets, &args.load).await;
    finish(
        &args.load,
        &results,
        Comparison::Cluster(args.placement),
        format!("{args:?}"),
    )
}

/// Runs each target in turn, again when another process disturbed its window.
async fn run_all(targets: &[(&'static str, Setup)], args: &LoadArgs) -> Vec<TargetResult> {
    let mut results = Vec::new();
    for (label, setup) in targets {
        let mut attempt = 0;
        let r = loop {
            attempt += 1;
            eprintln!("\nbench: ── {label} (attempt {attempt}) ──");
            wait_quiet(args.quiet_wait).await;
            let r = match run_target(label, setup, args).await {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("bench: {label} run failed: {e:#}");
                    TargetResult::failed(label, args.sessions, format!("{e:#}"))
                }
            };
            // Let the kernel settle (sockets in TIME_WAIT, freed memory) between runs.
            tokio::time::sleep(Duration::from_secs(2)).await;
            if r.ok() && r.others_cpu_pct > DISTURBED_PCT && attempt <= args.retries {
                eprintln!(
                    "bench: other processes took {:.0} % of a core during the window: running {label} again",
                    r.others_cpu_pct,
                );
                continue;
            }
            break r;
        };
        results.push(r);
    }
    results
}

/// Prints the table and writes the JSON file, if asked for.
fn finish(
    args: &LoadArgs,
    results: &[TargetResult],
    cmp: Comparison,
    args_text: String,
) -> Result<()> {
    println!("{}", report::report(args, results, cmp));
    if let Some(path) = &args.json {
        let json = serde_json::json!({
            "args": args_text,
            "results": results.iter().map(TargetResult::json).collect::<Vec<_>>(),
        });
        std::fs::write(path, serde_json::to_string_pretty(&json)?)?;
        eprintln!("bench: results written to {}", path.display());
    }
    Ok(())
}

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
    label: &'static str,
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
    /// The ports parties connect to: `deploy::parties` says which for which session.
    nodes: Vec<u16>,
    placement: Placement,
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

async fn run_target(label: &'static str, setup: &Setup, args: &LoadArgs) -> Result<TargetResult> {
    let mut d = Deployment::start(label, setup, &args.server_env).await?;
    let result = drive(&mut d, args).await;
    d.stop().await;
    result
}

async fn drive(d: &mut Deployment, args: &LoadArgs) -> Result<TargetResult> {
    if args.hold > 0.0 {
        eprintln!("bench: holding {} s (--hold)", args.hold);
        tokio::time::sleep(Duration::from_secs_f64(args.hold)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = d.sample();
    let shared = Arc::new(Shared {
        label: d.label,
        proto: d.proto,
        base: Instant::now(),
        plan: OnceLock::new(),
        c: Counters::default(),
        latency: Histogram::new(),
        send_lag: Histogram::new(),
        open_time: Histogram::new(),
        samples: Mutex::new(Vec::new()),
        pad: wire::pad(args.size),
        period_us: (1e6 / args.rate.max(0.001)) as u64,
        secret: d.secret.clone(),
        nodes: d.nodes.clone(),
        placement: d.placement,
    });
    let traffic = Arc::new(Traffic::start(&shared, args.client_threads));

    // Ramp-up: open sessions at `ramp` per second, `open_concurrency` at a time.
    let n = args.sessions;
    let ramp_start = Instant::now();
    let ramp_deadline =
        tokio::time::Instant::from_std(ramp_start + Duration::from_secs_f64(args.ramp_timeout));
    let connect_timeout = Duration::from_secs_f64(args.connect_timeout);
    let join_delay = Duration::from_secs_f64(args.join_delay / 1000.0);
    let sem = Arc::new(Semaphore::new(args.open_concurrency.max(1)));
    let mut openers = JoinSet::new();
    let mut launched = 0u64;
    let mut progress = Progress::new(&shared, d.pids());
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
        if let Some(exit) = d.exited() {
            bail!("during the ramp-up, {exit}");
        }
        let (shared, traffic) = (shared.clone(), traffic.clone());
        openers.spawn(async move {
            let started = Instant::now();
            let deadline = tokio::time::Instant::now() + join_delay + connect_timeout;
            let (customer, agent) = deploy::parties(&shared.nodes, shared.placement, i);
            let parties = match shared.proto {
                Proto::Cobrowse => {
                    let secret = &shared.secret;
                    wire::open_cobrowse(customer, agent, secret, i, join_delay, deadline).await
                }
                Proto::SocketIo => wire::open_socketio(customer, i, join_delay, deadline).await,
            };
            drop(permit);
            match parties {
                Ok((customer, agent)) => {
                    if shared.plan.get().is_some() {
                        shared.c.late.fetch_add(1, Relaxed);
                        return;
                    }
                    let open_time = started.elapsed().saturating_sub(join_delay);
                    shared.open_time.record(open_time.as_micros() as u64);
                    if let Err(e) = traffic.hand_over(i, customer, agent) {
                        shared.c.open_failed.fetch_add(1, Relaxed);
                        shared.sample(format!("session {i}: to the traffic loop: {e:#}"));
                        return;
                    }
                    shared.c.established.fetch_add(1, Relaxed);
                }
                Err(e) => {
                    shared.c.open_failed.fetch_add(1, Relaxed);
                    shared.sample(format!("session {i}: {e:#}"));
                }
            }
        });
        launched = i as u64 + 1;
        while openers.try_join_next().is_some() {}
        progress.tick("ramp", false);
    }
    // Wait for the openers still running (each is bounded by the connect timeout).
    let wait_until =
        (tokio::time::Instant::now() + join_delay + connect_timeout + Duration::from_secs(1))
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
            d.tail_text()
        );
    }

    // Memory with every session open, before any traffic.
    let idle = d.sample();

    // Traffic: every connection starts at `go` plus a random phase within its period.
    let now = shared.now_us();
    let go = now + 200_000;
    let t0 = go + (args.warmup * 1e6) as u64;
    let t1 = t0 + (args.duration * 1e6) as u64;
    let plan = Plan { go, t0, t1 };
    let _ = shared.plan.set(plan);
    openers.abort_all();
    while openers.join_next().await.is_some() {}

    let mut cpu0 = None;
    let mut window_closed = false;
    let mut cpu1 = (Vec::new(), ProcSample::default(), None);
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
        if let Some(exit) = d.exited() {
            failure = Some(format!("during the run, {exit}"));
            break;
        }
        if cpu0.is_none() && now >= t0 {
            cpu0 = Some((d.sample(), sys::self_sample(), sys::machine_cpu_ticks()));
        }
        if !window_closed && now >= t1 {
            // Memory while every session is still open and after traffic ran.
            cpu1 = (d.sample(), sys::self_sample(), sys::machine_cpu_ticks());
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
    // Every opener is done or aborted, so this is the last reference.
    let traffic = Arc::into_inner(traffic).context("an opener still holds the traffic loops")?;
    if let Some(why) = traffic.stop().await {
        failure = failure.or(Some(why));
    }
    if let Some(f) = failure {
        bail!(f);
    }
    let cpu0 = cpu0.unwrap_or_default();
    let secs = args.duration;
    let ticks = |a: u64, b: u64| (b.saturating_sub(a)) as f64 / 100.0 / secs * 100.0;
    let after = &cpu1.0;
    let total = |v: &[ProcSample]| v.iter().copied().sum::<ProcSample>();
    let (sum0, sum1) = (total(&cpu0.0), total(after));
    // Machine-wide busy time in the window, minus the server's and ours: other work.
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as f64;
    let others_pct = match (cpu0.2, cpu1.2) {
        (Some((b0, a0)), Some((b1, a1))) => {
            let machine = (b1 - b0) as f64 / (a1 - a0).max(1) as f64 * cores * 100.0;
            (machine
                - ticks(sum0.cpu_ticks, sum1.cpu_ticks)
                - ticks(cpu0.1.cpu_ticks, cpu1.1.cpu_ticks))
            .max(0.0)
        }
        _ => 0.0,
    };
    let c = &shared.c;
    let per_session = |now: &ProcSample, then: &ProcSample| {
        (now.rss_kib.saturating_sub(then.rss_kib) as f64 * 1024.0) / established as f64
    };
    let (before_all, after_all) = (total(&before), sum1);
    let procs = d
        .procs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let at = |v: &[ProcSample]| v.get(i).copied().unwrap_or_default();
            ProcFigures {
                name: p.name,
                rss_before_kib: at(&before).rss_kib,
                rss_after_kib: at(after).rss_kib,
                mem_per_session_bytes: per_session(&at(after), &at(&before)),
                cpu_pct: ticks(at(&cpu0.0).cpu_ticks, at(after).cpu_ticks),
            }
        })
        .collect();
    Ok(TargetResult {
        label: d.label,
        proto: Some(d.proto),
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
        rss_before_kib: before_all.rss_kib,
        rss_after_kib: after_all.rss_kib,
        hwm_kib: after_all.hwm_kib,
        mem_per_session_bytes: per_session(&after_all, &before_all),
        idle_mem_per_session_bytes: per_session(&total(&idle), &before_all),
        server_cpu_pct: ticks(sum0.cpu_ticks, sum1.cpu_ticks),
        server_kernel_pct: ticks(sum0.sys_ticks, sum1.sys_ticks),
        client_cpu_pct: ticks(cpu0.1.cpu_ticks, cpu1.1.cpu_ticks),
        client_kernel_pct: ticks(cpu0.1.sys_ticks, cpu1.1.sys_ticks),
        others_cpu_pct: others_pct,
        server_threads: after_all.threads,
        lag_p99_ms: shared.send_lag.quantile(0.99).map(ms),
        held_up: c.held_up.load(Relaxed),
        procs,
        samples: shared.samples.lock().unwrap().clone(),
        failure: None,
    })
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// The traffic loops (traffic.rs), each on its own thread. Dropped, it stops
/// them, so a run that fails half-way leaves no loop behind.
struct Traffic {
    /// A session's connections go to `to_loops[i % len]`.
    to_loops: Vec<mpsc::Sender<traffic::Conn>>,
    loops: Vec<tokio::task::JoinHandle<Result<()>>>,
    stop: Arc<AtomicBool>,
}

impl Traffic {
    fn start(sh: &Arc<Shared>, threads: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (to_loops, loops) = (0..threads.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::channel();
                let (sh, stop) = (sh.clone(), stop.clone());
                (
                    tx,
                    tokio::task::spawn_blocking(move || traffic::run(rx, &sh, &stop)),
                )
            })
            .unzip();
        Traffic {
            to_loops,
            loops,
            stop,
        }
    }

    /// Hands session `i`'s two connections to their loop.
    fn hand_over(&self, i: usize, customer: Ws, agent: Ws) -> Result<()> {
        let to_loop = &self.to_loops[i % self.to_loops.len()];
        to_loop.send(traffic::Conn::new(customer, Side::Customer)?)?;
        to_loop.send(traffic::Conn::new(agent, Side::Agent)?)?;
        Ok(())
    }

    /// Stops the loops (their sockets close as they return); why one failed, if one did.
    async fn stop(mut self) -> Option<String> {
        self.stop.store(true, Relaxed);
        let mut failure = None;
        for l in std::mem::take(&mut self.loops) {
            let why = match l.await {
                Ok(Ok(())) => continue,
                Ok(Err(e)) => format!("a traffic loop failed: {e:#}"),
                Err(e) => format!("a traffic loop panicked: {e}"),
            };
            failure = failure.or(Some(why));
        }
        failure
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
    }
}

/// A line on stderr every second, so a long run shows where it is.
struct Progress {
    sh: Arc<Shared>,
    pids: Vec<u32>,
    last: Instant,
    last_sent: u64,
    last_received: u64,
}

impl Progress {
    fn new(sh: &Arc<Shared>, pids: Vec<u32>) -> Self {
        Progress {
            sh: sh.clone(),
            pids,
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
        let rss: u64 = self
            .pids
            .iter()
            .filter_map(|&pid| sys::proc_sample(pid))
            .map(|s| s.rss_kib / 1024)
            .sum();
        let mut line = format!(
            "bench: {:>9} {:>7} open {} ({} failed), server RSS {rss} MiB",
            self.sh.label,
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
