//! Webhook endpoints added at runtime, and what was delivered to them.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::JsonBody;
use super::audit;
use crate::clock::now_ms;
use crate::domain::webhook::{Delivery, Webhook};
use crate::http::AppState;
use crate::http::caller::Admin;
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use crate::secret::random_secret;

#[derive(Serialize, ToSchema)]
pub(super) struct WebhookList {
    /// Added here, at runtime.
    webhooks: Vec<Webhook>,
    /// From the configuration file (not changeable here).
    configured: Vec<ConfiguredWebhook>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct ConfiguredWebhook {
    url: String,
}

#[derive(Serialize, ToSchema)]
pub(super) struct WebhookCreated {
    webhook: Webhook,
    /// The generated secret, when none was given: shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    note: Option<&'static str>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct WebhookRemoved {
    removed: i64,
}

#[derive(Serialize, ToSchema)]
pub(super) struct DeliveryList {
    deliveries: Vec<Delivery>,
}

/// List webhooks (run-time ones, and the configured ones read-only); secrets are never shown.
#[utoipa::path(
    get,
    path = "/webhooks",
    operation_id = "list_webhooks",
    tag = "admin",
    security(("cookie" = [])),
    responses(
        (status = 200, body = WebhookList),
    ),
)]
pub(super) async fn list(_: Admin, State(app): State<AppState>) -> ApiResult<Json<WebhookList>> {
    let configured = app
        .config
        .webhooks
        .iter()
        .map(|w| ConfiguredWebhook { url: w.url.clone() })
        .collect();
    Ok(Json(WebhookList {
        webhooks: app.store.webhooks().await?,
        configured,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewWebhook {
    /// An absolute http:// or https:// address.
    url: String,
    /// 16 to 256 characters; one is generated if left out.
    #[serde(default)]
    secret: Option<String>,
}

/// Add a webhook; without a secret one is generated and shown in this answer only.
#[utoipa::path(
    post,
    path = "/webhooks",
    operation_id = "add_webhook",
    tag = "admin",
    security(("cookie" = [])),
    request_body = NewWebhook,
    responses(
        (status = 201, body = WebhookCreated),
        (status = 400, body = ErrorBody),
    ),
)]
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
    audit(
        &app,
        &by,
        "webhook.added",
        json!({ "webhook": hook.id, "url": url.as_str() }),
    );
    let body = WebhookCreated {
        webhook: hook,
        secret: generated.then_some(secret),
        note: generated.then_some(
            "keep the secret now to check X-Cobrowse-Signature: it cannot be shown again",
        ),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Remove a webhook.
#[utoipa::path(
    delete,
    path = "/webhooks/{id}",
    operation_id = "remove_webhook",
    tag = "admin",
    security(("cookie" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = WebhookRemoved),
        (status = 404, body = ErrorBody),
    ),
)]
pub(super) async fn remove(
    Admin(by): Admin,
    State(app): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<Json<WebhookRemoved>> {
    app.store.remove_webhook(id).await?;
    tracing::info!(webhook = id, by = %by, "webhook removed");
    audit(&app, &by, "webhook.removed", json!({ "webhook": id }));
    Ok(Json(WebhookRemoved { removed: id }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct Limit {
    /// At most this many, newest first (default 50).
    limit: Option<u32>,
}

/// Recent webhook deliveries, newest first.
#[utoipa::path(
    get,
    path = "/webhooks/deliveries",
    operation_id = "list_deliveries",
    tag = "admin",
    security(("cookie" = [])),
    params(Limit),
    responses(
        (status = 200, body = DeliveryList),
    ),
)]
pub(super) async fn deliveries(
    _: Admin,
    State(app): State<AppState>,
    Query(q): Query<Limit>,
) -> ApiResult<Json<DeliveryList>> {
    Ok(Json(DeliveryList {
        deliveries: app.store.deliveries(q.limit.unwrap_or(50)).await?,
    }))
}
