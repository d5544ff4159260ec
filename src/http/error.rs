//! Errors as API clients see them: `{"error":{"code":…,"message":…}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::auth::AuthError;
use crate::hub::HubError;
use crate::rules::RuleError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// For a refused rule: the field and value it is about, and why.
    pub rule: Option<RuleError>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            rule: None,
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn too_many(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
    }
}

/// The body of every error answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ErrorDetail {
    /// What went wrong, for programs: `not_found`, `invalid_rule`, `conflict`…
    code: &'static str,
    /// What went wrong, for people.
    message: String,
    /// For `invalid_rule`: the field refused, e.g. `mask[2]` or `url_pattern`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    field: Option<String>,
    /// For `invalid_rule`: the value refused, as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    value: Option<String>,
    /// For `invalid_rule`: why it was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    why: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (field, value, why) = match self.rule {
            Some(rule) => (Some(rule.field), Some(rule.value), Some(rule.message)),
            None => (None, None, None),
        };
        let error = ErrorDetail {
            code: self.code,
            message: self.message,
            field,
            value,
            why,
        };
        (self.status, Json(ErrorBody { error })).into_response()
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        let (status, code) = match e {
            AuthError::NotAdmin => (StatusCode::FORBIDDEN, "forbidden"),
            AuthError::WeakPassword => (StatusCode::BAD_REQUEST, "weak_password"),
            AuthError::Disabled => (StatusCode::FORBIDDEN, "disabled"),
            _ => (StatusCode::UNAUTHORIZED, "unauthorized"),
        };
        ApiError::new(status, code, e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::not_found(format!("{what} not found")),
            StoreError::Exists(what) => ApiError::new(
                StatusCode::CONFLICT,
                "exists",
                format!("{what} already exists"),
            ),
            StoreError::Conflict(message) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", message)
            }
            other => {
                tracing::error!(error = %other, "store failure");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "storage is unavailable, try again",
                )
            }
        }
    }
}

impl From<RuleError> for ApiError {
    fn from(e: RuleError) -> Self {
        ApiError {
            rule: Some(e.clone()),
            ..ApiError::new(StatusCode::BAD_REQUEST, "invalid_rule", e.to_string())
        }
    }
}

impl From<HubError> for ApiError {
    fn from(e: HubError) -> Self {
        match e {
            HubError::Refused(r) => ApiError::new(StatusCode::CONFLICT, r.code(), r.to_string()),
            HubError::Unavailable(m) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", m)
            }
        }
    }
}

/// Handlers' result type: the `?` operator turns any layer's error into JSON.
pub type ApiResult<T> = Result<T, ApiError>;
