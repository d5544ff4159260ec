//! The two wire protocols the load generator speaks: cobrowse's own (docs/protocol.md)
//! and Engine.IO v4 / Socket.IO v5 over a plain WebSocket.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::frames;

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

/// What the traffic loop makes of one incoming text frame.
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

/// An open client WebSocket while its session is being set up; traffic.rs
/// takes it over (`into_parts`) for the measured traffic.
pub struct Ws {
    tcp: TcpStream,
    /// Bytes read but not yet parsed into frames.
    input: Vec<u8>,
    mask: [u8; 4],
}

impl Ws {
    /// The socket, the bytes already read past the last frame handed out, and the masking key.
    pub fn into_parts(self) -> (TcpStream, Vec<u8>, [u8; 4]) {
        (self.tcp, self.input, self.mask)
    }

    async fn fill(&mut self) -> Result<()> {
        let mut chunk = [0u8; 4096];
        let n = self.tcp.read(&mut chunk).await?;
        if n == 0 {
            bail!("connection ended");
        }
        self.input.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    async fn send(&mut self, opcode: u8, payload: &[u8]) -> Result<()> {
        let mut out = Vec::with_capacity(payload.len() + 14);
        frames::encode(opcode, payload, self.mask, &mut out);
        Ok(self.tcp.write_all(&out).await?)
    }

    async fn send_text(&mut self, text: &str) -> Result<()> {
        self.send(frames::TEXT, text.as_bytes()).await
    }
}

async fn connect(port: u16, path: &str, header: Option<(&str, &str)>) -> Result<Ws> {
    let mut tcp = TcpStream::connect(("127.0.0.1", port))
        .await
        .context("TCP connect")?;
    tcp.set_nodelay(true)?;
    let key: [u8; 16] = rand::random();
    tcp.write_all(frames::upgrade_request(port, path, header, key).as_bytes())
        .await?;
    let mut ws = Ws {
        tcp,
        input: Vec::new(),
        mask: rand::random(),
    };
    let end = loop {
        if let Some(end) = frames::head_end(&ws.input) {
            break end;
        }
        ws.fill().await.context("WebSocket handshake")?;
    };
    if frames::check_response(&ws.input[..end]).is_err() {
        // A refusal's body says why: read what comes of it, briefly.
        let _ = tokio::time::timeout(Duration::from_millis(500), async {
            while ws.fill().await.is_ok() {}
        })
        .await;
        frames::check_response(&ws.input)?;
    }
    ws.input.drain(..end);
    Ok(ws)
}

/// Next text frame; a close or the end of the stream is an error that says why.
async fn next_text(ws: &mut Ws, what: &str) -> Result<String> {
    loop {
        let parsed =
            frames::parse(&ws.input).with_context(|| format!("while waiting for {what}"))?;
        let Some((frame, used)) = parsed else {
            ws.fill()
                .await
                .with_context(|| format!("while waiting for {what}"))?;
            continue;
        };
        let (opcode, payload) = (frame.opcode, frame.payload.to_vec());
        ws.input.drain(..used);
        match opcode {
            frames::TEXT => return Ok(String::from_utf8(payload)?),
            frames::CLOSE => bail!(
                "closed by the server while waiting for {what}: {}",
                frames::close_reason(&payload)
            ),
            frames::PING => ws.send(frames::PONG, &payload).await?,
            _ => continue,
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
    let header = Some(("origin", origin.as_str()));
    let mut customer = step(
        "customer",
        "connection",
        deadline,
        connect(customer_port, path, header),
    )
    .await?;
    let create = serde_json::json!({"v": 1, "t": "create", "url": format!("{origin}/demo/"), "title": "bench", "tab": "t1"});
    customer
        .send_text(&create.to_string())
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
    let bearer = format!("Bearer {token}");
    let header = Some(("authorization", bearer.as_str()));
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
    ws.send_text("40").await?;
    loop {
        let t = next_text(&mut ws, "the Socket.IO connect packet").await?;
        if t == "2" {
            ws.send_text("3").await?;
        } else if t.starts_with("40") {
            break;
        } else if t.starts_with("44") {
            bail!("Socket.IO connect refused: {t:.200}");
        }
    }
    ws.send_text(&format!(r#"420["join","{room}"]"#)).await?;
    loop {
        let t = next_text(&mut ws, "the join ack").await?;
        if t == "2" {
            ws.send_text("3").await?;
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
