//! One session's life: idle → active → ended, its mode, and its timers.
//!
//! Pure: time arrives as `now` (milliseconds since the Unix epoch) and every
//! change is an [`Event`]; the answer is the list of [`Effect`]s the
//! surrounding code must carry out (tell a party, record history, fire a
//! webhook). The same code decides on one node or in a cluster.

use serde::{Deserialize, Serialize};

use super::SessionId;

/// Milliseconds since the Unix epoch.
pub type Millis = u64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Idle,
    Active,
    Ended,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Pointer,
    Write,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Customer,
    Agent,
}

impl Role {
    pub fn other(self) -> Role {
        match self {
            Role::Customer => Role::Agent,
            Role::Agent => Role::Customer,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Agent => "agent",
        }
    }
}

/// Why a session ended; recorded in history and told to both parties.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    CustomerExit,
    AgentExit,
    InteractionEnded,
    Inactivity,
    AgentGone,
    CustomerGone,
    JoinTimeout,
    EndedByApi,
    ServerShutdown,
}

impl EndReason {
    pub const ALL: [EndReason; 9] = [
        EndReason::CustomerExit,
        EndReason::AgentExit,
        EndReason::InteractionEnded,
        EndReason::Inactivity,
        EndReason::AgentGone,
        EndReason::CustomerGone,
        EndReason::JoinTimeout,
        EndReason::EndedByApi,
        EndReason::ServerShutdown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::CustomerExit => "customer_exit",
            EndReason::AgentExit => "agent_exit",
            EndReason::InteractionEnded => "interaction_ended",
            EndReason::Inactivity => "inactivity",
            EndReason::AgentGone => "agent_gone",
            EndReason::CustomerGone => "customer_gone",
            EndReason::JoinTimeout => "join_timeout",
            EndReason::EndedByApi => "ended_by_api",
            EndReason::ServerShutdown => "server_shutdown",
        }
    }

    pub fn parse(s: &str) -> Option<EndReason> {
        EndReason::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// What ended write mode or refused it, for history and for the two screens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlOutcome {
    Requested,
    Allowed,
    Denied,
    TimedOut,
    Revoked,
}

/// The configurable clocks of a session (docs/sessions.md, "Defaults").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeouts {
    pub join: Millis,
    pub inactivity: Millis,
    pub agent_grace: Millis,
    pub customer_grace: Millis,
    pub control_answer: Millis,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            join: 10 * 60_000,
            inactivity: 10 * 60_000,
            agent_grace: 60_000,
            customer_grace: 60_000,
            control_answer: 30_000,
        }
    }
}

/// The chat or call a session is bound to; ending it ends the session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Interaction {
    pub id: String,
    pub channel: String,
}

/// The customer's current page, as the customer script reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    pub url: String,
    pub title: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: SessionId,
    /// SHA-256 (hex) of the customer's secret token; the token itself is never kept.
    pub token_hash: String,
    pub state: State,
    pub mode: Mode,
    pub agent: Option<String>,
    pub interaction: Option<Interaction>,
    pub page: Page,
    pub created_at: Millis,
    pub activated_at: Option<Millis>,
    pub ended: Option<(Millis, EndReason)>,
    pub last_activity: Millis,
    /// Open customer connections (one per tab of the site).
    pub customer_connections: u32,
    pub customer_gone_since: Option<Millis>,
    /// Open agent connections: one, or two for a moment while a console reconnects.
    pub agent_connections: u32,
    pub agent_gone_since: Option<Millis>,
    pub control_pending_since: Option<Millis>,
    /// Fixed at creation, so every node that handles the session times it alike.
    pub timeouts: Timeouts,
    /// Pages recorded in the minute that began at `pages_since`: a page that
    /// changes its address in a loop must not fill the history.
    #[serde(default)]
    pub pages_recorded: u32,
    #[serde(default)]
    pub pages_since: Millis,
}

/// Tabs of the site one session may have open at once: a person has a few; a
/// script opening connections without end is refused past this.
pub const MAX_TABS: u32 = 16;

/// Page changes recorded in the history per session per minute; past this the
/// page is still followed, and the next minute records again.
pub const PAGES_PER_MINUTE: u32 = 30;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    CustomerConnected,
    CustomerDisconnected,
    AgentDisconnected,
    /// A message from either party: keeps the session from going inactive.
    Activity,
    Page(Page),
    Exit(Role),
    InteractionEnded,
    EndedByApi,
    Shutdown,
    RequestControl,
    GrantControl,
    DenyControl,
    RevokeControl,
    /// Time passed: fire whatever deadline is due.
    Tick,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// The first agent joined: the customer starts capturing.
    Activated {
        agent: String,
    },
    /// The session's agent came back within grace: the customer sends a fresh snapshot.
    AgentReconnected,
    /// A party's connection went away or came back (within grace).
    Presence {
        role: Role,
        connected: bool,
    },
    PageVisited(Page),
    Control(ControlOutcome),
    ModeChanged {
        mode: Mode,
        outcome: ControlOutcome,
    },
    Ended(EndReason),
}

/// Why the rules said no. Each has a precise message for the person refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no such session: check the nine digits with the customer")]
    NoSuchSession,
    #[error("this session already has an agent")]
    SessionHasAgent,
    #[error("you are already in another session: exit it first")]
    AgentInOtherSession,
    #[error("the session has no agent yet")]
    NotActive,
    #[error("write mode was already requested and awaits the customer's answer")]
    ControlAlreadyPending,
    #[error("the agent already has write mode")]
    AlreadyWriteMode,
    #[error("there is no write-mode request to answer")]
    NoControlPending,
    #[error("write mode is not on")]
    NotWriteMode,
    #[error("too many tabs share this session: close one")]
    TooManyTabs,
}

impl Refusal {
    /// A stable code for APIs, metrics and the agent console.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::NoSuchSession => "no_such_session",
            Refusal::SessionHasAgent => "session_has_agent",
            Refusal::AgentInOtherSession => "agent_in_other_session",
            Refusal::NotActive => "not_active",
            Refusal::ControlAlreadyPending => "control_pending",
            Refusal::AlreadyWriteMode => "already_write_mode",
            Refusal::NoControlPending => "no_control_pending",
            Refusal::NotWriteMode => "not_write_mode",
            Refusal::TooManyTabs => "too_many_tabs",
        }
    }
}

pub type Outcome = Result<Vec<Effect>, Refusal>;

impl Session {
    /// A session as the customer script creates it: idle, its one tab connected.
    pub fn new(
        id: SessionId,
        token_hash: String,
        interaction: Option<Interaction>,
        page: Page,
        timeouts: Timeouts,
        now: Millis,
    ) -> Self {
        Session {
            id,
            token_hash,
            state: State::Idle,
            mode: Mode::Pointer,
            agent: None,
            interaction,
            page,
            created_at: now,
            activated_at: None,
            ended: None,
            last_activity: now,
            customer_connections: 1,
            pages_recorded: 0,
            pages_since: now,
            customer_gone_since: None,
            agent_connections: 0,
            agent_gone_since: None,
            control_pending_since: None,
            timeouts,
        }
    }

    pub fn agent_connected(&self) -> bool {
        self.agent_connections > 0
    }

    pub fn is_live(&self) -> bool {
        self.state != State::Ended
    }

    /// An agent joins, or the session's own agent comes back. Whether the agent
    /// is busy elsewhere is the registry's question, asked before this one.
    pub fn join(&mut self, agent: &str, now: Millis) -> Outcome {
        match self.state {
            State::Ended => Err(Refusal::NoSuchSession),
            State::Active if self.agent.as_deref() == Some(agent) => {
                let was_gone = self.agent_connections == 0;
                self.agent_connections += 1;
                self.agent_gone_since = None;
                self.last_activity = now;
                let mut effects = vec![Effect::AgentReconnected];
                if was_gone {
                    effects.push(Effect::Presence {
                        role: Role::Agent,
                        connected: true,
                    });
                }
                Ok(effects)
            }
            State::Active => Err(Refusal::SessionHasAgent),
            State::Idle => {
                self.state = State::Active;
                self.agent = Some(agent.to_string());
                self.agent_connections = 1;
                self.activated_at = Some(now);
                self.last_activity = now;
                self.mode = Mode::Pointer;
                Ok(vec![Effect::Activated {
                    agent: agent.to_string(),
                }])
            }
        }
    }

    pub fn handle(&mut self, event: Event, now: Millis) -> Outcome {
        if self.state == State::Ended {
            return Err(Refusal::NoSuchSession);
        }
        match event {
            Event::CustomerConnected => {
                if self.customer_connections >= MAX_TABS {
                    return Err(Refusal::TooManyTabs);
                }
                self.customer_connections += 1;
                let came_back = self.customer_gone_since.take().is_some();
                Ok(if came_back && self.state == State::Active {
                    vec![Effect::Presence {
                        role: Role::Customer,
                        connected: true,
                    }]
                } else {
                    vec![]
                })
            }
            Event::CustomerDisconnected => {
                self.customer_connections = self.customer_connections.saturating_sub(1);
                if self.customer_connections == 0 {
                    self.customer_gone_since = Some(now);
                    if self.state == State::Active {
                        return Ok(vec![Effect::Presence {
                            role: Role::Customer,
                            connected: false,
                        }]);
                    }
                }
                Ok(vec![])
            }
            Event::AgentDisconnected => {
                if self.state != State::Active || self.agent_connections == 0 {
                    return Ok(vec![]);
                }
                self.agent_connections -= 1;
                if self.agent_connections > 0 {
                    return Ok(vec![]);
                }
                self.agent_gone_since = Some(now);
                Ok(vec![Effect::Presence {
                    role: Role::Agent,
                    connected: false,
                }])
            }
            Event::Activity => {
                self.last_activity = now;
                Ok(vec![])
            }
            Event::Page(page) => {
                self.last_activity = now;
                if page == self.page {
                    return Ok(vec![]);
                }
                self.page = page.clone();
                if now.saturating_sub(self.pages_since) >= 60_000 {
                    (self.pages_since, self.pages_recorded) = (now, 0);
                }
                if self.pages_recorded >= PAGES_PER_MINUTE {
                    return Ok(vec![]);
                }
                self.pages_recorded += 1;
                Ok(vec![Effect::PageVisited(page)])
            }
            Event::Exit(Role::Customer) => Ok(self.end(EndReason::CustomerExit, now)),
            Event::Exit(Role::Agent) => {
                if self.state != State::Active {
                    return Err(Refusal::NotActive);
                }
                Ok(self.end(EndReason::AgentExit, now))
            }
            Event::InteractionEnded => Ok(self.end(EndReason::InteractionEnded, now)),
            Event::EndedByApi => Ok(self.end(EndReason::EndedByApi, now)),
            Event::Shutdown => Ok(self.end(EndReason::ServerShutdown, now)),
            Event::RequestControl => {
                if self.state != State::Active {
                    return Err(Refusal::NotActive);
                }
                if self.mode == Mode::Write {
                    return Err(Refusal::AlreadyWriteMode);
                }
                if self.control_pending_since.is_some() {
                    return Err(Refusal::ControlAlreadyPending);
                }
                self.control_pending_since = Some(now);
                self.last_activity = now;
                Ok(vec![Effect::Control(ControlOutcome::Requested)])
            }
            Event::GrantControl => {
                self.control_pending_since
                    .take()
                    .ok_or(Refusal::NoControlPending)?;
                self.mode = Mode::Write;
                self.last_activity = now;
                Ok(vec![Effect::ModeChanged {
                    mode: Mode::Write,
                    outcome: ControlOutcome::Allowed,
                }])
            }
            Event::DenyControl => {
                self.control_pending_since
                    .take()
                    .ok_or(Refusal::NoControlPending)?;
                self.last_activity = now;
                Ok(vec![Effect::Control(ControlOutcome::Denied)])
            }
            Event::RevokeControl => {
                if self.mode != Mode::Write {
                    return Err(Refusal::NotWriteMode);
                }
                self.mode = Mode::Pointer;
                self.last_activity = now;
                Ok(vec![Effect::ModeChanged {
                    mode: Mode::Pointer,
                    outcome: ControlOutcome::Revoked,
                }])
            }
            Event::Tick => Ok(self.tick(now)),
        }
    }

    /// The earliest moment something will happen to this session by itself.
    pub fn next_deadline(&self) -> Option<Millis> {
        let t = &self.timeouts;
        if self.state == State::Ended {
            return None;
        }
        let mut deadlines = Vec::with_capacity(5);
        if let Some(since) = self.customer_gone_since {
            deadlines.push(since + t.customer_grace);
        }
        match self.state {
            State::Idle => deadlines.push(self.created_at + t.join),
            State::Active => {
                deadlines.push(self.last_activity + t.inactivity);
                if let Some(since) = self.agent_gone_since {
                    deadlines.push(since + t.agent_grace);
                }
                if let Some(since) = self.control_pending_since {
                    deadlines.push(since + t.control_answer);
                }
            }
            State::Ended => {}
        }
        deadlines.into_iter().min()
    }

    /// Timeouts are checked in order of what the parties would want explained:
    /// someone left, before nobody joined, before nothing happened.
    fn tick(&mut self, now: Millis) -> Vec<Effect> {
        let t = self.timeouts;
        let due = |since: Option<Millis>, after: Millis| since.is_some_and(|s| now >= s + after);
        if due(self.customer_gone_since, t.customer_grace) {
            return self.end(EndReason::CustomerGone, now);
        }
        match self.state {
            State::Idle if now >= self.created_at + t.join => self.end(EndReason::JoinTimeout, now),
            State::Active if due(self.agent_gone_since, t.agent_grace) => {
                self.end(EndReason::AgentGone, now)
            }
            State::Active if now >= self.last_activity + t.inactivity => {
                self.end(EndReason::Inactivity, now)
            }
            State::Active if due(self.control_pending_since, t.control_answer) => {
                self.control_pending_since = None;
                vec![Effect::Control(ControlOutcome::TimedOut)]
            }
            _ => vec![],
        }
    }

    fn end(&mut self, reason: EndReason, now: Millis) -> Vec<Effect> {
        self.state = State::Ended;
        self.ended = Some((now, reason));
        self.control_pending_since = None;
        self.mode = Mode::Pointer;
        vec![Effect::Ended(reason)]
    }
}
