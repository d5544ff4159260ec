//! The web parts embedded in the binary: customer script, agent console,
//! admin console, demo shop. No build step: files are served as written.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use rust_embed::RustEmbed;

use super::AppState;

#[derive(RustEmbed)]
#[folder = "web/"]
struct Web;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/demo/") }))
        .route(
            "/cobrowse.js",
            get(|State(app): State<AppState>, h: HeaderMap| async move {
                serve(&app, "customer/cobrowse.js", &h)
            }),
        )
        .route(
            "/{area}",
            get(
                |Path(area): Path<String>| async move { Redirect::permanent(&format!("/{area}/")) },
            ),
        )
        .route(
            "/{area}/",
            get(
                |State(app): State<AppState>, Path(area): Path<String>, h: HeaderMap| async move {
                    serve(&app, &format!("{area}/index.html"), &h)
                },
            ),
        )
        .route(
            "/{area}/{*path}",
            get(
                |State(app): State<AppState>,
                 Path((area, path)): Path<(String, String)>,
                 h: HeaderMap| async move {
                    let file = if path.ends_with('/') {
                        format!("{area}/{path}index.html")
                    } else {
                        format!("{area}/{path}")
                    };
                    serve(&app, &file, &h)
                },
            ),
        )
}

const AREAS: [&str; 4] = ["customer", "agent", "admin", "demo"];

/// Mirrors the `<meta>` policy of `web/agent/index.html`, applied before a byte is parsed.
const AGENT_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data: blob:; font-src 'self' data:; media-src 'self' data: blob:; connect-src 'self'; \
    frame-src 'self' about:; object-src 'none'; base-uri 'none'; form-action 'none'";

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

fn serve(app: &AppState, path: &str, request: &HeaderMap) -> Response {
    let area = path.split('/').next().unwrap_or_default();
    if !AREAS.contains(&area) || path.contains("..") || (area == "demo" && !app.config.demo) {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    let Some(file) = Web::get(path) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..12]));
    let mut headers = HeaderMap::new();
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).expect("hex etag"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    match area {
        // The customer script runs on other sites and loads its modules from here.
        "customer" => {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
        }
        // The agent console may be embedded by the allowed agent desktops only,
        // and nothing of the customer's page it rebuilds may run or call out.
        "agent" => {
            let ancestors = std::iter::once("'self'".to_string())
                .chain(app.agent_origins.list().iter().cloned());
            let csp = format!(
                "{AGENT_CSP}; frame-ancestors {}",
                ancestors.collect::<Vec<_>>().join(" ")
            );
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_str(&csp).expect("origins are ASCII"),
            );
        }
        "admin" => {
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("frame-ancestors 'self'"),
            );
        }
        _ => {}
    }
    if request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str())
    {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    (headers, file.data.into_owned()).into_response()
}
