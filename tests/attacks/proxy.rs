//! The resource proxy, played by a hostile page (whose URLs the agent's view asks for) and
//! a hostile site: it must not redirect anywhere, reach the server's own network, or serve
//! anything but stylesheets, images and fonts.

use axum::http::header;
use axum::routing::get;
use serde_json::json;

use super::common::{Client, TestServer, start};

/// A site whose answers carry whatever content type an attacker likes.
async fn site() -> String {
    let typed = |t: &'static str, body: &'static str| {
        get(move || async move { ([(header::CONTENT_TYPE, t)], body) })
    };
    let app = axum::Router::new()
        .route(
            "/app.js",
            typed("text/javascript", "alert(document.cookie)"),
        )
        .route("/data.json", typed("application/json", "{\"secret\":1}"))
        .route(
            "/page.html",
            typed("text/html", "<script>alert(1)</script>"),
        )
        .route("/untyped.js", typed("application/octet-stream", "alert(1)"))
        .route("/font.woff2", typed("application/octet-stream", "wOF2"))
        .route("/img.png", typed("image/png", "\u{89}PNG"))
        .route(
            "/bare",
            get(|| async { axum::body::Body::from("<script>alert(1)</script>") }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    origin
}

/// An agent's sign-in cookie and the session it is in (the proxy serves only that agent).
async fn agent_in_session(srv: &TestServer) -> (String, String, Client) {
    let r = srv
        .http()
        .post(format!("{}/auth/token", srv.url))
        .json(&json!({"token": srv.agent_token("alice")}))
        .send()
        .await
        .unwrap();
    let set = r.headers()["set-cookie"].to_str().unwrap();
    let cookie = set.split(';').next().unwrap().to_string();
    let (customer, id, _) = srv.customer().await;
    let mut agent = srv.agent(&id, "alice").await;
    agent.expect("session").await;
    (cookie, id, customer)
}

/// `GET /proxy` for `url`, redirects not followed: status, content type, location, code.
async fn proxied(srv: &TestServer, cookie: &str, id: &str, url: &str) -> Answer {
    let enc: String = url::form_urlencoded::byte_serialize(url.as_bytes()).collect();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client
        .get(format!("{}/proxy?url={enc}&session={id}", srv.url))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    let h = |name| {
        r.headers()
            .get(name)
            .map(|v: &header::HeaderValue| v.to_str().unwrap().to_string())
    };
    let (content_type, location, nosniff) = (
        h(header::CONTENT_TYPE),
        h(header::LOCATION),
        h(header::X_CONTENT_TYPE_OPTIONS),
    );
    let status = r.status().as_u16();
    let body = r.bytes().await.unwrap();
    let code = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["error"]["code"].as_str().map(String::from));
    Answer {
        status,
        content_type,
        location,
        nosniff,
        code,
    }
}

#[derive(Debug)]
struct Answer {
    status: u16,
    content_type: Option<String>,
    location: Option<String>,
    nosniff: Option<String>,
    code: Option<String>,
}

#[tokio::test]
async fn a_url_of_our_own_with_a_double_slash_is_no_open_redirect() {
    let srv = start(|_| {}).await;
    let (cookie, id, _c) = agent_in_session(&srv).await;
    for trick in [
        "//evil.example/phish",
        "/\\evil.example/phish",
        "//%2F/evil.example",
    ] {
        let a = proxied(&srv, &cookie, &id, &format!("{}{trick}", srv.url)).await;
        assert!(
            !a.location
                .as_deref()
                .is_some_and(|l| l.starts_with("//") || l.starts_with("/\\")),
            "{trick}: redirected off-site: {a:?}"
        );
        assert_eq!(
            (a.status, a.code.as_deref()),
            (400, Some("bad_url")),
            "{trick}"
        );
    }
    // Our own pages are still sent to directly.
    let a = proxied(
        &srv,
        &cookie,
        &id,
        &format!("{}/demo/img/tent.svg", srv.url),
    )
    .await;
    assert_eq!(
        (a.status, a.location.as_deref()),
        (307, Some("/demo/img/tent.svg"))
    );
}

#[tokio::test]
async fn only_stylesheets_images_and_fonts_are_served_and_never_sniffed() {
    let origin = site().await;
    let o = origin.clone();
    let srv = start(move |c| c.proxy_origins = vec![o]).await;
    let (cookie, id, _c) = agent_in_session(&srv).await;
    for path in [
        "/app.js",
        "/data.json",
        "/page.html",
        "/untyped.js",
        "/bare",
    ] {
        let a = proxied(&srv, &cookie, &id, &format!("{origin}{path}")).await;
        assert_eq!(
            (a.status, a.code.as_deref()),
            (415, Some("content_type")),
            "{path} was served: {a:?}"
        );
    }
    let a = proxied(&srv, &cookie, &id, &format!("{origin}/img.png")).await;
    assert_eq!(
        (a.status, a.content_type.as_deref()),
        (200, Some("image/png"))
    );
    assert_eq!(a.nosniff.as_deref(), Some("nosniff"));
    let a = proxied(&srv, &cookie, &id, &format!("{origin}/font.woff2")).await;
    assert_eq!(
        (a.status, a.content_type.as_deref()),
        (200, Some("font/woff2")),
        "an untyped font is served, as the font it is"
    );
    assert_eq!(a.nosniff.as_deref(), Some("nosniff"));
}

#[tokio::test]
async fn a_listed_name_that_resolves_to_loopback_is_refused() {
    let origin = site().await;
    let port = origin.rsplit(':').next().unwrap().to_string();
    let named = format!("http://localhost:{port}");
    let n = named.clone();
    let srv = start(move |c| c.proxy_origins = vec![n]).await;
    let (cookie, id, _c) = agent_in_session(&srv).await;
    let a = proxied(&srv, &cookie, &id, &format!("{named}/img.png")).await;
    assert_eq!(
        (a.status, a.code.as_deref()),
        (403, Some("private_address"))
    );
}
