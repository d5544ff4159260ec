//! The measured traffic: each generator thread drives its share of the open
//! connections from one epoll loop (mio), sending on schedule and timing what
//! arrives. No task, timer or buffer per connection beyond its socket: the
//! generator shares the machine with the server it measures, and what it
//! spends is taken from the server.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::Receiver;
use std::time::Duration;

use anyhow::Result;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use rand::Rng;

use crate::frames;
use crate::wire::{self, Incoming, Side, Ws};
use crate::{Plan, Shared};

/// Longest sleep in `poll`, so that new connections, the plan and a stop
/// request are seen promptly.
const MAX_WAIT_US: u64 = 100_000;

/// One party's connection, taken over from the session setup.
pub struct Conn {
    sock: TcpStream,
    side: Side,
    /// Bytes read but not yet parsed (a partial frame).
    input: Vec<u8>,
    /// Bytes the kernel has not taken yet: while any are waiting, the server is
    /// not reading fast enough and the next send is held up.
    output: Vec<u8>,
    mask: [u8; 4],
    seq: u64,
    expected: u64,
    open: bool,
}

impl Conn {
    pub fn new(ws: Ws, side: Side) -> Result<Self> {
        let (tcp, input, mask) = ws.into_parts();
        Ok(Conn {
            sock: TcpStream::from_std(tcp.into_std()?),
            side,
            input,
            output: Vec::new(),
            mask,
            seq: 0,
            expected: 1,
            open: true,
        })
    }

    fn who(&self) -> &'static str {
        match self.side {
            Side::Customer => "customer",
            Side::Agent => "agent",
        }
    }
}

/// Runs until `stop`: takes each connection from `arrivals` as its session
/// opens (and from then on reads it, answering pings, so a long ramp-up does
/// not leave early sessions silent); once the plan is known every connection
/// sends every `period_us`, from a random phase after `plan.go`, until `plan.t1`.
pub fn run(arrivals: Receiver<Conn>, sh: &Shared, stop: &AtomicBool) -> Result<()> {
    let mut poll = Poll::new()?;
    let mut conns: Vec<Conn> = Vec::new();
    let mut due: BinaryHeap<Reverse<(u64, usize)>> = BinaryHeap::new();
    let mut plan: Option<Plan> = None;
    let period = sh.period_us.max(1);
    let mut rng = rand::rng();
    // A random phase of the period from the start (or from now, for a
    // connection handed over late), so sends are spread evenly.
    let mut first_slot = |p: &Plan| p.go.max(sh.now_us()) + rng.random_range(0..period);
    let mut events = Events::with_capacity(1024);
    let mut scratch = vec![0u8; 64 * 1024];
    while !stop.load(Relaxed) {
        for mut c in arrivals.try_iter() {
            let i = conns.len();
            poll.registry().register(
                &mut c.sock,
                Token(i),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            // What arrived before it was handed over (notices since the session opened).
            take_frames(&mut c, sh);
            conns.push(c);
            if let Some(p) = plan {
                due.push(Reverse((first_slot(&p), i)));
            }
        }
        if plan.is_none()
            && let Some(&p) = sh.plan.get()
        {
            plan = Some(p);
            due.extend((0..conns.len()).map(|i| Reverse((first_slot(&p), i))));
        }
        let t1 = plan.map_or(0, |p| p.t1);
        while let Some(&Reverse((slot, i))) = due.peek() {
            if slot > sh.now_us() {
                break;
            }
            due.pop();
            let c = &mut conns[i];
            if slot >= t1 || !c.open {
                continue;
            }
            send_bench(c, sh, slot);
            // A late generator catches up (bursts) rather than lowering the offered load.
            due.push(Reverse((slot + period, i)));
        }
        let wait = due
            .peek()
            .map_or(MAX_WAIT_US, |r| r.0.0.saturating_sub(sh.now_us()))
            .min(MAX_WAIT_US);
        match poll.poll(&mut events, Some(Duration::from_micros(wait))) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        }
        for ev in events.iter() {
            let c = &mut conns[ev.token().0];
            if !c.open {
                continue;
            }
            if ev.is_writable() {
                flush(c, sh);
            }
            if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                read_all(c, sh, &mut scratch);
            }
            if !c.open {
                let _ = poll.registry().deregister(&mut c.sock);
            }
        }
    }
    Ok(())
}

/// One bench message, stamped with the send time a browser would stamp. If
/// the previous send is still waiting for the server to read (TCP
/// backpressure) at this message's slot, the message waits for the server:
/// stamp the slot, so the wait counts as relay latency (no coordinated
/// omission). Otherwise stamp now, so the generator's own lateness is not
/// charged to the server.
fn send_bench(c: &mut Conn, sh: &Shared, slot: u64) {
    let now = sh.now_us();
    let in_window = sh.in_window(now);
    let held_up = !c.output.is_empty();
    let ts = if held_up { slot } else { now };
    if in_window {
        if held_up {
            sh.c.held_up.fetch_add(1, Relaxed);
        } else {
            sh.send_lag.record(now.saturating_sub(slot));
        }
    }
    c.seq += 1;
    let text = wire::encode(sh.proto, c.side, c.seq, ts, &sh.pad);
    frames::encode(frames::TEXT, text.as_bytes(), c.mask, &mut c.output);
    sh.c.sent.fetch_add(1, Relaxed);
    if in_window {
        sh.c.sent_window.fetch_add(1, Relaxed);
    }
    flush(c, sh);
}

/// Hands the kernel what it takes of `output`; the rest waits for a writable event.
fn flush(c: &mut Conn, sh: &Shared) {
    let mut done = 0;
    while done < c.output.len() {
        match c.sock.write(&c.output[done..]) {
            Ok(n) => done += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                let who = c.who();
                return close(c, sh, &sh.c.send_errors, format!("{who} send failed: {e}"));
            }
        }
    }
    c.output.drain(..done);
}

fn read_all(c: &mut Conn, sh: &Shared, scratch: &mut [u8]) {
    loop {
        match c.sock.read(scratch) {
            Ok(0) => {
                let who = c.who();
                return close(c, sh, &sh.c.disconnects, format!("{who} connection ended"));
            }
            Ok(n) => {
                c.input.extend_from_slice(&scratch[..n]);
                take_frames(c, sh);
                // A short read emptied the socket: epoll reports the next data anew.
                if n < scratch.len() || !c.open {
                    return;
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                let who = c.who();
                return close(
                    c,
                    sh,
                    &sh.c.disconnects,
                    format!("{who} connection error: {e}"),
                );
            }
        }
    }
}

/// Handles every complete frame in `input`, keeping the partial one.
fn take_frames(c: &mut Conn, sh: &Shared) {
    let mut at = 0;
    let mut reply = Vec::new();
    while c.open {
        let frame = match frames::parse(&c.input[at..]) {
            Ok(Some((frame, used))) => {
                at += used;
                frame
            }
            Ok(None) => break,
            Err(e) => {
                let who = c.who();
                let why = format!("{who} connection error: {e}");
                close(c, sh, &sh.c.disconnects, why);
                break;
            }
        };
        match frame.opcode {
            frames::TEXT => {
                let text = String::from_utf8_lossy(frame.payload);
                match wire::decode(sh.proto, &text) {
                    Incoming::Data { s, ts } => received(c, sh, s, ts),
                    Incoming::Ping => reply.push((frames::TEXT, b"3".to_vec())),
                    Incoming::Problem(p) => {
                        sh.c.problems.fetch_add(1, Relaxed);
                        sh.sample(format!("{} got: {p:.300}", c.who()));
                    }
                    Incoming::Other => {}
                }
            }
            frames::PING => reply.push((frames::PONG, frame.payload.to_vec())),
            frames::CLOSE => {
                let why = format!(
                    "{} closed by the server: {}",
                    c.who(),
                    frames::close_reason(frame.payload)
                );
                close(c, sh, &sh.c.disconnects, why);
            }
            _ => {}
        }
    }
    c.input.drain(..at.min(c.input.len()));
    if c.open && !reply.is_empty() {
        for (opcode, payload) in reply {
            frames::encode(opcode, &payload, c.mask, &mut c.output);
        }
        flush(c, sh);
    }
}

fn received(c: &mut Conn, sh: &Shared, s: u64, ts: u64) {
    let now = sh.now_us();
    sh.c.received.fetch_add(1, Relaxed);
    if sh.in_window(now) {
        sh.c.received_window.fetch_add(1, Relaxed);
        sh.latency.record(now.saturating_sub(ts));
    }
    if s > c.expected {
        sh.c.gaps.fetch_add(s - c.expected, Relaxed);
    } else if s < c.expected {
        sh.c.out_of_order.fetch_add(1, Relaxed);
    }
    c.expected = c.expected.max(s + 1);
}

/// The connection failed or the server closed it: count it under `counter`,
/// keep a sample of why.
fn close(c: &mut Conn, sh: &Shared, counter: &AtomicU64, why: String) {
    c.open = false;
    counter.fetch_add(1, Relaxed);
    sh.sample(why);
    let _ = c.sock.shutdown(Shutdown::Both);
}
