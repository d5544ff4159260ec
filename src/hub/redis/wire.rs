//! Frames between nodes on a session's channel: `[op][role or flags][kind][data…]`.
//! Three bytes of envelope; the content is carried as it came, never parsed.

use std::time::Instant;

use axum::extract::ws::{Message, Utf8Bytes};
use bytes::Bytes;

use super::super::Out;
use crate::session::Role;

const RELAY: u8 = 0;
const NOTICE: u8 = 1;
const SYNC: u8 = 2;
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
}

pub fn relay(to: Role, out: &Out) -> Vec<u8> {
    encode(RELAY, to, out)
}

pub fn notice(to: Role, out: &Out) -> Vec<u8> {
    encode(NOTICE, to, out)
}

pub fn sync(active: bool, write: bool) -> Vec<u8> {
    vec![SYNC, u8::from(active) | (u8::from(write) << 1), 0]
}

fn encode(op: u8, role: Role, out: &Out) -> Vec<u8> {
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
    let mut frame = Vec::with_capacity(3 + data.len());
    frame.extend_from_slice(&[op, role, kind]);
    frame.extend_from_slice(&data);
    frame
}

/// `None` for anything malformed (it is dropped).
pub fn decode(payload: &[u8]) -> Option<Frame> {
    let [op, role_or_flags, kind, data @ ..] = payload else {
        return None;
    };
    let role = if *role_or_flags == 1 {
        Role::Agent
    } else {
        Role::Customer
    };
    match *op {
        RELAY => Some(Frame::Relay(role, decode_out(*kind, data)?)),
        NOTICE => Some(Frame::Notice(role, decode_out(*kind, data)?)),
        SYNC => Some(Frame::Sync {
            active: role_or_flags & 1 != 0,
            write: role_or_flags & 2 != 0,
        }),
        _ => None,
    }
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
        let Some(Frame::Relay(Role::Agent, Out::Frame(Message::Text(t), _))) =
            decode(&relay(Role::Agent, &Out::text("{\"t\":\"mutation\"}")))
        else {
            panic!("not a relayed text frame");
        };
        assert_eq!(t.as_str(), "{\"t\":\"mutation\"}");
        let Some(Frame::Notice(Role::Customer, Out::Close(4000, reason))) =
            decode(&notice(Role::Customer, &Out::Close(4000, "ended".into())))
        else {
            panic!("not a close notice");
        };
        assert_eq!(reason.as_str(), "ended");
        assert!(matches!(
            decode(&sync(true, false)),
            Some(Frame::Sync {
                active: true,
                write: false
            })
        ));
        assert!(decode(&[RELAY, 0]).is_none());
    }
}
