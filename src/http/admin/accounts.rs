//! Accounts of agents and administrators: adding, disabling, passwords.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::JsonBody;
use super::audit;
use crate::auth::{hash_password, hashing, valid_name};
use crate::clock::now_ms;
use crate::domain::account::{Account, AccountRole};
use crate::http::AppState;
use crate::http::caller::Admin;
use crate::http::error::{ApiError, ApiResult, ErrorBody};

#[derive(Serialize, ToSchema)]
pub(super) struct AccountList {
    accounts: Vec<Account>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct AccountResult {
    account: Account,
}

#[derive(Serialize, ToSchema)]
pub(super) struct PasswordChanged {
    account: String,
    password_changed: bool,
}

/// List agent and administrator accounts.
#[utoipa::path(
    get,
    path = "/accounts",
    operation_id = "list_accounts",
    tag = "admin",
    security(("cookie" = [])),
    responses(
        (status = 200, body = AccountList),
    ),
)]
pub(super) async fn list(_: Admin, State(app): State<AppState>) -> ApiResult<Json<AccountList>> {
    Ok(Json(AccountList {
        accounts: app.store.accounts().await?,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewAccount {
    /// 1-64 letters, digits and . _ - @
    name: String,
    password: String,
    /// `agent` unless given.
    #[serde(default = "agent_role")]
    role: AccountRole,
}

fn agent_role() -> AccountRole {
    AccountRole::Agent
}

/// Add an account (argon2-hashed password).
#[utoipa::path(
    post,
    path = "/accounts",
    operation_id = "add_account",
    tag = "admin",
    security(("cookie" = [])),
    request_body = NewAccount,
    responses(
        (status = 201, body = AccountResult),
        (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody),
    ),
)]
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
    audit(
        &app,
        &by,
        "account.added",
        json!({ "account": new.name, "role": new.role.as_str() }),
    );
    let account = app
        .store
        .account(&new.name)
        .await?
        .ok_or_else(|| ApiError::not_found("account"))?;
    Ok((StatusCode::CREATED, Json(AccountResult { account })).into_response())
}

pub(super) async fn set_disabled(
    app: &AppState,
    by: &str,
    name: &str,
    disabled: bool,
) -> ApiResult<Json<AccountResult>> {
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
    audit(
        app,
        by,
        "account.changed",
        json!({ "account": name, "disabled": disabled }),
    );
    let account = app
        .store
        .account(name)
        .await?
        .ok_or_else(|| ApiError::not_found("account"))?;
    Ok(Json(AccountResult { account }))
}

/// Disable an account: no sign-in, its cookies and tokens stop working, its editor grants end.
///
/// An administrator cannot disable their own account (409).
#[utoipa::path(
    post,
    path = "/accounts/{name}/disable",
    operation_id = "disable_account",
    tag = "admin",
    security(("cookie" = [])),
    params(("name" = String, Path, description = "Account name")),
    responses(
        (status = 200, body = AccountResult),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Your own account"),
    ),
)]
pub(super) async fn disable(
    Admin(by): Admin,
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<AccountResult>> {
    set_disabled(&app, &by, &name, true).await
}

/// Enable a disabled account.
#[utoipa::path(
    post,
    path = "/accounts/{name}/enable",
    operation_id = "enable_account",
    tag = "admin",
    security(("cookie" = [])),
    params(("name" = String, Path, description = "Account name")),
    responses(
        (status = 200, body = AccountResult),
        (status = 404, body = ErrorBody),
    ),
)]
pub(super) async fn enable(
    Admin(by): Admin,
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<AccountResult>> {
    set_disabled(&app, &by, &name, false).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewPassword {
    password: String,
}

/// Set a new password.
#[utoipa::path(
    post,
    path = "/accounts/{name}/password",
    operation_id = "reset_password",
    tag = "admin",
    security(("cookie" = [])),
    params(("name" = String, Path, description = "Account name")),
    request_body = NewPassword,
    responses(
        (status = 200, body = PasswordChanged),
        (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
)]
pub(super) async fn reset_password(
    Admin(by): Admin,
    State(app): State<AppState>,
    Path(name): Path<String>,
    JsonBody(p): JsonBody<NewPassword>,
) -> ApiResult<Json<PasswordChanged>> {
    let hash = hashing(move || hash_password(&p.password)).await?;
    app.store.set_password(&name, &hash).await?;
    tracing::info!(account = %name, by = %by, "password reset");
    audit(
        &app,
        &by,
        "account.password_reset",
        json!({ "account": name }),
    );
    Ok(Json(PasswordChanged {
        account: name,
        password_changed: true,
    }))
}
