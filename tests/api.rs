//! REST API, sign-in and webhooks against a real server.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use cobrowse::clock::now_ms;
use common::start;
use serde_json::{Value, json};

async fn api_key(srv: &common::TestServer) -> String {
    let key = cobrowse::auth::new_api_key(&mut rand::rng());
    srv.app()
        .store
        .add_api_key("test", &cobrowse::secret::sha256_hex(&key), &key[..8], 0)
        .await
        .unwrap();
    key
}

async fn get(srv: &common::TestServer, path: &str, key: Option<&str>) -> (StatusCode, Value) {
    let mut req = srv.http().get(format!("{}/api/v1{path}", srv.url));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let r = req.send().await.unwrap();
    (
        StatusCode::from_u16(r.status().as_u16()).unwrap(),
        r.json().await.unwrap_or(Value::Null),
    )
}

async fn post(srv: &common::TestServer, path: &str, key: &str) -> (StatusCode, Value) {
    let r = srv
        .http()
        .post(format!("{}/api/v1{path}", srv.url))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    (
        StatusCode::from_u16(r.status().as_u16()).unwrap(),
        r.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn api_needs_a_key_and_answers_errors_as_json() {
    let srv = start(|_| {}).await;
    let (status, body) = get(&srv, "/sessions", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    let (status, body) = get(
        &srv,
        "/sessions",
        Some("cbk_0000000000000000000000000000000000000000"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("API key")
    );
    let agent = srv.agent_token("alice");
    let (status, body) = get(&srv, "/sessions", Some(&agent)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let key = api_key(&srv).await;
    let (status, body) = get(&srv, "/sessions/123456789", Some(&key)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, body) = get(&srv, "/history?reason=bored", Some(&key)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("customer_exit")
    );
    let (status, _) = get(&srv, "/history?from=yesterday", Some(&key)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn revoked_keys_stop_working() {
    let srv = start(|_| {}).await;
    let key = api_key(&srv).await;
    assert_eq!(get(&srv, "/sessions", Some(&key)).await.0, StatusCode::OK);
    let id = srv.app().store.api_keys().await.unwrap()[0].id;
    srv.app().store.revoke_api_key(id, 1).await.unwrap();
    assert_eq!(
        get(&srv, "/sessions", Some(&key)).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn list_read_and_end_live_sessions() {
    let srv = start(|_| {}).await;
    let key = api_key(&srv).await;
    let (mut c, mut a, id, _) = srv.active("alice").await;
    let (status, body) = get(&srv, "/sessions", Some(&key)).await;
    assert_eq!(status, StatusCode::OK);
    let s = &body["sessions"][0];
    assert_eq!(
        (s["id"].as_str(), s["state"].as_str(), s["agent"].as_str()),
        (Some(id.as_str()), Some("active"), Some("alice"))
    );
    assert!(
        s.get("token").is_none() && s.get("token_hash").is_none(),
        "secrets never leave"
    );
    let (status, one) = get(&srv, &format!("/sessions/{id}"), Some(&key)).await;
    assert_eq!(
        (status, one["mode"].as_str()),
        (StatusCode::OK, Some("pointer"))
    );
    let (status, _) = post(&srv, &format!("/sessions/{id}/end"), &key).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(c.closed().await.1.unwrap()["reason"], "ended_by_api");
    assert_eq!(a.closed().await.1.unwrap()["reason"], "ended_by_api");
    let (status, _) = post(&srv, &format!("/sessions/{id}/end"), &key).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn ending_an_interaction_ends_every_bound_session() {
    let srv = start(|_| {}).await;
    let key = api_key(&srv).await;
    let chat = json!({"interaction": {"id": "chat-99", "channel": "chat"}});
    let (mut c1, id1, _) = srv.customer_with(chat.clone()).await;
    let (mut c2, id2, _) = srv.customer_with(chat).await;
    let (mut other, _, _) = srv.customer().await;
    let (status, body) = post(&srv, "/interactions/chat-99/end", &key).await;
    assert_eq!(status, StatusCode::OK);
    let mut ended: Vec<String> = body["ended"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    ended.sort();
    let mut expected = vec![id1, id2];
    expected.sort();
    assert_eq!(ended, expected);
    assert_eq!(c1.closed().await.1.unwrap()["reason"], "interaction_ended");
    assert_eq!(c2.closed().await.1.unwrap()["reason"], "interaction_ended");
    other.send(json!({"t": "ping"})).await;
    other.expect("pong").await;
}

#[tokio::test]
async fn history_records_what_happened() {
    let srv = start(|_| {}).await;
    let key = api_key(&srv).await;
    // The test's own clock between the steps brackets when each happened.
    let mut clock = vec![now_ms()];
    let (mut c, mut a, id, _) = srv.active("alice").await;
    clock.push(now_ms());
    c.send(json!({"t": "page", "url": "https://shop.example/checkout", "title": "Checkout"}))
        .await;
    a.expect("page").await;
    clock.push(now_ms());
    a.send(json!({"t": "request_control"})).await;
    c.expect("control").await;
    clock.push(now_ms());
    c.send(json!({"t": "control_grant"})).await;
    c.expect("mode").await;
    clock.push(now_ms());
    c.send(json!({"t": "control_revoke"})).await;
    c.expect("mode").await;
    clock.push(now_ms());
    a.send(json!({"t": "exit"})).await;
    c.closed().await;
    clock.push(now_ms());
    // History is written off the relay path; give it a moment.
    let mut detail = Value::Null;
    for _ in 0..50 {
        let (_, list) = get(&srv, "/history?agent=alice", Some(&key)).await;
        if let Some(s) = list["sessions"].as_array().and_then(|l| l.first())
            && s["end_reason"] == "agent_exit"
        {
            detail = get(
                &srv,
                &format!("/history/{}", s["key"].as_str().unwrap()),
                Some(&key),
            )
            .await
            .1;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(detail["session_id"], id.as_str());
    assert_eq!(detail["agent"], "alice");
    assert!(detail["activated_at"].as_u64().unwrap() >= detail["created_at"].as_u64().unwrap());
    assert!(detail["ended_at"].as_u64().is_some());
    let pages: Vec<&str> = detail["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["url"].as_str().unwrap())
        .collect();
    assert_eq!(
        pages,
        [
            format!("{}/demo/", srv.url).as_str(),
            "https://shop.example/checkout"
        ]
    );
    let modes: Vec<String> = detail["mode_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["mode"]
                .as_str()
                .or(m["outcome"].as_str())
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(modes, ["requested", "write", "pointer"]);
    let at = |v: &Value| v.as_u64().unwrap();
    let between = |what: &str, t: u64, step: usize| {
        assert!(
            (clock[step]..=clock[step + 1]).contains(&t),
            "{what} at {t}, not within step {step}: {clock:?}"
        )
    };
    let created = at(&detail["created_at"]);
    between("created", created, 0);
    between("activated", at(&detail["activated_at"]), 0);
    let page_times: Vec<u64> = detail["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| at(&p["at"]))
        .collect();
    assert_eq!(page_times[0], created, "the first page is where it started");
    between("the checkout page", page_times[1], 1);
    for (i, change) in detail["mode_changes"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        between(&format!("mode change {i}"), at(&change["at"]), 2 + i);
    }
    between("ended", at(&detail["ended_at"]), 5);
    let (_, none) = get(&srv, "/history?reason=inactivity", Some(&key)).await;
    assert!(none["sessions"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn openapi_document_lists_every_api_route() {
    let srv = start(|_| {}).await;
    let doc: Value = srv
        .http()
        .get(format!("{}/api/v1/openapi.json", srv.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/sessions",
        "/sessions/{id}",
        "/sessions/{id}/end",
        "/interactions/{id}/end",
        "/history",
        "/history/{key}",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} undocumented");
    }
}

#[tokio::test]
async fn sign_in_with_password_link_and_agent_token() {
    let srv = start(|_| {}).await;
    let hash = cobrowse::auth::hash_password("correct horse").unwrap();
    srv.app()
        .store
        .add_account(
            "root",
            &hash,
            cobrowse::domain::account::AccountRole::Admin,
            0,
        )
        .await
        .unwrap();
    let client = srv.http();
    let bad = client
        .post(format!("{}/auth/login", srv.url))
        .json(&json!({"name": "root", "password": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 401);
    let ok = client
        .post(format!("{}/auth/login", srv.url))
        .json(&json!({"name": "root", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    let cookie = ok.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let value = cookie.split(';').next().unwrap().to_string();
    let me: Value = client
        .get(format!("{}/auth/me", srv.url))
        .header("cookie", &value)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (me["name"].as_str(), me["role"].as_str()),
        (Some("root"), Some("admin"))
    );
    // An administrator's cookie opens the API.
    let r = client
        .get(format!("{}/api/v1/sessions", srv.url))
        .header("cookie", &value)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);

    // One-time link: once.
    let ground = cobrowse::server::Ground {
        config: srv.app().config.clone(),
        store: srv.app().store.clone(),
        tokens: srv.tokens.clone(),
    };
    let link = cobrowse::server::login_link(&ground, &srv.url, "root")
        .await
        .unwrap();
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let first = no_redirect.get(&link).send().await.unwrap();
    assert_eq!(first.status().as_u16(), 303);
    assert_eq!(first.headers()["location"], "/admin/");
    assert!(first.headers().contains_key("set-cookie"));
    assert_eq!(
        no_redirect
            .get(&link)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );

    // An agent-desktop token traded for a cookie: agent, never admin.
    let r = client
        .post(format!("{}/auth/token", srv.url))
        .json(&json!({"token": srv.agent_token("dana")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let dana = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let r = client
        .get(format!("{}/api/v1/sessions", srv.url))
        .header("cookie", &dana)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    // Sign-in from another site's page is refused.
    let r = client
        .post(format!("{}/auth/token", srv.url))
        .header("origin", "https://evil.example")
        .json(&json!({"token": srv.agent_token("x")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
}

#[tokio::test]
async fn agent_joins_with_the_cookie_from_the_console_origin() {
    let srv = start(|_| {}).await;
    let r = srv
        .http()
        .post(format!("{}/auth/token", srv.url))
        .json(&json!({"token": srv.agent_token("erin")}))
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
    let (mut c, id, _) = srv.customer().await;
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        format!("ws://{}/ws/agent?v=1&session={id}", srv.host),
    )
    .unwrap();
    req.headers_mut().insert("cookie", cookie.parse().unwrap());
    req.headers_mut().insert("origin", srv.url.parse().unwrap());
    let mut a = common::Client::connect(req).await.unwrap();
    assert_eq!(a.expect("session").await["agent"], "erin");
    c.expect("joined").await;
}

type Seen = Arc<Mutex<Vec<(String, String, Value)>>>;

/// A webhook receiver: records (event, signature, body); fails the first
/// `fail_first` requests with 500.
async fn receiver(fail_first: usize) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let calls = Arc::new(Mutex::new(0usize));
    let s = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let (s, calls) = (s.clone(), calls.clone());
            async move {
                let n = {
                    let mut c = calls.lock().unwrap();
                    *c += 1;
                    *c
                };
                if n <= fail_first {
                    return StatusCode::INTERNAL_SERVER_ERROR;
                }
                let h = |k: &str| headers.get(k).unwrap().to_str().unwrap().to_string();
                let body_json: Value = serde_json::from_str(&body).unwrap();
                s.lock().unwrap().push((
                    h("x-cobrowse-event"),
                    h("x-cobrowse-signature"),
                    json!({"raw": body, "json": body_json}),
                ));
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

async fn wait_for(seen: &Seen, n: usize) -> Vec<(String, String, Value)> {
    for _ in 0..200 {
        if seen.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    seen.lock().unwrap().clone()
}

#[tokio::test]
async fn webhooks_are_signed_and_cover_the_session_life() {
    let (url, seen) = receiver(1).await;
    const SECRET: &str = "webhook-secret-0123456789";
    let hook_url = url.clone();
    let srv = start(move |c| {
        c.webhooks = vec![cobrowse::config::WebhookConfig {
            url: hook_url,
            secret: SECRET.into(),
        }];
        // The receiver is on loopback, refused by default.
        c.webhook_delivery.allow_private = true;
    })
    .await;
    let (mut c, mut a, id, _) = srv.active("alice").await;
    a.send(json!({"t": "request_control"})).await;
    c.expect("control").await;
    c.send(json!({"t": "control_grant"})).await;
    a.expect("mode").await;
    c.send(json!({"t": "exit"})).await;
    a.closed().await;
    let got = wait_for(&seen, 4).await;
    let mut events: Vec<&str> = got.iter().map(|(e, _, _)| e.as_str()).collect();
    events.sort();
    assert_eq!(
        events,
        [
            "agent.joined",
            "mode.changed",
            "session.created",
            "session.ended"
        ]
    );
    for (event, signature, body) in &got {
        let t: u64 = signature
            .split(',')
            .next()
            .unwrap()
            .trim_start_matches("t=")
            .parse()
            .unwrap();
        assert_eq!(
            signature,
            &cobrowse::webhooks::sign(SECRET, t, body["raw"].as_str().unwrap().as_bytes()),
            "{event}"
        );
        assert_eq!(body["json"]["session"]["id"], id.as_str());
        assert_eq!(body["json"]["event"], event.as_str());
    }
    let ended = got.iter().find(|(e, _, _)| e == "session.ended").unwrap();
    assert_eq!(ended.2["json"]["reason"], "customer_exit");
    // The first attempt failed with 500 and was retried. Its record is written once the
    // receiver has answered, so it may land just after the receiver saw the request.
    let retried = |ds: &[cobrowse::domain::webhook::Delivery]| {
        ds.iter()
            .any(|d| d.status == "delivered" && d.attempts == 2)
    };
    let mut deliveries = srv.app().store.deliveries(10).await.unwrap();
    for _ in 0..50 {
        if retried(&deliveries) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        deliveries = srv.app().store.deliveries(10).await.unwrap();
    }
    assert!(retried(&deliveries), "{deliveries:?}");
}

#[tokio::test]
async fn a_hanging_webhook_receiver_never_delays_a_session() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    // Accepts connections and never answers.
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let srv = start(move |c| {
        c.webhooks = vec![cobrowse::config::WebhookConfig {
            url,
            secret: "0123456789abcdef".into(),
        }];
        c.webhook_delivery.allow_private = true;
    })
    .await;
    for i in 0..5 {
        let (mut c, mut a, _, _) = srv.active(&format!("agent{i}")).await;
        c.send(json!({"t": "exit"})).await;
        assert_eq!(a.closed().await.1.unwrap()["reason"], "customer_exit");
    }
}

#[tokio::test]
async fn with_passwords_off_only_the_providers_sign_people_in() {
    let srv = start(|c| {
        c.auth.passwords = false;
        c.limits.sign_ins_per_minute_per_ip = 3;
        c.oidc = vec![cobrowse::config::OidcProvider {
            id: "okta".into(),
            name: "Okta".into(),
            issuer: "https://acme.okta.example".into(),
            client_id: "cobrowse".into(),
            client_secret: None,
            scopes: vec!["openid".into()],
            roles_claim: "groups".into(),
            agent_values: vec!["support".into()],
            admin_values: vec![],
            allowed_domains: vec![],
            clock_skew: Duration::from_secs(60),
            recheck_every: Duration::from_secs(300),
        }];
    })
    .await;
    srv.add_account(
        "root",
        "correct horse",
        cobrowse::domain::account::AccountRole::Admin,
    )
    .await;
    let client = srv.http();
    let options: Value = client
        .get(format!("{}/auth/options", srv.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        options,
        json!({"passwords": false, "providers": [{"id": "okta", "name": "Okta"}]})
    );
    let r = client
        .post(format!("{}/auth/login", srv.url))
        .json(&json!({"name": "root", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(r.headers().get("set-cookie").is_none());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "passwords_off");
    // An unknown provider is a clear page, not a redirect anywhere.
    let r = client
        .get(format!("{}/auth/oidc/nobody/start", srv.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("no sign-in provider is called")
    );
    // Sign-ins started through a provider count with password attempts.
    for expected in [502, 502, 429] {
        let r = client
            .get(format!("{}/auth/oidc/okta/start", srv.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), expected);
    }
    srv.stop().await;
}
