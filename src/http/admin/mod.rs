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

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiError;
use super::{App, AppState};

/// Keeps an administrative change in the audit trail; `by` as the caller
/// extractors name it (an administrator, or `api-key:NAME`).
fn audit(app: &App, by: &str, kind: &str, detail: serde_json::Value) {
    app.live
        .audit
        .record(&super::caller::trail_actor(by), None, kind, detail);
}

/// What the operations that save rules say of refused selectors.
macro_rules! selector_checks {
    () => {
        "Selectors are checked as CSS the browsers accept; a bad one is refused (400, code \
         `invalid_rule`) with the field (`mask[2]`), the selector and why. Pseudo-elements, \
         user-action pseudo-classes (:hover, :focus…), `{ } ; <` and comments are refused too."
    };
}

mod accounts;
mod api_keys;
mod editor;
mod rule_sets;
mod webhooks;

pub fn routes(app: &AppState) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(accounts::list, accounts::add))
        .routes(routes!(accounts::disable))
        .routes(routes!(accounts::enable))
        .routes(routes!(accounts::reset_password))
        .routes(routes!(api_keys::list, api_keys::create))
        .routes(routes!(api_keys::revoke))
        .routes(routes!(webhooks::list, webhooks::add))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(webhooks::remove))
        .routes(routes!(rule_sets::list, rule_sets::create))
        .routes(routes!(
            rule_sets::read,
            rule_sets::update,
            rule_sets::delete
        ))
        .routes(routes!(rule_sets::versions))
        .routes(routes!(editor::start, editor::stop))
        .merge(editor::cross_origin_routes(app))
}

/// A JSON body; anything else (forms, text) is refused, which also keeps other
/// sites from posting here without a CORS preflight.
pub(super) struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = Response;

    async fn from_request(request: Request, app: &S) -> Result<Self, Response> {
        let json = sends_json(request.headers());
        let bytes = Bytes::from_request(request, app)
            .await
            .map_err(IntoResponse::into_response)?;
        parse(json, &bytes)
            .map(JsonBody)
            .map_err(IntoResponse::into_response)
    }
}

/// The JSON body of a request whose credential had to be checked before it is read.
pub(super) fn body<T: DeserializeOwned>(headers: &HeaderMap, bytes: &Bytes) -> Result<T, ApiError> {
    parse(sends_json(headers), bytes)
}

fn sends_json(headers: &HeaderMap) -> bool {
    super::header(headers, header::CONTENT_TYPE)
        .is_some_and(|c| c.trim_start().starts_with("application/json"))
}

fn parse<T: DeserializeOwned>(json: bool, bytes: &[u8]) -> Result<T, ApiError> {
    if !json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "bad_request",
            "send a JSON body (Content-Type: application/json)",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("bad JSON body: {e}")))
}
