//! API keys for machines: created once shown, listed by prefix, revoked.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::JsonBody;
use super::audit;
use crate::auth::new_api_key;
use crate::clock::now_ms;
use crate::domain::account::ApiKey;
use crate::http::AppState;
use crate::http::caller::Admin;
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use crate::secret::sha256_hex;

#[derive(Serialize, ToSchema)]
pub(super) struct ApiKeyList {
    api_keys: Vec<ApiKey>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct ApiKeyCreated {
    /// The key itself (`cbk_…`), shown this once.
    key: String,
    api_key: ApiKey,
    note: &'static str,
}

#[derive(Serialize, ToSchema)]
pub(super) struct ApiKeyRevoked {
    revoked: i64,
}

/// List API keys (names and prefixes, never the keys).
#[utoipa::path(
    get,
    path = "/api-keys",
    operation_id = "list_api_keys",
    tag = "admin",
    security(("cookie" = [])),
    responses(
        (status = 200, body = ApiKeyList),
    ),
)]
pub(super) async fn list(_: Admin, State(app): State<AppState>) -> ApiResult<Json<ApiKeyList>> {
    Ok(Json(ApiKeyList {
        api_keys: app.store.api_keys().await?,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewKey {
    /// What uses it, e.g. crm-prod: 1-100 characters.
    name: String,
}

/// Create an API key; the key is in this answer only.
#[utoipa::path(
    post,
    path = "/api-keys",
    operation_id = "create_api_key",
    tag = "admin",
    security(("cookie" = [])),
    request_body = NewKey,
    responses(
        (status = 201, body = ApiKeyCreated),
        (status = 400, body = ErrorBody),
    ),
)]
pub(super) async fn create(
    Admin(by): Admin,
    State(app): State<AppState>,
    JsonBody(new): JsonBody<NewKey>,
) -> ApiResult<Response> {
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "a key needs a name of 1-100 characters (what uses it, e.g. crm-prod)",
        ));
    }
    let key = new_api_key(&mut rand::rng());
    let stored = app
        .store
        .add_api_key(name, &sha256_hex(&key), &key[..8], now_ms())
        .await?;
    tracing::info!(key = %name, by = %by, "API key created");
    audit(&app, &by, "api_key.created", json!({ "key": name }));
    let body = ApiKeyCreated {
        key,
        api_key: stored,
        note: "keep the key now: it is stored hashed and cannot be shown again",
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Revoke an API key.
#[utoipa::path(
    post,
    path = "/api-keys/{id}/revoke",
    operation_id = "revoke_api_key",
    tag = "admin",
    security(("cookie" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = ApiKeyRevoked),
        (status = 404, body = ErrorBody),
    ),
)]
pub(super) async fn revoke(
    Admin(by): Admin,
    State(app): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<Json<ApiKeyRevoked>> {
    app.store.revoke_api_key(id, now_ms()).await?;
    tracing::info!(key = id, by = %by, "API key revoked");
    audit(&app, &by, "api_key.revoked", json!({ "key": id }));
    Ok(Json(ApiKeyRevoked { revoked: id }))
}
