//! API keys for machines: created once shown, listed by prefix, revoked.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::JsonBody;
use crate::auth::new_api_key;
use crate::clock::now_ms;
use crate::http::AppState;
use crate::http::caller::Admin;
use crate::http::error::{ApiError, ApiResult};
use crate::secret::sha256_hex;

pub(super) async fn list(_: Admin, State(app): State<AppState>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({ "api_keys": app.store.api_keys().await? })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewKey {
    name: String,
}

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
    let body = json!({ "key": key, "api_key": stored, "note": "keep the key now: it is stored hashed and cannot be shown again" });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub(super) async fn revoke(
    Admin(by): Admin,
    State(app): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    app.store.revoke_api_key(id, now_ms()).await?;
    tracing::info!(key = id, by = %by, "API key revoked");
    Ok(Json(json!({ "revoked": id })))
}
