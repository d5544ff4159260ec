//! `GET /proxy?url=…&session=…`: page resources (images, fonts, stylesheets
//! that could not be inlined) for the agent's view. The agent's browser never
//! calls the customer's site, and no cookie of anyone's is forwarded.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use serde::Deserialize;

use super::AppState;
use super::caller::Person;
use super::error::{ApiError, ApiResult};
use crate::netguard;
use crate::proxy::{Cache, Policy, ProxyError, rewrite_css, served_type, site_ttl};
use crate::session::SessionId;

pub struct Proxy {
    policy: Arc<Policy>,
    client: reqwest::Client,
    cache: Cache,
    max_bytes: usize,
}

impl Proxy {
    pub fn new(origins: &[String], max_bytes: usize) -> anyhow::Result<Self> {
        let policy = Arc::new(Policy::new(origins));
        let redirects = policy.clone();
        let builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= 3 || redirects.check(attempt.url().as_str()).is_err()
                {
                    attempt.stop()
                } else {
                    attempt.follow()
                }
            }))
            .user_agent("cobrowse-resource-proxy")
            .timeout(Duration::from_secs(15));
        let client = policy.guard().clone().client(builder)?;
        Ok(Proxy {
            policy,
            client,
            cache: Cache::new(Duration::from_secs(300), 64 * 1024 * 1024),
            max_bytes,
        })
    }
}

impl From<ProxyError> for ApiError {
    fn from(e: ProxyError) -> Self {
        let (status, code) = match &e {
            ProxyError::BadUrl => (StatusCode::BAD_REQUEST, "bad_url"),
            ProxyError::Origin(_) => (StatusCode::FORBIDDEN, "origin_not_allowed"),
            ProxyError::Private(_) => (StatusCode::FORBIDDEN, "private_address"),
            ProxyError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ProxyError::ContentType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "content_type"),
            ProxyError::Upstream(_) => (StatusCode::BAD_GATEWAY, "upstream"),
        };
        ApiError::new(status, code, e.to_string())
    }
}

#[derive(Deserialize)]
pub struct ProxyQuery {
    url: String,
    session: String,
}

pub async fn get(
    State(app): State<AppState>,
    Person(who): Person,
    headers: axum::http::HeaderMap,
    Query(q): Query<ProxyQuery>,
) -> ApiResult<Response> {
    let id: SessionId = q
        .session
        .parse()
        .map_err(|_| ApiError::not_found("no such session"))?;
    let session = app
        .live
        .sessions
        .get(id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such session"))?;
    if session.agent.as_deref() != Some(who.name.as_str()) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "you are not the agent of this session",
        ));
    }
    let proxy = &app.proxy;
    // The server's own pages (the demo shop) need no proxy: send the agent there.
    if let Ok(own) = url::Url::parse(&q.url)
        && matches!(own.scheme(), "http" | "https")
        && super::header(&headers, axum::http::header::HOST)
            .is_some_and(|h| Some(h) == own_host(&own).as_deref())
    {
        return Ok(axum::response::Redirect::temporary(&own_path(&own)?).into_response());
    }
    let url = proxy.policy.check(&q.url)?;
    let cache_key = format!("{id} {url}");
    if let Some(hit) = proxy.cache.get(&cache_key) {
        let fresh = hit.fresh_for();
        return Ok(respond(&hit.content_type, hit.body, fresh));
    }
    let upstream = proxy.client.get(url.clone()).send().await.map_err(|e| {
        if netguard::blocked(&e) {
            ProxyError::Private(url.host_str().unwrap_or_default().into())
        } else {
            ProxyError::Upstream(e.to_string())
        }
    })?;
    if !upstream.status().is_success() {
        return Err(ProxyError::Upstream(upstream.status().to_string()).into());
    }
    let sent_type = upstream
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let content_type = served_type(sent_type, upstream.url())
        .ok_or_else(|| ProxyError::ContentType(sent_type.to_string()))?;
    let ttl = proxy.cache.ttl(site_ttl(
        upstream
            .headers()
            .get(header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok()),
    ));
    if upstream
        .content_length()
        .is_some_and(|n| n as usize > proxy.max_bytes)
    {
        return Err(ProxyError::TooLarge(proxy.max_bytes).into());
    }
    let final_url = upstream.url().clone();
    let mut body = BytesMut::new();
    let mut upstream = upstream;
    while let Some(chunk) = upstream
        .chunk()
        .await
        .map_err(|e| ProxyError::Upstream(e.to_string()))?
    {
        if body.len() + chunk.len() > proxy.max_bytes {
            return Err(ProxyError::TooLarge(proxy.max_bytes).into());
        }
        body.extend_from_slice(&chunk);
    }
    let mut body = body.freeze();
    if content_type.starts_with("text/css") {
        let css = String::from_utf8_lossy(&body);
        let session = id.to_string();
        let wrap = |u: &str| format!("/proxy?url={}&session={session}", urlencode(u));
        body = Bytes::from(rewrite_css(&css, &final_url, wrap));
    }
    proxy
        .cache
        .put(&cache_key, content_type.clone(), body.clone(), ttl);
    Ok(respond(&content_type, body, ttl))
}

/// Where on this server a URL of its own points: its path and query. A path that starts
/// with `//` (`http://us//evil.example/`) would be read by the browser as another host
/// (`Location: //evil.example/`): refused, so the proxy is no open redirect.
fn own_path(own: &url::Url) -> Result<String, ProxyError> {
    if own.path().starts_with("//") {
        return Err(ProxyError::BadUrl);
    }
    Ok(match own.query() {
        Some(q) => format!("{}?{q}", own.path()),
        None => own.path().to_string(),
    })
}

fn own_host(u: &url::Url) -> Option<String> {
    let host = u.host_str()?;
    Some(match u.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    })
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The resource for the agent's browser, which may keep it as long as the proxy would (`fresh`).
fn respond(content_type: &str, body: Bytes, fresh: Duration) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_str(&format!("private, max-age={}", fresh.as_secs()))
            .expect("a number is a header value"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Opened directly, a proxied SVG must not run scripts in our origin.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:",
        ),
    );
    r
}
