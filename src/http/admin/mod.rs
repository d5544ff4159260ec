//! The administrators' API under `/api/v1/admin`: accounts, API keys,
//! webhooks, DOM restriction rule sets (validated, versioned) and the grants
//! of the visual restrictions editor.
//!
//! Who may call what:
//! - **Rule sets**: an administrator's cookie or an API key (rule sets can be
//!   provisioned by a deployment pipeline; versions record which key did it).
//! - **Accounts, API keys, webhooks, starting the editor**: a signed-in
//!   administrator only. A machine key that could mint keys or administrators
//!   would turn one leaked CRM credential into the whole installation.
//! - **`/editor/open`, `/editor/rules`**: the editor's own tokens (`cbe_…`),
//!   from the site's page, cross-origin (CORS for those two routes only, for
//!   the site origins in `allowed_origins`). An editor token opens nothing else.
//!
//! Cookie-carrying changes must come from our own pages (`Origin` check) and
//! carry JSON, so another site cannot forge them whatever the cookie's
//! `SameSite` (an administrator's is `Strict`, but browsers without it exist,
//! and agents' cookies are `SameSite=None` where a desktop embeds the console).

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{delete, get, post};
use serde::de::DeserializeOwned;

use super::AppState;
use super::error::ApiError;

mod accounts;
mod api_keys;
mod editor;
mod rule_sets;
mod webhooks;

pub fn routes(app: &AppState) -> Router<AppState> {
    Router::new()
        .route("/accounts", get(accounts::list).post(accounts::add))
        .route("/accounts/{name}/disable", post(accounts::disable))
        .route("/accounts/{name}/enable", post(accounts::enable))
        .route("/accounts/{name}/password", post(accounts::reset_password))
        .route("/api-keys", get(api_keys::list).post(api_keys::create))
        .route("/api-keys/{id}/revoke", post(api_keys::revoke))
        .route("/webhooks", get(webhooks::list).post(webhooks::add))
        .route("/webhooks/deliveries", get(webhooks::deliveries))
        .route("/webhooks/{id}", delete(webhooks::remove))
        .route("/rule-sets", get(rule_sets::list).post(rule_sets::create))
        .route(
            "/rule-sets/{id}",
            get(rule_sets::read)
                .put(rule_sets::update)
                .delete(rule_sets::delete),
        )
        .route("/rule-sets/{id}/versions", get(rule_sets::versions))
        .route("/editor", post(editor::start).delete(editor::stop))
        .merge(editor::cross_origin_routes(app))
}

/// Reads a JSON body; anything else (forms, text) is refused, which also keeps
/// other sites from posting here without a CORS preflight.
pub(super) fn body<T: DeserializeOwned>(headers: &HeaderMap, bytes: &Bytes) -> Result<T, ApiError> {
    let json = super::header(headers, header::CONTENT_TYPE)
        .is_some_and(|c| c.trim_start().starts_with("application/json"));
    if !json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "bad_request",
            "send a JSON body (Content-Type: application/json)",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("bad JSON body: {e}")))
}
