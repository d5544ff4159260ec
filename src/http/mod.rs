//! The HTTP face of the server: WebSockets for the two parties, the REST API,
//! sign-in, operations endpoints and the embedded web assets.

mod admin;
mod agent_ws;
mod api;
mod assets;
mod auth_routes;
mod conn;
mod customer_ws;
mod demo;
mod error;
mod minify;
mod ops;
mod proxy;

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::watch;

use crate::auth::{Origins, Tokens};
use crate::config::Config;
use crate::live::Live;
use crate::ratelimit::Keyed;
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
}

pub struct Limiters {
    pub join_per_agent: Keyed,
    pub join_per_ip: Keyed,
    pub create_per_ip: Keyed,
    pub sign_in_per_ip: Keyed,
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
        .nest("/api/v1", api::routes())
        .nest("/api/v1/admin", admin::routes())
        .merge(demo::routes())
        .merge(assets::routes().layer(tower_http::compression::CompressionLayer::new()))
        .with_state(app)
}

fn header(headers: &HeaderMap, name: axum::http::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The address a request came from: the socket peer (put a proxy's address in
/// `allowed` lists, not in rate limits).
fn client_ip(addr: std::net::SocketAddr) -> IpAddr {
    addr.ip()
}
