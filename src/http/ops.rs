//! What operators and orchestrators poll: liveness, readiness, metrics.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;

use super::AppState;
use crate::metrics as m;
use crate::session::{Role, State as SessionState};

pub async fn healthz() -> &'static str {
    "ok"
}

/// Ready when storage and the live-session hub both answer.
pub async fn readyz(State(app): State<AppState>) -> impl IntoResponse {
    let store = app.store.ping().await.map_err(|e| e.to_string());
    let hub = app.live.sessions.ready().await.map_err(|e| e.to_string());
    let ok = store.is_ok() && hub.is_ok() && !*app.shutdown.borrow();
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "ready": ok,
        "store": store.err().unwrap_or_else(|| "ok".into()),
        "hub": hub.err().unwrap_or_else(|| "ok".into()),
    });
    (status, Json(body))
}

pub async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    if let Ok(sessions) = app.live.sessions.live().await {
        let count = |state| sessions.iter().filter(|s| s.state == state).count() as f64;
        metrics::gauge!(m::SESSIONS, "state" => "idle").set(count(SessionState::Idle));
        metrics::gauge!(m::SESSIONS, "state" => "active").set(count(SessionState::Active));
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(),
    )
}

/// Counts a party's connection for as long as it lives.
pub struct ConnectionGauge(Role);

impl ConnectionGauge {
    pub fn new(role: Role) -> Self {
        metrics::gauge!(m::CONNECTIONS, "role" => role.as_str()).increment(1.0);
        ConnectionGauge(role)
    }
}

impl Drop for ConnectionGauge {
    fn drop(&mut self) {
        metrics::gauge!(m::CONNECTIONS, "role" => self.0.as_str()).decrement(1.0);
    }
}
