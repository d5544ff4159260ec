//! What operators rely on, against a real server: health and readiness,
//! per-IP limits behind a reverse proxy, history retention.

mod common;

use std::time::Duration;

use cobrowse::clock::now_ms;
use cobrowse::config::Config;
use cobrowse::domain::session_history::HistoryEvent;
use cobrowse::forwarded::IpRange;
use cobrowse::store::Store;
use common::{Client, Got, TestServer, start};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;

#[tokio::test]
async fn healthz_and_readyz_answer_on_one_embedded_node() {
    let srv = start(|_| {}).await;
    let get = |path: &str| srv.http().get(format!("{}{path}", srv.url)).send();
    let health = get("/healthz").await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
    assert_eq!(health.text().await.unwrap(), "ok");
    let ready = get("/readyz").await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body, json!({"ready": true, "store": "ok", "hub": "ok"}));
    srv.stop().await;
}

/// A request as a reverse proxy on 127.0.0.1 sends it on: with the
/// `X-Forwarded-For` it built for its client.
fn forwarded(mut req: Request, forwarded_for: &str) -> Request {
    req.headers_mut()
        .insert("x-forwarded-for", forwarded_for.parse().unwrap());
    req
}

/// Starts a session through the proxy; the first answer's `t`, or the
/// `error` code when refused.
async fn create_via(srv: &TestServer, forwarded_for: &str) -> String {
    let mut req = format!("ws://{}/ws/customer?v=1", srv.host)
        .into_client_request()
        .unwrap();
    req.headers_mut().insert("origin", srv.url.parse().unwrap());
    let mut c = Client::connect(forwarded(req, forwarded_for))
        .await
        .unwrap();
    c.send(
        json!({"t": "create", "url": format!("{}/demo/", srv.url), "title": "Demo", "tab": "t1"}),
    )
    .await;
    first_answer(&mut c).await
}

/// An agent's join attempt through the proxy, for a session nobody started.
async fn join_via(srv: &TestServer, forwarded_for: &str, agent: &str) -> String {
    let mut req = format!("ws://{}/ws/agent?v=1&session=111111111", srv.host)
        .into_client_request()
        .unwrap();
    let token = srv.agent_token(agent);
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let mut a = Client::connect(forwarded(req, forwarded_for))
        .await
        .unwrap();
    first_answer(&mut a).await
}

async fn first_answer(c: &mut Client) -> String {
    match c.next().await {
        Got::Msg(m) if m["t"] == "error" => m["code"].as_str().unwrap().to_string(),
        Got::Msg(m) => m["t"].as_str().unwrap().to_string(),
        Got::Closed(code, why) => panic!("closed ({code} {why}) before answering"),
    }
}

/// A wrong password through the proxy: 401, or 429 once the limit is reached.
async fn sign_in_via(srv: &TestServer, forwarded_for: &str) -> u16 {
    srv.http()
        .post(format!("{}/auth/login", srv.url))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"name": "nobody", "password": "guess"}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn proxies(list: &[&str]) -> Vec<IpRange> {
    list.iter().map(|r| r.parse().unwrap()).collect()
}

fn two_a_minute(c: &mut Config) {
    c.limits.sessions_per_minute_per_ip = 2;
    c.limits.join_attempts_per_minute_per_ip = 2;
    c.limits.sign_ins_per_minute_per_ip = 2;
}

#[tokio::test]
async fn clients_behind_a_trusted_proxy_are_limited_apart() {
    let srv = start(|c| {
        two_a_minute(c);
        c.trusted_proxies = proxies(&["127.0.0.1", "::1"]);
    })
    .await;
    const ANN: &str = "203.0.113.1";
    const BOB: &str = "203.0.113.2";
    for _ in 0..2 {
        assert_eq!(create_via(&srv, ANN).await, "session");
    }
    assert_eq!(create_via(&srv, ANN).await, "rate_limited");
    assert_eq!(
        create_via(&srv, BOB).await,
        "session",
        "Bob has his own limit"
    );
    // What Ann writes herself stands left of what the proxy appended.
    let spoofed = format!("198.51.100.9, {ANN}");
    assert_eq!(create_via(&srv, &spoofed).await, "rate_limited");

    for i in 0..2 {
        let agent = format!("ann{i}");
        assert_eq!(join_via(&srv, ANN, &agent).await, "no_such_session");
    }
    assert_eq!(join_via(&srv, ANN, "ann3").await, "rate_limited");
    assert_eq!(join_via(&srv, BOB, "bob").await, "no_such_session");

    assert_eq!(
        [sign_in_via(&srv, ANN).await, sign_in_via(&srv, ANN).await],
        [401, 401]
    );
    assert_eq!(sign_in_via(&srv, ANN).await, 429);
    assert_eq!(sign_in_via(&srv, BOB).await, 401);
}

#[tokio::test]
async fn an_untrusted_peer_cannot_pick_its_address() {
    // No proxy trusted (the default), and a list that leaves this peer out.
    for trusted in [vec![], proxies(&["10.0.0.0/8"])] {
        let srv = start(|c| {
            two_a_minute(c);
            c.trusted_proxies = trusted;
        })
        .await;
        assert_eq!(create_via(&srv, "203.0.113.1").await, "session");
        assert_eq!(create_via(&srv, "203.0.113.2").await, "session");
        assert_eq!(create_via(&srv, "203.0.113.3").await, "rate_limited");
        assert_eq!(sign_in_via(&srv, "203.0.113.1").await, 401);
        assert_eq!(sign_in_via(&srv, "203.0.113.2").await, 401);
        assert_eq!(sign_in_via(&srv, "203.0.113.3").await, 429);
    }
}

const DAY: u64 = 86_400_000;

/// A session's history as the recorder writes it, created `at`.
async fn created(store: &dyn Store, id: &str, at: u64) -> String {
    let key = format!("{id}-{at}");
    let event = HistoryEvent::Created {
        interaction_id: None,
        channel: None,
        url: "https://shop.example/".into(),
    };
    store.record(&key, id, at, &event).await.unwrap();
    key
}

#[tokio::test]
async fn history_past_its_retention_is_purged_as_the_server_starts() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::test_config(dir.path());
    config.history.retention_days = 30;
    let ground = cobrowse::server::ground(config).await.unwrap();
    let store = ground.store.clone();
    let now = now_ms();
    let old = created(&*store, "111111111", now - 31 * DAY).await;
    let recent = created(&*store, "222222222", now - 29 * DAY).await;
    let running = cobrowse::server::start(ground).await.unwrap();
    let mut purged = false;
    for _ in 0..100 {
        purged = store.history_detail(&old).await.unwrap().is_none();
        if purged {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(purged, "a 31-day-old session outlives a 30-day retention");
    let kept = store.history_detail(&recent).await.unwrap();
    assert_eq!(
        kept.map(|d| d.summary.session_id).as_deref(),
        Some("222222222")
    );
    running.stop().await.unwrap();
}
