//! The resource proxy: what it fetches for the agent's view, and what it refuses.

mod common;

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use axum::routing::get;
use common::start;

/// A customer's website: records the Cookie headers it receives.
async fn site() -> (u16, Arc<Mutex<Vec<String>>>) {
    let cookies: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = cookies.clone();
    let app = axum::Router::new()
        .route(
            "/img.png",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "image/png")],
                    vec![137u8, 80, 78, 71],
                )
            }),
        )
        .route(
            "/site.css",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/css")],
                    "body{background:url(img.png)}",
                )
            }),
        )
        .route(
            "/page.html",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/html")],
                    "<script>alert(1)</script>",
                )
            }),
        )
        .route(
            "/big.png",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "image/png")],
                    vec![0u8; 2 * 1024 * 1024],
                )
            }),
        )
        .route(
            "/stream.png",
            get(|| async {
                let chunks = futures_util::stream::iter(
                    (0..64).map(|_| Ok::<_, std::io::Error>(vec![0u8; 32 * 1024])),
                );
                (
                    [(header::CONTENT_TYPE, "image/png")],
                    axum::body::Body::from_stream(chunks),
                )
                    .into_response()
            }),
        )
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                let seen = seen.clone();
                async move {
                    if let Some(c) = req.headers().get(header::COOKIE) {
                        seen.lock().unwrap().push(c.to_str().unwrap().to_string());
                    }
                    next.run(req).await
                }
            },
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (port, cookies)
}

/// An agent in a session on `srv`, with the cookie its console would hold.
async fn agent_cookie(srv: &common::TestServer, name: &str) -> (String, String, common::Client) {
    let r = srv
        .http()
        .post(format!("{}/auth/token", srv.url))
        .json(&serde_json::json!({"token": srv.agent_token(name)}))
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let (c, id, _) = srv.customer().await;
    let mut a = srv.agent(&id, name).await;
    a.expect("session").await;
    (cookie, id, c)
}

async fn fetch(
    srv: &common::TestServer,
    cookie: &str,
    id: &str,
    url: &str,
) -> (u16, HeaderMap, Vec<u8>) {
    let enc: String = url::form_urlencoded::byte_serialize(url.as_bytes()).collect();
    let r = srv
        .http()
        .get(format!("{}/proxy?url={enc}&session={id}", srv.url))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let mut headers = HeaderMap::new();
    for (k, v) in r.headers() {
        headers.insert(
            k.as_str().parse::<header::HeaderName>().unwrap(),
            v.to_str().unwrap().parse().unwrap(),
        );
    }
    (status, headers, r.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn allowed_resources_arrive_without_anyones_cookies() {
    let (port, cookies) = site().await;
    let origin = format!("http://127.0.0.1:{port}");
    let o = origin.clone();
    let srv = start(move |c| c.proxy_origins = vec![o]).await;
    let (cookie, id, _c) = agent_cookie(&srv, "alice").await;
    let (status, headers, body) = fetch(&srv, &cookie, &id, &format!("{origin}/img.png")).await;
    assert_eq!((status, body), (200, vec![137, 80, 78, 71]));
    assert_eq!(headers["content-type"], "image/png");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox")
    );
    let (status, _, css) = fetch(&srv, &cookie, &id, &format!("{origin}/site.css")).await;
    assert_eq!(status, 200);
    let css = String::from_utf8(css).unwrap();
    assert!(
        css.contains(&format!(
            "/proxy?url=http%3A%2F%2F127.0.0.1%3A{port}%2Fimg.png&session={id}"
        )),
        "{css}"
    );
    assert!(
        cookies.lock().unwrap().is_empty(),
        "no cookie is forwarded to the site"
    );
}

#[tokio::test]
async fn refusals_have_reasons() {
    let (port, _) = site().await;
    let (other_port, _) = site().await;
    let origin = format!("http://127.0.0.1:{port}");
    let o = origin.clone();
    let srv = start(move |c| {
        c.proxy_origins = vec![o, format!("http://localhost:{other_port}")];
        c.limits.proxy_max_bytes = 1024 * 1024;
    })
    .await;
    let (cookie, id, _c) = agent_cookie(&srv, "alice").await;
    let code = |body: &[u8]| {
        serde_json::from_slice::<serde_json::Value>(body).unwrap()["error"]["code"]
            .as_str()
            .unwrap()
            .to_string()
    };

    let (s, _, b) = fetch(
        &srv,
        &cookie,
        &id,
        &format!("http://127.0.0.1:{other_port}/img.png"),
    )
    .await;
    assert_eq!((s, code(&b).as_str()), (403, "origin_not_allowed"));
    // A name that resolves to a private address is refused even when listed.
    let (s, _, b) = fetch(
        &srv,
        &cookie,
        &id,
        &format!("http://localhost:{other_port}/img.png"),
    )
    .await;
    assert_eq!((s, code(&b).as_str()), (403, "private_address"));
    let (s, _, b) = fetch(&srv, &cookie, &id, &format!("{origin}/big.png")).await;
    assert_eq!((s, code(&b).as_str()), (413, "too_large"));
    let (s, _, b) = fetch(&srv, &cookie, &id, &format!("{origin}/stream.png")).await;
    assert_eq!(
        (s, code(&b).as_str()),
        (413, "too_large"),
        "a body without length is cut off too"
    );
    let (s, _, b) = fetch(&srv, &cookie, &id, &format!("{origin}/page.html")).await;
    assert_eq!((s, code(&b).as_str()), (415, "content_type"));
    let (s, _, b) = fetch(&srv, &cookie, &id, "file:///etc/passwd").await;
    assert_eq!((s, code(&b).as_str()), (400, "bad_url"));
}

#[tokio::test]
async fn only_the_sessions_agent_may_use_it() {
    let (port, _) = site().await;
    let origin = format!("http://127.0.0.1:{port}");
    let o = origin.clone();
    let srv = start(move |c| c.proxy_origins = vec![o]).await;
    let (_, id, _c) = agent_cookie(&srv, "alice").await;
    let (bob, _, _c2) = agent_cookie(&srv, "bob").await;
    let (s, _, _) = fetch(&srv, &bob, &id, &format!("{origin}/img.png")).await;
    assert_eq!(s, 403);
    let (s, _, _) = fetch(&srv, "nobody=1", &id, &format!("{origin}/img.png")).await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn the_servers_own_pages_are_loaded_directly_not_proxied() {
    let srv = start(|_| {}).await;
    let (cookie, id, _c) = agent_cookie(&srv, "alice").await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let own = format!("{}/demo/img/tent.svg", srv.url);
    let enc: String = url::form_urlencoded::byte_serialize(own.as_bytes()).collect();
    let r = client
        .get(format!("{}/proxy?url={enc}&session={id}", srv.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers()["location"].to_str().unwrap()
        ),
        (307, "/demo/img/tent.svg")
    );
}

/// A site whose images say how long they may be kept, counting the requests for each path.
async fn counting_site() -> (String, Arc<Mutex<std::collections::HashMap<String, usize>>>) {
    let hits: Arc<Mutex<std::collections::HashMap<String, usize>>> = Arc::default();
    let seen = hits.clone();
    let png = |cache: Option<&'static str>| {
        move || async move {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, "image/png".parse().unwrap());
            if let Some(c) = cache {
                h.insert(header::CACHE_CONTROL, c.parse().unwrap());
            }
            (h, vec![137u8, 80, 78, 71])
        }
    };
    let app = axum::Router::new()
        .route("/short.png", get(png(Some("public, max-age=1"))))
        .route("/default.png", get(png(None)))
        .route("/nostore.png", get(png(Some("no-store"))))
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                let seen = seen.clone();
                async move {
                    *seen
                        .lock()
                        .unwrap()
                        .entry(req.uri().path().to_string())
                        .or_default() += 1;
                    next.run(req).await
                }
            },
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (origin, hits)
}

#[tokio::test]
async fn resources_are_kept_as_long_as_their_site_allows() {
    let (origin, hits) = counting_site().await;
    let o = origin.clone();
    let srv = start(move |c| c.proxy_origins = vec![o]).await;
    let (cookie, id, _c) = agent_cookie(&srv, "alice").await;
    let get = |path: &'static str| {
        let (srv, cookie, id, url) = (&srv, &cookie, &id, format!("{origin}{path}"));
        async move {
            let (status, headers, _) = fetch(srv, cookie, id, &url).await;
            assert_eq!(status, 200, "{url}");
            headers[header::CACHE_CONTROL].to_str().unwrap().to_string()
        }
    };
    let count = |path: &str| hits.lock().unwrap().get(path).copied().unwrap_or(0);

    // A site that says nothing: kept for the proxy's own 5 minutes.
    assert_eq!(get("/default.png").await, "private, max-age=300");
    assert!(get("/default.png").await.starts_with("private, max-age=")); // the time left
    assert_eq!(
        count("/default.png"),
        1,
        "the second fetch came from the cache"
    );

    // max-age=1 (the short TTL the test sets through the site): reused within it, fetched again after.
    assert_eq!(get("/short.png").await, "private, max-age=1");
    get("/short.png").await;
    assert_eq!(count("/short.png"), 1, "within the TTL: from the cache");
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_eq!(get("/short.png").await, "private, max-age=1");
    assert_eq!(
        count("/short.png"),
        2,
        "past the TTL: fetched from the site again"
    );
    get("/short.png").await;
    assert_eq!(count("/short.png"), 2, "and kept again");

    // no-store: never kept.
    assert_eq!(get("/nostore.png").await, "private, max-age=0");
    get("/nostore.png").await;
    assert_eq!(count("/nostore.png"), 2);
}
