//! `/metrics` after real sessions, and what a receiver that stops reading
//! costs (frames dropped and counted, nobody else held up).
//!
//! The Prometheus recorder is one per process and counts for every server a
//! test binary starts, so the tests here take turns and compare scrapes
//! taken before and after what they do.

mod common;

use std::time::Duration;

use common::scrape::{BIG, DROPPED, Scrape, flood_until_dropped};
use common::{Client, TestServer, chunk, seq_of, start};
use serde_json::json;
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

/// One test at a time may move the process's metrics.
static TURN: Mutex<()> = Mutex::const_new(());

const RELAYED: &str = "cobrowse_messages_relayed_total";
const BYTES: &str = "cobrowse_bytes_relayed_total";
const LATENCY: &str = "cobrowse_relay_latency_seconds";

/// Sends a text frame whose bytes we know, to count them.
async fn send_text(c: &mut Client, text: &str) -> usize {
    c.send_raw(Message::text(text.to_string())).await;
    text.len()
}

/// Waits until what the scrape shows satisfies `done` (gauges lag a
/// connection's end by the moment its task takes to finish).
async fn scrape_until(srv: &TestServer, done: impl Fn(&Scrape) -> bool) -> Scrape {
    for _ in 0..100 {
        let now = Scrape::of(srv).await;
        if done(&now) {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Scrape::of(srv).await
}

#[tokio::test]
async fn metrics_count_what_a_real_session_did() {
    let _turn = TURN.lock().await;
    let srv = start(|_| {}).await;
    let before = Scrape::of(&srv).await;

    let (mut c, mut a, id, _) = srv.active("alice").await;
    let (mut idle, _, _) = srv.customer().await;
    // Customer → agent: 40 snapshot chunks of 1,000 bytes, in order.
    for s in 1..=40 {
        c.send_raw(chunk(s, 1000)).await;
    }
    for s in 1..=40 {
        let m = a.expect("binary").await;
        assert_eq!((m["len"].as_u64(), seq_of(&m)), (Some(1000), s));
    }
    // Agent → customer: 8 pointer marks.
    let mut mark_bytes = 0;
    for s in 1..=8 {
        let text = format!(r#"{{"v":1,"t":"mark","s":{s},"x":{s},"y":2}}"#);
        mark_bytes += send_text(&mut a, &text).await;
    }
    for s in 1..=8 {
        assert_eq!(c.expect("mark").await["s"], s);
    }
    // Refused joins: the session has its agent; an ID nobody started.
    let mut bob = srv.agent(&id, "bob").await;
    assert_eq!(bob.closed().await.1.unwrap()["code"], "session_has_agent");
    let mut carol = srv.agent("111111111", "carol").await;
    assert_eq!(carol.closed().await.1.unwrap()["code"], "no_such_session");

    let during = Scrape::of(&srv).await;
    let state = |s: &Scrape, st: &str| s.get(&format!("cobrowse_sessions{{state=\"{st}\"}}"));
    assert_eq!(
        (state(&during, "active"), state(&during, "idle")),
        (1.0, 1.0)
    );
    let role = |r: &str| format!("cobrowse_connections{{role=\"{r}\"}}");
    assert_eq!(during.since(&before, &role("customer")), 2.0);
    assert_eq!(during.since(&before, &role("agent")), 1.0);
    assert_eq!(during.since(&before, RELAYED), 48.0);
    assert_eq!(
        during.since(&before, BYTES),
        (40 * 1000 + mark_bytes) as f64
    );
    assert_eq!(during.since(&before, DROPPED), 0.0);
    let refusals = |r: &str| {
        during.since(
            &before,
            &format!("cobrowse_join_refusals_total{{reason=\"{r}\"}}"),
        )
    };
    assert_eq!(
        (refusals("session_has_agent"), refusals("no_such_session")),
        (1.0, 1.0)
    );
    assert_eq!(
        during.since(&before, "cobrowse_sessions_created_total"),
        2.0
    );
    // One frame in 16 is timed, per connection: 48 frames over two give at least one.
    let count = during.since(&before, &format!("{LATENCY}_count"));
    assert!((1.0..=48.0).contains(&count), "{count} latencies");
    let inf = during.since(&before, &format!("{LATENCY}_bucket{{le=\"+Inf\"}}"));
    assert_eq!(inf, count, "every timed frame falls in the +Inf bucket");
    assert!(during.since(&before, &format!("{LATENCY}_sum")) > 0.0);

    // Ends: the agent exits one session, the other's customer exits.
    a.send(json!({"t": "exit"})).await;
    assert_eq!(c.closed().await.1.unwrap()["reason"], "agent_exit");
    idle.send(json!({"t": "exit"})).await;
    idle.closed().await;
    let after = scrape_until(&srv, |s| {
        s.since(&before, &role("customer")) == 0.0 && s.since(&before, &role("agent")) == 0.0
    })
    .await;
    let ends = |r: &str| {
        after.since(
            &before,
            &format!("cobrowse_session_ends_total{{reason=\"{r}\"}}"),
        )
    };
    assert_eq!((ends("agent_exit"), ends("customer_exit")), (1.0, 1.0));
    assert_eq!((state(&after, "active"), state(&after, "idle")), (0.0, 0.0));
    assert_eq!(after.since(&before, &role("customer")), 0.0);
    assert_eq!(after.since(&before, &role("agent")), 0.0);
    srv.stop().await;
}

#[tokio::test]
async fn a_receiver_that_stops_reading_loses_frames_and_holds_nobody_up() {
    let _turn = TURN.lock().await;
    let srv = start(|c| {
        c.limits.send_queue = 16;
        c.limits.max_messages_per_second = 10_000;
    })
    .await;
    let (mut c, mut a, _, _) = srv.active("slow").await;
    let (mut c2, mut a2, _, _) = srv.active("other").await;
    let before = Scrape::of(&srv).await;

    // The agent reads nothing from here on; the customer keeps sending.
    let sent = flood_until_dropped(&mut c, &srv.url, &before).await;
    let stalled = Scrape::of(&srv).await;
    let dropped = stalled.since(&before, DROPPED);
    let relayed = stalled.since(&before, RELAYED);
    assert_eq!(
        relayed + dropped,
        f64::from(sent),
        "each frame relayed or dropped"
    );

    // Another session flows meanwhile, both ways.
    c2.send_raw(chunk(1, 100)).await;
    assert_eq!(seq_of(&a2.expect("binary").await), 1);
    a2.send(json!({"t": "mark", "x": 1, "y": 1})).await;
    c2.expect("mark").await;

    // The agent reads again: everything relayed arrives, in order, then
    // whatever comes next, after a gap where the dropped frames were.
    let mut seen = Vec::new();
    for _ in 0..relayed as usize {
        seen.push(seq_of(&a.expect("binary").await));
    }
    c.send_raw(chunk(sent + 1, 100)).await;
    seen.push(seq_of(&a.expect("binary").await));
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "in order: {seen:?}");
    let gaps = seen.windows(2).filter(|w| w[1] > w[0] + 1).count();
    assert!(gaps >= 1 && seen[0] == 1, "a gap in {seen:?}");
    assert_eq!(seen.len() as f64 + dropped, f64::from(sent + 1));
    // Seeing the gap, the agent asks for a fresh snapshot; the customer hears it.
    a.send(json!({"t": "resync"})).await;
    c.expect("resync").await;
    srv.stop().await;
}

#[tokio::test]
async fn a_receiver_that_stops_reading_holds_at_most_send_queue_bytes() {
    let _turn = TURN.lock().await;
    // 512 frames may wait, but only 4 MiB of them: large frames hit the bytes first.
    let srv = start(|c| {
        c.limits.send_queue_bytes = 4 * 1024 * 1024;
        c.limits.max_message_bytes = 1024 * 1024;
        c.limits.max_messages_per_second = 10_000;
    })
    .await;
    let (mut c, _a, _, _) = srv.active("slow").await;
    let before = Scrape::of(&srv).await;
    let sent = flood_until_dropped(&mut c, &srv.url, &before).await;
    // The socket buffers take a few dozen chunks of 512 KiB, the queue 8; a
    // count-only bound would take 512 more before dropping any.
    assert!(
        sent < 256,
        "{sent} chunks of {BIG} bytes sent before the first drop"
    );
    srv.stop().await;
}
