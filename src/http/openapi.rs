//! The REST API under `/api/v1` and its OpenAPI document, both built from the
//! same `routes!` of the handlers (utoipa-axum), so that what is served and what
//! is documented cannot drift apart.

use axum::body::Bytes;
use axum::extract::Extension;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::ToSchema;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa_axum::router::OpenApiRouter;

use super::AppState;
use super::caller::COOKIE;
use super::error::ErrorBody;

/// What the document says beyond the handlers: who wrote it, how to
/// authenticate, the error body.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "cobrowse API",
        version = "1",
        description = "Live co-browsing sessions and their history. Authenticate with an API \
            key (`Authorization: Bearer cbk_…`, created with `cobrowse apikey create NAME`) \
            or an administrator's sign-in cookie. Errors are \
            `{\"error\":{\"code\":…,\"message\":…}}`. Administration (`/admin/…`): \
            accounts, API keys, webhooks and the visual editor need an administrator's \
            cookie; rule sets accept an API key too."
    ),
    servers((url = "/api/v1")),
    security(("apiKey" = []), ("cookie" = [])),
    components(schemas(ErrorBody)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "sessions", description = "Live sessions and the interactions they belong to"),
        (name = "history", description = "Ended sessions"),
        (name = "audit", description = "The tamper-evident audit trail and the key that signs it"),
        (name = "admin", description = "Accounts, API keys, webhooks, rule sets, visual editor"),
    )
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = |description: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(description))
                    .build(),
            )
        };
        components.add_security_scheme("apiKey", bearer("API key cbk_…"));
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                COOKIE,
                "Administrator sign-in",
            ))),
        );
        components.add_security_scheme(
            "editorToken",
            bearer(
                "Visual editor token cbe_…: only /admin/editor/open (the one-time link token) \
                 and /admin/editor/rules (the session token)",
            ),
        );
    }
}

/// The document as served, serialized once when the router is built.
#[derive(Clone)]
pub(super) struct Document(Bytes);

/// The `/api/v1` router, serving its own document at `/api/v1/openapi.json`.
pub(super) fn router(app: &AppState) -> axum::Router<AppState> {
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(super::api::routes())
        .nest("/admin", super::admin::routes(app))
        .split_for_parts();
    complete(&mut doc);
    let json = doc.to_json().expect("the OpenAPI document serializes");
    router.layer(Extension(Document(json.into())))
}

/// What the handlers' attributes leave to the document as a whole: any
/// operation behind a credential may be refused (401 without a valid one, 403
/// when it may not do this) with the error body, and OpenAPI requires a
/// description of every response, which the status code's name gives.
fn complete(doc: &mut utoipa::openapi::OpenApi) {
    let refused = || -> RefOr<Response> {
        let body = ContentBuilder::new()
            .schema(Some(Ref::from_schema_name(ErrorBody::name())))
            .build();
        ResponseBuilder::new()
            .content("application/json", body)
            .build()
            .into()
    };
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            let open = operation
                .security
                .as_ref()
                .is_some_and(|s| s.iter().all(|r| *r == SecurityRequirement::default()));
            let responses = &mut operation.responses.responses;
            if !open {
                for status in [StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN] {
                    responses
                        .entry(status.as_str().to_string())
                        .or_insert_with(refused);
                }
            }
            for (status, response) in responses {
                if let RefOr::T(response) = response
                    && response.description.is_empty()
                {
                    let reason = status
                        .parse()
                        .ok()
                        .and_then(|s| StatusCode::from_u16(s).ok())
                        .and_then(|s| s.canonical_reason());
                    response.description = reason.unwrap_or(status).to_string();
                }
            }
        }
    }
}

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    security(()),
    responses(
        (status = 200, description = "This OpenAPI document", content_type = "application/json"),
    ),
)]
pub(super) async fn document(Extension(Document(json)): Extension<Document>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], json)
}
