//! Headers every response carries, whatever produced it (an asset, the API, an error).
//!
//! - `X-Content-Type-Options: nosniff`: a browser takes each answer for the type we say,
//!   so no text we echo (an error message, a proxied resource) is ever run as a script
//!   or rendered as HTML.
//! - `Strict-Transport-Security` when this server itself serves TLS: a browser that has
//!   been here over HTTPS never falls back to plain HTTP, where sign-in cookies and the
//!   customer's page could be read on the way. (Behind a TLS-terminating proxy, the proxy
//!   sets it: only it knows the scheme people use.)

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;

use super::AppState;

/// A year, the usual HSTS lifetime; subdomains are not included (they may be other servers).
const HSTS: &str = "max-age=31536000";

pub async fn add(State(app): State<AppState>, mut response: Response) -> Response {
    let h = response.headers_mut();
    h.entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    if app.config.tls.is_some() {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    response
}
