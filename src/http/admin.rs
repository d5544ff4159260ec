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
use axum::extract::{Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::AppState;
use super::auth_routes::{Credential, identify};
use super::error::ApiError;
use crate::auth::{AuthError, Origins, hash_password, hashing, new_api_key, valid_name};
use crate::clock::now_ms;
use crate::config::normalize_origin;
use crate::domain::account::AccountRole;
use crate::domain::editor_grant::{EditorToken, EditorTokenKind};
use crate::domain::rule_set::{RuleSet, Rules, rules_for};
use crate::domain::url_pattern::url_matches;
use crate::rules::{self, RuleError};
use crate::secret::{random_secret, sha256_hex};
use crate::store::StoreError;

/// How long an administrator has to open the site after starting the editor.
pub const EDITOR_LINK_TTL_MS: u64 = 10 * 60_000;
/// How long the overlay may save once opened.
pub const EDITOR_SESSION_TTL_MS: u64 = 30 * 60_000;
const EDITOR_PREFIX: &str = "cbe_";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/accounts", get(list_accounts).post(add_account))
        .route("/accounts/{name}/disable", post(disable_account))
        .route("/accounts/{name}/enable", post(enable_account))
        .route("/accounts/{name}/password", post(reset_password))
        .route("/api-keys", get(list_api_keys).post(create_api_key))
        .route("/api-keys/{id}/revoke", post(revoke_api_key))
        .route("/webhooks", get(list_webhooks).post(add_webhook))
        .route("/webhooks/deliveries", get(list_deliveries))
        .route("/webhooks/{id}", axum::routing::delete(remove_webhook))
        .route("/rule-sets", get(list_rule_sets).post(create_rule_set))
        .route(
            "/rule-sets/{id}",
            get(read_rule_set)
                .put(update_rule_set)
                .delete(delete_rule_set),
        )
        .route("/rule-sets/{id}/versions", get(rule_set_versions))
        .route("/editor", post(start_editor).delete(stop_editor))
        .route("/editor/open", post(open_editor).options(editor_preflight))
        .route("/editor/rules", post(editor_save).options(editor_preflight))
}

// ---- errors ----

/// An API error, or a refused rule with the field and value it is about.
pub enum Failure {
    Api(ApiError),
    Rule(RuleError),
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self {
            Failure::Api(e) => e.into_response(),
            Failure::Rule(e) => {
                let body = json!({ "error": {
                    "code": "invalid_rule",
                    "message": e.to_string(),
                    "field": e.field,
                    "value": e.value,
                    "why": e.message,
                }});
                (StatusCode::BAD_REQUEST, Json(body)).into_response()
            }
        }
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure::Api(e)
    }
}

impl From<AuthError> for Failure {
    fn from(e: AuthError) -> Self {
        Failure::Api(e.into())
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => {
                Failure::Api(ApiError::new(StatusCode::CONFLICT, "conflict", m))
            }
            other => Failure::Api(other.into()),
        }
    }
}

impl From<RuleError> for Failure {
    fn from(e: RuleError) -> Self {
        Failure::Rule(e)
    }
}

type Result<T> = std::result::Result<T, Failure>;

fn forbidden(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
}

fn unauthorized(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
}

// ---- who is calling ----

/// A signed-in administrator (cookie). API keys and editor tokens are refused.
pub struct Admin(pub String);

/// An administrator or an API key: who changed a rule set.
pub struct Actor(pub String);

const KEY_REFUSED: &str = "API keys cannot manage accounts, API keys, webhooks or the visual editor: sign in as an administrator";
const EDITOR_REFUSED: &str = "an editor token only saves rules from the visual editor's overlay";

/// Changes made with a cookie must come from our own pages.
pub(super) fn same_origin_change(parts: &Parts) -> std::result::Result<(), ApiError> {
    if matches!(parts.method, Method::GET | Method::HEAD) {
        return Ok(());
    }
    let origin = super::header(&parts.headers, header::ORIGIN);
    let host = super::header(&parts.headers, header::HOST);
    match origin {
        Some(o) if !Origins::new(&[]).allows(o, host) => Err(forbidden(
            "changes with a sign-in cookie must come from the admin console's own origin",
        )),
        _ => Ok(()),
    }
}

async fn person(
    parts: &Parts,
    app: &AppState,
    credential: Credential,
) -> std::result::Result<String, ApiError> {
    let who = identify(app, &credential).await?;
    if who.role != AccountRole::Admin {
        return Err(AuthError::NotAdmin.into());
    }
    if matches!(credential, Credential::Cookie(_)) {
        same_origin_change(parts)?;
    }
    Ok(who.name)
}

impl axum::extract::FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> std::result::Result<Self, Self::Rejection> {
        match Credential::from_headers(&parts.headers) {
            Credential::None => Err(AuthError::Missing.into()),
            Credential::Bearer(k) if k.starts_with("cbk_") => Err(forbidden(KEY_REFUSED)),
            Credential::Bearer(k) if k.starts_with(EDITOR_PREFIX) => Err(forbidden(EDITOR_REFUSED)),
            other => Ok(Admin(person(parts, app, other).await?)),
        }
    }
}

impl axum::extract::FromRequestParts<AppState> for Actor {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> std::result::Result<Self, Self::Rejection> {
        match Credential::from_headers(&parts.headers) {
            Credential::None => Err(AuthError::Missing.into()),
            Credential::Bearer(k) if k.starts_with("cbk_") => {
                match app.store.api_key(&sha256_hex(&k)).await? {
                    Some(key) => Ok(Actor(format!("api-key:{}", key.name))),
                    None => Err(AuthError::BadToken("unknown or revoked API key".into()).into()),
                }
            }
            Credential::Bearer(k) if k.starts_with(EDITOR_PREFIX) => Err(forbidden(EDITOR_REFUSED)),
            other => Ok(Actor(person(parts, app, other).await?)),
        }
    }
}

/// Reads a JSON body; anything else (forms, text) is refused, which also keeps
/// other sites from posting here without a CORS preflight.
fn body<T: DeserializeOwned>(
    headers: &HeaderMap,
    bytes: &Bytes,
) -> std::result::Result<T, ApiError> {
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

// ---- accounts ----

async fn list_accounts(_: Admin, State(app): State<AppState>) -> Result<Json<Value>> {
    Ok(Json(json!({ "accounts": app.store.accounts().await? })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAccount {
    name: String,
    password: String,
    #[serde(default = "agent_role")]
    role: AccountRole,
}

fn agent_role() -> AccountRole {
    AccountRole::Agent
}

async fn add_account(
    Admin(by): Admin,
    State(app): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response> {
    let new: NewAccount = body(&headers, &bytes)?;
    if !valid_name(&new.name) {
        return Err(
            ApiError::bad_request("account names are 1-64 letters, digits and . _ - @").into(),
        );
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

async fn set_disabled(app: &AppState, by: &str, name: &str, disabled: bool) -> Result<Json<Value>> {
    if disabled && name == by {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "you cannot disable your own account",
        )
        .into());
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

async fn disable_account(
    Admin(by): Admin,
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>> {
    set_disabled(&app, &by, &name, true).await
}

async fn enable_account(
    Admin(by): Admin,
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>> {
    set_disabled(&app, &by, &name, false).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPassword {
    password: String,
}

async fn reset_password(
    Admin(by): Admin,
    State(app): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<Value>> {
    let p: NewPassword = body(&headers, &bytes)?;
    let hash = hashing(move || hash_password(&p.password)).await?;
    app.store.set_password(&name, &hash).await?;
    tracing::info!(account = %name, by = %by, "password reset");
    Ok(Json(json!({ "account": name, "password_changed": true })))
}

// ---- API keys ----

async fn list_api_keys(_: Admin, State(app): State<AppState>) -> Result<Json<Value>> {
    Ok(Json(json!({ "api_keys": app.store.api_keys().await? })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    name: String,
}

async fn create_api_key(
    Admin(by): Admin,
    State(app): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response> {
    let new: NewKey = body(&headers, &bytes)?;
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "a key needs a name of 1-100 characters (what uses it, e.g. crm-prod)",
        )
        .into());
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

async fn revoke_api_key(
    Admin(by): Admin,
    State(app): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Value>> {
    app.store.revoke_api_key(id, now_ms()).await?;
    tracing::info!(key = id, by = %by, "API key revoked");
    Ok(Json(json!({ "revoked": id })))
}

// ---- webhooks ----

async fn list_webhooks(_: Admin, State(app): State<AppState>) -> Result<Json<Value>> {
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
struct NewWebhook {
    url: String,
    #[serde(default)]
    secret: Option<String>,
}

async fn add_webhook(
    Admin(by): Admin,
    State(app): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response> {
    let new: NewWebhook = body(&headers, &bytes)?;
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
        ))
        .into());
    }
    let (secret, generated) = match new.secret {
        Some(s) if !(16..=256).contains(&s.chars().count()) => {
            return Err(ApiError::bad_request(
                "a webhook secret has 16 to 256 characters (or leave it out to get one)",
            )
            .into());
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

async fn remove_webhook(
    Admin(by): Admin,
    State(app): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Value>> {
    app.store.remove_webhook(id).await?;
    tracing::info!(webhook = id, by = %by, "webhook removed");
    Ok(Json(json!({ "removed": id })))
}

#[derive(Deserialize)]
struct Limit {
    limit: Option<u32>,
}

async fn list_deliveries(
    _: Admin,
    State(app): State<AppState>,
    Query(q): Query<Limit>,
) -> Result<Json<Value>> {
    Ok(Json(
        json!({ "deliveries": app.store.deliveries(q.limit.unwrap_or(50)).await? }),
    ))
}

// ---- rule sets ----

#[derive(Deserialize)]
struct RuleSetQuery {
    /// Only the sets that apply to this page, and their merged rules.
    url: Option<String>,
}

async fn list_rule_sets(
    _: Actor,
    State(app): State<AppState>,
    Query(q): Query<RuleSetQuery>,
) -> Result<Json<Value>> {
    let sets = app.store.rule_sets().await?;
    Ok(Json(match q.url {
        Some(url) => {
            let matching: Vec<&RuleSet> = sets
                .iter()
                .filter(|s| url_matches(&s.url_pattern, &url))
                .collect();
            json!({ "rule_sets": matching, "rules": rules_for(&sets, &url), "url": url })
        }
        None => json!({ "rule_sets": sets }),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSetBody {
    name: String,
    url_pattern: String,
    #[serde(default)]
    rules: Rules,
    /// The version this edit started from (required to update).
    #[serde(default)]
    version: Option<i64>,
}

/// Trims, drops duplicate selectors, checks everything.
fn checked(b: RuleSetBody) -> std::result::Result<(String, String, Rules, Option<i64>), RuleError> {
    let rules = rules::normalize(&b.rules);
    let (name, pattern) = (b.name.trim().to_string(), b.url_pattern.trim().to_string());
    rules::check_rule_set(&name, &pattern, &rules)?;
    Ok((name, pattern, rules, b.version))
}

async fn create_rule_set(
    Actor(by): Actor,
    State(app): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response> {
    let (name, pattern, rules, _) = checked(body(&headers, &bytes)?)?;
    let set = app
        .store
        .create_rule_set(&name, &pattern, &rules, &by, now_ms())
        .await?;
    app.page_rules.forget();
    tracing::info!(rule_set = %set.name, version = set.version, by = %by, "rule set created");
    Ok((StatusCode::CREATED, Json(json!({ "rule_set": set }))).into_response())
}

async fn read_rule_set(
    _: Actor,
    State(app): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Value>> {
    let set = app
        .store
        .rule_set(id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such rule set"))?;
    Ok(Json(json!({ "rule_set": set })))
}

async fn update_rule_set(
    Actor(by): Actor,
    State(app): State<AppState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<Value>> {
    let (name, pattern, rules, version) = checked(body(&headers, &bytes)?)?;
    let Some(version) = version else {
        return Err(ApiError::bad_request(
            "send the version you edited (\"version\"), so that nobody's change is lost",
        )
        .into());
    };
    let set = app
        .store
        .update_rule_set(id, version, &name, &pattern, &rules, &by, now_ms())
        .await?;
    app.page_rules.forget();
    tracing::info!(rule_set = %set.name, version = set.version, by = %by, "rule set changed");
    Ok(Json(json!({ "rule_set": set })))
}

#[derive(Deserialize)]
struct VersionQuery {
    version: Option<i64>,
}

async fn delete_rule_set(
    Actor(by): Actor,
    State(app): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<VersionQuery>,
) -> Result<Json<Value>> {
    app.store
        .delete_rule_set(id, q.version, &by, now_ms())
        .await?;
    app.page_rules.forget();
    tracing::info!(rule_set = id, by = %by, "rule set deleted");
    Ok(Json(json!({ "deleted": id })))
}

async fn rule_set_versions(
    _: Actor,
    State(app): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Value>> {
    let versions = app.store.rule_set_versions(id).await?;
    if versions.is_empty() {
        return Err(ApiError::not_found("no such rule set").into());
    }
    Ok(Json(json!({ "versions": versions })))
}

// ---- the visual editor ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartEditor {
    /// The page of the site to open in editor mode.
    url: String,
    /// The rule set to save into (created on first save); defaults from the URL.
    #[serde(default)]
    rule_set: Option<String>,
    #[serde(default)]
    url_pattern: Option<String>,
}

/// `https://shop.example/checkout?x#y` → `https://shop.example/checkout*`.
fn default_pattern(u: &url::Url) -> String {
    format!("{}{}*", u.origin().ascii_serialization(), u.path())
}

fn default_name(u: &url::Url) -> String {
    let path = u.path().trim_end_matches('/');
    let name = format!("{}{}", u.host_str().unwrap_or_default(), path);
    name.chars().take(rules::MAX_NAME_LEN).collect()
}

async fn start_editor(
    Admin(by): Admin,
    State(app): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response> {
    let start: StartEditor = body(&headers, &bytes)?;
    let mut page = url::Url::parse(start.url.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or_else(|| ApiError::bad_request("give the absolute address of a page of your site, e.g. https://shop.example/checkout"))?;
    page.set_fragment(None);
    let origin = page.origin().ascii_serialization();
    let host = super::header(&headers, header::HOST);
    if !app.site_origins.allows(&origin, host) {
        let message = format!(
            "{origin} is not in allowed_origins: the co-browse script does not run there, so the editor cannot either"
        );
        return Err(ApiError::bad_request(message).into());
    }
    let sets = app.store.rule_sets().await?;
    let name = start
        .rule_set
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| default_name(&page));
    rules::check_name(&name).map_err(|m| RuleError {
        field: "rule_set".into(),
        value: name.clone(),
        message: m,
    })?;
    let existing = sets.iter().find(|s| s.name == name);
    let pattern = match (
        start
            .url_pattern
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty()),
        existing,
    ) {
        (Some(p), _) => p,
        (None, Some(set)) => set.url_pattern.clone(),
        (None, None) => default_pattern(&page),
    };
    rules::check_url_pattern(&pattern).map_err(|m| RuleError {
        field: "url_pattern".into(),
        value: pattern.clone(),
        message: m,
    })?;
    let token = format!("{EDITOR_PREFIX}{}", random_secret(&mut rand::rng()));
    let expires_at = now_ms() + EDITOR_LINK_TTL_MS;
    let grant = EditorToken {
        token_hash: sha256_hex(&token),
        kind: EditorTokenKind::Link,
        account: by.clone(),
        origin,
        url: page.to_string(),
        rule_set: name.clone(),
        url_pattern: pattern.clone(),
        expires_at,
    };
    app.store.add_editor_token(&grant).await?;
    tracing::info!(by = %by, url = %grant.url, rule_set = %name, "visual editor started");
    let open_url = format!("{page}#cobrowse-editor={token}");
    let body = json!({
        "open_url": open_url,
        "expires_at": expires_at,
        "rule_set": name,
        "url_pattern": pattern,
        "pattern_matches_page": url_matches(&pattern, page.as_str()),
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn stop_editor(Admin(by): Admin, State(app): State<AppState>) -> Result<Json<Value>> {
    let removed = app.store.remove_editor_tokens(&by).await?;
    Ok(Json(json!({ "removed": removed })))
}

/// The site origin of an editor request, when it is one the script may run on.
fn site_origin(app: &AppState, headers: &HeaderMap) -> Option<String> {
    let origin = super::header(headers, header::ORIGIN)?;
    let host = super::header(headers, header::HOST);
    app.site_origins
        .allows(origin, host)
        .then(|| normalize_origin(origin))
        .flatten()
}

fn cors(app: &AppState, headers: &HeaderMap, mut response: Response) -> Response {
    if let Some(origin) = site_origin(app, headers) {
        let h = response.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_str(&origin).expect("origins are ASCII"),
        );
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

async fn editor_preflight(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if site_origin(&app, &headers).is_none() {
        return (
            StatusCode::FORBIDDEN,
            "this origin may not use the visual editor",
        )
            .into_response();
    }
    let response = (
        StatusCode::NO_CONTENT,
        [
            (header::ACCESS_CONTROL_ALLOW_METHODS, "POST"),
            (
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "authorization, content-type",
            ),
            (header::ACCESS_CONTROL_MAX_AGE, "600"),
        ],
    )
        .into_response();
    cors(&app, &headers, response)
}

/// The editor grant behind a request's bearer token, checked against the page's origin and its administrator.
async fn editor_grant(
    app: &AppState,
    headers: &HeaderMap,
    kind: EditorTokenKind,
) -> Result<EditorToken> {
    let Credential::Bearer(token) = Credential::from_headers(headers) else {
        return Err(
            unauthorized("the editor sends its token as Authorization: Bearer cbe_…").into(),
        );
    };
    if !token.starts_with(EDITOR_PREFIX) {
        return Err(unauthorized("not an editor token").into());
    }
    // Checked before a one-time link is used up: another site's page cannot burn it.
    let Some(origin) = site_origin(app, headers) else {
        return Err(forbidden(
            "editor requests must come from a page of a site in allowed_origins",
        )
        .into());
    };
    let now = now_ms();
    let grant = match kind {
        EditorTokenKind::Link => app.store.take_editor_link(&sha256_hex(&token), now).await?,
        EditorTokenKind::Session => app.store.editor_session(&sha256_hex(&token), now).await?,
    };
    let Some(grant) = grant else {
        let message = match kind {
            EditorTokenKind::Link => {
                "this editor link was used already or has expired: start the editor again from the admin console"
            }
            EditorTokenKind::Session => {
                "the editor session has expired or was stopped: start the editor again from the admin console"
            }
        };
        return Err(unauthorized(message).into());
    };
    if origin != grant.origin {
        return Err(forbidden(format!(
            "this editor grant is for pages of {}",
            grant.origin
        ))
        .into());
    }
    match app.store.account(&grant.account).await? {
        Some(a) if a.role == AccountRole::Admin && !a.disabled => Ok(grant),
        _ => Err(
            forbidden("the administrator who started the editor may no longer change rules").into(),
        ),
    }
}

async fn open_editor(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let result = async {
        let link = editor_grant(&app, &headers, EditorTokenKind::Link).await?;
        let token = format!("{EDITOR_PREFIX}{}", random_secret(&mut rand::rng()));
        let session = EditorToken {
            token_hash: sha256_hex(&token),
            kind: EditorTokenKind::Session,
            expires_at: now_ms() + EDITOR_SESSION_TTL_MS,
            ..link
        };
        app.store.add_editor_token(&session).await?;
        let current = app
            .store
            .rule_sets()
            .await?
            .into_iter()
            .find(|s| s.name == session.rule_set);
        Ok::<_, Failure>(Json(json!({
            "token": token,
            "expires_at": session.expires_at,
            "account": session.account,
            "url": session.url,
            "rule_set": session.rule_set,
            "url_pattern": current.as_ref().map_or(&session.url_pattern, |s| &s.url_pattern),
            "rules": current.as_ref().map(|s| s.rules.clone()).unwrap_or_default(),
            "version": current.as_ref().map(|s| s.version),
        })))
    }
    .await;
    cors(&app, &headers, result.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EditorSave {
    /// A new pattern for the rule set (else the one it has, or the editor's default).
    #[serde(default)]
    url_pattern: Option<String>,
    #[serde(default)]
    add: Rules,
    #[serde(default)]
    remove: Rules,
}

fn merged(current: &Rules, add: &Rules, remove: &Rules) -> Rules {
    let pick = |now: &[String], plus: &[String], minus: &[String]| -> Vec<String> {
        now.iter()
            .chain(plus)
            .filter(|s| !minus.iter().any(|m| m.trim() == s.trim()))
            .cloned()
            .collect()
    };
    rules::normalize(&Rules {
        mask: pick(&current.mask, &add.mask, &remove.mask),
        disable: pick(&current.disable, &add.disable, &remove.disable),
        block: pick(&current.block, &add.block, &remove.block),
    })
}

async fn editor_save(State(app): State<AppState>, headers: HeaderMap, bytes: Bytes) -> Response {
    let result = async {
        let grant = editor_grant(&app, &headers, EditorTokenKind::Session).await?;
        let save: EditorSave = body(&headers, &bytes)?;
        rules::check_rules(&rules::normalize(&save.add))?;
        let by = format!("{} (visual editor)", grant.account);
        // Read, merge, write at that version; someone saving in between makes us merge again.
        for _ in 0..3 {
            let current = app.store.rule_sets().await?.into_iter().find(|s| s.name == grant.rule_set);
            let base = current.as_ref().map(|s| s.rules.clone()).unwrap_or_default();
            let rules = merged(&base, &save.add, &save.remove);
            let pattern = save
                .url_pattern
                .as_deref()
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .or_else(|| current.as_ref().map(|s| s.url_pattern.clone()))
                .unwrap_or_else(|| grant.url_pattern.clone());
            rules::check_rule_set(&grant.rule_set, &pattern, &rules)?;
            let now = now_ms();
            let saved = match &current {
                Some(set) => app.store.update_rule_set(set.id, set.version, &set.name, &pattern, &rules, &by, now).await,
                None => app.store.create_rule_set(&grant.rule_set, &pattern, &rules, &by, now).await,
            };
            match saved {
                Ok(set) => {
                    app.page_rules.forget();
                    tracing::info!(rule_set = %set.name, version = set.version, by = %by, "rule set saved from the visual editor");
                    let applies = url_matches(&set.url_pattern, &grant.url);
                    return Ok::<_, Failure>(Json(json!({ "rule_set": set, "pattern_matches_page": applies })));
                }
                Err(StoreError::Conflict(_) | StoreError::Exists(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::new(StatusCode::CONFLICT, "conflict", "the rule set keeps changing under us: try again").into())
    }
    .await;
    cors(&app, &headers, result.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editor_defaults_come_from_the_page() {
        let u = url::Url::parse("https://shop.example/checkout/pay?step=2#x").unwrap();
        assert_eq!(default_pattern(&u), "https://shop.example/checkout/pay*");
        assert_eq!(default_name(&u), "shop.example/checkout/pay");
        assert!(url_matches(&default_pattern(&u), u.as_str()));
    }

    #[test]
    fn editor_saves_merge_into_the_set() {
        let now = Rules {
            mask: vec!["#a".into()],
            block: vec!["#old".into()],
            ..Rules::default()
        };
        let add = Rules {
            mask: vec!["#a".into(), " #b ".into()],
            disable: vec!["#c".into()],
            ..Rules::default()
        };
        let remove = Rules {
            block: vec!["#old".into()],
            ..Rules::default()
        };
        let m = merged(&now, &add, &remove);
        assert_eq!(
            (m.mask, m.disable, m.block),
            (
                vec!["#a".to_string(), "#b".into()],
                vec!["#c".to_string()],
                vec![]
            )
        );
    }
}
