//! The figures of one run, and the side-by-side table of two runs with their
//! ratios: cobrowse vs socket.io (`relay`), or one embedded node vs two
//! nodes sharing Redis (`cluster`).

use crate::LoadArgs;
use crate::deploy::Placement;
use crate::wire::Proto;

/// Other processes' CPU (% of one core) above which a window counts as disturbed.
pub const DISTURBED_PCT: f64 = 15.0;

/// One process of a run (a node, Redis), on its own.
#[derive(Clone, Debug, Default)]
pub struct ProcFigures {
    pub name: &'static str,
    pub rss_before_kib: u64,
    pub rss_after_kib: u64,
    /// (RSS after the window − RSS before the ramp-up) ÷ sessions established.
    pub mem_per_session_bytes: f64,
    pub cpu_pct: f64,
}

#[derive(Default)]
pub struct TargetResult {
    pub label: &'static str,
    pub proto: Option<Proto>,
    pub requested: u64,
    pub established: u64,
    pub open_failed: u64,
    pub open_secs: f64,
    pub open_p99_ms: Option<f64>,
    pub offered_per_s: f64,
    pub relayed_per_s: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub p999_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub mean_ms: f64,
    pub sent: u64,
    pub received: u64,
    pub gaps: u64,
    pub out_of_order: u64,
    pub disconnects: u64,
    pub send_errors: u64,
    pub problems: u64,
    /// The server's processes together (one, or two nodes and Redis).
    pub rss_before_kib: u64,
    pub rss_after_kib: u64,
    pub hwm_kib: u64,
    pub mem_per_session_bytes: f64,
    /// The same, measured after the ramp-up, before any traffic.
    pub idle_mem_per_session_bytes: f64,
    pub server_cpu_pct: f64,
    /// The kernel's part of `server_cpu_pct` (system time).
    pub server_kernel_pct: f64,
    pub client_cpu_pct: f64,
    pub client_kernel_pct: f64,
    /// CPU used by everything else on the machine during the window (% of one core).
    pub others_cpu_pct: f64,
    pub server_threads: u64,
    pub lag_p99_ms: Option<f64>,
    pub held_up: u64,
    /// Each of the server's processes; one entry for a single process.
    pub procs: Vec<ProcFigures>,
    pub samples: Vec<String>,
    pub failure: Option<String>,
}

impl TargetResult {
    pub fn failed(label: &'static str, requested: usize, why: String) -> Self {
        TargetResult {
            label,
            requested: requested as u64,
            failure: Some(why),
            ..TargetResult::default()
        }
    }

    pub fn ok(&self) -> bool {
        self.failure.is_none()
    }

    fn undelivered(&self) -> u64 {
        self.sent.saturating_sub(self.received)
    }

    /// Server CPU time per relayed message, in µs: what sizing needs.
    fn cpu_us_per_msg(&self, cpu_pct: f64) -> f64 {
        if self.relayed_per_s > 0.0 {
            cpu_pct / 100.0 * 1e6 / self.relayed_per_s
        } else {
            0.0
        }
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "relay": self.label,
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
            "server_cpu_us_per_msg": self.cpu_us_per_msg(self.server_cpu_pct),
            "server_threads": self.server_threads,
            "server_kernel_us_per_msg": self.cpu_us_per_msg(self.server_kernel_pct),
            "client_cpu_percent": self.client_cpu_pct,
            "client_cpu_us_per_msg": self.cpu_us_per_msg(self.client_cpu_pct),
            "client_kernel_us_per_msg": self.cpu_us_per_msg(self.client_kernel_pct),
            "other_processes_cpu_percent": self.others_cpu_pct,
            "client_send_lag_p99_ms": self.lag_p99_ms,
            "sends_held_up_by_server": self.held_up,
            "processes": self.procs.iter().map(|p| serde_json::json!({
                "name": p.name,
                "rss_before_kib": p.rss_before_kib,
                "rss_after_kib": p.rss_after_kib,
                "memory_per_session_bytes": p.mem_per_session_bytes,
                "cpu_percent": p.cpu_pct,
                "cpu_us_per_msg": self.cpu_us_per_msg(p.cpu_pct),
            })).collect::<Vec<_>>(),
            "error_samples": self.samples,
        })
    }
}

/// Which two runs a report compares, and how its ratio column reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    /// cobrowse, then socket.io: each ratio turned so that above 1 is better for cobrowse.
    Relay,
    /// One embedded node, then two nodes and Redis, with each session's
    /// parties placed so: every ratio is cluster ÷ embedded.
    Cluster(Placement),
}

/// Which way a figure is better.
#[derive(Clone, Copy)]
enum Better {
    Higher,
    Lower,
}

impl Comparison {
    fn ratio(self, better: Better, first: f64, second: f64) -> Option<f64> {
        if !(first > 0.0 && second > 0.0) {
            return None;
        }
        Some(match (self, better) {
            (Comparison::Relay, Better::Higher) => first / second,
            (Comparison::Relay, Better::Lower) => second / first,
            (Comparison::Cluster(_), _) => second / first,
        })
    }
}

pub fn fmt_ms(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if v < 10.0 => format!("{v:.2} ms"),
        Some(v) if v < 1000.0 => format!("{v:.1} ms"),
        Some(v) => format!("{:.2} s", v / 1000.0),
    }
}

pub fn fmt_int(v: f64) -> String {
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

pub fn fmt_ratio(r: f64) -> String {
    if r < 10.0 {
        format!("{r:.2}×")
    } else {
        format!("{r:.1}×")
    }
}

type Cell<'a> = &'a dyn Fn(&TargetResult) -> String;
type Figure<'a> = Option<(Better, &'a dyn Fn(&TargetResult) -> f64)>;

pub fn report(args: &LoadArgs, results: &[TargetResult], cmp: Comparison) -> String {
    let threads = match args.client_threads.max(1) {
        1 => "1 thread".to_string(),
        n => format!("{n} threads"),
    };
    let what = match cmp {
        Comparison::Relay => "relay",
        Comparison::Cluster(_) => "cluster",
    };
    let mut out = format!(
        "\n{what} benchmark: {} sessions, {} msg/s per side of {} B, {} s measured after {} s warm-up; load generator: {threads}, loopback\n",
        fmt_int(args.sessions as f64),
        args.rate,
        args.size,
        args.duration,
        args.warmup
    );
    match cmp {
        Comparison::Relay => {}
        Comparison::Cluster(Placement::Split) => {
            out += "two nodes: every session's customer and agent on different nodes (customer on A and agent on B,\n\
                    every other session the reverse), so every message goes node → Redis pub/sub → node\n";
        }
        Comparison::Cluster(Placement::Same) => {
            out += "two nodes: every session's customer and agent on the same node (both on A, every other session\n\
                    both on B)\n";
        }
    }
    out += "\n";
    let pair = match results {
        [a, b] if a.ok() && b.ok() => Some((a, b)),
        _ => None,
    };
    out += &format!("{:<28}", "relay");
    for r in results {
        out += &format!("{:>16}", r.label);
    }
    out += &format!("{:>14}\n", if results.len() == 2 { "ratio" } else { "" });
    let mut row = |label: &str, cell: Cell, figure: Figure| {
        out += &format!("{label:<28}");
        for r in results {
            out += &format!("{:>16}", if r.ok() { cell(r) } else { "-".into() });
        }
        let ratio = match (pair, figure) {
            (Some((a, b)), Some((better, f))) => cmp
                .ratio(better, f(a), f(b))
                .map(fmt_ratio)
                .unwrap_or_else(|| "-".into()),
            _ => String::new(),
        };
        out += &format!("{ratio:>14}\n");
    };
    // Processes shown one by one under a total: those of multi-process runs.
    let mut parts: Vec<&'static str> = Vec::new();
    for p in results
        .iter()
        .filter(|r| r.procs.len() > 1)
        .flat_map(|r| &r.procs)
    {
        if !parts.contains(&p.name) {
            parts.push(p.name);
        }
    }
    let part = |r: &TargetResult, name: &str, f: &dyn Fn(&ProcFigures) -> String| {
        r.procs
            .iter()
            .find(|p| p.name == name && r.procs.len() > 1)
            .map(f)
            .unwrap_or_else(|| "-".into())
    };
    row(
        "sessions established",
        &|r| {
            format!(
                "{}/{}",
                fmt_int(r.established as f64),
                fmt_int(r.requested as f64)
            )
        },
        None,
    );
    row(
        "time to open them",
        &|r| format!("{:.1} s", r.open_secs),
        None,
    );
    row(
        "open time p99 (one session)",
        &|r| fmt_ms(r.open_p99_ms),
        None,
    );
    row("offered msgs/s", &|r| fmt_int(r.offered_per_s), None);
    row(
        "relayed msgs/s (received)",
        &|r| fmt_int(r.relayed_per_s),
        Some((Better::Higher, &|r| r.relayed_per_s)),
    );
    row(
        "latency p50",
        &|r| fmt_ms(r.p50_ms),
        Some((Better::Lower, &|r| r.p50_ms.unwrap_or(0.0))),
    );
    row(
        "latency p99",
        &|r| fmt_ms(r.p99_ms),
        Some((Better::Lower, &|r| r.p99_ms.unwrap_or(0.0))),
    );
    row(
        "latency p999",
        &|r| fmt_ms(r.p999_ms),
        Some((Better::Lower, &|r| r.p999_ms.unwrap_or(0.0))),
    );
    row("latency max", &|r| fmt_ms(r.max_ms), None);
    row(
        "undelivered (sent−received)",
        &|r| fmt_int(r.undelivered() as f64),
        None,
    );
    row("sequence gaps (dropped)", &|r| fmt_int(r.gaps as f64), None);
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
        None,
    );
    row(
        "server RSS before → after",
        &|r| format!("{}→{} MiB", r.rss_before_kib / 1024, r.rss_after_kib / 1024),
        None,
    );
    let kb = |bytes: f64| format!("{:.1} KB", bytes / 1000.0);
    row(
        "server memory per session",
        &|r| kb(r.mem_per_session_bytes),
        Some((Better::Lower, &|r| r.mem_per_session_bytes)),
    );
    for name in &parts {
        row(
            &format!("  {name}"),
            &|r| part(r, name, &|p| kb(p.mem_per_session_bytes)),
            None,
        );
    }
    row(
        "  of which before traffic",
        &|r| kb(r.idle_mem_per_session_bytes),
        None,
    );
    row(
        "server CPU (of one core)",
        &|r| format!("{:.0} %", r.server_cpu_pct),
        Some((Better::Lower, &|r| r.server_cpu_pct)),
    );
    for name in &parts {
        row(
            &format!("  {name}"),
            &|r| part(r, name, &|p| format!("{:.0} %", p.cpu_pct)),
            None,
        );
    }
    let us = |v: f64| format!("{v:.1} µs");
    row(
        "server CPU per relayed msg",
        &|r| us(r.cpu_us_per_msg(r.server_cpu_pct)),
        Some((Better::Lower, &|r| r.cpu_us_per_msg(r.server_cpu_pct))),
    );
    for name in &parts {
        row(
            &format!("  {name}"),
            &|r| part(r, name, &|p| us(r.cpu_us_per_msg(p.cpu_pct))),
            None,
        );
    }
    row(
        "  of which in the kernel",
        &|r| us(r.cpu_us_per_msg(r.server_kernel_pct)),
        None,
    );
    row(
        "bench CPU (of one core)",
        &|r| format!("{:.0} %", r.client_cpu_pct),
        None,
    );
    row(
        "bench CPU per relayed msg",
        &|r| us(r.cpu_us_per_msg(r.client_cpu_pct)),
        None,
    );
    row(
        "  of which in the kernel",
        &|r| us(r.cpu_us_per_msg(r.client_kernel_pct)),
        None,
    );
    row(
        "other processes' CPU",
        &|r| format!("{:.0} %", r.others_cpu_pct),
        None,
    );
    row(
        "sends held up by the server",
        &|r| fmt_int(r.held_up as f64),
        None,
    );
    row("bench timer lag p99", &|r| fmt_ms(r.lag_p99_ms), None);
    out += match cmp {
        Comparison::Relay => {
            "\nratios: throughput = ours ÷ socket.io; latency, memory and CPU = socket.io ÷ ours (higher is better for cobrowse)\n"
        }
        Comparison::Cluster(_) => {
            "\nratios: cluster ÷ embedded, figure by figure (throughput 1.00× = the cluster relays all the load; above 1 for latency, memory and CPU = what the cluster costs more)\n\
             memory per session: RSS growth of the server's processes from before the ramp-up to the end of the window, ÷ sessions (their fixed RSS is not in it)\n"
        }
    };

    for r in results {
        if let Some(f) = &r.failure {
            out += &format!("\n{} run FAILED: {f}\n", r.label);
        }
        if !r.samples.is_empty() {
            out += &format!("\n{}: first errors seen:\n", r.label);
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
            r.others_cpu_pct, r.label
        );
    }
    for r in results.iter().filter(|r| r.ok()) {
        let lag = r.lag_p99_ms.unwrap_or(0.0);
        if lag > 5.0 {
            out += &format!(
                "\nnote: in the {} run the load generator itself ran late (timer lag p99 {lag:.1} ms): latency figures include its own delay\n",
                r.label
            );
        }
    }
    if cmp == Comparison::Relay {
        out += &relay_targets(results);
    }
    out
}

/// The relay's targets, checked against the cobrowse run.
fn relay_targets(results: &[TargetResult]) -> String {
    let find = |proto| results.iter().find(|r| r.proto == Some(proto) && r.ok());
    let Some(o) = find(Proto::Cobrowse) else {
        return String::new();
    };
    let mark = |ok: bool| if ok { "PASS" } else { "FAIL" };
    let mut out = String::from("\ntargets:\n");
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
    if p99 >= 10.0 {
        // A missed latency target on a machine with no CPU left says so.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let busy = o.server_cpu_pct + o.client_cpu_pct + o.others_cpu_pct;
        out += &format!(
            "        the machine was {:.0} % busy: server {:.0} %, generator {:.0} %, others {:.0} % of a core, on {cores} cores\n",
            busy / cores as f64,
            o.server_cpu_pct,
            o.client_cpu_pct,
            o.others_cpu_pct
        );
    }
    out += &format!(
        "  {}  under 30 KB of server memory per session: {:.1} KB\n",
        mark(o.mem_per_session_bytes < 30_000.0),
        o.mem_per_session_bytes / 1000.0
    );
    if let Some(t) = find(Proto::SocketIo) {
        let x = if t.relayed_per_s > 0.0 {
            o.relayed_per_s / t.relayed_per_s
        } else {
            f64::INFINITY
        };
        out += &format!("  {}  ≥ 5× socket.io's throughput: {x:.1}×", mark(x >= 5.0));
        if o.offered_per_s < 5.0 * t.relayed_per_s {
            out += " (the offered load is below 5× what socket.io relays; `cobrowse-bench capacity` measures the ratio at a p99 bound)";
        }
        out += "\n";
        out += &format!(
            "  {}  a p99 socket.io cannot reach: ours {} vs {}\n",
            mark(p99 < t.p99_ms.unwrap_or(0.0)),
            fmt_ms(o.p99_ms),
            fmt_ms(t.p99_ms)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_read_as_documented() {
        // Relay: above 1 is better for the first column (cobrowse).
        assert_eq!(Comparison::Relay.ratio(Better::Higher, 4.0, 2.0), Some(2.0));
        assert_eq!(Comparison::Relay.ratio(Better::Lower, 1.0, 3.0), Some(3.0));
        // Cluster: second ÷ first, whichever way is better.
        assert_eq!(
            Comparison::Cluster(Placement::Split).ratio(Better::Higher, 4.0, 2.0),
            Some(0.5)
        );
        assert_eq!(
            Comparison::Cluster(Placement::Split).ratio(Better::Lower, 1.0, 3.0),
            Some(3.0)
        );
        assert_eq!(
            Comparison::Cluster(Placement::Split).ratio(Better::Lower, 0.0, 3.0),
            None
        );
    }
}
