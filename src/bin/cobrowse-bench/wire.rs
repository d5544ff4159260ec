//! The two wire protocols the load generator speaks: cobrowse's own (docs/protocol.md)
//! and Engine.IO v4 / Socket.IO v5 over a plain WebSocket.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

pub type Ws = WebSocketStream<TcpStream>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Cobrowse,
    SocketIo,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Customer,
    Agent,
}

/// What a connection task makes of one incoming text frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming<'a> {
    /// A relayed bench message: its sequence number and send time (µs since bench start).
    Data { s: u64, ts: u64 },
    /// Engine.IO ping: answer `3`.
    Ping,
    /// The server ended the session or refused something: worth reporting.
    Problem(&'a str),
    /// Anything else (`session`, `presence`, `pong`, …): ignored.
    Other,
}

/// The client's WebSocket settings: small buffers, since 16,000 of them live here.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
}

async fn connect(port: u16, path: &str, header: Option<(&'static str, String)>) -> Result<Ws> {
    let mut req = format!("ws://127.0.0.1:{port}{path}").into_client_request()?;
    if let Some((name, value)) = header {
        req.headers_mut()
            .insert(name, HeaderValue::from_str(&value)?);
    }
    let tcp = TcpStream::connect(("127.0.0.1", port))
        .await
        .context("TCP connect")?;
    tcp.set_nodelay(true)?;
    let (ws, _) = tokio_tungstenite::client_async_with_config(req, tcp, Some(ws_config()))
        .await
        .map_err(|e| match e {
            WsError::Http(resp) => {
                let body = resp
                    .body()
                    .as_deref()
                    .map(String::from_utf8_lossy)
                    .unwrap_or_default()
                    .into_owned();
                anyhow!(
                    "WebSocket upgrade refused: HTTP {} {}",
                    resp.status(),
                    body.trim()
                )
            }
            e => anyhow!("WebSocket handshake: {e}"),
        })?;
    Ok(ws)
}

/// Next text frame; a close or the end of the stream is an error that says why.
async fn next_text(ws: &mut Ws, what: &str) -> Result<String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return Ok(t.as_str().to_owned()),
            Some(Ok(Message::Close(f))) => {
                let f = f
                    .map(|f| format!("{} {}", u16::from(f.code), f.reason))
                    .unwrap_or_default();
                bail!("closed by the server while waiting for {what}: {f}")
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => bail!("while waiting for {what}: {e}"),
            None => bail!("connection ended while waiting for {what}"),
        }
    }
}

// ---------------------------------------------------------------- cobrowse

/// Reads frames until one has `"t": want`; an `error` or `ended` frame fails.
async fn expect_type(ws: &mut Ws, want: &str) -> Result<serde_json::Value> {
    loop {
        let text = next_text(ws, want).await?;
        let v: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("not JSON: {text:.200}"))?;
        match v["t"].as_str() {
            Some(t) if t == want => return Ok(v),
            Some("error") | Some("ended") => bail!("waiting for {want}, got {text:.300}"),
            _ => continue,
        }
    }
}

fn jwt(secret: &str, sub: &str) -> Result<String> {
    #[derive(serde::Serialize)]
    struct Claims<'a> {
        sub: &'a str,
        aud: &'a str,
        iat: u64,
        exp: u64,
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    // The audience an agent desktop's token carries (README, "Agent auth").
    let claims = Claims {
        sub,
        aud: "cobrowse-agent",
        iat: now,
        exp: now + 3600,
    };
    Ok(jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )?)
}

/// Awaits one step of opening a session by the session's deadline; the error
/// names the party and, when time runs out, the step (a lost `joined` is not a
/// slow connect).
async fn step<T>(
    party: &str,
    what: &str,
    deadline: Instant,
    step: impl Future<Output = Result<T>>,
) -> Result<T> {
    match tokio::time::timeout_at(deadline, step).await {
        Ok(result) => result.with_context(|| party.to_owned()),
        Err(_) => bail!("{party}: no {what} by the connect timeout"),
    }
}

/// Customer creates a session on `customer_port`; `join_delay` later, agent
/// `bench-agent-<i>` joins it on `agent_port` (the same node, or another one
/// of the cluster); the customer sees `joined`; all by `deadline`. Returns
/// (customer, agent).
pub async fn open_cobrowse(
    customer_port: u16,
    agent_port: u16,
    secret: &str,
    i: usize,
    join_delay: Duration,
    deadline: Instant,
) -> Result<(Ws, Ws)> {
    let origin = format!("http://127.0.0.1:{customer_port}");
    let path = "/ws/customer?v=1";
    let header = Some(("origin", origin.clone()));
    let mut customer = step(
        "customer",
        "connection",
        deadline,
        connect(customer_port, path, header),
    )
    .await?;
    let create = serde_json::json!({"v": 1, "t": "create", "url": format!("{origin}/demo/"), "title": "bench", "tab": "t1"});
    customer
        .send(Message::text(create.to_string()))
        .await
        .context("customer: sending create")?;
    let session = step(
        "customer",
        "`session`",
        deadline,
        expect_type(&mut customer, "session"),
    )
    .await?;
    let id = match &session["id"] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => bail!("customer: `session` without an id: {session}"),
    };
    tokio::time::sleep(join_delay).await;
    let token = jwt(secret, &format!("bench-agent-{i}"))?;
    let path = format!("/ws/agent?v=1&session={id}");
    let header = Some(("authorization", format!("Bearer {token}")));
    let mut agent = step(
        "agent",
        "connection",
        deadline,
        connect(agent_port, &path, header),
    )
    .await?;
    step(
        "agent",
        "`session`",
        deadline,
        expect_type(&mut agent, "session"),
    )
    .await?;
    let joined = expect_type(&mut customer, "joined");
    step("customer", "`joined` (the agent is in)", deadline, joined).await?;
    Ok((customer, agent))
}

// ---------------------------------------------------------------- socket.io

/// Engine.IO open, Socket.IO connect to `/`, then `join` the room with an ack.
async fn sio_join(port: u16, room: &str) -> Result<Ws> {
    let mut ws = connect(port, "/socket.io/?EIO=4&transport=websocket", None).await?;
    let open = next_text(&mut ws, "the Engine.IO open packet").await?;
    if !open.starts_with('0') {
        bail!("expected the Engine.IO open packet `0{{…}}`, got {open:.200}");
    }
    ws.send(Message::text("40")).await?;
    loop {
        let t = next_text(&mut ws, "the Socket.IO connect packet").await?;
        if t == "2" {
            ws.send(Message::text("3")).await?;
        } else if t.starts_with("40") {
            break;
        } else if t.starts_with("44") {
            bail!("Socket.IO connect refused: {t:.200}");
        }
    }
    ws.send(Message::text(format!(r#"420["join","{room}"]"#)))
        .await?;
    loop {
        let t = next_text(&mut ws, "the join ack").await?;
        if t == "2" {
            ws.send(Message::text("3")).await?;
        } else if t.starts_with("430") {
            return Ok(ws);
        }
    }
}

pub async fn open_socketio(
    port: u16,
    i: usize,
    join_delay: Duration,
    deadline: Instant,
) -> Result<(Ws, Ws)> {
    let room = format!("session-{i}");
    let customer = step("customer", "join ack", deadline, sio_join(port, &room)).await?;
    tokio::time::sleep(join_delay).await;
    let agent = step("agent", "join ack", deadline, sio_join(port, &room)).await?;
    Ok((customer, agent))
}

// ---------------------------------------------------------------- messages

/// The padding that brings a message to about `size` bytes on the wire.
pub fn pad(size: usize) -> String {
    "x".repeat(size.saturating_sub(72).max(1))
}

/// One bench message. The customer streams `mutation`s, the agent `pointer`s,
/// as the real parties would; both carry `s` and the send time `ts`.
pub fn encode(proto: Proto, side: Side, s: u64, ts: u64, pad: &str) -> String {
    let t = match side {
        Side::Customer => "mutation",
        Side::Agent => "pointer",
    };
    match proto {
        Proto::Cobrowse => format!(r#"{{"v":1,"t":"{t}","s":{s},"ts":{ts},"pad":"{pad}"}}"#),
        Proto::SocketIo => {
            format!(r#"42["msg",{{"v":1,"t":"{t}","s":{s},"ts":{ts},"pad":"{pad}"}}]"#)
        }
    }
}

/// Reads a frame without a JSON parser: the relays pass our bytes through
/// (cobrowse byte for byte; socket.io re-serializes but keeps key order).
pub fn decode(proto: Proto, text: &str) -> Incoming<'_> {
    let body = match proto {
        Proto::Cobrowse => text,
        Proto::SocketIo => {
            if text == "2" {
                return Incoming::Ping;
            }
            match text.strip_prefix(r#"42["msg","#) {
                Some(rest) => rest,
                None if text.starts_with('1')
                    || text.starts_with("41")
                    || text.starts_with("44") =>
                {
                    return Incoming::Problem(text);
                }
                None => return Incoming::Other,
            }
        }
    };
    let head = &body[..body.len().min(96)];
    if (head.starts_with(r#"{"v":1,"t":"mutation","s":"#)
        || head.starts_with(r#"{"v":1,"t":"pointer","s":"#))
        && let (Some(s), Some(ts)) = (
            number_after(head, r#""s":"#),
            number_after(head, r#""ts":"#),
        )
    {
        return Incoming::Data { s, ts };
    }
    if head.contains(r#""t":"ended""#) || head.contains(r#""t":"error""#) {
        return Incoming::Problem(text);
    }
    Incoming::Other
}

fn number_after(hay: &str, key: &str) -> Option<u64> {
    let at = hay.find(key)? + key.len();
    let digits: &str = &hay[at..];
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let p = pad(1024);
        for proto in [Proto::Cobrowse, Proto::SocketIo] {
            for side in [Side::Customer, Side::Agent] {
                let m = encode(proto, side, 17, 123_456_789, &p);
                assert!((1000..1060).contains(&m.len()), "{}", m.len());
                assert_eq!(
                    decode(proto, &m),
                    Incoming::Data {
                        s: 17,
                        ts: 123_456_789
                    }
                );
            }
        }
        let m = encode(Proto::Cobrowse, Side::Customer, 1, 2, &p);
        let v: serde_json::Value = serde_json::from_str(&m).unwrap();
        assert_eq!(v["t"], "mutation");
        let m = encode(Proto::SocketIo, Side::Agent, 1, 2, &p);
        let v: serde_json::Value = serde_json::from_str(&m[2..]).unwrap();
        assert_eq!(v[1]["t"], "pointer");
    }

    #[test]
    fn server_frames() {
        assert_eq!(
            decode(
                Proto::Cobrowse,
                r#"{"v":1,"t":"presence","role":"agent","connected":true}"#
            ),
            Incoming::Other
        );
        assert!(matches!(
            decode(Proto::Cobrowse, r#"{"v":1,"t":"ended","reason":"x"}"#),
            Incoming::Problem(_)
        ));
        assert_eq!(decode(Proto::SocketIo, "2"), Incoming::Ping);
        assert!(matches!(decode(Proto::SocketIo, "1"), Incoming::Problem(_)));
        assert_eq!(decode(Proto::SocketIo, r#"430["ok"]"#), Incoming::Other);
    }

    #[test]
    fn tokens_are_hs256() {
        let t = jwt("secret", "bench-agent-1").unwrap();
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        v.set_required_spec_claims(&["exp", "sub", "aud"]);
        v.set_audience(&["cobrowse-agent"]);
        let d = jsonwebtoken::decode::<serde_json::Value>(
            &t,
            &jsonwebtoken::DecodingKey::from_secret(b"secret"),
            &v,
        )
        .unwrap();
        assert_eq!(d.claims["sub"], "bench-agent-1");
    }
}
