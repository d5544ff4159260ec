//! An agent desktop holds the secret that signs its agents' tokens. Whoever holds it (the
//! desktop's operator, or anyone who stole it) must never become more than an agent, and a
//! sign-in cookie must stop working the moment the server says so.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{TestServer, start};

const SECRET: &str = "the-desktop-shares-this-secret-with-us-0123";

async fn server(tweak: impl FnOnce(&mut cobrowse::config::Config)) -> TestServer {
    start(|c| {
        c.auth.jwt_secret = Some(SECRET.into());
        tweak(c);
    })
    .await
}

fn now_s() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn hs256(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// `GET path` with this sign-in cookie value: the status.
async fn get_with_cookie(srv: &TestServer, path: &str, cookie: &str) -> u16 {
    srv.http()
        .get(format!("{}{path}", srv.url))
        .header("cookie", format!("cobrowse_agent={cookie}"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn accounts_with_cookie(srv: &TestServer, cookie: &str) -> u16 {
    get_with_cookie(srv, "/api/v1/admin/accounts", cookie).await
}

async fn me(srv: &TestServer, cookie: &str) -> u16 {
    get_with_cookie(srv, "/auth/me", cookie).await
}

async fn add(srv: &TestServer, name: &str, role: cobrowse::domain::account::AccountRole) {
    srv.add_account(name, "correct horse", role).await;
}

/// Signs in with a password; the cookie's value.
async fn sign_in(srv: &TestServer, name: &str) -> String {
    let r = srv
        .http()
        .post(format!("{}/auth/login", srv.url))
        .json(&json!({"name": name, "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{name} signs in");
    cookie_of(&r)
}

fn cookie_of(r: &reqwest::Response) -> String {
    let set = r.headers()["set-cookie"].to_str().unwrap();
    let pair = set.split(';').next().unwrap();
    pair.strip_prefix("cobrowse_agent=").unwrap().to_string()
}

#[tokio::test]
async fn the_desktop_secret_cannot_forge_an_administrator_cookie() {
    let srv = server(|_| {}).await;
    add(&srv, "admin", cobrowse::domain::account::AccountRole::Admin).await;
    let now = now_s();
    for (what, claims) in [
        (
            "a cookie-audience token with an admin role",
            json!({"sub": "admin", "aud": "cobrowse-cookie", "role": "admin", "iat": now, "exp": now + 3600}),
        ),
        (
            "an agent-desktop token claiming an admin role",
            json!({"sub": "admin", "aud": "cobrowse-agent", "role": "admin", "iat": now, "exp": now + 3600}),
        ),
    ] {
        let forged = hs256(&claims, SECRET);
        assert_eq!(accounts_with_cookie(&srv, &forged).await, 401, "{what}");
        let status = srv
            .http()
            .get(format!("{}/api/v1/admin/accounts", srv.url))
            .bearer_auth(&forged)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        assert!(matches!(status, 401 | 403), "{what} as a bearer: {status}");
    }
    srv.stop().await;
}

#[tokio::test]
async fn a_desktop_token_traded_for_a_cookie_stays_an_agent() {
    let srv = server(|_| {}).await;
    add(&srv, "admin", cobrowse::domain::account::AccountRole::Admin).await;
    let now = now_s();
    let token = hs256(
        &json!({"sub": "admin", "aud": "cobrowse-agent", "iat": now, "exp": now + 3600}),
        SECRET,
    );
    let r = srv
        .http()
        .post(format!("{}/auth/token", srv.url))
        .json(&json!({"token": token}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let cookie = cookie_of(&r);
    assert_eq!(me(&srv, &cookie).await, 200);
    assert_eq!(
        accounts_with_cookie(&srv, &cookie).await,
        403,
        "a desktop's word makes an agent, even for an administrator's name"
    );
    srv.stop().await;
}

#[tokio::test]
async fn a_cookie_ends_at_sign_out_password_change_and_disable() {
    let srv = server(|_| {}).await;
    add(&srv, "root", cobrowse::domain::account::AccountRole::Admin).await;
    add(&srv, "alice", cobrowse::domain::account::AccountRole::Agent).await;
    let root = sign_in(&srv, "root").await;

    // Sign-out: the cookie a thief copied before is dead too.
    let copied = sign_in(&srv, "alice").await;
    assert_eq!(me(&srv, &copied).await, 200);
    let out = srv
        .http()
        .post(format!("{}/auth/logout", srv.url))
        .header("cookie", format!("cobrowse_agent={copied}"))
        .send()
        .await
        .unwrap();
    assert!(out.status().is_success());
    assert_eq!(me(&srv, &copied).await, 401, "signed out");

    // A password change ends every sign-in of the account.
    let before = sign_in(&srv, "alice").await;
    let changed = srv
        .http()
        .post(format!("{}/api/v1/admin/accounts/alice/password", srv.url))
        .header("cookie", format!("cobrowse_agent={root}"))
        .json(&json!({"password": "a new horse battery"}))
        .send()
        .await
        .unwrap();
    assert!(changed.status().is_success(), "{}", changed.status());
    assert_eq!(me(&srv, &before).await, 401, "password changed");

    // Disabling stops them at once (saying why), and enabling again does not bring them back.
    add(&srv, "bob", cobrowse::domain::account::AccountRole::Agent).await;
    let bob = sign_in(&srv, "bob").await;
    for (action, status) in [("disable", 403), ("enable", 401)] {
        let r = srv
            .http()
            .post(format!("{}/api/v1/admin/accounts/bob/{action}", srv.url))
            .header("cookie", format!("cobrowse_agent={root}"))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{action}: {}", r.status());
        assert_eq!(me(&srv, &bob).await, status, "after {action}");
    }
    assert_eq!(
        me(&srv, &bob).await,
        401,
        "disabled once, enabled again: signed out"
    );
    assert_eq!(me(&srv, &root).await, 200, "others keep theirs");
    srv.stop().await;
}

#[tokio::test]
async fn a_cookie_is_a_random_handle_not_a_token_a_desktop_could_make() {
    let srv = server(|_| {}).await;
    add(&srv, "alice", cobrowse::domain::account::AccountRole::Agent).await;
    let cookie = sign_in(&srv, "alice").await;
    assert_eq!(
        cookie.matches('.').count(),
        0,
        "not a JWT anyone with the secret could sign: {cookie}"
    );
    // A cookie signed with the desktop secret in the old form is nobody.
    let now = now_s();
    let old_form = hs256(
        &json!({"sub": "alice", "aud": "cobrowse-cookie", "role": "agent", "iat": now, "exp": now + 60}),
        SECRET,
    );
    assert_eq!(me(&srv, &old_form).await, 401);
    srv.stop().await;
}

#[tokio::test]
async fn desktop_tokens_live_at_most_the_configured_time() {
    let srv = server(|c| c.auth.desktop_token_max_ttl = Duration::from_secs(3600)).await;
    let now = now_s();
    let join = |token: String| {
        let srv = &srv;
        async move {
            srv.http()
                .post(format!("{}/auth/token", srv.url))
                .json(&json!({"token": token}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let ok = hs256(
        &json!({"sub": "alice", "aud": "cobrowse-agent", "iat": now, "exp": now + 3000}),
        SECRET,
    );
    assert_eq!(join(ok).await, 200);
    let long = hs256(
        &json!({"sub": "alice", "aud": "cobrowse-agent", "iat": now, "exp": now + 30 * 86_400}),
        SECRET,
    );
    assert_eq!(join(long).await, 401, "a month-long token is refused");
    let no_iat = hs256(
        &json!({"sub": "alice", "aud": "cobrowse-agent", "exp": now + 30 * 86_400}),
        SECRET,
    );
    assert_eq!(join(no_iat).await, 401, "leaving iat out does not help");
    srv.stop().await;
}

/// An Ed25519 key pair made with `openssl genpkey -algorithm ed25519` for this test only.
const ED_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIFSRNUD3aVt8OOnWBIh1mTU+rJeDJxHslj7EZG1mE1MT
-----END PRIVATE KEY-----
";
const ED_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAtJA/B+OfFY/VsIb7205mdid/P8IfEfJ3Qj73ZuRTfQY=
-----END PUBLIC KEY-----
";
/// Another desktop's key: the server does not know it.
const ED_OTHER: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEILlac4HjXimvW1Vam8Ql4OWzqXfdKHFZAtRtRJ7DrJTK
-----END PRIVATE KEY-----
";

fn eddsa(claims: &Value, private_pem: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA),
        claims,
        &jsonwebtoken::EncodingKey::from_ed_pem(private_pem.as_bytes()).unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn desktops_may_sign_with_their_own_key_and_only_theirs_counts() {
    let srv = server(|c| c.auth.desktop_public_keys = vec![ED_PUBLIC.into()]).await;
    let now = now_s();
    let claims = json!({"sub": "alice", "aud": "cobrowse-agent", "iat": now, "exp": now + 600});
    let mut agent = srv
        .connect_agent("123456789", Some(&eddsa(&claims, ED_PRIVATE)), None)
        .await;
    let (_, refusal) = agent.closed().await;
    assert_eq!(
        refusal.unwrap()["code"],
        "no_such_session",
        "the desktop's own key signs its agent in"
    );
    let mut stranger = srv
        .connect_agent("123456789", Some(&eddsa(&claims, ED_OTHER)), None)
        .await;
    let (code, _) = stranger.closed().await;
    assert_eq!(code, 4001, "a key the server was not given signs nobody in");
    // The public key is no secret: an HS256 token "signed" with it is refused.
    let confused = hs256(&claims, ED_PUBLIC);
    let mut confused = srv.connect_agent("123456789", Some(&confused), None).await;
    assert_eq!(confused.closed().await.0, 4001);
    srv.stop().await;
}
