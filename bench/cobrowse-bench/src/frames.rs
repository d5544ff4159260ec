//! The client half of RFC 6455 the load generator needs, written out so that
//! the traffic loop (traffic.rs) costs the machine almost nothing beyond the
//! kernel's own work: a generic WebSocket client spent ~5 µs of user time per
//! message, CPU taken from the server it measures on the same two cores.
//!
//! Pure: bytes in, bytes out; the I/O is in wire.rs and traffic.rs.

use anyhow::{Result, bail};
use base64::Engine;

pub const TEXT: u8 = 0x1;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;

/// Largest frame accepted from a server: ample for the bench's own messages
/// and the servers' notices, and a bound on what a confused peer can make us buffer.
const MAX_PAYLOAD: u64 = 16 << 20;

/// The upgrade request; `key` is the 16 random bytes of `Sec-WebSocket-Key`.
pub fn upgrade_request(
    port: u16,
    path: &str,
    header: Option<(&str, &str)>,
    key: [u8; 16],
) -> String {
    let key = base64::engine::general_purpose::STANDARD.encode(key);
    let extra = header
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .unwrap_or_default();
    format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n{extra}\r\n"
    )
}

/// Where the response head ends in `buf` (the bytes after it are frames), or
/// None while it is incomplete.
pub fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Accepts a `101 Switching Protocols` head; any other answer fails with the
/// status line and what follows, the server's reason. `Sec-WebSocket-Accept`
/// is not verified: the bench talks only to servers it started itself.
pub fn check_response(head: &[u8]) -> Result<()> {
    let text = String::from_utf8_lossy(head);
    let status = text.lines().next().unwrap_or_default();
    if status.split(' ').nth(1) == Some("101") {
        return Ok(());
    }
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    bail!("WebSocket upgrade refused: {status} {}", body.trim())
}

/// Appends one masked client frame: FIN set, no extensions.
pub fn encode(opcode: u8, payload: &[u8], mask: [u8; 4], out: &mut Vec<u8>) {
    out.push(0x80 | opcode);
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= 0xFFFF {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&mask);
    let start = out.len();
    out.extend_from_slice(payload);
    for (i, b) in out[start..].iter_mut().enumerate() {
        *b ^= mask[i & 3];
    }
}

/// One frame from the server.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    pub opcode: u8,
    pub payload: &'a [u8],
}

/// The first complete frame in `buf` and the bytes it took, or None while it
/// is incomplete. Servers send whole, unmasked frames; anything else is an error.
pub fn parse(buf: &[u8]) -> Result<Option<(Frame<'_>, usize)>> {
    let [b0, b1, ..] = *buf else {
        return Ok(None);
    };
    if b0 & 0x80 == 0 || b0 & 0x0F == 0 {
        bail!("fragmented frame from the server (first byte {b0:#04x})");
    }
    if b1 & 0x80 != 0 {
        bail!("masked frame from the server");
    }
    let (len, at) = match b1 & 0x7F {
        126 if buf.len() >= 4 => (u64::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
        127 if buf.len() >= 10 => (u64::from_be_bytes(buf[2..10].try_into()?), 10),
        126 | 127 => return Ok(None),
        n => (u64::from(n), 2),
    };
    if len > MAX_PAYLOAD {
        bail!("frame of {len} bytes from the server (at most {MAX_PAYLOAD} here)");
    }
    let end = at + len as usize;
    if buf.len() < end {
        return Ok(None);
    }
    let frame = Frame {
        opcode: b0 & 0x0F,
        payload: &buf[at..end],
    };
    Ok(Some((frame, end)))
}

/// The code and reason of a close frame's payload, for reports.
pub fn close_reason(payload: &[u8]) -> String {
    match payload {
        [a, b, reason @ ..] => format!(
            "{} {}",
            u16::from_be_bytes([*a, *b]),
            String::from_utf8_lossy(reason)
        ),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a server does with a client frame: unmask it.
    fn unmask(frame: &[u8]) -> (u8, Vec<u8>) {
        let (len, at) = match frame[1] & 0x7F {
            126 => (u16::from_be_bytes([frame[2], frame[3]]) as usize, 4),
            127 => (
                u64::from_be_bytes(frame[2..10].try_into().unwrap()) as usize,
                10,
            ),
            n => (n as usize, 2),
        };
        assert_eq!(frame[1] & 0x80, 0x80, "client frames are masked");
        let mask = &frame[at..at + 4];
        let payload = frame[at + 4..]
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ mask[i % 4])
            .collect::<Vec<_>>();
        assert_eq!(payload.len(), len);
        (frame[0], payload)
    }

    #[test]
    fn client_frames_of_every_length_form_unmask_to_the_payload() {
        for len in [0, 5, 125, 126, 1000, 65_535, 65_536, 70_000] {
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut out = Vec::new();
            encode(TEXT, &payload, [1, 2, 3, 4], &mut out);
            assert_eq!(unmask(&out), (0x80 | TEXT, payload), "length {len}");
        }
    }

    #[test]
    fn server_frames_parse_once_complete() {
        let mut buf = vec![0x81, 126, 0x01, 0x00];
        buf.extend(std::iter::repeat_n(b'a', 256));
        buf.extend([0x89, 2, b'h', b'i']);
        for cut in [0, 1, 3, 4, 200, 259] {
            assert!(parse(&buf[..cut]).unwrap().is_none(), "cut at {cut}");
        }
        let (f, used) = parse(&buf).unwrap().unwrap();
        assert_eq!((f.opcode, f.payload.len(), used), (TEXT, 256, 260));
        let (f, used) = parse(&buf[260..]).unwrap().unwrap();
        assert_eq!((f.opcode, f.payload, used), (PING, &b"hi"[..], 4));
    }

    #[test]
    fn masked_fragmented_or_huge_server_frames_are_errors() {
        assert!(parse(&[0x81, 0x81, 0, 0, 0, 0, b'x']).is_err());
        assert!(parse(&[0x01, 1, b'x']).is_err());
        let mut huge = vec![0x82, 127];
        huge.extend((1u64 << 40).to_be_bytes());
        assert!(parse(&huge).is_err());
    }

    #[test]
    fn the_upgrade_answer_is_101_or_the_servers_reason() {
        let req = upgrade_request(
            8080,
            "/ws/customer?v=1",
            Some(("origin", "http://x")),
            [7; 16],
        );
        assert!(req.starts_with("GET /ws/customer?v=1 HTTP/1.1\r\n"));
        assert!(req.contains("\r\norigin: http://x\r\n") && req.ends_with("\r\n\r\n"));
        let ok = b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n\x81\x00";
        let end = head_end(ok).unwrap();
        assert_eq!(&ok[end..], b"\x81\x00");
        assert!(check_response(&ok[..end]).is_ok());
        let no = b"HTTP/1.1 403 Forbidden\r\ncontent-length: 14\r\n\r\norigin refused";
        let e = check_response(no).unwrap_err().to_string();
        assert!(
            e.contains("403 Forbidden") && e.contains("origin refused"),
            "{e}"
        );
        assert_eq!(close_reason(&[0x0F, 0xBD, b'b', b'y']), "4029 by");
    }
}
