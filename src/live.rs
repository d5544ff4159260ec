//! Carries out what the session rules decide: tells the parties, records
//! history, fires webhooks, counts. The hub decides nothing; the rules do.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::audit::Auditor;
use crate::clock::now_ms;
use crate::domain::audit::{self, Content, checkpoint};
use crate::domain::session_history::HistoryEvent;
use crate::history::Recorder;
use crate::hub::{Changed, FrameRouting, HubError, Out, SessionState, Tombstone};
use crate::metrics as m;
use crate::privacy::SecretParams;
use crate::protocol::{ServerMsg, close, end_message};
use crate::session::{
    ControlOutcome, Created, Effect, EndReason, Event, Interaction, Millis, Mode, Page, Role,
    Session, SessionId, Timeouts, public_json,
};
use crate::webhooks::Webhooks;

pub struct Live {
    pub sessions: Arc<dyn SessionState>,
    pub routing: Arc<dyn FrameRouting>,
    pub recorder: Recorder,
    pub audit: Auditor,
    pub webhooks: Webhooks,
    pub timeouts: Timeouts,
    /// Masks secret URL parameters of every page before it is kept, shown or recorded.
    pub privacy: SecretParams,
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Pointer => "pointer",
        Mode::Write => "write",
    }
}

fn outcome_name(o: ControlOutcome) -> &'static str {
    match o {
        ControlOutcome::Requested => "requested",
        ControlOutcome::Allowed => "allowed",
        ControlOutcome::Denied => "denied",
        ControlOutcome::TimedOut => "timed_out",
        ControlOutcome::Revoked => "revoked",
    }
}

/// How the trail names an agent.
pub fn agent_actor(agent: &str) -> String {
    format!("agent:{agent}")
}

impl Live {
    /// A moment of consent: asked, given, refused, timed out, taken back.
    fn audit_control(
        &self,
        session: &Session,
        at: Millis,
        outcome: ControlOutcome,
        mode: Option<Mode>,
    ) {
        let actor = match outcome {
            ControlOutcome::Requested => agent_actor(session.agent.as_deref().unwrap_or_default()),
            ControlOutcome::TimedOut => "system".into(),
            // Only the customer's page answers a request or takes control back.
            ControlOutcome::Allowed | ControlOutcome::Denied | ControlOutcome::Revoked => {
                "customer".into()
            }
        };
        let kind = format!("control.{}", outcome_name(outcome));
        let detail = match mode {
            Some(mode) => json!({ "mode": mode_name(mode) }),
            None => json!({}),
        };
        self.audit_session(session, at, &actor, &kind, detail);
    }

    /// A session started by a page of `site` (its origin).
    pub async fn create(
        &self,
        site: &str,
        interaction: Option<Interaction>,
        mut page: Page,
    ) -> Result<(Created, Session), HubError> {
        let now = now_ms();
        page.url = self.privacy.mask(&page.url);
        let (created, session) = self
            .sessions
            .create(interaction, page, self.timeouts, now)
            .await?;
        let (interaction_id, channel) = match &session.interaction {
            Some(i) => (Some(i.id.clone()), Some(i.channel.clone())),
            None => (None, None),
        };
        self.audit_session(
            &session,
            now,
            "customer",
            "session.created",
            json!({
                "created_at": session.created_at,
                "origin": site,
                "url": session.page.url,
                "interaction_id": interaction_id,
                "channel": channel,
            }),
        );
        self.recorder.record(
            &session,
            now,
            HistoryEvent::Created {
                interaction_id,
                channel,
                url: session.page.url.clone(),
            },
        );
        self.webhooks.emit(
            "session.created",
            now,
            json!({ "session": public_json(&session) }),
        );
        metrics::counter!(m::SESSIONS_CREATED).increment(1);
        Ok((created, session))
    }

    /// Joins without telling anyone yet: the caller attaches the agent's
    /// connection first, then calls [`Live::carry_out`], so the customer's first
    /// snapshot (sent on `joined`) always finds the agent there.
    pub async fn join(&self, id: SessionId, agent: &str) -> Result<Changed, HubError> {
        self.sessions.join(id, agent, now_ms()).await
    }

    pub async fn apply(&self, id: SessionId, mut event: Event) -> Result<Changed, HubError> {
        // Whatever the customer's connection says: no secret parameter is kept.
        if let Event::Page(page) = &mut event {
            page.url = self.privacy.mask(&page.url);
        }
        let changed = self.sessions.apply(id, event, now_ms()).await?;
        self.carry_out(&changed);
        Ok(changed)
    }

    /// Ends every live session bound to a chat or call; returns their IDs.
    pub async fn end_interaction(&self, interaction_id: &str) -> Result<Vec<SessionId>, HubError> {
        let mut ended = Vec::new();
        for id in self.sessions.bound_to(interaction_id).await? {
            if self.apply(id, Event::InteractionEnded).await.is_ok() {
                ended.push(id);
            }
        }
        Ok(ended)
    }

    pub async fn tick(&self) -> Result<(), HubError> {
        for changed in self.sessions.tick(now_ms()).await? {
            self.carry_out(&changed);
        }
        Ok(())
    }

    /// Ends every live session when this node's memory is about to go; with
    /// a shared hub, sessions live on and their parties reconnect elsewhere.
    pub async fn shutdown(&self) {
        if !self.sessions.shared()
            && let Ok(sessions) = self.sessions.live().await
        {
            for s in sessions {
                let _ = self.apply(s.id, Event::Shutdown).await;
            }
        }
        self.recorder.flush().await;
        self.audit.checkpoint(checkpoint::PERIODIC);
        self.audit.flush().await;
    }

    /// Keeps what happened to a session in the audit trail.
    fn audit_session(&self, session: &Session, at: Millis, actor: &str, kind: &str, detail: Value) {
        let id = session.id.to_string();
        self.audit
            .append(Content::new(at, actor, Some(&id), kind, &detail));
    }

    fn tell(&self, session: &Session, to: Role, msg: &ServerMsg) {
        self.routing
            .notify(session.id, to, Out::text(msg.to_json()));
    }

    fn tell_both(&self, session: &Session, msg: &ServerMsg) {
        self.tell(session, Role::Customer, msg);
        self.tell(session, Role::Agent, msg);
    }

    pub fn carry_out(&self, (session, effects): &Changed) {
        // Every change of state or mode comes with an effect; activity alone has none.
        if !effects.is_empty() {
            self.routing.sync(session);
        }
        let now = now_ms();
        for effect in effects {
            match effect {
                Effect::Activated { agent } => {
                    self.tell(
                        session,
                        Role::Customer,
                        &ServerMsg::Joined {
                            agent,
                            reconnect: false,
                        },
                    );
                    self.audit_session(
                        session,
                        now,
                        &agent_actor(agent),
                        "agent.joined",
                        json!({}),
                    );
                    self.recorder.record(
                        session,
                        now,
                        HistoryEvent::Activated {
                            agent: agent.clone(),
                        },
                    );
                    self.webhooks.emit(
                        "agent.joined",
                        now,
                        json!({ "session": public_json(session) }),
                    );
                }
                Effect::AgentReconnected => {
                    let agent = session.agent.as_deref().unwrap_or_default();
                    self.audit_session(
                        session,
                        now,
                        &agent_actor(agent),
                        "agent.reconnected",
                        json!({}),
                    );
                    self.tell(
                        session,
                        Role::Customer,
                        &ServerMsg::Joined {
                            agent,
                            reconnect: true,
                        },
                    );
                }
                Effect::Presence { role, connected } => {
                    let actor = match role {
                        Role::Agent => agent_actor(session.agent.as_deref().unwrap_or_default()),
                        Role::Customer => "customer".into(),
                    };
                    let kind = if *connected {
                        "presence.back"
                    } else {
                        "presence.gone"
                    };
                    self.audit_session(session, now, &actor, kind, json!({ "role": role }));
                    self.tell(
                        session,
                        role.other(),
                        &ServerMsg::Presence {
                            role: *role,
                            connected: *connected,
                        },
                    );
                }
                Effect::PageVisited(page) => {
                    let event = HistoryEvent::PageVisited {
                        url: page.url.clone(),
                        title: page.title.clone(),
                    };
                    self.recorder.record(session, now, event);
                    self.audit_session(
                        session,
                        now,
                        "customer",
                        "page.visited",
                        json!({ "url": page.url, "title": audit::cap(&page.title, 200) }),
                    );
                }
                Effect::Control(outcome) => {
                    self.audit_control(session, now, *outcome, None);
                    let expires_in_ms = (*outcome == ControlOutcome::Requested)
                        .then_some(self.timeouts.control_answer);
                    self.tell_both(
                        session,
                        &ServerMsg::Control {
                            state: *outcome,
                            expires_in_ms,
                        },
                    );
                    let event = HistoryEvent::Control {
                        outcome: outcome_name(*outcome).into(),
                    };
                    self.recorder.record(session, now, event);
                }
                Effect::ModeChanged { mode, outcome } => {
                    self.tell_both(
                        session,
                        &ServerMsg::Mode {
                            mode: *mode,
                            cause: *outcome,
                        },
                    );
                    self.audit_control(session, now, *outcome, Some(*mode));
                    let event = HistoryEvent::ModeChanged {
                        mode: mode_name(*mode).into(),
                        cause: outcome_name(*outcome).into(),
                    };
                    self.recorder.record(session, now, event);
                    self.webhooks.emit(
                        "mode.changed",
                        now,
                        json!({ "session": public_json(session), "mode": mode, "cause": outcome }),
                    );
                }
                Effect::Ended(reason) => self.ended(session, *reason, now),
            }
        }
    }

    fn ended(&self, session: &Session, reason: EndReason, now: Millis) {
        let message = end_message(reason);
        // How long was "too long", for the words the customer is shown.
        let after_ms = (reason == EndReason::Inactivity).then_some(session.timeouts.inactivity);
        self.sessions.remember_end(
            session.id,
            Tombstone {
                token_hash: session.token_hash.clone(),
                reason,
                after_ms,
            },
            now,
        );
        self.tell_both(
            session,
            &ServerMsg::Ended {
                reason,
                message,
                after_ms,
            },
        );
        for role in [Role::Customer, Role::Agent] {
            self.routing
                .notify(session.id, role, Out::Close(close::ENDED, message.into()));
        }
        self.audit_session(
            session,
            now,
            "system",
            "session.ended",
            json!({ "reason": reason }),
        );
        self.audit.checkpoint(checkpoint::SESSION_END);
        self.recorder.record(
            session,
            now,
            HistoryEvent::Ended {
                reason: reason.as_str().into(),
            },
        );
        self.webhooks.emit(
            "session.ended",
            now,
            json!({ "session": public_json(session), "reason": reason }),
        );
        metrics::counter!(m::SESSION_ENDS, "reason" => reason.as_str()).increment(1);
    }
}
