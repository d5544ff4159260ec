//! DOM restriction rule sets: validated, versioned, changed only at the version edited.

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
use crate::domain::rule_set::Rules;
use crate::domain::rule_set::rules_for;
use crate::domain::rule_set::{RuleSet, RuleSetVersion};
use crate::domain::url_pattern::url_matches;
use crate::http::AppState;
use crate::http::caller::Actor;
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use crate::rules::{self, RuleError};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct RuleSetQuery {
    /// Only the sets that apply to this page, and their merged rules.
    url: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct RuleSetList {
    rule_sets: Vec<RuleSet>,
    /// With `url`: the merged rules of the sets that apply to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    rules: Option<Rules>,
    /// With `url`: the page asked about.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    url: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct RuleSetResult {
    rule_set: RuleSet,
}

#[derive(Serialize, ToSchema)]
pub(super) struct RuleSetDeleted {
    deleted: i64,
}

#[derive(Serialize, ToSchema)]
pub(super) struct RuleSetVersionList {
    versions: Vec<RuleSetVersion>,
}

/// Rule sets in force; with `?url=`, only those that apply to that page and their merged rules.
#[utoipa::path(
    get,
    path = "/rule-sets",
    operation_id = "list_rule_sets",
    tag = "admin",
    params(RuleSetQuery),
    responses(
        (status = 200, body = RuleSetList),
    ),
)]
pub(super) async fn list(
    _: Actor,
    State(app): State<AppState>,
    Query(q): Query<RuleSetQuery>,
) -> ApiResult<Json<RuleSetList>> {
    let sets = app.store.rule_sets().await?;
    Ok(Json(match q.url {
        Some(url) => RuleSetList {
            rules: Some(rules_for(&sets, &url)),
            rule_sets: sets
                .into_iter()
                .filter(|s| url_matches(&s.url_pattern, &url))
                .collect(),
            url: Some(url),
        },
        None => RuleSetList {
            rule_sets: sets,
            rules: None,
            url: None,
        },
    }))
}

#[derive(Deserialize, ToSchema)]
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

/// Create a rule set (version 1).
#[utoipa::path(
    post,
    path = "/rule-sets",
    description = selector_checks!(),
    operation_id = "create_rule_set",
    tag = "admin",
    request_body = RuleSetBody,
    responses(
        (status = 201, body = RuleSetResult),
        (status = 400, body = ErrorBody, description = "A refused rule (`invalid_rule`)"),
        (status = 409, body = ErrorBody),
    ),
)]
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
    audit(
        &app,
        &by,
        "rule_set.created",
        json!({ "rule_set": set.id, "name": set.name, "version": set.version }),
    );
    Ok((StatusCode::CREATED, Json(RuleSetResult { rule_set: set })).into_response())
}

/// Read a rule set.
#[utoipa::path(
    get,
    path = "/rule-sets/{id}",
    operation_id = "read_rule_set",
    tag = "admin",
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = RuleSetResult),
        (status = 404, body = ErrorBody),
    ),
)]
pub(super) async fn read(
    _: Actor,
    State(app): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<Json<RuleSetResult>> {
    let set = app
        .store
        .rule_set(id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such rule set"))?;
    Ok(Json(RuleSetResult { rule_set: set }))
}

/// Replace a rule set's name, URL pattern and rules.
#[utoipa::path(
    put,
    path = "/rule-sets/{id}",
    description = concat!(
        "`version` must be the one edited (409 if someone saved since).\n\n",
        selector_checks!()
    ),
    operation_id = "update_rule_set",
    tag = "admin",
    params(("id" = i64, Path)),
    request_body = RuleSetBody,
    responses(
        (status = 200, body = RuleSetResult),
        (status = 400, body = ErrorBody, description = "A refused rule, or no `version`"),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Changed since that version"),
    ),
)]
pub(super) async fn update(
    Actor(by): Actor,
    State(app): State<AppState>,
    Path(id): Path<i64>,
    JsonBody(input): JsonBody<RuleSetBody>,
) -> ApiResult<Json<RuleSetResult>> {
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
    audit(
        &app,
        &by,
        "rule_set.changed",
        json!({ "rule_set": set.id, "name": set.name, "version": set.version }),
    );
    Ok(Json(RuleSetResult { rule_set: set }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct VersionQuery {
    /// The version being deleted: refused if the set changed since.
    version: Option<i64>,
}

/// Delete a rule set (kept in its versions).
///
/// `?version=` guards against deleting what someone just changed.
#[utoipa::path(
    delete,
    path = "/rule-sets/{id}",
    operation_id = "delete_rule_set",
    tag = "admin",
    params(
        ("id" = i64, Path),
        VersionQuery,
    ),
    responses(
        (status = 200, body = RuleSetDeleted),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody),
    ),
)]
pub(super) async fn delete(
    Actor(by): Actor,
    State(app): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<VersionQuery>,
) -> ApiResult<Json<RuleSetDeleted>> {
    app.store
        .delete_rule_set(id, q.version, &by, now_ms())
        .await?;
    app.page_rules.forget();
    tracing::info!(rule_set = id, by = %by, "rule set deleted");
    audit(&app, &by, "rule_set.deleted", json!({ "rule_set": id }));
    Ok(Json(RuleSetDeleted { deleted: id }))
}

/// Every version of a rule set, newest first: who changed what, when (deletions included).
#[utoipa::path(
    get,
    path = "/rule-sets/{id}/versions",
    operation_id = "list_rule_set_versions",
    tag = "admin",
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = RuleSetVersionList),
        (status = 404, body = ErrorBody),
    ),
)]
pub(super) async fn versions(
    _: Actor,
    State(app): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<Json<RuleSetVersionList>> {
    let versions = app.store.rule_set_versions(id).await?;
    if versions.is_empty() {
        return Err(ApiError::not_found("no such rule set"));
    }
    Ok(Json(RuleSetVersionList { versions }))
}
