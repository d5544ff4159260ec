//! Webhook endpoints added at runtime, and what was delivered to them.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::JsonBody;
use crate::clock::now_ms;
use crate::http::AppState;
use crate::http::caller::Admin;
use crate::http::error::{ApiError, ApiResult};
use crate::secret::random_secret;

pub(super) async fn list(_: Admin, State(app): State<AppState>) -> ApiResult<Json<Value>> {
    let configured: Vec<Value> = app
        .config
        .webhooks
        .iter()
        .map(|w| json!({ "url": w.url }))
        .collect();
    Ok(Json(
        json!({ "webhooks": app.store.webhooks().await?, "configured": configured }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewWebhook {
    url: String,
    #[serde(default)]
    secret: Option<String>,
}

pub(super) async fn add(
    Admin(by): Admin,
    State(app): State<AppState>,
    JsonBody(new): JsonBody<NewWebhook>,
) -> ApiResult<Response> {
    let url = url::Url::parse(new.url.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or_else(|| {
            ApiError::bad_request("the webhook URL must be an absolute http:// or https:// address")
        })?;
    // A private address written as such is refused now; names are checked as they
    // resolve, at each delivery.
    if !app.config.webhook_delivery.allow_private
        && let Err(blocked) = crate::netguard::Guard::default().check_url(&url)
    {
        return Err(ApiError::bad_request(format!(
            "{blocked}: webhooks may not reach private addresses (webhook_delivery.allow_private)"
        )));
    }
    let (secret, generated) = match new.secret {
        Some(s) if !(16..=256).contains(&s.chars().count()) => {
            return Err(ApiError::bad_request(
                "a webhook secret has 16 to 256 characters (or leave it out to get one)",
            ));
        }
        Some(s) => (s, false),
        None => (random_secret(&mut rand::rng()), true),
    };
    let hook = app
        .store
        .add_webhook(url.as_str(), &secret, now_ms())
        .await?;
    tracing::info!(url = %url, by = %by, "webhook added");
    let mut body = json!({ "webhook": hook });
    if generated {
        body["secret"] = json!(secret);
        body["note"] =
            json!("keep the secret now to check X-Cobrowse-Signature: it cannot be shown again");
    }
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub(super) async fn remove(
    Admin(by): Admin,
    State(app): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    app.store.remove_webhook(id).await?;
    tracing::info!(webhook = id, by = %by, "webhook removed");
    Ok(Json(json!({ "removed": id })))
}

#[derive(Deserialize)]
pub(super) struct Limit {
    limit: Option<u32>,
}

pub(super) async fn deliveries(
    _: Admin,
    State(app): State<AppState>,
    Query(q): Query<Limit>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({ "deliveries": app.store.deliveries(q.limit.unwrap_or(50)).await? }),
    ))
}
