//! The HTTP face of the server: WebSockets for the two parties, the REST API,
//! sign-in, operations endpoints and the embedded web assets.

mod admin;
mod agent_ws;
mod api;
mod assets;
mod audit_api;
mod auth_routes;
mod caller;
mod conn;
mod customer_ws;
mod demo;
mod error;
mod headers;
mod minify;
mod openapi;
mod ops;
mod page_rules;
mod proxy;
pub mod sso_recheck;
mod sso_routes;

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, header as h};
use axum::routing::{get, post};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::watch;

use crate::auth::{Origins, Tokens};
use crate::config::Config;
use crate::live::Live;
use crate::ratelimit::{Backoff, Keyed};
use crate::store::Store;

pub use conn::RelayMetrics;
pub use error::ApiError;
pub use proxy::Proxy;

/// Everything a request handler may need, shared by all of them.
pub struct App {
    pub config: Config,
    pub live: Live,
    pub store: Arc<dyn Store>,
    pub tokens: Tokens,
    /// Sites allowed to start sessions (plus the server's own origin).
    pub site_origins: Origins,
    /// Agent desktops allowed to embed the console (plus the server's own origin).
    pub agent_origins: Origins,
    pub metrics: PrometheusHandle,
    pub limits: Limiters,
    pub relay: conn::RelayMetrics,
    /// Flips to true when the server starts shutting down.
    pub shutdown: watch::Receiver<bool>,
    pub demo: demo::Submissions,
    pub proxy: proxy::Proxy,
    /// Sign-in cookies carry `Secure` when people reach us over HTTPS.
    pub https: bool,
    pub page_rules: page_rules::PageRules,
    /// The address people reach us at (see `server::public_url`): providers send
    /// their answers back to it.
    pub public_url: String,
    pub sso: crate::sso::Sso,
}

pub struct Limiters {
    pub join_per_agent: Keyed,
    pub join_per_ip: Keyed,
    pub create_per_ip: Keyed,
    pub sign_in_per_ip: Keyed,
    /// Failed password sign-ins per account name, on this node.
    pub sign_in_failures: Backoff,
    /// Failed `resume`s (wrong token or unknown ID) per address and per ID.
    pub resume_failures_per_ip: Keyed,
    pub resume_failures_per_session: Keyed,
}

pub type AppState = Arc<App>;

pub fn router(app: AppState) -> Router {
    Router::new()
        .route("/ws/customer", get(customer_ws::upgrade))
        .route("/ws/agent", get(agent_ws::upgrade))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/proxy", get(proxy::get))
        .route("/auth/login", post(auth_routes::login))
        .route("/auth/logout", post(auth_routes::logout))
        .route("/auth/token", post(auth_routes::token))
        .route("/auth/link", get(auth_routes::link))
        .route("/auth/me", get(auth_routes::me))
        .route("/auth/options", get(sso_routes::options))
        .route("/auth/oidc/{provider}/start", get(sso_routes::start))
        .route("/auth/oidc/{provider}/callback", get(sso_routes::callback))
        .nest("/api/v1", openapi::router(&app))
        .merge(demo::routes())
        // The customer modules come gzipped ahead (assets.rs); the rest per request.
        .merge(assets::routes().layer(tower_http::compression::CompressionLayer::new()))
        .layer(axum::middleware::map_response_with_state(
            app.clone(),
            headers::add,
        ))
        .with_state(app)
        .layer(axum::middleware::map_request(host_from_authority))
}

/// HTTP/2 (what browsers speak to us over HTTPS) names the host in the
/// request's authority, not in a `Host` header; every same-origin check here
/// compares the `Origin` with `Host`, so without this one every sign-in and
/// console change over HTTPS would be refused as coming from another site.
async fn host_from_authority(mut request: Request) -> Request {
    if !request.headers().contains_key(h::HOST)
        && let Some(value) = request
            .uri()
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    {
        request.headers_mut().insert(h::HOST, value);
    }
    request
}

fn header(headers: &HeaderMap, name: axum::http::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The address a request came from, for per-IP limits: the socket peer, or
/// the client a trusted reverse proxy names in `X-Forwarded-For` (see
/// `trusted_proxies`), so that clients behind one proxy are limited apart.
fn client_ip(app: &App, addr: std::net::SocketAddr, headers: &HeaderMap) -> IpAddr {
    // A value that is not text counts as a malformed entry (the peer is used).
    let forwarded_for = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.to_str().unwrap_or(""));
    crate::forwarded::client_ip(addr.ip(), forwarded_for, &app.config.trusted_proxies)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str, host: Option<&str>) -> Request {
        let mut builder = Request::builder().uri(uri);
        if let Some(host) = host {
            builder = builder.header(h::HOST, host);
        }
        builder.body(axum::body::Body::empty()).unwrap()
    }

    #[tokio::test]
    async fn an_http2_request_gets_its_host_from_the_authority() {
        let r = host_from_authority(request("https://127.0.0.1:8443/auth/token", None)).await;
        assert_eq!(header(r.headers(), h::HOST), Some("127.0.0.1:8443"));
    }

    #[tokio::test]
    async fn a_host_header_is_kept_as_it_came() {
        let r = host_from_authority(request("/auth/token", Some("cobrowse.example"))).await;
        assert_eq!(header(r.headers(), h::HOST), Some("cobrowse.example"));
        let r = host_from_authority(request("/auth/token", None)).await;
        assert_eq!(header(r.headers(), h::HOST), None);
    }
}
