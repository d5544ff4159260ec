//! DOM restriction rule sets: validated, versioned, changed only at the version edited.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::JsonBody;
use crate::clock::now_ms;
use crate::domain::rule_set::RuleSet;
use crate::domain::rule_set::Rules;
use crate::domain::rule_set::rules_for;
use crate::domain::url_pattern::url_matches;
use crate::http::AppState;
use crate::http::caller::Actor;
use crate::http::error::{ApiError, ApiResult};
use crate::rules::{self, RuleError};

#[derive(Deserialize)]
pub(super) struct RuleSetQuery {
    /// Only the sets that apply to this page, and their merged rules.
    url: Option<String>,
}

pub(super) async fn list(
    _: Actor,
    State(app): State<AppState>,
    Query(q): Query<RuleSetQuery>,
) -> ApiResult<Json<Value>> {
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
pub(super) struct RuleSetBody {
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

pub(super) async fn create(
    Actor(by): Actor,
    State(app): State<AppState>,
    JsonBody(input): JsonBody<RuleSetBody>,
) -> ApiResult<Response> {
    let (name, pattern, rules, _) = checked(input)?;
    let set = app
        .store
        .create_rule_set(&name, &pattern, &rules, &by, now_ms())
        .await?;
    app.page_rules.forget();
    tracing::info!(rule_set = %set.name, version = set.version, by = %by, "rule set created");
    Ok((StatusCode::CREATED, Json(json!({ "rule_set": set }))).into_response())
}

pub(super) async fn read(
    _: Actor,
    State(app): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let set = app
        .store
        .rule_set(id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such rule set"))?;
    Ok(Json(json!({ "rule_set": set })))
}

pub(super) async fn update(
    Actor(by): Actor,
    State(app): State<AppState>,
    Path(id): Path<i64>,
    JsonBody(input): JsonBody<RuleSetBody>,
) -> ApiResult<Json<Value>> {
    let (name, pattern, rules, version) = checked(input)?;
    let Some(version) = version else {
        return Err(ApiError::bad_request(
            "send the version you edited (\"version\"), so that nobody's change is lost",
        ));
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
pub(super) struct VersionQuery {
    version: Option<i64>,
}

pub(super) async fn delete(
    Actor(by): Actor,
    State(app): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<VersionQuery>,
) -> ApiResult<Json<Value>> {
    app.store
        .delete_rule_set(id, q.version, &by, now_ms())
        .await?;
    app.page_rules.forget();
    tracing::info!(rule_set = id, by = %by, "rule set deleted");
    Ok(Json(json!({ "deleted": id })))
}

pub(super) async fn versions(
    _: Actor,
    State(app): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let versions = app.store.rule_set_versions(id).await?;
    if versions.is_empty() {
        return Err(ApiError::not_found("no such rule set"));
    }
    Ok(Json(json!({ "versions": versions })))
}
