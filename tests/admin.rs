//! The administrators' API against a real server: who may reach it, what it
//! refuses and why, and the story it keeps (rule-set versions, editor grants).

mod common;

use common::{TestServer, start};
use reqwest::Method;
use serde_json::{Value, json};

const SITE: &str = "https://shop.example";

async fn server() -> TestServer {
    start(|c| c.allowed_origins = vec![SITE.into()]).await
}

/// What a request presents.
#[derive(Clone)]
enum Cred {
    None,
    Cookie(String),
    Bearer(String),
}

struct Call<'a> {
    srv: &'a TestServer,
}

impl Call<'_> {
    async fn send(
        &self,
        method: Method,
        path: &str,
        cred: &Cred,
        body: Option<Value>,
        origin: Option<&str>,
    ) -> (u16, Value) {
        let route = (method, format!("/api/v1/admin{path}"), body);
        self.send_to(route, cred, origin).await
    }

    /// Any route of the server, by its whole path.
    async fn send_to(&self, route: Route, cred: &Cred, origin: Option<&str>) -> (u16, Value) {
        let (method, path, body) = route;
        let mut req = self
            .srv
            .http()
            .request(method, format!("{}{path}", self.srv.url));
        req = match cred {
            Cred::None => req,
            Cred::Cookie(c) => req.header("cookie", c),
            Cred::Bearer(t) => req.bearer_auth(t),
        };
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    /// Asserts that `who` is refused with `expected`, in the API's JSON error form.
    async fn refused(&self, route: &Route, who: &str, cred: &Cred, expected: u16) {
        let (status, got) = self.send_to(route.clone(), cred, None).await;
        let (method, path, _) = route;
        assert_eq!(status, expected, "{method} {path} by {who}: {got}");
        assert!(
            got["error"]["code"].is_string(),
            "{method} {path} by {who}: errors are JSON: {got}"
        );
    }

    async fn get(&self, path: &str, cred: &Cred) -> (u16, Value) {
        self.send(Method::GET, path, cred, None, None).await
    }

    async fn post(&self, path: &str, cred: &Cred, body: Value) -> (u16, Value) {
        self.send(Method::POST, path, cred, Some(body), None).await
    }

    async fn put(&self, path: &str, cred: &Cred, body: Value) -> (u16, Value) {
        self.send(Method::PUT, path, cred, Some(body), None).await
    }

    async fn delete(&self, path: &str, cred: &Cred) -> (u16, Value) {
        self.send(Method::DELETE, path, cred, None, None).await
    }
}

async fn account(srv: &TestServer, name: &str, role: cobrowse::domain::account::AccountRole) {
    srv.add_account(name, "correct horse", role).await;
}

async fn login(srv: &TestServer, name: &str, password: &str) -> Option<Cred> {
    let r = srv
        .http()
        .post(format!("{}/auth/login", srv.url))
        .json(&json!({"name": name, "password": password}))
        .send()
        .await
        .unwrap();
    if !r.status().is_success() {
        return None;
    }
    Some(Cred::Cookie(
        r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string(),
    ))
}

async fn admin(srv: &TestServer, name: &str) -> Cred {
    account(srv, name, cobrowse::domain::account::AccountRole::Admin).await;
    login(srv, name, "correct horse").await.unwrap()
}

async fn api_key(srv: &TestServer, name: &str) -> String {
    let key = cobrowse::auth::new_api_key(&mut rand::rng());
    srv.app()
        .store
        .add_api_key(name, &cobrowse::secret::sha256_hex(&key), &key[..8], 0)
        .await
        .unwrap();
    key
}

/// Every admin route, with a body that would be acceptable.
fn every_route() -> Vec<(Method, &'static str, Option<Value>)> {
    let rules = json!({"name": "r", "url_pattern": "*", "rules": {"mask": ["#a"]}, "version": 1});
    vec![
        (Method::GET, "/accounts", None),
        (
            Method::POST,
            "/accounts",
            Some(json!({"name": "newbie", "password": "long enough"})),
        ),
        (Method::POST, "/accounts/alice/disable", None),
        (Method::POST, "/accounts/alice/enable", None),
        (
            Method::POST,
            "/accounts/alice/password",
            Some(json!({"password": "long enough"})),
        ),
        (Method::GET, "/api-keys", None),
        (Method::POST, "/api-keys", Some(json!({"name": "k"}))),
        (Method::POST, "/api-keys/1/revoke", None),
        (Method::GET, "/webhooks", None),
        (
            Method::POST,
            "/webhooks",
            Some(json!({"url": "https://crm.example/hook"})),
        ),
        (Method::GET, "/webhooks/deliveries", None),
        (Method::DELETE, "/webhooks/1", None),
        (Method::GET, "/rule-sets", None),
        (Method::POST, "/rule-sets", Some(rules.clone())),
        (Method::GET, "/rule-sets/1", None),
        (Method::PUT, "/rule-sets/1", Some(rules)),
        (Method::DELETE, "/rule-sets/1", None),
        (Method::GET, "/rule-sets/1/versions", None),
        (
            Method::POST,
            "/editor",
            Some(json!({"url": format!("{SITE}/checkout")})),
        ),
        (Method::DELETE, "/editor", None),
        (Method::POST, "/editor/open", None),
        (
            Method::POST,
            "/editor/rules",
            Some(json!({"add": {"mask": ["#a"]}})),
        ),
    ]
}

/// A method, a whole path and a body.
type Route = (Method, String, Option<Value>);

/// A live session bound to an interaction, with its history record.
struct LiveSession {
    _customer: common::Client,
    id: String,
    history_key: String,
}

const INTERACTION: &str = "chat-admin-test";

impl LiveSession {
    async fn start(call: &Call<'_>, key: &Cred) -> LiveSession {
        let interaction = json!({"interaction": {"id": INTERACTION, "channel": "chat"}});
        let (customer, id, _) = call.srv.customer_with(interaction).await;
        // History is written off the session path: wait for the record.
        for _ in 0..100 {
            let all = (Method::GET, "/api/v1/history".to_string(), None);
            let (_, list) = call.send_to(all, key, None).await;
            if let Some(record) = list["sessions"].as_array().and_then(|l| l.first()) {
                let history_key = record["key"].as_str().unwrap().to_string();
                return LiveSession {
                    _customer: customer,
                    id,
                    history_key,
                };
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("session {id} never reached the history");
    }

    fn routes(&self) -> [Route; 3] {
        [
            (Method::GET, format!("/api/v1/sessions/{}", self.id), None),
            (
                Method::GET,
                format!("/api/v1/history/{}", self.history_key),
                None,
            ),
            (
                Method::POST,
                format!("/api/v1/interactions/{INTERACTION}/end"),
                None,
            ),
        ]
    }

    /// The refused calls changed nothing: the session is live, its record
    /// readable, and ending its interaction (with the key) is what ends it.
    async fn untouched_then_ended_by(&self, call: &Call<'_>, key: &Cred) {
        let [read, history, end] = self.routes();
        let (status, session) = call.send_to(read, key, None).await;
        assert_eq!((status, session["state"].as_str()), (200, Some("idle")));
        assert_eq!(call.send_to(history, key, None).await.0, 200);
        let (status, ended) = call.send_to(end, key, None).await;
        assert_eq!((status, ended["ended"].clone()), (200, json!([self.id])));
    }
}

const RULE_SET_ROUTES: [&str; 3] = ["/rule-sets", "/rule-sets/1", "/rule-sets/1/versions"];

#[tokio::test]
async fn no_admin_route_opens_to_anyone_but_an_administrator() {
    let srv = server().await;
    let call = Call { srv: &srv };
    let root = admin(&srv, "root").await;
    account(&srv, "alice", cobrowse::domain::account::AccountRole::Agent).await;
    let agent_password = login(&srv, "alice", "correct horse").await.unwrap();
    let traded = srv
        .http()
        .post(format!("{}/auth/token", srv.url))
        .json(&json!({"token": srv.agent_token("dana")}))
        .send()
        .await
        .unwrap();
    let agent_traded = Cred::Cookie(
        traded.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string(),
    );
    let agent_jwt = Cred::Bearer(srv.agent_token("dana"));
    // A disabled administrator's cookie stops working at once.
    let former = admin(&srv, "former").await;
    srv.app().store.set_disabled("former", true).await.unwrap();
    // A real editor session token, for a page of the site.
    let (_, started) = call
        .post("/editor", &root, json!({"url": format!("{SITE}/checkout")}))
        .await;
    let link = started["open_url"]
        .as_str()
        .unwrap()
        .split("#cobrowse-editor=")
        .nth(1)
        .unwrap()
        .to_string();
    let (status, opened) = call
        .send(
            Method::POST,
            "/editor/open",
            &Cred::Bearer(link),
            None,
            Some(SITE),
        )
        .await;
    assert_eq!(status, 200, "{opened}");
    let editor = Cred::Bearer(opened["token"].as_str().unwrap().to_string());
    let key = Cred::Bearer(api_key(&srv, "crm").await);

    for (method, path, body) in every_route() {
        let editor_route = path.starts_with("/editor/");
        let mut refused = vec![
            ("nobody", Cred::None, 401),
            (
                "an agent's password cookie",
                agent_password.clone(),
                if editor_route { 401 } else { 403 },
            ),
            (
                "an agent desktop's cookie",
                agent_traded.clone(),
                if editor_route { 401 } else { 403 },
            ),
            ("an agent desktop's token", agent_jwt.clone(), 401),
            (
                "a disabled administrator",
                former.clone(),
                if editor_route { 401 } else { 403 },
            ),
        ];
        if !editor_route {
            // An agent JWT as bearer is an agent: forbidden, not unknown.
            refused[3].2 = 403;
            refused.push(("an editor token", editor.clone(), 403));
        }
        if !editor_route && !RULE_SET_ROUTES.contains(&path) {
            refused.push(("an API key", key.clone(), 403));
        }
        let route = (method, format!("/api/v1/admin{path}"), body);
        for (who, cred, expected) in refused {
            call.refused(&route, who, &cred, expected).await;
        }
    }
    // The integration API's routes for one session, one record, one interaction
    // (real ones, so that a refusal is not a "not found" in disguise).
    let live = LiveSession::start(&call, &key).await;
    for route in live.routes() {
        for (who, cred, expected) in [
            ("nobody", &Cred::None, 401),
            ("an agent's password cookie", &agent_password, 403),
            ("an agent desktop's cookie", &agent_traded, 403),
            ("an agent desktop's token", &agent_jwt, 403),
            ("a disabled administrator", &former, 403),
            ("an editor token", &editor, 401),
        ] {
            call.refused(&route, who, cred, expected).await;
        }
    }
    live.untouched_then_ended_by(&call, &key).await;
    // API keys may manage rule sets (a deployment pipeline), and are named in the versions.
    let (status, created) = call
        .post(
            "/rule-sets",
            &key,
            json!({"name": "pipeline", "url_pattern": "*", "rules": {"mask": ["#x"]}}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["rule_set"]["updated_by"], "api-key:crm");
    // The console itself answers the administrator.
    assert_eq!(call.get("/accounts", &root).await.0, 200);
    assert_eq!(call.get("/rule-sets", &root).await.0, 200);
}

#[tokio::test]
async fn cookie_changes_come_from_our_pages_and_carry_json() {
    let srv = server().await;
    let call = Call { srv: &srv };
    let root = admin(&srv, "root").await;
    let body = json!({"name": "x", "url_pattern": "*"});
    let (status, _) = call
        .send(
            Method::POST,
            "/rule-sets",
            &root,
            Some(body.clone()),
            Some("https://evil.example"),
        )
        .await;
    assert_eq!(
        status, 403,
        "a cross-site change with the cookie is refused"
    );
    let (status, _) = call
        .send(
            Method::POST,
            "/accounts/root/disable",
            &root,
            None,
            Some(SITE),
        )
        .await;
    assert_eq!(status, 403, "the customers' site is not the console either");
    let (status, _) = call
        .send(
            Method::POST,
            "/rule-sets",
            &root,
            Some(body.clone()),
            Some(&srv.url),
        )
        .await;
    assert_eq!(status, 201, "the console's own origin may");
    let form = srv
        .http()
        .post(format!("{}/api/v1/admin/rule-sets", srv.url))
        .header(
            "cookie",
            match &root {
                Cred::Cookie(c) => c.as_str(),
                _ => unreachable!(),
            },
        )
        .header("content-type", "text/plain")
        .body(r#"{"name":"y","url_pattern":"*"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(
        form.status().as_u16(),
        415,
        "a simple (preflight-free) request is not accepted"
    );
}

#[tokio::test]
async fn accounts_are_added_disabled_and_given_new_passwords() {
    let srv = server().await;
    let call = Call { srv: &srv };
    let root = admin(&srv, "root").await;
    let (status, got) = call
        .post(
            "/accounts",
            &root,
            json!({"name": "bob", "password": "bob's password"}),
        )
        .await;
    assert_eq!(status, 201, "{got}");
    assert_eq!(
        (
            got["account"]["role"].as_str(),
            got["account"]["disabled"].as_bool()
        ),
        (Some("agent"), Some(false))
    );
    assert!(
        got["account"].get("password_hash").is_none(),
        "hashes never leave"
    );
    assert_eq!(
        call.post(
            "/accounts",
            &root,
            json!({"name": "bob", "password": "another one"})
        )
        .await
        .0,
        409
    );
    let (status, got) = call
        .post(
            "/accounts",
            &root,
            json!({"name": "two words", "password": "long enough"}),
        )
        .await;
    assert_eq!(
        (status, got["error"]["code"].as_str()),
        (400, Some("bad_request"))
    );
    let (status, got) = call
        .post(
            "/accounts",
            &root,
            json!({"name": "carl", "password": "short"}),
        )
        .await;
    assert_eq!(
        (status, got["error"]["code"].as_str()),
        (400, Some("weak_password"))
    );
    let (status, _) = call
        .post(
            "/accounts",
            &root,
            json!({"name": "carl", "password": "long enough", "role": "root"}),
        )
        .await;
    assert_eq!(status, 400);
    let (status, got) = call
        .post(
            "/accounts",
            &root,
            json!({"name": "ada", "password": "ada's password", "role": "admin"}),
        )
        .await;
    assert_eq!(
        (status, got["account"]["role"].as_str()),
        (201, Some("admin"))
    );
    let bob = login(&srv, "bob", "bob's password")
        .await
        .expect("bob signs in");

    // Disabled: no sign-in, and the cookie he holds stops working.
    let (status, got) = call
        .send(Method::POST, "/accounts/bob/disable", &root, None, None)
        .await;
    assert_eq!(
        (status, got["account"]["disabled"].as_bool()),
        (200, Some(true))
    );
    assert!(login(&srv, "bob", "bob's password").await.is_none());
    let Cred::Cookie(c) = &bob else {
        unreachable!()
    };
    let me = srv
        .http()
        .get(format!("{}/auth/me", srv.url))
        .header("cookie", c)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status().as_u16(), 403);
    call.send(Method::POST, "/accounts/bob/enable", &root, None, None)
        .await;
    assert!(login(&srv, "bob", "bob's password").await.is_some());
    assert_eq!(
        call.send(Method::POST, "/accounts/nobody/disable", &root, None, None)
            .await
            .0,
        404
    );
    let (status, got) = call
        .send(Method::POST, "/accounts/root/disable", &root, None, None)
        .await;
    assert_eq!(status, 409, "nobody locks himself out: {got}");

    // A new password replaces the old one.
    assert_eq!(
        call.post(
            "/accounts/bob/password",
            &root,
            json!({"password": "new password!"})
        )
        .await
        .0,
        200
    );
    assert!(login(&srv, "bob", "bob's password").await.is_none());
    assert!(login(&srv, "bob", "new password!").await.is_some());
    assert_eq!(
        call.post(
            "/accounts/bob/password",
            &root,
            json!({"password": "short"})
        )
        .await
        .0,
        400
    );
    assert_eq!(
        call.post(
            "/accounts/nobody/password",
            &root,
            json!({"password": "long enough"})
        )
        .await
        .0,
        404
    );
    let (_, list) = call.get("/accounts", &root).await;
    let names: Vec<&str> = list["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 3);
    assert!(names.contains(&"bob") && names.contains(&"ada") && names.contains(&"root"));
}

/// An API key is kept as its SHA-256 only: the row holds the hash (and the
/// few characters lists show), and no file of the data directory holds the
/// key, so a copy of the database opens nothing.
async fn assert_stored_hashed(srv: &TestServer, key: &str) {
    use sqlx::{Connection, Row};
    let db = srv.app().config.database_path();
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=ro", db.display()))
        .await
        .unwrap();
    let rows = sqlx::query("SELECT * FROM api_keys")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let hash: String = rows[0].get("key_hash");
    assert_eq!(hash, cobrowse::secret::sha256_hex(key));
    assert_eq!(rows[0].get::<String, _>("prefix"), &key[..8]);
    for column in ["name", "key_hash", "prefix"] {
        assert!(
            !rows[0].get::<String, _>(column).contains(&key[8..]),
            "{column}"
        );
    }
    conn.close().await.unwrap();
    for file in std::fs::read_dir(srv.dir.path()).unwrap() {
        let bytes = std::fs::read(file.unwrap().path()).unwrap();
        let secret = &key.as_bytes()[8..];
        assert!(!bytes.windows(secret.len()).any(|w| w == secret));
    }
    // The store finds the key by its hash, never by the key itself.
    let store = &srv.app().store;
    assert!(store.api_key(&hash).await.unwrap().is_some());
    assert!(store.api_key(key).await.unwrap().is_none());
}

#[tokio::test]
async fn api_keys_are_shown_once_and_can_be_revoked() {
    let srv = server().await;
    let call = Call { srv: &srv };
    let root = admin(&srv, "root").await;
    let (status, got) = call
        .post("/api-keys", &root, json!({"name": "crm-prod"}))
        .await;
    assert_eq!(status, 201);
    let key = got["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("cbk_"));
    let id = got["api_key"]["id"].as_i64().unwrap();
    assert_stored_hashed(&srv, &key).await;
    let (_, list) = call.get("/api-keys", &root).await;
    assert_eq!(list["api_keys"][0]["prefix"], &key[..8]);
    assert!(
        !list.to_string().contains(&key),
        "the key itself is never listed"
    );
    let sessions = |k: String| {
        let srv = &srv;
        async move {
            srv.http()
                .get(format!("{}/api/v1/sessions", srv.url))
                .bearer_auth(k)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(sessions(key.clone()).await, 200, "the new key works");
    assert_eq!(
        call.post("/api-keys", &root, json!({"name": " "})).await.0,
        400
    );
    assert_eq!(
        call.send(
            Method::POST,
            &format!("/api-keys/{id}/revoke"),
            &root,
            None,
            None
        )
        .await
        .0,
        200
    );
    assert_eq!(sessions(key).await, 401, "a revoked key stops working");
    assert_eq!(
        call.send(
            Method::POST,
            &format!("/api-keys/{id}/revoke"),
            &root,
            None,
            None
        )
        .await
        .0,
        404
    );
    let (_, list) = call.get("/api-keys", &root).await;
    assert!(list["api_keys"][0]["revoked_at"].is_u64());
}

#[tokio::test]
async fn webhooks_are_added_listed_without_secrets_and_removed() {
    let srv = start(|c| {
        c.webhooks = vec![cobrowse::config::WebhookConfig {
            url: "https://from-config.example/h".into(),
            secret: "0123456789abcdef".into(),
        }]
    })
    .await;
    let call = Call { srv: &srv };
    let root = admin(&srv, "root").await;
    let (status, got) = call
        .post(
            "/webhooks",
            &root,
            json!({"url": "https://crm.example/hook", "secret": "my own secret 123"}),
        )
        .await;
    assert_eq!(status, 201, "{got}");
    assert!(got.get("secret").is_none(), "a given secret is not echoed");
    let (status, got) = call
        .post("/webhooks", &root, json!({"url": "http://127.0.0.1:9/h"}))
        .await;
    assert_eq!(status, 400, "a private address is refused: {got}");
    let (status, got) = call
        .post(
            "/webhooks",
            &root,
            json!({"url": "https://crm.example/other"}),
        )
        .await;
    assert_eq!(status, 201);
    let generated = got["secret"].as_str().unwrap().to_string();
    assert!(
        generated.len() >= 32,
        "a secret is generated and shown once"
    );
    assert_eq!(
        call.post("/webhooks", &root, json!({"url": "ftp://x.example/"}))
            .await
            .0,
        400
    );
    assert_eq!(
        call.post("/webhooks", &root, json!({"url": "not a url"}))
            .await
            .0,
        400
    );
    assert_eq!(
        call.post(
            "/webhooks",
            &root,
            json!({"url": "https://x.example/", "secret": "short"})
        )
        .await
        .0,
        400
    );
    let (_, list) = call.get("/webhooks", &root).await;
    assert_eq!(list["webhooks"].as_array().unwrap().len(), 2);
    assert_eq!(
        list["configured"][0]["url"],
        "https://from-config.example/h"
    );
    let text = list.to_string();
    assert!(
        !text.contains("my own secret")
            && !text.contains(&generated)
            && !text.contains("0123456789abcdef"),
        "{text}"
    );
    // Deliveries are listed, newest first.
    let store = &srv.app().store;
    for (i, status) in ["failed", "delivered"].into_iter().enumerate() {
        let d = cobrowse::domain::webhook::Delivery {
            url: "https://crm.example/hook".into(),
            event: "session.ended".into(),
            status: status.into(),
            attempts: 5 - i as u32 * 4,
            error: (status == "failed").then(|| "HTTP 500".into()),
            at: i as u64,
        };
        store.record_delivery(&d).await.unwrap();
    }
    let (_, d) = call.get("/webhooks/deliveries?limit=10", &root).await;
    assert_eq!(d["deliveries"][0]["status"], "delivered");
    assert_eq!(d["deliveries"][1]["error"], "HTTP 500");
    let id = list["webhooks"][0]["id"].as_i64().unwrap();
    assert_eq!(call.delete(&format!("/webhooks/{id}"), &root).await.0, 200);
    assert_eq!(call.delete(&format!("/webhooks/{id}"), &root).await.0, 404);
    assert_eq!(
        call.get("/webhooks", &root).await.1["webhooks"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn bad_rule_sets_are_refused_saying_which_selector_and_why() {
    let srv = server().await;
    let call = Call { srv: &srv };
    let root = admin(&srv, "root").await;
    let set = |mask: Value, block: Value| json!({"name": "Checkout", "url_pattern": format!("{SITE}/checkout*"), "rules": {"mask": mask, "block": block}});
    for (mask, block, field, why) in [
        (
            json!(["#card", "form >"]),
            json!([]),
            "mask[1]",
            "dangling combinator",
        ),
        (
            json!(["#ok"]),
            json!(["div{color:red}"]),
            "block[0]",
            "braces",
        ),
        (json!(["[name=card"]), json!([]), "mask[0]", "not closed"),
        (json!([""]), json!([]), "mask[0]", "empty selector"),
        (json!(["a:hover"]), json!([]), "mask[0]", "moment to moment"),
        (json!(["<img src=x>"]), json!([]), "mask[0]", "'<'"),
    ] {
        let (status, got) = call
            .post("/rule-sets", &root, set(mask.clone(), block))
            .await;
        assert_eq!(status, 400, "{mask}: {got}");
        let e = &got["error"];
        assert_eq!(
            (e["code"].as_str(), e["field"].as_str()),
            (Some("invalid_rule"), Some(field)),
            "{got}"
        );
        assert!(e["why"].as_str().unwrap().contains(why), "{got}");
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .contains(e["value"].as_str().unwrap()),
            "the message quotes the selector: {got}"
        );
    }
    let (status, got) = call
        .post(
            "/rule-sets",
            &root,
            json!({"name": "x", "url_pattern": "shop.example/*"}),
        )
        .await;
    assert_eq!(
        (status, got["error"]["field"].as_str()),
        (400, Some("url_pattern"))
    );
    let (status, got) = call
        .post("/rule-sets", &root, json!({"name": "", "url_pattern": "*"}))
        .await;
    assert_eq!(
        (status, got["error"]["field"].as_str()),
        (400, Some("name"))
    );
    let (status, got) = call
        .post(
            "/rule-sets",
            &root,
            json!({"name": "x", "url_pattern": "*", "rules": {"hide": ["#a"]}}),
        )
        .await;
    assert_eq!(status, 400, "unknown lists are refused: {got}");
    assert!(got["error"]["message"].as_str().unwrap().contains("hide"));
    let (status, _) = call
        .post(
            "/rule-sets",
            &root,
            json!({"name": "x", "url_pattern": "*", "rules": {"mask": "#a"}}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        call.get("/rule-sets", &root).await.1["rule_sets"]
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing was stored"
    );
}

#[tokio::test]
async fn rule_sets_are_versioned_and_reach_the_next_session() {
    let srv = server().await;
    let call = Call { srv: &srv };
    let root = admin(&srv, "root").await;
    let ada = admin(&srv, "ada").await;
    let body = json!({"name": " Checkout ", "url_pattern": "https://shop.example/checkout*",
                      "rules": {"mask": ["#card", " #card ", "input[name=\"cvc\"]"], "disable": ["#pay"]}});
    let (status, got) = call.post("/rule-sets", &root, body.clone()).await;
    assert_eq!(status, 201, "{got}");
    let set = &got["rule_set"];
    let id = set["id"].as_i64().unwrap();
    assert_eq!(
        (
            set["name"].as_str(),
            set["version"].as_i64(),
            set["updated_by"].as_str()
        ),
        (Some("Checkout"), Some(1), Some("root"))
    );
    assert_eq!(
        set["rules"]["mask"],
        json!(["#card", "input[name=\"cvc\"]"]),
        "trimmed, duplicates dropped"
    );
    assert_eq!(
        call.post("/rule-sets", &ada, body).await.0,
        409,
        "names are unique"
    );

    // The next session on a matching page gets the rules; others do not.
    let mut c = srv.connect_customer(None).await.unwrap();
    c.send(json!({"t": "create", "url": "https://shop.example/checkout?step=2", "title": "Pay", "tab": "t"})).await;
    let hello = c.expect("session").await;
    assert_eq!(
        hello["rules"]["mask"],
        json!(["#card", "input[name=\"cvc\"]"])
    );
    assert_eq!(hello["rules"]["disable"], json!(["#pay"]));
    let mut o = srv.connect_customer(None).await.unwrap();
    o.send(json!({"t": "create", "url": "https://shop.example/cart", "title": "Cart", "tab": "t"}))
        .await;
    assert_eq!(o.expect("session").await["rules"]["mask"], json!([]));
    let (_, preview) = call
        .get("/rule-sets?url=https://shop.example/checkout", &root)
        .await;
    assert_eq!(
        (
            preview["rule_sets"].as_array().unwrap().len(),
            preview["rules"]["disable"][0].as_str()
        ),
        (1, Some("#pay"))
    );

    // Updating needs the version it started from: two people's edits never overwrite each other.
    let edit = |version: i64, mask: &str| json!({"name": "Checkout", "url_pattern": "https://shop.example/checkout*", "rules": {"mask": [mask]}, "version": version});
    let (status, got) = call
        .put(&format!("/rule-sets/{id}"), &ada, edit(1, "#card-number"))
        .await;
    assert_eq!(
        (status, got["rule_set"]["version"].as_i64()),
        (200, Some(2)),
        "{got}"
    );
    let (status, got) = call
        .put(&format!("/rule-sets/{id}"), &root, edit(1, "#other"))
        .await;
    assert_eq!(
        (status, got["error"]["code"].as_str()),
        (409, Some("conflict")),
        "{got}"
    );
    assert!(
        got["error"]["message"]
            .as_str()
            .unwrap()
            .contains("version 2")
    );
    let (status, _) = call
        .put(
            &format!("/rule-sets/{id}"),
            &root,
            json!({"name": "Checkout", "url_pattern": "*"}),
        )
        .await;
    assert_eq!(status, 400, "an update without its version is refused");
    let (status, got) = call
        .put(&format!("/rule-sets/{id}"), &root, edit(2, "form >"))
        .await;
    assert_eq!(
        (status, got["error"]["field"].as_str()),
        (400, Some("mask[0]"))
    );
    assert_eq!(
        call.put("/rule-sets/999", &root, edit(1, "#a")).await.0,
        404
    );
    assert_eq!(
        call.get(&format!("/rule-sets/{id}"), &root).await.1["rule_set"]["rules"]["mask"],
        json!(["#card-number"])
    );

    // Deleted: out of force, and the deletion is in the story.
    assert_eq!(
        call.delete(&format!("/rule-sets/{id}?version=1"), &root)
            .await
            .0,
        409
    );
    assert_eq!(
        call.delete(&format!("/rule-sets/{id}?version=2"), &root)
            .await
            .0,
        200
    );
    assert_eq!(call.get(&format!("/rule-sets/{id}"), &root).await.0, 404);
    assert_eq!(call.delete(&format!("/rule-sets/{id}"), &root).await.0, 404);
    let (status, got) = call.get(&format!("/rule-sets/{id}/versions"), &root).await;
    assert_eq!(status, 200);
    let story: Vec<(i64, String, bool)> = got["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_i64().unwrap(),
                v["changed_by"].as_str().unwrap().to_string(),
                v["deleted"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        story,
        [
            (3, "root".into(), true),
            (2, "ada".into(), false),
            (1, "root".into(), false)
        ]
    );
    assert!(
        got["versions"][2]["changed_at"].as_u64().unwrap()
            <= got["versions"][0]["changed_at"].as_u64().unwrap()
    );
    assert_eq!(got["versions"][1]["rules"]["mask"], json!(["#card-number"]));
    assert_eq!(call.get("/rule-sets/999/versions", &root).await.0, 404);
    let mut c = srv.connect_customer(None).await.unwrap();
    c.send(
        json!({"t": "create", "url": "https://shop.example/checkout", "title": "Pay", "tab": "t"}),
    )
    .await;
    assert_eq!(
        c.expect("session").await["rules"]["mask"],
        json!([]),
        "a deleted set applies no more"
    );
}

#[tokio::test]
async fn the_visual_editor_saves_with_a_one_time_link_and_a_narrow_token() {
    let srv = server().await;
    let call = Call { srv: &srv };
    let root = admin(&srv, "root").await;
    // Only pages of the allowed sites (where the script runs) can be edited.
    let (status, got) = call
        .post(
            "/editor",
            &root,
            json!({"url": "https://elsewhere.example/x"}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        got["error"]["message"]
            .as_str()
            .unwrap()
            .contains("allowed_origins"),
        "{got}"
    );
    assert_eq!(
        call.post("/editor", &root, json!({"url": "javascript:alert(1)"}))
            .await
            .0,
        400
    );
    let (status, started) = call
        .post(
            "/editor",
            &root,
            json!({"url": format!("{SITE}/checkout/pay?step=2#top")}),
        )
        .await;
    assert_eq!(status, 201, "{started}");
    let open_url = started["open_url"].as_str().unwrap();
    assert!(
        open_url.starts_with(&format!("{SITE}/checkout/pay?step=2#cobrowse-editor=cbe_")),
        "{open_url}"
    );
    assert_eq!(
        (
            started["rule_set"].as_str(),
            started["url_pattern"].as_str()
        ),
        (
            Some("shop.example/checkout/pay"),
            Some("https://shop.example/checkout/pay*")
        )
    );
    let link = Cred::Bearer(
        open_url
            .split("#cobrowse-editor=")
            .nth(1)
            .unwrap()
            .to_string(),
    );

    // CORS for the site, for the editor's two routes only.
    let preflight = |path: &'static str, origin: &'static str| {
        let srv = &srv;
        async move {
            srv.http()
                .request(Method::OPTIONS, format!("{}/api/v1/admin{path}", srv.url))
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "authorization, content-type",
                )
                .send()
                .await
                .unwrap()
        }
    };
    let ok = preflight("/editor/rules", SITE).await;
    assert_eq!(ok.status().as_u16(), 204);
    assert_eq!(ok.headers()["access-control-allow-origin"], SITE);
    assert!(
        ok.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("authorization")
    );
    assert_eq!(
        preflight("/editor/open", "https://evil.example")
            .await
            .status()
            .as_u16(),
        403
    );
    let other = preflight("/rule-sets", SITE).await;
    assert!(
        other.headers().get("access-control-allow-origin").is_none(),
        "no CORS on other admin routes"
    );

    // The link opens once, from the site's origin only.
    let (status, _) = call
        .send(
            Method::POST,
            "/editor/open",
            &link,
            None,
            Some("https://evil.example"),
        )
        .await;
    assert_eq!(
        status, 403,
        "another site's page is refused, without using the link up"
    );
    assert_eq!(
        call.send(Method::POST, "/editor/open", &link, None, None)
            .await
            .0,
        403,
        "so is a request without an origin"
    );
    let (status, opened) = call
        .send(Method::POST, "/editor/open", &link, None, Some(SITE))
        .await;
    assert_eq!(status, 200, "{opened}");
    assert_eq!(
        (
            opened["account"].as_str(),
            opened["rules"]["mask"].as_array().map(Vec::len)
        ),
        (Some("root"), Some(0))
    );
    let (status, got) = call
        .send(Method::POST, "/editor/open", &link, None, Some(SITE))
        .await;
    assert_eq!(status, 401, "one time only: {got}");
    assert!(
        got["error"]["message"]
            .as_str()
            .unwrap()
            .contains("used already")
    );
    let session = Cred::Bearer(opened["token"].as_str().unwrap().to_string());

    // Saving: merged into the set, named as the editor's work, CORS answered.
    let save = |body: Value, origin: &'static str| {
        let (srv, session) = (&srv, session.clone());
        async move {
            let Cred::Bearer(t) = session else {
                unreachable!()
            };
            let r = srv
                .http()
                .post(format!("{}/api/v1/admin/editor/rules", srv.url))
                .bearer_auth(t)
                .header("origin", origin)
                .json(&body)
                .send()
                .await
                .unwrap();
            let acao = r
                .headers()
                .get("access-control-allow-origin")
                .map(|v| v.to_str().unwrap().to_string());
            (r.status().as_u16(), acao, r.json::<Value>().await.unwrap())
        }
    };
    let (status, acao, got) = save(
        json!({"add": {"mask": ["#card-number"], "block": ["img.avatar"]}}),
        SITE,
    )
    .await;
    assert_eq!((status, acao.as_deref()), (200, Some(SITE)), "{got}");
    assert_eq!(got["rule_set"]["updated_by"], "root (visual editor)");
    assert_eq!(got["pattern_matches_page"], true);
    let (status, _, got) = save(json!({"add": {"disable": ["#pay"]}, "remove": {"block": ["img.avatar"]}, "url_pattern": "https://shop.example/checkout*"}), SITE).await;
    assert_eq!(status, 200, "{got}");
    let rules = &got["rule_set"]["rules"];
    assert_eq!(
        (
            rules["mask"].clone(),
            rules["disable"].clone(),
            rules["block"].clone()
        ),
        (json!(["#card-number"]), json!(["#pay"]), json!([]))
    );
    assert_eq!(got["rule_set"]["version"], 2);
    let (status, _, got) = save(json!({"add": {"mask": ["input["]}}), SITE).await;
    assert_eq!(
        (status, got["error"]["code"].as_str()),
        (400, Some("invalid_rule")),
        "the editor's selectors are checked too"
    );
    let (status, _, _) = save(json!({"add": {"mask": ["#x"]}}), "https://evil.example").await;
    assert_eq!(status, 403, "from the site's pages only");
    // The session token opens nothing else; the link token cannot save.
    assert_eq!(call.get("/rule-sets", &session).await.0, 403);
    assert_eq!(call.get("/accounts", &session).await.0, 403);
    let r = srv
        .http()
        .get(format!("{}/api/v1/sessions", srv.url))
        .bearer_auth(match &session {
            Cred::Bearer(t) => t,
            _ => unreachable!(),
        });
    assert_eq!(r.send().await.unwrap().status().as_u16(), 401);
    let (status, _) = call
        .send(
            Method::POST,
            "/editor/rules",
            &link,
            Some(json!({"add": {}})),
            Some(SITE),
        )
        .await;
    assert_eq!(status, 401);
    // The customer on that page gets what the editor saved.
    let mut c = srv.connect_customer(None).await.unwrap();
    c.send(json!({"t": "create", "url": "https://shop.example/checkout/pay", "title": "Pay", "tab": "t"})).await;
    assert_eq!(
        c.expect("session").await["rules"]["mask"],
        json!(["#card-number"])
    );

    // Stopped by its administrator (or his account disabled): the token is dead.
    assert_eq!(call.delete("/editor", &root).await.1["removed"], 1);
    let (status, _, got) = save(json!({"add": {"mask": ["#y"]}}), SITE).await;
    assert_eq!(status, 401, "{got}");
    let (_, third) = call
        .post("/editor", &root, json!({"url": format!("{SITE}/a")}))
        .await;
    let link = Cred::Bearer(
        third["open_url"]
            .as_str()
            .unwrap()
            .split("#cobrowse-editor=")
            .nth(1)
            .unwrap()
            .to_string(),
    );
    let ada = admin(&srv, "ada").await;
    call.send(Method::POST, "/accounts/root/disable", &ada, None, None)
        .await;
    let (status, _) = call
        .send(Method::POST, "/editor/open", &link, None, Some(SITE))
        .await;
    assert_eq!(status, 401, "a disabled administrator's grants are gone");
}

#[tokio::test]
async fn the_openapi_document_lists_the_admin_routes() {
    let srv = server().await;
    let doc: Value = srv
        .http()
        .get(format!("{}/api/v1/openapi.json", srv.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (_, path, _) in every_route() {
        let path = path.replace("/alice/", "/{name}/").replace("/1", "/{id}");
        assert!(
            doc["paths"].get(format!("/admin{path}")).is_some(),
            "/admin{path} undocumented"
        );
    }
}
