//! A live session as the outside world sees it (REST API, webhooks): never
//! the customer's token or its hash.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{Interaction, Millis, Mode, Session, SessionId, State};

/// What the REST API and webhooks show of a live session.
#[derive(Serialize, ToSchema)]
pub struct LiveSession {
    #[schema(value_type = String, pattern = "^[1-9][0-9]{8}$")]
    id: SessionId,
    state: State,
    mode: Mode,
    agent: Option<String>,
    interaction: Option<Interaction>,
    url: String,
    title: String,
    created_at: Millis,
    activated_at: Option<Millis>,
    customer_connected: bool,
    agent_connected: bool,
}

impl From<&Session> for LiveSession {
    fn from(s: &Session) -> Self {
        LiveSession {
            id: s.id,
            state: s.state,
            mode: s.mode,
            agent: s.agent.clone(),
            interaction: s.interaction.clone(),
            url: s.page.url.clone(),
            title: s.page.title.clone(),
            created_at: s.created_at,
            activated_at: s.activated_at,
            customer_connected: s.customer_connections > 0,
            agent_connected: s.agent_connected(),
        }
    }
}

pub fn public_json(s: &Session) -> Value {
    serde_json::to_value(LiveSession::from(s)).expect("a live session serializes")
}
