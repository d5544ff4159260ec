//! The web parts embedded in the binary: customer script, agent console,
//! admin console, demo shop. No build step: files are served as written, except the
//! customer script's modules, minified and gzipped once at startup (they reach every
//! site visitor).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::LazyLock;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};

use super::AppState;
use super::minify::minify;

#[derive(RustEmbed)]
#[folder = "web/"]
struct Web;

/// A file as served: its bytes, the same gzipped if made ahead, and their ETag.
struct Asset {
    data: Cow<'static, [u8]>,
    gzip: Option<&'static [u8]>,
    etag: String,
}

/// A customer module as served: minified, and gzipped as small as it gets once (the compression
/// layer gzips per request at its default level, and streams: chunked framing on every file).
struct Minified {
    data: Vec<u8>,
    gzip: Vec<u8>,
    etag: String,
}

/// Gzip as small as gzip gets (zopfli): slow, but done once at startup, and every visitor of
/// the customers' sites downloads the result.
fn gzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    zopfli::compress(
        zopfli::Options::default(),
        zopfli::Format::Gzip,
        data,
        &mut out,
    )
    .expect("writing to memory");
    out
}

/// Whether the request takes gzip (`Accept-Encoding`, not refused with `q=0`).
fn takes_gzip(request: &HeaderMap) -> bool {
    let Some(v) = request
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    v.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let coding = parts.next().unwrap_or_default();
        (coding.eq_ignore_ascii_case("gzip") || coding == "*")
            && !parts.any(|p| {
                let p = p.replace(' ', "");
                p.strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()) == Some(0.0)
            })
    })
}

fn etag(sha256: &[u8]) -> String {
    format!("\"{}\"", hex::encode(&sha256[..12]))
}

/// `customer/*.js` minified (`minify.rs`). A file the minifier cannot read is
/// left out, and so served as written. Built once: in a debug build (files read from disk),
/// an edit of the customer script shows after a restart of the server.
static CUSTOMER_JS: LazyLock<HashMap<String, Minified>> = LazyLock::new(|| {
    let mut table = HashMap::new();
    for path in Web::iter().filter(|p| p.starts_with("customer/") && p.ends_with(".js")) {
        let Some(file) = Web::get(&path) else {
            continue;
        };
        let min = std::str::from_utf8(&file.data)
            .map_err(|e| e.to_string())
            .and_then(|src| minify(src).map_err(|e| e.to_string()));
        match min {
            Ok(min) => {
                let etag = etag(&Sha256::digest(min.as_bytes()));
                let gzip = gzip(min.as_bytes());
                let data = min.into_bytes();
                table.insert(path.into_owned(), Minified { data, gzip, etag });
            }
            Err(error) => tracing::warn!(%path, %error, "served unminified"),
        }
    }
    table
});

fn asset(path: &str) -> Option<Asset> {
    if let Some(a) = CUSTOMER_JS.get(path) {
        return Some(Asset {
            data: Cow::Borrowed(&a.data),
            gzip: Some(&a.gzip),
            etag: a.etag.clone(),
        });
    }
    let file = Web::get(path)?;
    Some(Asset {
        etag: etag(&file.metadata.sha256_hash()),
        data: file.data,
        gzip: None,
    })
}

pub fn routes() -> Router<AppState> {
    LazyLock::force(&CUSTOMER_JS);
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

/// Mirrors the `<meta>` policy of `web/admin/index.html`; framed by our own pages only.
const ADMIN_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'self'";

/// The demo shop: its own scripts (the customer script included) and nothing else; its
/// forms post to itself; the customer script talks to our WebSocket ('self' covers ws:
/// and wss: to the same host) and draws its toolbar with inline styles.
const DEMO_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; \
    base-uri 'self'; form-action 'self'; frame-ancestors 'self'";

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
    let Some(Asset { data, gzip, etag }) = asset(path) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
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
    // The consoles' URLs name sessions (`/agent/?session=…`): they are sent nowhere.
    let referrer = match area {
        "agent" | "admin" => "no-referrer",
        _ => "same-origin",
    };
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static(referrer));
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
                HeaderValue::from_static(ADMIN_CSP),
            );
        }
        "demo" => {
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(DEMO_CSP),
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
    if gzip.is_some() {
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    match gzip.filter(|_| takes_gzip(request)) {
        // Already encoded: the compression layer leaves it as it is, and it goes with its length.
        Some(z) => {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            (headers, z).into_response()
        }
        None => (headers, data).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_taken_unless_refused() {
        let takes = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
            takes_gzip(&h)
        };
        assert!(takes("gzip, deflate, br, zstd") && takes("br;q=1.0, GZIP;q=0.5") && takes("*"));
        assert!(!takes("br") && !takes("gzip;q=0") && !takes("gzip; q=0.0") && !takes("identity"));
        assert!(!takes_gzip(&HeaderMap::new()));
    }

    /// A module left out of the table would be served as written: the minifier must read them all.
    #[test]
    fn every_customer_module_is_served_minified() {
        let modules: Vec<_> = Web::iter()
            .filter(|p| p.starts_with("customer/") && p.ends_with(".js"))
            .collect();
        assert!(modules.len() > 5);
        for path in modules {
            let served = asset(&path).expect("served");
            let written = Web::get(&path).expect("embedded");
            assert!(served.data.len() < written.data.len(), "{path}");
            assert_ne!(served.etag, etag(&written.metadata.sha256_hash()), "{path}");
        }
    }
}
