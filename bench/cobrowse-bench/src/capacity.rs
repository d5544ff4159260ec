//! `capacity`: the most sessions each relay carries within a latency bound,
//! found by search, and the ratio of the two. A throughput ratio at one fixed
//! load says little: once the load is below 5× what socket.io relays, 5× cannot
//! show, and above it both relays queue. What a contact center buys is the load
//! a relay carries while still feeling live; this measures that.

use crate::report::{TargetResult, fmt_int, fmt_ms, fmt_ratio};

/// Doubling from `from` until a load fails (or `max` passes), then bisection
/// down to `step` sessions (or 5 % of the load, whichever is more).
pub struct Search {
    from: usize,
    max: usize,
    step: usize,
    /// The largest load that passed (0: none yet).
    passed: usize,
    /// The smallest load that failed.
    failed: Option<usize>,
}

impl Search {
    pub fn new(from: usize, max: usize, step: usize) -> Self {
        Search {
            from: from.clamp(1, max.max(1)),
            max: max.max(1),
            step: step.max(1),
            passed: 0,
            failed: None,
        }
    }

    /// The next load to try, or None once the capacity is known.
    pub fn next(&self) -> Option<usize> {
        let Some(failed) = self.failed else {
            return match self.passed {
                0 => Some(self.from),
                p if p >= self.max => None,
                p => Some((p * 2).min(self.max)),
            };
        };
        let resolution = self.step.max(self.passed / 20);
        if failed - self.passed <= resolution {
            return None;
        }
        let mid = (self.passed + failed) / 2 / self.step * self.step;
        (mid > self.passed && mid < failed).then_some(mid)
    }

    pub fn record(&mut self, sessions: usize, passed: bool) {
        if passed {
            self.passed = self.passed.max(sessions);
        } else {
            self.failed = Some(self.failed.map_or(sessions, |f| f.min(sessions)));
        }
    }

    /// The largest load that passed; 0 when even the first failed.
    pub fn capacity(&self) -> usize {
        self.passed
    }

    /// Whether every load tried passed, up to the maximum: the capacity is
    /// then at least the maximum, not known.
    pub fn hit_max(&self) -> bool {
        self.passed >= self.max
    }
}

/// Why a run does not count as carried within `p99_ms`, or None if it does:
/// every session open, nothing lost or refused, p99 within the bound.
pub fn shortfall(r: &TargetResult, p99_ms: f64) -> Option<String> {
    if let Some(f) = &r.failure {
        return Some(format!("run failed: {f}"));
    }
    if r.established < r.requested {
        return Some(format!(
            "{} of {} sessions open",
            r.established, r.requested
        ));
    }
    let errors = r.open_failed + r.disconnects + r.send_errors + r.problems;
    if errors > 0 || r.gaps > 0 || r.sent > r.received {
        return Some(format!(
            "{errors} errors, {} dropped, {} undelivered",
            r.gaps,
            r.sent.saturating_sub(r.received)
        ));
    }
    match r.p99_ms {
        Some(p) if p <= p99_ms => None,
        p => Some(format!("p99 {}", fmt_ms(p))),
    }
}

/// One relay's search: each trial's load and verdict, and the run at its capacity.
pub struct Found {
    pub label: &'static str,
    pub trials: Vec<(usize, Option<String>)>,
    pub best: Option<TargetResult>,
    /// It carried the most sessions tried (`--sessions`): its capacity is at least that.
    pub hit_max: bool,
}

pub fn report(found: &[Found], p99_ms: f64, rate: f64, size: usize, secs: f64) -> String {
    let mut out = format!(
        "\ncapacity benchmark: the most sessions ({rate} msg/s per side of {size} B) each relay carries \
         with p99 ≤ {p99_ms} ms, every session open and nothing lost; {secs} s measured per trial\n\n"
    );
    for f in found {
        let trials: Vec<String> = f
            .trials
            .iter()
            .map(|(n, why)| match why {
                None => format!("{} ok", fmt_int(*n as f64)),
                Some(why) => format!("{} no ({why})", fmt_int(*n as f64)),
            })
            .collect();
        out += &format!("{} trials: {}\n", f.label, trials.join(", "));
    }
    out += &format!("\n{:<28}", format!("at p99 ≤ {p99_ms} ms"));
    for f in found {
        out += &format!("{:>16}", f.label);
    }
    out += &format!("{:>14}\n", if found.len() == 2 { "ratio" } else { "" });
    let figure = |f: &Found, get: &dyn Fn(&TargetResult) -> f64| f.best.as_ref().map_or(0.0, get);
    let mut row = |label: &str,
                   get: &dyn Fn(&TargetResult) -> f64,
                   show: &dyn Fn(f64) -> String,
                   ratio: bool| {
        out += &format!("{label:<28}");
        for f in found {
            out += &format!("{:>16}", show(figure(f, get)));
        }
        let r = match found {
            [a, b] if ratio && figure(b, get) > 0.0 => fmt_ratio(figure(a, get) / figure(b, get)),
            _ => String::new(),
        };
        out += &format!("{r:>14}\n");
    };
    row("sessions", &|r| r.requested as f64, &fmt_int, true);
    row("relayed msgs/s", &|r| r.relayed_per_s, &fmt_int, true);
    row(
        "latency p99",
        &|r| r.p99_ms.unwrap_or(0.0),
        &|v| fmt_ms(Some(v)),
        false,
    );
    row(
        "server CPU (of one core)",
        &|r| r.server_cpu_pct,
        &|v| format!("{v:.0} %"),
        false,
    );
    out += "\nratio: first ÷ second (higher is better for the first)\n";
    for f in found.iter().filter(|f| f.hit_max) {
        out += &format!(
            "note: {} carried every load tried, up to --sessions: its capacity is at least that; raise --sessions\n",
            f.label
        );
    }
    if let [ours, theirs] = found {
        let (a, b) = (
            figure(ours, &|r| r.relayed_per_s),
            figure(theirs, &|r| r.relayed_per_s),
        );
        // Ours at the maximum makes the ratio a lower bound; theirs, an upper one.
        let verdict = if a >= 5.0 * b && b > 0.0 {
            "PASS"
        } else if theirs.hit_max {
            "----"
        } else {
            "FAIL"
        };
        let x = if b > 0.0 {
            fmt_ratio(a / b)
        } else {
            "-".into()
        };
        out += &format!(
            "\ntarget:\n  {verdict}  ≥ 5× {}'s throughput at a p99 it cannot reach (≤ {p99_ms} ms): {x}\n",
            theirs.label
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The loads a search tries against a relay that carries up to `limit`.
    fn tries(limit: usize, from: usize, max: usize, step: usize) -> (Vec<usize>, usize) {
        let mut s = Search::new(from, max, step);
        let mut seen = Vec::new();
        while let Some(n) = s.next() {
            assert!(!seen.contains(&n), "tried {n} twice: {seen:?}");
            seen.push(n);
            s.record(n, n <= limit);
        }
        (seen, s.capacity())
    }

    #[test]
    fn doubles_then_bisects_to_the_step() {
        let (seen, cap) = tries(4_600, 250, 8_000, 100);
        assert_eq!(&seen[..6], &[250, 500, 1_000, 2_000, 4_000, 8_000]);
        assert!((4_400..=4_600).contains(&cap), "{cap} from {seen:?}");
        assert!(seen.len() <= 12, "{seen:?}");
    }

    #[test]
    fn stops_at_the_maximum_or_below_the_first_load() {
        let mut s = Search::new(250, 500, 100);
        s.record(250, true);
        assert!(!s.hit_max());
        s.record(500, true);
        assert!(s.hit_max() && s.next().is_none());
        assert_eq!(
            tries(100_000, 250, 8_000, 100),
            (vec![250, 500, 1_000, 2_000, 4_000, 8_000], 8_000)
        );
        let (seen, cap) = tries(120, 500, 8_000, 50);
        assert_eq!(seen[0], 500);
        assert!((50..=120).contains(&cap), "{cap} from {seen:?}");
        assert_eq!(tries(0, 500, 8_000, 250).1, 0);
    }

    #[test]
    fn a_run_counts_only_if_nothing_was_lost_and_p99_is_within_the_bound() {
        let ok = TargetResult {
            requested: 10,
            established: 10,
            sent: 100,
            received: 100,
            p99_ms: Some(4.0),
            ..TargetResult::default()
        };
        assert_eq!(shortfall(&ok, 10.0), None);
        assert!(shortfall(&ok, 3.0).unwrap().contains("p99 4.00 ms"));
        let lost = TargetResult { received: 99, ..ok };
        assert!(shortfall(&lost, 10.0).unwrap().contains("1 undelivered"));
    }
}
