//! Frames between nodes on a session's channel:
//! `[op][role or flags][kind][origin: 8][seq: 8][data…]`. Nineteen bytes of
//! envelope: the publishing node and its number for the publish (so that a
//! node knows its own publishes coming back), then the content as it came,
//! never parsed.

use std::time::Instant;

use axum::extract::ws::{Message, Utf8Bytes};
use bytes::Bytes;

use super::super::Out;
use crate::session::Role;

// Not 0–2, the ops of the envelope without a stamp: nodes of two versions
// sharing a Redis drop each other's frames instead of misreading them.
const RELAY: u8 = 4;
const NOTICE: u8 = 5;
const SYNC: u8 = 6;
const HELLO: u8 = 7;
const TEXT: u8 = 0;
const BINARY: u8 = 1;
const CLOSE: u8 = 2;

/// What one node tells the others about a session.
pub enum Frame {
    /// Page content or pointer frames for a party.
    Relay(Role, Out),
    /// A server notice for a party (every tab, for the customer).
    Notice(Role, Out),
    /// The relay checks every node holds: whether an agent is in, and write mode.
    Sync { active: bool, write: bool },
    /// A node listens on the channel from now on.
    Hello,
}

/// Who published a frame, and its number among that node's publishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub origin: u64,
    pub seq: u64,
}

const HEADER: usize = 19;

pub fn relay(stamp: Stamp, to: Role, out: &Out) -> Vec<u8> {
    encode(stamp, RELAY, to, out)
}

pub fn notice(stamp: Stamp, to: Role, out: &Out) -> Vec<u8> {
    encode(stamp, NOTICE, to, out)
}

pub fn sync(stamp: Stamp, active: bool, write: bool) -> Vec<u8> {
    header(
        stamp,
        [SYNC, u8::from(active) | (u8::from(write) << 1), 0],
        0,
    )
}

pub fn hello(stamp: Stamp) -> Vec<u8> {
    header(stamp, [HELLO, 0, 0], 0)
}

/// The envelope, with room for `len` bytes of content after it.
fn header(stamp: Stamp, head: [u8; 3], len: usize) -> Vec<u8> {
    let mut frame = Vec::with_capacity(HEADER + len);
    frame.extend_from_slice(&head);
    frame.extend_from_slice(&stamp.origin.to_be_bytes());
    frame.extend_from_slice(&stamp.seq.to_be_bytes());
    frame
}

fn encode(stamp: Stamp, op: u8, role: Role, out: &Out) -> Vec<u8> {
    let (kind, data): (u8, Vec<u8>) = match out {
        Out::Frame(Message::Text(t), _) => (TEXT, t.as_bytes().to_vec()),
        Out::Frame(Message::Binary(b), _) => (BINARY, b.to_vec()),
        Out::Frame(_, _) => (TEXT, Vec::new()),
        Out::Close(code, reason) => {
            let mut d = code.to_be_bytes().to_vec();
            d.extend_from_slice(reason.as_bytes());
            (CLOSE, d)
        }
    };
    let role = match role {
        Role::Customer => 0,
        Role::Agent => 1,
    };
    let mut frame = header(stamp, [op, role, kind], data.len());
    frame.extend_from_slice(&data);
    frame
}

/// `None` for anything malformed (it is dropped).
pub fn decode(payload: &[u8]) -> Option<(Stamp, Frame)> {
    let [op, role_or_flags, kind, rest @ ..] = payload else {
        return None;
    };
    let (origin, rest) = rest.split_first_chunk::<8>()?;
    let (seq, data) = rest.split_first_chunk::<8>()?;
    let stamp = Stamp {
        origin: u64::from_be_bytes(*origin),
        seq: u64::from_be_bytes(*seq),
    };
    let role = if *role_or_flags == 1 {
        Role::Agent
    } else {
        Role::Customer
    };
    let frame = match *op {
        RELAY => Frame::Relay(role, decode_out(*kind, data)?),
        NOTICE => Frame::Notice(role, decode_out(*kind, data)?),
        SYNC => Frame::Sync {
            active: role_or_flags & 1 != 0,
            write: role_or_flags & 2 != 0,
        },
        HELLO => Frame::Hello,
        _ => return None,
    };
    Some((stamp, frame))
}

fn decode_out(kind: u8, data: &[u8]) -> Option<Out> {
    let now = Instant::now();
    match kind {
        TEXT => Utf8Bytes::try_from(Bytes::copy_from_slice(data))
            .ok()
            .map(|t| Out::Frame(Message::Text(t), now)),
        BINARY => Some(Out::Frame(
            Message::Binary(Bytes::copy_from_slice(data)),
            now,
        )),
        CLOSE if data.len() >= 2 => {
            let reason = String::from_utf8_lossy(&data[2..]).into_owned();
            Some(Out::Close(
                u16::from_be_bytes([data[0], data[1]]),
                reason.into(),
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_come_back_as_they_were_sent() {
        let stamp = Stamp {
            origin: 0x0102_0304_0506_0708,
            seq: 42,
        };
        let Some((back, Frame::Relay(Role::Agent, Out::Frame(Message::Text(t), _)))) = decode(
            &relay(stamp, Role::Agent, &Out::text("{\"t\":\"mutation\"}")),
        ) else {
            panic!("not a relayed text frame");
        };
        assert_eq!(back, stamp);
        assert_eq!(t.as_str(), "{\"t\":\"mutation\"}");
        let Some((_, Frame::Notice(Role::Customer, Out::Close(4000, reason)))) = decode(&notice(
            stamp,
            Role::Customer,
            &Out::Close(4000, "ended".into()),
        )) else {
            panic!("not a close notice");
        };
        assert_eq!(reason.as_str(), "ended");
        assert!(matches!(
            decode(&sync(stamp, true, false)),
            Some((
                _,
                Frame::Sync {
                    active: true,
                    write: false
                }
            ))
        ));
        assert!(matches!(decode(&hello(stamp)), Some((s, Frame::Hello)) if s == stamp));
        assert!(decode(&[RELAY, 0]).is_none());
        assert!(
            decode(&[RELAY, 0, TEXT, 1, 2, 3]).is_none(),
            "a short stamp"
        );
    }
}
