//! A real server on 127.0.0.1:0 and real WebSocket clients for the tests.
#![allow(dead_code)]

pub mod nodes;
pub mod scrape;
pub mod services;

use std::time::Duration;

use cobrowse::auth::Tokens;
use cobrowse::config::{Config, Overrides};
use cobrowse::server::{self, Running};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const WAIT: Duration = Duration::from_secs(5);

pub struct TestServer {
    pub running: Option<Running>,
    pub at: At,
    pub dir: tempfile::TempDir,
}

/// Where a server (or a node) is, and the secret its agent tokens are signed with.
#[derive(Clone)]
pub struct At {
    pub url: String,
    pub host: String,
    pub tokens: Tokens,
}

impl std::ops::Deref for TestServer {
    type Target = At;
    fn deref(&self) -> &At {
        &self.at
    }
}

/// Test settings: data in `dir`, any free port on loopback, a fast tick.
pub fn test_config(dir: &std::path::Path) -> Config {
    let overrides = Overrides {
        data_dir: Some(dir.to_path_buf()),
        listen: Some("127.0.0.1:0".parse().unwrap()),
        ..Overrides::default()
    };
    let mut config = Config::load(&overrides).unwrap();
    config.timeouts.tick = Duration::from_millis(50);
    config
}

/// Starts a server with test settings, adjusted by `tweak`.
pub async fn start(tweak: impl FnOnce(&mut Config)) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    tweak(&mut config);
    let ground = server::ground(config).await.unwrap();
    let tokens = ground.tokens.clone();
    let running = server::start(ground).await.unwrap();
    let url = running.url.clone();
    let host = running.addr.to_string();
    TestServer {
        running: Some(running),
        at: At { url, host, tokens },
        dir,
    }
}

impl TestServer {
    pub fn app(&self) -> &cobrowse::http::AppState {
        &self.running.as_ref().unwrap().app
    }

    /// An account in the server's store, with this password.
    pub async fn add_account(
        &self,
        name: &str,
        password: &str,
        role: cobrowse::domain::account::AccountRole,
    ) {
        let hash = cobrowse::auth::hash_password(password).unwrap();
        self.app()
            .store
            .add_account(name, &hash, role, 0)
            .await
            .unwrap();
    }

    pub async fn stop(mut self) {
        self.running.take().unwrap().stop().await.unwrap();
    }
}

impl At {
    pub fn agent_token(&self, name: &str) -> String {
        self.tokens
            .agent_token(name, cobrowse::clock::now_ms(), 3_600_000)
    }

    /// Opens a customer connection from `origin` (the server's own by default).
    pub async fn connect_customer(&self, origin: Option<&str>) -> Result<Client, WsError> {
        let mut req = format!("ws://{}/ws/customer?v=1", self.host)
            .into_client_request()
            .unwrap();
        req.headers_mut()
            .insert("origin", origin.unwrap_or(&self.url).parse().unwrap());
        Client::connect(req).await
    }

    /// A customer that has created a session: returns the client, the ID and the token.
    pub async fn customer(&self) -> (Client, String, String) {
        self.customer_with(json!({})).await
    }

    pub async fn customer_with(&self, extra: Value) -> (Client, String, String) {
        let mut c = self.connect_customer(None).await.unwrap();
        let mut msg = json!({"t": "create", "url": format!("{}/demo/", self.url), "title": "Demo", "tab": "t1"});
        merge(&mut msg, extra);
        c.send(msg).await;
        let session = c.expect("session").await;
        let id = session["id"].as_str().unwrap().to_string();
        let token = session["token"].as_str().unwrap().to_string();
        (c, id, token)
    }

    pub async fn resume(&self, id: &str, token: &str, url: &str) -> Client {
        let mut c = self.connect_customer(None).await.unwrap();
        c.send(json!({"t": "resume", "id": id, "token": token, "url": url, "title": "Next", "tab": "t2"})).await;
        c
    }

    /// An agent connection with a bearer token (as an agent desktop would).
    pub async fn connect_agent(
        &self,
        session: &str,
        token: Option<&str>,
        origin: Option<&str>,
    ) -> Client {
        let mut req = format!("ws://{}/ws/agent?v=1&session={session}", self.host)
            .into_client_request()
            .unwrap();
        if let Some(t) = token {
            req.headers_mut()
                .insert("authorization", format!("Bearer {t}").parse().unwrap());
        }
        if let Some(o) = origin {
            req.headers_mut().insert("origin", o.parse().unwrap());
        }
        Client::connect(req).await.unwrap()
    }

    pub async fn agent(&self, session: &str, name: &str) -> Client {
        self.connect_agent(session, Some(&self.agent_token(name)), None)
            .await
    }

    /// A session with its agent in, both sides past their greetings.
    pub async fn active(&self, agent: &str) -> (Client, Client, String, String) {
        let (mut c, id, token) = self.customer().await;
        let mut a = self.agent(&id, agent).await;
        a.expect("session").await;
        c.expect("joined").await;
        (c, a, id, token)
    }

    pub fn http(&self) -> reqwest::Client {
        http()
    }
}

fn merge(a: &mut Value, b: Value) {
    if let (Some(a), Value::Object(b)) = (a.as_object_mut(), b) {
        a.extend(b);
    }
}

#[derive(Debug)]
pub enum Got {
    Msg(Value),
    Closed(u16, String),
}

pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    seq: u64,
    /// How long `next` waits before failing the test.
    pub wait: Duration,
}

impl Client {
    pub async fn connect(
        req: tokio_tungstenite::tungstenite::handshake::client::Request,
    ) -> Result<Client, WsError> {
        let (ws, _) = tokio_tungstenite::connect_async(req).await?;
        Ok(Client {
            ws,
            seq: 0,
            wait: WAIT,
        })
    }

    /// Sends a message with the envelope filled in (`v` and the next `s`).
    pub async fn send(&mut self, mut msg: Value) {
        self.seq += 1;
        msg["v"] = msg.get("v").cloned().unwrap_or(json!(1));
        msg["s"] = json!(self.seq);
        self.ws.send(Message::text(msg.to_string())).await.unwrap();
    }

    pub async fn send_raw(&mut self, m: Message) {
        let _ = self.ws.send(m).await;
    }

    pub async fn next(&mut self) -> Got {
        loop {
            match tokio::time::timeout(self.wait, self.ws.next())
                .await
                .expect("nothing arrived in time")
            {
                Some(Ok(Message::Text(t))) => return Got::Msg(serde_json::from_str(&t).unwrap()),
                Some(Ok(Message::Binary(b))) => {
                    return Got::Msg(
                        json!({"t": "binary", "len": b.len(), "head": b[..6.min(b.len())].to_vec()}),
                    );
                }
                Some(Ok(Message::Close(Some(f)))) => {
                    return Got::Closed(u16::from(f.code), f.reason.to_string());
                }
                Some(Ok(Message::Close(None))) | None => {
                    return Got::Closed(u16::from(CloseCode::Status), String::new());
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Got::Closed(0, e.to_string()),
            }
        }
    }

    /// Waits for a message of type `t`, skipping others; panics on a close.
    pub async fn expect(&mut self, t: &str) -> Value {
        loop {
            match self.next().await {
                Got::Msg(m) if m["t"] == t => return m,
                Got::Msg(_) => continue,
                Got::Closed(code, reason) => {
                    panic!("closed ({code} {reason}) while waiting for {t}")
                }
            }
        }
    }

    /// Waits for the close, returning its code and the last `error` or `ended` before it.
    pub async fn closed(&mut self) -> (u16, Option<Value>) {
        let mut last = None;
        loop {
            match self.next().await {
                Got::Msg(m) if m["t"] == "error" || m["t"] == "ended" => last = Some(m),
                Got::Msg(_) => continue,
                Got::Closed(code, _) => return (code, last),
            }
        }
    }

    /// Asserts nothing of type `t` arrives for a while.
    pub async fn quiet(&mut self, t: &str, for_ms: u64) {
        let until = tokio::time::Instant::now() + Duration::from_millis(for_ms);
        while let Ok(Some(Ok(m))) = tokio::time::timeout_at(until, self.ws.next()).await {
            if let Message::Text(text) = m {
                let v: Value = serde_json::from_str(&text).unwrap();
                assert_ne!(v["t"], t, "unexpected {v}");
            }
        }
    }
}

/// A webhook receiver on 127.0.0.1: records (event, JSON body) of every delivery.
pub async fn webhook_receiver() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<(String, Value)>>>,
) {
    let seen: std::sync::Arc<std::sync::Mutex<Vec<(String, Value)>>> = Default::default();
    let s = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let s = s.clone();
            async move {
                let event = headers
                    .get("x-cobrowse-event")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                s.lock()
                    .unwrap()
                    .push((event, serde_json::from_str(&body).unwrap_or(Value::Null)));
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

/// A binary content frame (a snapshot chunk) of `len` bytes in all, sequence `s`.
pub fn chunk(s: u32, len: usize) -> Message {
    let mut frame = vec![1, 1];
    frame.extend_from_slice(&s.to_be_bytes());
    frame.resize(len, b'x');
    Message::binary(frame)
}

/// The sequence number of a binary frame as `Client::next` reports it.
pub fn seq_of(m: &serde_json::Value) -> u32 {
    let head: Vec<u8> = serde_json::from_value(m["head"].clone()).unwrap();
    u32::from_be_bytes([head[2], head[3], head[4], head[5]])
}

/// An HTTP client (the TLS provider installed first, as the server does).
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}
