//! Webhooks played by whoever controls a receiver URL: one that points into the server's
//! own network, one that redirects the signed body elsewhere, one that never answers and
//! would hold up everyone else's deliveries.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::post;
use cobrowse::config::WebhookConfig;
use cobrowse::domain::webhook::Delivery;
use serde_json::json;

use super::common::{TestServer, start, webhook_receiver};

const SECRET: &str = "webhook-secret-0123456789";

fn hook(url: &str) -> WebhookConfig {
    WebhookConfig {
        url: url.into(),
        secret: SECRET.into(),
    }
}

/// Sends `n` events as the server does when sessions start.
fn emit(srv: &TestServer, n: usize) {
    for i in 0..n {
        srv.app().live.webhooks.emit(
            "session.created",
            cobrowse::clock::now_ms(),
            json!({"session": {"id": format!("{i:09}")}}),
        );
    }
}

/// Waits (up to 5 s) until a delivery to `url` is recorded, and returns it.
async fn delivery_to(srv: &TestServer, url: &str) -> Delivery {
    for _ in 0..50 {
        let recorded = srv.app().store.deliveries(100).await.unwrap();
        if let Some(d) = recorded.into_iter().find(|d| d.url == url) {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no delivery to {url} was recorded");
}

#[tokio::test]
async fn a_receiver_on_a_private_address_is_refused_by_default() {
    let (url, seen) = webhook_receiver().await;
    let u = url.clone();
    let srv = start(move |c| c.webhooks = vec![hook(&u)]).await;
    emit(&srv, 1);
    let d = delivery_to(&srv, &url).await;
    assert_eq!((d.status.as_str(), d.attempts), ("failed", 0));
    assert!(
        d.error.as_deref().unwrap().contains("allow_private"),
        "{d:?}"
    );
    // Nor through a name that resolves to one.
    let named = url.replace("127.0.0.1", "localhost");
    let n = named.clone();
    let srv = start(move |c| c.webhooks = vec![hook(&n)]).await;
    emit(&srv, 1);
    let d = delivery_to(&srv, &named).await;
    assert_eq!(d.status, "failed", "{d:?}");
    assert!(
        seen.lock().unwrap().is_empty(),
        "a private receiver got an event"
    );
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let landed: Arc<Mutex<usize>> = Arc::default();
    let l = landed.clone();
    let app = axum::Router::new()
        .route(
            "/hook",
            post(|| async { (StatusCode::TEMPORARY_REDIRECT, [("location", "/elsewhere")]) }),
        )
        .route(
            "/elsewhere",
            post(move || async move {
                *l.lock().unwrap() += 1;
                StatusCode::NO_CONTENT
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let u = url.clone();
    let srv = start(move |c| {
        c.webhooks = vec![hook(&u)];
        c.webhook_delivery.allow_private = true;
    })
    .await;
    emit(&srv, 1);
    let d = delivery_to(&srv, &url).await;
    assert_eq!((d.status.as_str(), d.attempts), ("failed", 1), "{d:?}");
    assert_eq!(
        *landed.lock().unwrap(),
        0,
        "the signed body was sent where the receiver said"
    );
}

/// A receiver that takes connections and requests and never answers.
async fn hanging_receiver() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    url
}

#[tokio::test]
async fn a_receiver_that_never_answers_does_not_delay_another() {
    let slow = hanging_receiver().await;
    let (fast, seen) = webhook_receiver().await;
    let hooks = vec![hook(&slow), hook(&fast)];
    let srv = start(move |c| {
        c.webhooks = hooks;
        c.webhook_delivery.allow_private = true;
    })
    .await;
    const EVENTS: usize = 60;
    emit(&srv, EVENTS);
    let mut got = 0;
    for _ in 0..50 {
        got = seen.lock().unwrap().len();
        if got == EVENTS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        got, EVENTS,
        "the fast receiver got {got} of {EVENTS} events while the slow one hung"
    );
}
