//! A stranger with a WebSocket client tries IDs: nothing may tell a live session from one
//! that never was (else live IDs can be enumerated and the real agent raced to them), and
//! trying is slowed down per address and per ID.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{TestServer, start};

/// A resume's refusal as a stranger sees it: close code, error code and words, and how long.
async fn refusal(srv: &TestServer, id: &str, token: &str) -> ((u16, Value, Value), Duration) {
    let t0 = Instant::now();
    let mut c = srv.resume(id, token, &format!("{}/demo/", srv.url)).await;
    let (code, last) = c.closed().await;
    let last = last.unwrap_or_default();
    (
        (code, last["code"].clone(), last["message"].clone()),
        t0.elapsed(),
    )
}

/// An ID no live session has: the live one's digits reversed, or shifted if that is the same.
fn unknown_like(id: &str) -> String {
    let reversed: String = id.chars().rev().collect();
    if reversed != id && !reversed.starts_with('0') {
        return reversed;
    }
    format!(
        "{}",
        (id.parse::<u64>().unwrap() + 1) % 900_000_000 + 100_000_000
    )
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::test]
async fn a_wrong_token_and_an_unknown_id_get_the_same_answer() {
    let srv = start(|c| c.limits.failed_resumes_per_minute_per_ip = 10_000).await;
    let (_customer, id, _token) = srv.customer().await;
    let other = unknown_like(&id);
    let wrong = "f".repeat(64);
    let (live, _) = refusal(&srv, &id, &wrong).await;
    let (unknown, _) = refusal(&srv, &other, &wrong).await;
    assert_eq!(
        live, unknown,
        "a live ID with a wrong token answers like no session"
    );
    assert_eq!(live.0, 4004);

    // Timing: interleaved, so that the machine's load falls on both alike.
    let (mut t_live, mut t_unknown) = (vec![], vec![]);
    for _ in 0..24 {
        t_live.push(refusal(&srv, &id, &wrong).await.1);
        t_unknown.push(refusal(&srv, &other, &wrong).await.1);
    }
    let (l, u) = (median(t_live), median(t_unknown));
    let (fast, slow) = (l.min(u), l.max(u));
    assert!(
        slow < fast * 2 || slow - fast < Duration::from_millis(3),
        "a live ID takes {l:?}, an unknown one {u:?}"
    );
    srv.stop().await;
}

#[tokio::test]
async fn failed_resumes_are_limited_per_id_without_locking_the_customer_out() {
    let srv = start(|c| {
        c.limits.failed_resumes_per_minute_per_ip = 10_000;
        c.limits.failed_resumes_per_minute_per_session = 3;
    })
    .await;
    let (_customer, id, token) = srv.customer().await;
    let other = unknown_like(&id);
    let wrong = "0".repeat(64);
    for target in [&id, &other] {
        for attempt in 0..3 {
            let ((code, _, _), _) = refusal(&srv, target, &wrong).await;
            assert_eq!(code, 4004, "attempt {attempt} on {target}");
        }
        let ((code, err, _), _) = refusal(&srv, target, &wrong).await;
        assert_eq!(
            (code, err.as_str()),
            (4029, Some("rate_limited")),
            "{target}"
        );
    }
    // The customer holding the token still comes back.
    let mut back = srv
        .resume(&id, &token, &format!("{}/demo/next", srv.url))
        .await;
    back.expect("session").await;
    srv.stop().await;
}

#[tokio::test]
async fn an_address_that_keeps_failing_is_refused_whatever_the_id() {
    let srv = start(|c| c.limits.failed_resumes_per_minute_per_ip = 5).await;
    let wrong = "0".repeat(64);
    for n in 0..5 {
        let id = format!("{}", 200_000_000 + n * 7919);
        assert_eq!(refusal(&srv, &id, &wrong).await.0.0, 4004);
    }
    let ((code, err, _), _) = refusal(&srv, "300000001", &wrong).await;
    assert_eq!((code, err.as_str()), (4029, Some("rate_limited")));
    srv.stop().await;
}
