//! REST API under `/api/v1` for machines (API keys) and administrators
//! (cookie): live sessions, ending sessions and interactions, history.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::caller::{Operator, trail_actor};
use super::error::{ApiError, ApiResult, ErrorBody};
use crate::domain::session_history::{HistoryDetail, HistoryFilter, HistorySummary};
use crate::session::{EndReason, Event, LiveSession, Millis, SessionId};
use serde_json::json;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(super::openapi::document))
        .routes(routes!(list_sessions))
        .routes(routes!(read_session))
        .routes(routes!(end_session))
        .routes(routes!(end_interaction))
        .routes(routes!(list_history))
        .routes(routes!(read_history))
        .merge(super::audit_api::routes())
}

#[derive(Serialize, ToSchema)]
struct SessionList {
    sessions: Vec<LiveSession>,
}

#[derive(Serialize, ToSchema)]
struct SessionEnded {
    #[schema(value_type = String)]
    ended: SessionId,
    reason: EndReason,
}

#[derive(Serialize, ToSchema)]
struct InteractionEnded {
    interaction: String,
    /// The sessions it ended.
    #[schema(value_type = Vec<String>)]
    ended: Vec<SessionId>,
}

#[derive(Serialize, ToSchema)]
struct HistoryList {
    sessions: Vec<HistorySummary>,
}

fn parse_id(id: &str) -> ApiResult<SessionId> {
    id.parse()
        .map_err(|_| ApiError::not_found("no such session: a session ID is nine digits"))
}

/// List live sessions, oldest first.
#[utoipa::path(
    get,
    path = "/sessions",
    tag = "sessions",
    responses(
        (status = 200, body = SessionList),
    ),
)]
async fn list_sessions(_: Operator, State(app): State<AppState>) -> ApiResult<Json<SessionList>> {
    let mut sessions = app.live.sessions.live().await?;
    sessions.sort_by_key(|s| s.created_at);
    Ok(Json(SessionList {
        sessions: sessions.iter().map(LiveSession::from).collect(),
    }))
}

/// Read a live session.
#[utoipa::path(
    get,
    path = "/sessions/{id}",
    tag = "sessions",
    params(
        ("id" = String, Path, pattern = "^[1-9][0-9]{8}$", description = "Nine-digit session ID"),
    ),
    responses(
        (status = 200, body = LiveSession),
        (status = 404, body = ErrorBody),
    ),
)]
async fn read_session(
    _: Operator,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<LiveSession>> {
    let id = parse_id(&id)?;
    let session = app
        .live
        .sessions
        .get(id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such live session"))?;
    Ok(Json(LiveSession::from(&session)))
}

/// End a live session (reason `ended_by_api`); both parties are told.
#[utoipa::path(
    post,
    path = "/sessions/{id}/end",
    tag = "sessions",
    params(
        ("id" = String, Path, pattern = "^[1-9][0-9]{8}$", description = "Nine-digit session ID"),
    ),
    responses(
        (status = 200, body = SessionEnded),
        (status = 404, body = ErrorBody),
    ),
)]
async fn end_session(
    Operator(by): Operator,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<SessionEnded>> {
    let id = parse_id(&id)?;
    let actor = trail_actor(&by);
    app.live.audit.record(
        &actor,
        Some(&id.to_string()),
        "session.end_requested",
        json!({}),
    );
    match app.live.apply(id, Event::EndedByApi).await {
        Ok(_) => Ok(Json(SessionEnded {
            ended: id,
            reason: EndReason::EndedByApi,
        })),
        Err(crate::hub::HubError::Refused(_)) => Err(ApiError::not_found("no such live session")),
        Err(e) => Err(e.into()),
    }
}

/// End a chat or call: ends every session bound to it (reason `interaction_ended`).
#[utoipa::path(
    post,
    path = "/interactions/{id}/end",
    tag = "sessions",
    params(
        ("id" = String, Path, description = "The interaction's ID, as given at session start"),
    ),
    responses(
        (status = 200, body = InteractionEnded),
    ),
)]
async fn end_interaction(
    Operator(by): Operator,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<InteractionEnded>> {
    let detail = json!({ "interaction": id });
    app.live
        .audit
        .record(&trail_actor(&by), None, "interaction.end_requested", detail);
    let ended = app.live.end_interaction(&id).await?;
    Ok(Json(InteractionEnded {
        interaction: id,
        ended,
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct HistoryQuery {
    /// Created at or after: milliseconds since the epoch or an RFC 3339 date-time.
    from: Option<String>,
    /// Created before: milliseconds since the epoch or an RFC 3339 date-time.
    to: Option<String>,
    /// Only this agent's sessions.
    agent: Option<String>,
    /// Only sessions that ended for this reason.
    #[param(value_type = Option<EndReason>)]
    reason: Option<String>,
    /// At most this many, newest first (default 100).
    limit: Option<u32>,
}

/// Accepts milliseconds since the epoch or an RFC 3339 date-time.
pub(super) fn parse_time(s: &str, what: &str) -> ApiResult<Millis> {
    crate::clock::parse_instant(s).ok_or_else(|| {
        ApiError::bad_request(format!(
            "{what}: use milliseconds or a date like 2026-11-25T10:00:00Z"
        ))
    })
}

/// List past and live sessions, newest first.
#[utoipa::path(
    get,
    path = "/history",
    tag = "history",
    params(HistoryQuery),
    responses(
        (status = 200, body = HistoryList),
        (status = 400, body = ErrorBody),
    ),
)]
async fn list_history(
    _: Operator,
    State(app): State<AppState>,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<Json<HistoryList>> {
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
    Ok(Json(HistoryList {
        sessions: app.store.history(&filter).await?,
    }))
}

/// A session's history: times, end reason, agent, pages visited, mode changes.
#[utoipa::path(
    get,
    path = "/history/{key}",
    tag = "history",
    params(
        ("key" = String, Path, description = "`<session id>-<created ms>` from the list"),
    ),
    responses(
        (status = 200, body = HistoryDetail),
        (status = 404, body = ErrorBody),
    ),
)]
async fn read_history(
    _: Operator,
    State(app): State<AppState>,
    Path(key): Path<String>,
) -> ApiResult<Json<HistoryDetail>> {
    match app.store.history_detail(&key).await? {
        Some(detail) => Ok(Json(detail)),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such session in history",
        )),
    }
}
