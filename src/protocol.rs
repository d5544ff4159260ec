//! The wire protocol between the browsers and the server (docs/protocol.md).
//!
//! The server reads only the envelope of a frame — version, type, sequence —
//! and relays page content byte for byte. Only control messages (create,
//! resume, exit, control answers, page changes) are parsed further.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::domain::rule_set::Rules;
use crate::session::{
    ControlOutcome, EndReason, Mode, Page, Refusal, Role, Session, SessionId, State,
};

pub const VERSION: u32 = 1;

/// Length of a binary frame's header: version, kind, sequence (big-endian u32).
pub const BINARY_HEADER: usize = 6;
/// Binary kinds the customer may send: compressed snapshot chunks and canvas images.
pub const BINARY_KINDS: [u8; 2] = [1, 2];

/// WebSocket close codes, each with its reason text.
pub mod close {
    pub const ENDED: u16 = 4000;
    pub const UNAUTHORIZED: u16 = 4001;
    pub const NO_SUCH_SESSION: u16 = 4004;
    pub const CONFLICT: u16 = 4009;
    pub const RATE_LIMITED: u16 = 4029;
    pub const PROTOCOL: u16 = 4400;
    pub const SHUTDOWN: u16 = 1001;
    pub const TOO_BIG: u16 = 1009;
}

/// The envelope every text frame carries.
#[derive(Debug, Deserialize)]
pub struct Envelope<'a> {
    pub v: u32,
    #[serde(borrow)]
    pub t: Cow<'a, str>,
    #[serde(default)]
    pub s: Option<u64>,
}

/// What the server does with a frame, decided from the sender's role and type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// First customer message: start a session.
    Create,
    /// First customer message on a reconnect or a new page: prove the token.
    Resume,
    /// The customer's page changed (recorded, and relayed to the agent).
    Page,
    /// This tab is now the one the customer uses.
    Tab,
    Exit,
    InteractionEnd,
    ControlGrant,
    ControlDeny,
    ControlRevoke,
    RequestControl,
    /// Application-level keepalive; answered, not counted as activity.
    Ping,
    /// Page content and presence, customer → agent, once an agent is in.
    Content,
    /// Both directions, once an agent is in: pointers, pointer-mode clicks, resync asks.
    Relay,
    /// Agent actions on the customer's page: relayed in write mode only.
    Input,
}

/// Page content the customer sends, relayed once an agent is in.
pub const CUSTOMER_CONTENT: &[&str] = &[
    "snapshot",
    "mutation",
    "input",
    "scroll",
    "viewport",
    "focus",
    "hover",
    "style",
    "canvas",
    "media",
    "selection",
    "notice",
    "applied",
    "pointer",
];
pub const AGENT_RELAY: &[&str] = &["pointer", "mark", "resync"];
pub const AGENT_INPUT: &[&str] = &[
    "click", "dblclick", "down", "move", "up", "key", "type", "select", "check", "set", "scroll",
    "navigate",
];

pub fn classify(role: Role, t: &str) -> Option<Kind> {
    let common = match t {
        "exit" => Some(Kind::Exit),
        "ping" => Some(Kind::Ping),
        _ => None,
    };
    common.or(match role {
        Role::Customer => match t {
            "create" => Some(Kind::Create),
            "resume" => Some(Kind::Resume),
            "page" => Some(Kind::Page),
            "tab" => Some(Kind::Tab),
            "interaction_end" => Some(Kind::InteractionEnd),
            "control_grant" => Some(Kind::ControlGrant),
            "control_deny" => Some(Kind::ControlDeny),
            "control_revoke" => Some(Kind::ControlRevoke),
            _ if CUSTOMER_CONTENT.contains(&t) => Some(Kind::Content),
            _ => None,
        },
        Role::Agent => match t {
            "request_control" => Some(Kind::RequestControl),
            _ if AGENT_RELAY.contains(&t) => Some(Kind::Relay),
            _ if AGENT_INPUT.contains(&t) => Some(Kind::Input),
            _ => None,
        },
    })
}

/// A frame the server could not accept, with the code and words it sends back.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("not a JSON message with v, t and s: {0}")]
    Malformed(String),
    #[error("protocol version {0} is not supported (this server speaks {VERSION})")]
    WrongVersion(u32),
    #[error("unknown message type {0:?} for the {1}")]
    UnknownType(String, &'static str),
    #[error("{0}")]
    NotAllowed(String),
    #[error("binary frame: {0}")]
    BadBinary(&'static str),
}

impl ProtocolError {
    pub fn code(&self) -> &'static str {
        match self {
            ProtocolError::Malformed(_) => "malformed",
            ProtocolError::WrongVersion(_) => "wrong_version",
            ProtocolError::UnknownType(..) => "unknown_type",
            ProtocolError::NotAllowed(_) => "not_allowed",
            ProtocolError::BadBinary(_) => "malformed",
        }
    }
}

/// Reads the envelope of a text frame and says what kind of message it is.
pub fn parse_text(role: Role, text: &str) -> Result<(Kind, Envelope<'_>), ProtocolError> {
    let env: Envelope =
        serde_json::from_str(text).map_err(|e| ProtocolError::Malformed(e.to_string()))?;
    if env.v != VERSION {
        return Err(ProtocolError::WrongVersion(env.v));
    }
    let kind = classify(role, &env.t)
        .ok_or_else(|| ProtocolError::UnknownType(env.t.to_string(), role.as_str()))?;
    Ok((kind, env))
}

/// Checks the header of a binary frame (customer → agent content only).
pub fn parse_binary(role: Role, frame: &[u8]) -> Result<u32, ProtocolError> {
    if role != Role::Customer {
        return Err(ProtocolError::NotAllowed(
            "only the customer sends binary frames".into(),
        ));
    }
    if frame.len() < BINARY_HEADER {
        return Err(ProtocolError::BadBinary("shorter than its 6-byte header"));
    }
    if u32::from(frame[0]) != VERSION {
        return Err(ProtocolError::WrongVersion(u32::from(frame[0])));
    }
    if !BINARY_KINDS.contains(&frame[1]) {
        return Err(ProtocolError::BadBinary("unknown kind"));
    }
    Ok(u32::from_be_bytes([frame[2], frame[3], frame[4], frame[5]]))
}

/// `create`: the customer script starts a session.
#[derive(Debug, Deserialize)]
pub struct CreateMsg {
    #[serde(flatten)]
    pub page: PageMsg,
    #[serde(default)]
    pub interaction: Option<InteractionMsg>,
}

/// `create`'s `interaction`: the chat or call, with the site backend's signature
/// where the site signs them (see `interactions.rs`).
#[derive(Debug, Deserialize)]
pub struct InteractionMsg {
    pub id: String,
    #[serde(default)]
    pub channel: String,
    #[serde(default)]
    pub expires: Option<u64>,
    #[serde(default)]
    pub signature: Option<String>,
}

/// `resume`: the same customer on a new page, a reload or another tab.
#[derive(Debug, Deserialize)]
pub struct ResumeMsg {
    pub id: SessionId,
    pub token: String,
    #[serde(flatten)]
    pub page: PageMsg,
}

/// `page` (and part of `create` and `resume`): the customer's URL and title.
#[derive(Debug, Deserialize)]
pub struct PageMsg {
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub title: String,
}

impl PageMsg {
    /// Cut to size, so history rows stay small.
    pub fn into_page(self) -> Page {
        Page {
            url: truncate(self.url, 2048),
            title: truncate(self.title, 512),
        }
    }
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

/// Messages the server itself sends. Each carries `v` and `t`.
#[derive(Debug, Serialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum ServerMsg<'a> {
    /// Where the session stands; sent on connect and after a resume.
    Session {
        id: SessionId,
        spaced: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        token: Option<&'a str>,
        state: State,
        mode: Mode,
        agent: Option<&'a str>,
        page: &'a Page,
        customer_connected: bool,
        agent_connected: bool,
        control_pending: bool,
        /// DOM restrictions for the customer's page (customer only).
        #[serde(skip_serializing_if = "Option::is_none")]
        rules: Option<&'a Rules>,
        /// Origins write-mode navigation may go to (customer only): the
        /// configured sites and this server; the page's own is always fine.
        #[serde(skip_serializing_if = "Option::is_none")]
        origins: Option<&'a [String]>,
    },
    /// To the customer, answering `page`: the DOM restrictions of that URL (the
    /// `url` as the customer sent it). Until they come the script sends nothing
    /// of the new URL.
    Rules {
        url: &'a str,
        rules: &'a Rules,
    },
    /// To the customer: an agent is in (again); send a full snapshot now.
    Joined {
        agent: &'a str,
        reconnect: bool,
    },
    /// To the customer: the agent needs a fresh snapshot.
    Resync,
    /// To a customer tab: another tab is shown now; stop capturing until `resync`.
    Paused,
    /// To the other party: a connection dropped or came back.
    Presence {
        role: Role,
        connected: bool,
    },
    /// Write-mode request and its answers, to both.
    Control {
        state: ControlOutcome,
        expires_in_ms: Option<u64>,
    },
    /// The current mode, to both, whenever it changes.
    Mode {
        mode: Mode,
        cause: ControlOutcome,
    },
    Ended {
        reason: EndReason,
        message: &'static str,
        /// With `inactivity`: the timeout that ran out, so that the customer
        /// can be told how long ("after 10 minutes of inactivity").
        #[serde(skip_serializing_if = "Option::is_none")]
        after_ms: Option<u64>,
    },
    Error {
        code: &'a str,
        message: &'a str,
    },
    /// The service behind this node went away (Redis) or came back.
    Service {
        available: bool,
        message: &'a str,
    },
    Pong,
}

impl<'a> ServerMsg<'a> {
    /// Where a session stands, for a party that just connected.
    pub fn session(s: &'a Session, token: Option<&'a str>) -> Self {
        ServerMsg::Session {
            id: s.id,
            spaced: s.id.spaced(),
            token,
            state: s.state,
            mode: s.mode,
            agent: s.agent.as_deref(),
            page: &s.page,
            customer_connected: s.customer_connections > 0,
            agent_connected: s.agent_connected(),
            control_pending: s.control_pending_since.is_some(),
            rules: None,
            origins: None,
        }
    }

    /// What only the customer's script is told: its page's DOM restrictions
    /// and where the agent may send it.
    pub fn for_site(mut self, site_rules: &'a Rules, site_origins: &'a [String]) -> Self {
        if let ServerMsg::Session { rules, origins, .. } = &mut self {
            *rules = Some(site_rules);
            *origins = Some(site_origins);
        }
        self
    }

    pub fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct Framed<'b, 'c> {
            v: u32,
            #[serde(flatten)]
            msg: &'b ServerMsg<'c>,
        }
        serde_json::to_string(&Framed {
            v: VERSION,
            msg: self,
        })
        .expect("server messages always serialize")
    }
}

/// Plain words for each end reason, as both parties see them.
pub fn end_message(reason: EndReason) -> &'static str {
    match reason {
        EndReason::CustomerExit => "The customer ended the session.",
        EndReason::AgentExit => "The agent left the session.",
        EndReason::InteractionEnded => "The chat or call this session belonged to has ended.",
        EndReason::Inactivity => "The session timed out after a period of inactivity.",
        EndReason::AgentGone => "The agent's connection was lost and did not come back.",
        EndReason::CustomerGone => "The customer's page was closed and did not come back.",
        EndReason::JoinTimeout => "No agent joined the session in time.",
        EndReason::EndedByApi => "The session was ended by the contact center.",
        EndReason::ServerShutdown => "The co-browse server shut down.",
    }
}

/// The close code that goes with a refused join.
pub fn refusal_close_code(r: Refusal) -> u16 {
    match r {
        Refusal::NoSuchSession => close::NO_SUCH_SESSION,
        Refusal::SessionHasAgent | Refusal::AgentInOtherSession => close::CONFLICT,
        _ => close::PROTOCOL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_is_read_without_the_payload() {
        let big = format!(
            r#"{{"v":1,"t":"mutation","s":7,"d":{{"adds":[{}]}}}}"#,
            "1,".repeat(1000) + "1"
        );
        let (kind, env) = parse_text(Role::Customer, &big).unwrap();
        assert_eq!((kind, env.s), (Kind::Content, Some(7)));
    }

    #[test]
    fn roles_have_their_own_vocabulary() {
        assert_eq!(classify(Role::Agent, "click"), Some(Kind::Input));
        assert_eq!(classify(Role::Customer, "click"), None);
        assert_eq!(classify(Role::Agent, "snapshot"), None);
        assert_eq!(classify(Role::Agent, "create"), None);
        assert_eq!(classify(Role::Customer, "scroll"), Some(Kind::Content));
        assert_eq!(classify(Role::Agent, "scroll"), Some(Kind::Input));
        assert_eq!(classify(Role::Agent, "mark"), Some(Kind::Relay));
    }

    #[test]
    fn bad_frames_get_precise_errors() {
        assert_eq!(
            parse_text(Role::Customer, "nope").unwrap_err().code(),
            "malformed"
        );
        assert_eq!(
            parse_text(Role::Customer, r#"{"v":2,"t":"page"}"#).unwrap_err(),
            ProtocolError::WrongVersion(2)
        );
        assert_eq!(
            parse_text(Role::Agent, r#"{"v":1,"t":"frobnicate"}"#)
                .unwrap_err()
                .code(),
            "unknown_type"
        );
        assert!(parse_binary(Role::Agent, &[1, 1, 0, 0, 0, 1]).is_err());
        assert!(parse_binary(Role::Customer, &[1, 1, 0]).is_err());
        assert!(parse_binary(Role::Customer, &[1, 9, 0, 0, 0, 1]).is_err());
        assert_eq!(
            parse_binary(Role::Customer, &[1, 1, 0, 0, 1, 0, 42]).unwrap(),
            256
        );
    }

    #[test]
    fn server_messages_carry_version_and_type() {
        let json = ServerMsg::Ended {
            reason: EndReason::AgentExit,
            message: "x",
            after_ms: None,
        }
        .to_json();
        assert_eq!(
            json,
            r#"{"v":1,"t":"ended","reason":"agent_exit","message":"x"}"#
        );
        let json = ServerMsg::Ended {
            reason: EndReason::Inactivity,
            message: "x",
            after_ms: Some(600_000),
        }
        .to_json();
        assert_eq!(
            json,
            r#"{"v":1,"t":"ended","reason":"inactivity","message":"x","after_ms":600000}"#
        );
    }

    #[test]
    fn rules_answer_a_page_with_its_url() {
        let rules = Rules {
            mask: vec![".secret".into()],
            ..Rules::default()
        };
        let json = ServerMsg::Rules {
            url: "https://shop.example/spa/checkout",
            rules: &rules,
        }
        .to_json();
        assert_eq!(
            json,
            r#"{"v":1,"t":"rules","url":"https://shop.example/spa/checkout","rules":{"mask":[".secret"],"disable":[],"block":[]}}"#
        );
    }

    #[test]
    fn long_page_fields_are_cut_on_a_char_boundary() {
        let p = PageMsg {
            url: "é".repeat(2000),
            title: "t".into(),
        }
        .into_page();
        assert!(p.url.len() <= 2048 && p.url.chars().all(|c| c == 'é'));
    }
}
