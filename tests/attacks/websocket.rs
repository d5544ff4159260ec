//! A client writing WebSocket frames by hand. One negotiates compression (permessage-deflate)
//! and sends a small frame that inflates to far more than a message may hold: the server stops
//! inflating at the limit and closes with 1009, as it does for a large frame sent plainly.
//! Others check the close: a client answering the server's close gets no second close, and
//! nothing the other party sends reaches a connection after its close (a browser fails the
//! connection on either, and the reason for the close is lost).

use std::io::Write;
use std::time::Duration;

use flate2::Compression;
use flate2::write::DeflateEncoder;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use serde_json::json;

use crate::common::start;

/// A compressed, masked client text frame (RFC 7692: deflate, sync flush, the trailing
/// `00 00 ff ff` removed).
fn compressed_frame(text: &[u8]) -> Vec<u8> {
    let mut z = DeflateEncoder::new(Vec::new(), Compression::best());
    z.write_all(text).unwrap();
    z.flush().unwrap();
    let mut payload = z.get_ref().clone();
    assert!(payload.ends_with(&[0, 0, 0xff, 0xff]));
    payload.truncate(payload.len() - 4);
    let mask = [7u8, 1, 9, 3];
    let mut frame = vec![0xC1]; // FIN, RSV1 (compressed), text
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n if n < 65536 => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// Reads one unfragmented server frame: its opcode and payload.
async fn read_frame(tcp: &mut TcpStream) -> (u8, Vec<u8>) {
    next_frame(tcp).await.expect("a frame")
}

/// The next server frame, or `None` once the connection has ended.
async fn next_frame(tcp: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut head = [0u8; 2];
    tcp.read_exact(&mut head).await.ok()?;
    let len = match head[1] & 0x7f {
        126 => u64::from(tcp.read_u16().await.ok()?),
        127 => tcp.read_u64().await.ok()?,
        n => u64::from(n),
    };
    let mut payload = vec![0; len as usize];
    tcp.read_exact(&mut payload).await.ok()?;
    Some((head[0] & 0x0f, payload))
}

/// A customer connection opened by hand: the stream and the server's answer (lowercase).
async fn open(srv: &crate::common::TestServer, compress: bool) -> (TcpStream, String) {
    let mut tcp = TcpStream::connect(&srv.host).await.unwrap();
    let extensions = if compress {
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    } else {
        ""
    };
    let request = format!(
        "GET /ws/customer?v=1 HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\n\
         Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extensions}\r\n",
        host = srv.host,
        origin = srv.url,
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    while !response.ends_with(b"\r\n\r\n") {
        response.push(tcp.read_u8().await.unwrap());
    }
    let response = String::from_utf8(response).unwrap().to_ascii_lowercase();
    assert!(response.starts_with("http/1.1 101"), "{response}");
    (tcp, response)
}

/// A masked client frame, FIN set.
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mask = [3u8, 5, 7, 11];
    let mut frame = vec![0x80 | opcode, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

#[tokio::test]
async fn a_close_answered_is_not_closed_again() {
    let srv = start(|_| {}).await;
    let (mut tcp, _) = open(&srv, false).await;
    // The customer starts a session and leaves it: the server says why, then closes.
    let create = br#"{"v":1,"t":"create","url":"https://shop.example/","title":"Shop"}"#;
    tcp.write_all(&client_frame(1, create)).await.unwrap();
    assert_eq!(read_frame(&mut tcp).await.0, 1, "the session");
    tcp.write_all(&client_frame(1, br#"{"v":1,"t":"exit"}"#))
        .await
        .unwrap();
    let mut got = vec![];
    loop {
        let (op, payload) = read_frame(&mut tcp).await;
        got.push(op);
        if op == 8 {
            // The client answers with its own close, as a browser does.
            tcp.write_all(&client_frame(8, &payload[..2]))
                .await
                .unwrap();
            break;
        }
    }
    let mut rest = vec![];
    let read = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the server ends the connection");
    assert_eq!(got.last(), Some(&8), "closed: {got:?}");
    assert!(
        rest.is_empty(),
        "nothing after the close handshake: {rest:?}"
    );
    srv.stop().await;
}

#[tokio::test]
async fn a_compressed_frame_inflating_past_the_limit_is_refused() {
    let srv = start(|_| {}).await;
    let (mut tcp, response) = open(&srv, true).await;
    assert!(
        response.contains("permessage-deflate"),
        "compression agreed: {response}"
    );

    // A compressed message is read like any other: the session is created.
    let create = br#"{"v":1,"t":"create","url":"https://shop.example/","title":"Shop"}"#;
    tcp.write_all(&compressed_frame(create)).await.unwrap();
    let (op, hello) = read_frame(&mut tcp).await;
    let hello: serde_json::Value = serde_json::from_slice(&hello).unwrap();
    assert_eq!((op, hello["t"].as_str()), (1, Some("session")), "{hello}");

    // 64 MB of the same byte: a few tens of KB compressed.
    let limit = srv.app().config.limits.max_message_bytes;
    let mut bomb = br#"{"v":1,"t":"mutation","s":1,"x":""#.to_vec();
    bomb.resize(64 << 20, b'a');
    bomb.extend_from_slice(br#""}"#);
    let frame = compressed_frame(&bomb);
    assert!(
        frame.len() < limit,
        "the frame on the wire is small: {}",
        frame.len()
    );
    tcp.write_all(&frame).await.unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let (op, payload) = read_frame(&mut tcp).await;
            if op == 8 {
                return u16::from_be_bytes([payload[0], payload[1]]);
            }
        }
    })
    .await
    .expect("the server closes the connection");
    assert_eq!(closed, 1009, "closed as too big");
    srv.stop().await;
}

#[tokio::test]
async fn nothing_follows_a_close_while_the_agent_keeps_pointing() {
    let srv = start(|_| {}).await;
    let (mut tcp, _) = open(&srv, false).await;
    let create = br#"{"v":1,"t":"create","url":"https://shop.example/","title":"Shop"}"#;
    tcp.write_all(&client_frame(1, create)).await.unwrap();
    let (_, hello) = read_frame(&mut tcp).await;
    let hello: serde_json::Value = serde_json::from_slice(&hello).unwrap();
    let mut agent = srv.agent(hello["id"].as_str().unwrap(), "alice").await;
    agent.expect("session").await;
    // The agent's pointer, relayed by the agent's connection straight into the customer's.
    let pointing = tokio::spawn(async move {
        for n in 0..2000 {
            agent
                .send(json!({"t": "pointer", "x": n % 500, "y": 10}))
                .await;
            if n % 50 == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        agent
    });
    tokio::time::sleep(Duration::from_millis(30)).await;
    // The customer breaks the protocol: the server explains, closes, and waits for its answer.
    tcp.write_all(&client_frame(1, b"not json")).await.unwrap();
    let mut after_close = vec![];
    let mut closed = None;
    let _ = tokio::time::timeout(Duration::from_secs(4), async {
        while let Some((op, payload)) = next_frame(&mut tcp).await {
            match closed {
                Some(_) => after_close.push(op),
                None if op == 8 => closed = Some(u16::from_be_bytes([payload[0], payload[1]])),
                None => {}
            }
        }
    })
    .await;
    assert_eq!(closed, Some(4400), "closed for the protocol error");
    assert!(
        after_close.is_empty(),
        "frames after the close: {after_close:?}"
    );
    drop(pointing.await.unwrap());
    srv.stop().await;
}
