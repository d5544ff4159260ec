//! The visual restrictions editor: an administrator starts it for a page of
//! the site, the overlay there trades the one-time link for a short session and
//! saves rules with it, cross-origin (CORS for these two routes only).

use axum::Json;
use axum::body::Bytes;
use axum::extract::Request;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Duration;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit;
use super::{JsonBody, body};
use crate::clock::now_ms;
use crate::config::normalize_origin;
use crate::domain::account::AccountRole;
use crate::domain::editor_grant::EditorToken;
use crate::domain::editor_grant::EditorTokenKind;
use crate::domain::rule_set::{RuleSet, Rules};
use crate::domain::url_pattern::url_matches;
use crate::http::AppState;
use crate::http::caller::{Admin, Credential, EDITOR_PREFIX};
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use crate::rules::{self, RuleError};
use crate::secret::random_secret;
use crate::secret::sha256_hex;
use crate::session::Millis;
use crate::store::StoreError;

/// How long an administrator has to open the site after starting the editor.
const EDITOR_LINK_TTL_MS: u64 = 10 * 60_000;
/// How long the overlay may save once opened.
const EDITOR_SESSION_TTL_MS: u64 = 30 * 60_000;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct StartEditor {
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

#[derive(Serialize, ToSchema)]
pub(super) struct EditorStarted {
    /// The page with the one-time link in its fragment: open it in a browser.
    open_url: String,
    /// Until when the link works, in milliseconds since the epoch.
    expires_at: Millis,
    rule_set: String,
    url_pattern: String,
    pattern_matches_page: bool,
}

#[derive(Serialize, ToSchema)]
pub(super) struct EditorStopped {
    /// How many of your editor links and sessions stopped working.
    removed: u64,
}

#[derive(Serialize, ToSchema)]
pub(super) struct EditorOpened {
    /// The `cbe_…` editor session token.
    token: String,
    expires_at: Millis,
    account: String,
    url: String,
    rule_set: String,
    url_pattern: String,
    rules: Rules,
    /// The rule set's version, if it exists yet.
    version: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct EditorSaved {
    rule_set: RuleSet,
    pattern_matches_page: bool,
}

/// Start the visual restrictions editor for a page of an allowed site.
///
/// Returns the address to open, with a one-time token in the fragment, valid 10 minutes.
#[utoipa::path(
    post,
    path = "/editor",
    operation_id = "start_editor",
    tag = "admin",
    security(("cookie" = [])),
    request_body = StartEditor,
    responses(
        (status = 201, body = EditorStarted),
        (status = 400, body = ErrorBody),
    ),
)]
pub(super) async fn start(
    Admin(by): Admin,
    State(app): State<AppState>,
    headers: HeaderMap,
    JsonBody(start): JsonBody<StartEditor>,
) -> ApiResult<Response> {
    let mut page = url::Url::parse(start.url.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or_else(|| ApiError::bad_request("give the absolute address of a page of your site, e.g. https://shop.example/checkout"))?;
    page.set_fragment(None);
    let origin = page.origin().ascii_serialization();
    let host = crate::http::header(&headers, header::HOST);
    if !app.site_origins.allows(&origin, host) {
        let message = format!(
            "{origin} is not in allowed_origins: the co-browse script does not run there, so the editor cannot either"
        );
        return Err(ApiError::bad_request(message));
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
    audit(
        &app,
        &by,
        "editor.started",
        json!({ "url": grant.url, "rule_set": name }),
    );
    let open_url = format!("{page}#cobrowse-editor={token}");
    let body = EditorStarted {
        open_url,
        expires_at,
        rule_set: name,
        pattern_matches_page: url_matches(&pattern, page.as_str()),
        url_pattern: pattern,
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Stop every editor grant of the signed-in administrator.
#[utoipa::path(
    delete,
    path = "/editor",
    operation_id = "stop_editor",
    tag = "admin",
    security(("cookie" = [])),
    responses(
        (status = 200, body = EditorStopped),
    ),
)]
pub(super) async fn stop(
    Admin(by): Admin,
    State(app): State<AppState>,
) -> ApiResult<Json<EditorStopped>> {
    let removed = app.store.remove_editor_tokens(&by).await?;
    Ok(Json(EditorStopped { removed }))
}

/// The site origin of an editor request, when it is one the script may run on.
fn site_origin(app: &AppState, headers: &HeaderMap) -> Option<String> {
    let origin = crate::http::header(headers, header::ORIGIN)?;
    let host = crate::http::header(headers, header::HOST);
    app.site_origins
        .allows(origin, host)
        .then(|| normalize_origin(origin))
        .flatten()
}

/// CORS for the overlay on the site's pages: the site origins the script may
/// run on (`allowed_origins`, and the server's own), for these routes only.
pub(super) fn cross_origin_routes(app: &AppState) -> OpenApiRouter<AppState> {
    let site = app.clone();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, parts| {
            let host = crate::http::header(&parts.headers, header::HOST);
            origin
                .to_str()
                .is_ok_and(|o| site.site_origins.allows(o, host))
        }))
        .allow_methods([Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .max_age(Duration::from_secs(600))
        .vary([header::ORIGIN]);
    OpenApiRouter::new()
        .routes(routes!(open))
        .routes(routes!(save))
        .layer(cors)
        .layer(middleware::from_fn_with_state(app.clone(), preflight))
}

/// A preflight from an origin that may not use the editor is refused outright
/// rather than answered without CORS headers; an allowed one has no content.
async fn preflight(State(app): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::OPTIONS {
        return next.run(request).await;
    }
    if site_origin(&app, request.headers()).is_none() {
        return (
            StatusCode::FORBIDDEN,
            "this origin may not use the visual editor",
        )
            .into_response();
    }
    let mut response = next.run(request).await;
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

/// The editor grant behind a request's bearer token, checked against the page's origin and its administrator.
pub(super) async fn editor_grant(
    app: &AppState,
    headers: &HeaderMap,
    kind: EditorTokenKind,
) -> ApiResult<EditorToken> {
    let Credential::Bearer(token) = Credential::from_headers(headers) else {
        return Err(ApiError::unauthorized(
            "the editor sends its token as Authorization: Bearer cbe_…",
        ));
    };
    if !token.starts_with(EDITOR_PREFIX) {
        return Err(ApiError::unauthorized("not an editor token"));
    }
    // Checked before a one-time link is used up: another site's page cannot burn it.
    let Some(origin) = site_origin(app, headers) else {
        return Err(ApiError::forbidden(
            "editor requests must come from a page of a site in allowed_origins",
        ));
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
        return Err(ApiError::unauthorized(message));
    };
    if origin != grant.origin {
        return Err(ApiError::forbidden(format!(
            "this editor grant is for pages of {}",
            grant.origin
        )));
    }
    match app.store.account(&grant.account).await? {
        Some(a) if a.role == AccountRole::Admin && !a.disabled => Ok(grant),
        _ => Err(ApiError::forbidden(
            "the administrator who started the editor may no longer change rules",
        )),
    }
}

/// The overlay trades the one-time link token for an editor session token (30 minutes).
///
/// Cross-origin from the site's page (CORS for `allowed_origins`).
#[utoipa::path(
    post,
    path = "/editor/open",
    operation_id = "open_editor",
    tag = "admin",
    security(("editorToken" = [])),
    responses(
        (status = 200, body = EditorOpened),
    ),
)]
async fn open(State(app): State<AppState>, headers: HeaderMap) -> ApiResult<Json<EditorOpened>> {
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
    Ok(Json(EditorOpened {
        token,
        expires_at: session.expires_at,
        url_pattern: current
            .as_ref()
            .map_or(&session.url_pattern, |s| &s.url_pattern)
            .clone(),
        rules: current
            .as_ref()
            .map(|s| s.rules.clone())
            .unwrap_or_default(),
        version: current.as_ref().map(|s| s.version),
        account: session.account,
        url: session.url,
        rule_set: session.rule_set,
    }))
}

#[derive(Deserialize, ToSchema)]
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

/// The overlay saves selectors into the editor's rule set.
#[utoipa::path(
    post,
    path = "/editor/rules",
    description = concat!(
        "Merged: add, remove; optionally a new URL pattern. Cross-origin from the site's \
         page; the editor token opens nothing else.\n\n",
        selector_checks!()
    ),
    operation_id = "save_editor_rules",
    tag = "admin",
    security(("editorToken" = [])),
    request_body = EditorSave,
    responses(
        (status = 200, body = EditorSaved),
        (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody),
    ),
)]
async fn save(
    State(app): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Json<EditorSaved>> {
    let grant = editor_grant(&app, &headers, EditorTokenKind::Session).await?;
    let save: EditorSave = body(&headers, &bytes)?;
    rules::check_rules(&rules::normalize(&save.add))?;
    let by = format!("{} (visual editor)", grant.account);
    // Read, merge, write at that version; someone saving in between makes us merge again.
    for _ in 0..3 {
        let current = app
            .store
            .rule_sets()
            .await?
            .into_iter()
            .find(|s| s.name == grant.rule_set);
        let base = current
            .as_ref()
            .map(|s| s.rules.clone())
            .unwrap_or_default();
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
            Some(set) => {
                app.store
                    .update_rule_set(set.id, set.version, &set.name, &pattern, &rules, &by, now)
                    .await
            }
            None => {
                app.store
                    .create_rule_set(&grant.rule_set, &pattern, &rules, &by, now)
                    .await
            }
        };
        match saved {
            Ok(set) => {
                app.page_rules.forget();
                tracing::info!(rule_set = %set.name, version = set.version, by = %by, "rule set saved from the visual editor");
                audit(
                    &app,
                    &by,
                    "rule_set.saved_from_editor",
                    json!({ "rule_set": set.id, "name": set.name, "version": set.version }),
                );
                let applies = url_matches(&set.url_pattern, &grant.url);
                return Ok(Json(EditorSaved {
                    rule_set: set,
                    pattern_matches_page: applies,
                }));
            }
            Err(StoreError::Conflict(_) | StoreError::Exists(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::new(
        StatusCode::CONFLICT,
        "conflict",
        "the rule set keeps changing under us: try again",
    ))
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
