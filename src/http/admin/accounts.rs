//! Accounts of agents and administrators: adding, disabling, passwords.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::JsonBody;
use crate::auth::{hash_password, hashing, valid_name};
use crate::clock::now_ms;
use crate::domain::account::AccountRole;
use crate::http::AppState;
use crate::http::caller::Admin;
use crate::http::error::{ApiError, ApiResult};

pub(super) async fn list(_: Admin, State(app): State<AppState>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({ "accounts": app.store.accounts().await? })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewAccount {
    name: String,
    password: String,
    #[serde(default = "agent_role")]
    role: AccountRole,
}

fn agent_role() -> AccountRole {
    AccountRole::Agent
}

pub(super) async fn add(
    Admin(by): Admin,
    State(app): State<AppState>,
    JsonBody(new): JsonBody<NewAccount>,
) -> ApiResult<Response> {
    if !valid_name(&new.name) {
        return Err(ApiError::bad_request(
            "account names are 1-64 letters, digits and . _ - @",
        ));
    }
    let password = new.password.clone();
    let hash = hashing(move || hash_password(&password)).await?;
    app.store
        .add_account(&new.name, &hash, new.role, now_ms())
        .await?;
    tracing::info!(account = %new.name, role = new.role.as_str(), by = %by, "account added");
    let account = app
        .store
        .account(&new.name)
        .await?
        .ok_or_else(|| ApiError::not_found("account"))?;
    Ok((StatusCode::CREATED, Json(json!({ "account": account }))).into_response())
}

pub(super) async fn set_disabled(
    app: &AppState,
    by: &str,
    name: &str,
    disabled: bool,
) -> ApiResult<Json<Value>> {
    if disabled && name == by {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "you cannot disable your own account",
        ));
    }
    app.store.set_disabled(name, disabled).await?;
    if disabled {
        // Whatever editor grants the account held stop working with it.
        app.store.remove_editor_tokens(name).await?;
    }
    tracing::info!(account = %name, disabled, by = %by, "account changed");
    let account = app
        .store
        .account(name)
        .await?
        .ok_or_else(|| ApiError::not_found("account"))?;
    Ok(Json(json!({ "account": account })))
}

pub(super) async fn disable(
    Admin(by): Admin,
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    set_disabled(&app, &by, &name, true).await
}

pub(super) async fn enable(
    Admin(by): Admin,
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    set_disabled(&app, &by, &name, false).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewPassword {
    password: String,
}

pub(super) async fn reset_password(
    Admin(by): Admin,
    State(app): State<AppState>,
    Path(name): Path<String>,
    JsonBody(p): JsonBody<NewPassword>,
) -> ApiResult<Json<Value>> {
    let hash = hashing(move || hash_password(&p.password)).await?;
    app.store.set_password(&name, &hash).await?;
    tracing::info!(account = %name, by = %by, "password reset");
    Ok(Json(json!({ "account": name, "password_changed": true })))
}
