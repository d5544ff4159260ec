//! A live session as the outside world sees it (REST API, webhooks): never
//! the customer's token or its hash.

use serde_json::{Value, json};

use super::Session;

pub fn public_json(s: &Session) -> Value {
    json!({
        "id": s.id,
        "state": s.state,
        "mode": s.mode,
        "agent": s.agent,
        "interaction": s.interaction,
        "url": s.page.url,
        "title": s.page.title,
        "created_at": s.created_at,
        "activated_at": s.activated_at,
        "customer_connected": s.customer_connections > 0,
        "agent_connected": s.agent_connected(),
    })
}
