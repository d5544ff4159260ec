//! REST API under `/api/v1` for machines (API keys) and administrators
//! (cookie): live sessions, ending sessions and interactions, history.

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::caller::Operator;
use super::error::{ApiError, ApiResult};
use crate::domain::session_history::HistoryFilter;
use crate::session::{EndReason, Event, Millis, SessionId, public_json};

const OPENAPI: &str = include_str!("openapi.json");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/sessions", get(list_sessions))
        .route("/sessions/{id}", get(read_session))
        .route("/sessions/{id}/end", post(end_session))
        .route("/interactions/{id}/end", post(end_interaction))
        .route("/history", get(list_history))
        .route("/history/{key}", get(read_history))
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

fn parse_id(id: &str) -> ApiResult<SessionId> {
    id.parse()
        .map_err(|_| ApiError::not_found("no such session: a session ID is nine digits"))
}

async fn list_sessions(_: Operator, State(app): State<AppState>) -> ApiResult<Json<Value>> {
    let mut sessions = app.live.sessions.live().await?;
    sessions.sort_by_key(|s| s.created_at);
    Ok(Json(
        json!({ "sessions": sessions.iter().map(public_json).collect::<Vec<_>>() }),
    ))
}

async fn read_session(
    _: Operator,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    let session = app
        .live
        .sessions
        .get(id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such live session"))?;
    Ok(Json(public_json(&session)))
}

async fn end_session(
    _: Operator,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    match app.live.apply(id, Event::EndedByApi).await {
        Ok(_) => Ok(Json(
            json!({ "ended": id, "reason": EndReason::EndedByApi }),
        )),
        Err(crate::hub::HubError::Refused(_)) => Err(ApiError::not_found("no such live session")),
        Err(e) => Err(e.into()),
    }
}

async fn end_interaction(
    _: Operator,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let ended = app.live.end_interaction(&id).await?;
    Ok(Json(json!({ "interaction": id, "ended": ended })))
}

#[derive(Deserialize)]
struct HistoryQuery {
    from: Option<String>,
    to: Option<String>,
    agent: Option<String>,
    reason: Option<String>,
    limit: Option<u32>,
}

/// Accepts milliseconds since the epoch or an RFC 3339 date-time.
fn parse_time(s: &str, what: &str) -> ApiResult<Millis> {
    if let Ok(ms) = s.parse::<u64>() {
        return Ok(ms);
    }
    humantime::parse_rfc3339_weak(s)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as Millis)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "{what}: use milliseconds or a date like 2026-11-25T10:00:00Z"
            ))
        })
}

async fn list_history(
    _: Operator,
    State(app): State<AppState>,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<Json<Value>> {
    if let Some(r) = &q.reason
        && EndReason::parse(r).is_none()
    {
        let known: Vec<&str> = EndReason::ALL.iter().map(|r| r.as_str()).collect();
        return Err(ApiError::bad_request(format!(
            "reason must be one of {}",
            known.join(", ")
        )));
    }
    let filter = HistoryFilter {
        from: q
            .from
            .as_deref()
            .map(|s| parse_time(s, "from"))
            .transpose()?,
        to: q.to.as_deref().map(|s| parse_time(s, "to")).transpose()?,
        agent: q.agent,
        end_reason: q.reason,
        limit: q.limit.unwrap_or(100),
    };
    Ok(Json(
        json!({ "sessions": app.store.history(&filter).await? }),
    ))
}

async fn read_history(
    _: Operator,
    State(app): State<AppState>,
    Path(key): Path<String>,
) -> ApiResult<Json<Value>> {
    match app.store.history_detail(&key).await? {
        Some(detail) => Ok(Json(
            serde_json::to_value(detail).expect("history serializes"),
        )),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such session in history",
        )),
    }
}
