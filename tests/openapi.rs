//! The OpenAPI document the server generates from its handlers, held against
//! the running server: every documented route answers, and what the API
//! answers is what the document says.

mod common;

use std::collections::BTreeSet;

use common::{TestServer, start};
use reqwest::Method;
use serde_json::{Value, json};

const SITE: &str = "https://shop.example";

async fn document(srv: &TestServer) -> Value {
    let r = srv
        .http()
        .get(format!("{}/api/v1/openapi.json", srv.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Each documented operation: method, path under `/api/v1`, operation object.
fn operations(doc: &Value) -> Vec<(Method, String, Value)> {
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            all.push((method, path.clone(), operation.clone()));
        }
    }
    all
}

/// A documented path with its parameters filled in.
fn concrete(path: &str) -> String {
    path.replace("{id}", "123456789")
        .replace("{name}", "nobody")
        .replace("{key}", "nothing")
}

const METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::PATCH,
];

#[tokio::test]
async fn every_documented_route_is_served_and_no_other_method_on_it() {
    let srv = start(|c| c.allowed_origins = vec![SITE.into()]).await;
    let doc = document(&srv).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let documented = operations(&doc);
    assert!(documented.len() > 25, "{} operations", documented.len());
    for (method, path, operation) in &documented {
        for (status, response) in operation["responses"].as_object().unwrap() {
            let described = response["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty());
            assert!(
                described,
                "{method} {path} {status}: OpenAPI requires a description"
            );
        }
    }
    let mut ids = BTreeSet::new();
    for (method, path, operation) in &documented {
        let id = operation["operationId"].as_str().unwrap();
        assert!(ids.insert(id), "{method} {path}: operationId {id} is taken");
    }
    let paths: BTreeSet<&String> = documented.iter().map(|(_, p, _)| p).collect();
    for path in paths {
        let url = format!("{}/api/v1{}", srv.url, concrete(path));
        for method in METHODS {
            let operation = documented
                .iter()
                .find(|(m, p, _)| *m == method && p == path)
                .map(|(_, _, o)| o);
            // No credentials: a served route refuses (401) or answers; a
            // handler's own 404 says so in the API's JSON error form.
            let r = srv
                .http()
                .request(method.clone(), &url)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            if let Some(operation) = operation {
                assert_ne!(status, 405, "{method} {path} is documented but not served");
                assert!(
                    status != 404 || body["error"]["code"].is_string(),
                    "{method} {path} is documented but not routed"
                );
                assert!(
                    operation["responses"].get(status.to_string()).is_some(),
                    "{method} {path} answers {status} without credentials, undocumented"
                );
            } else {
                assert_eq!(status, 405, "{method} {path} is served but not documented");
            }
        }
    }
}

/// Validates API answers against the document's response schemas, resolving
/// `$ref`s to its components (OpenAPI 3.1 schemas are JSON Schema 2020-12).
struct Checker {
    doc: Value,
    checked: BTreeSet<(String, String)>,
}

impl Checker {
    fn schema(&self, method: &Method, path: &str, status: u16) -> Value {
        let operation = &self.doc["paths"][path][method.as_str().to_lowercase()];
        let schema =
            &operation["responses"][status.to_string()]["content"]["application/json"]["schema"];
        assert!(
            schema.is_object(),
            "{method} {path}: no JSON schema for {status}"
        );
        let mut schema = schema.clone();
        schema["components"] = self.doc["components"].clone();
        schema
    }

    fn errors(&self, schema: &Value, body: &Value) -> Vec<String> {
        let validator = jsonschema::draft202012::new(schema).expect("a valid JSON schema");
        validator.iter_errors(body).map(|e| e.to_string()).collect()
    }

    /// A property the schema requires of an object, through `$ref` and `allOf`.
    fn first_required(&self, schema: &Value) -> Option<String> {
        if let Some(r) = schema["$ref"].as_str() {
            let name = r.rsplit('/').next().unwrap();
            return self.first_required(&self.doc["components"]["schemas"][name]);
        }
        let own = schema["required"].as_array().and_then(|r| r.first());
        match own.and_then(Value::as_str) {
            Some(name) => Some(name.to_string()),
            None => schema["allOf"]
                .as_array()?
                .iter()
                .find_map(|s| self.first_required(s)),
        }
    }

    /// The answer fits its schema, and the schema is not one that anything fits:
    /// without one of its required fields the answer would not.
    fn check(&mut self, method: Method, path: &str, status: u16, body: &Value) {
        let schema = self.schema(&method, path, status);
        let errors = self.errors(&schema, body);
        assert!(errors.is_empty(), "{method} {path}: {errors:?}\n{body}");
        let required = self
            .first_required(&schema)
            .unwrap_or_else(|| panic!("{method} {path}: nothing required"));
        let mut broken = body.clone();
        broken.as_object_mut().unwrap().remove(&required);
        assert!(
            !self.errors(&schema, &broken).is_empty(),
            "{method} {path}: an answer without {required:?} would pass"
        );
        self.checked
            .insert((method.as_str().to_lowercase(), path.to_string()));
    }
}

struct Admin<'a> {
    srv: &'a TestServer,
    cookie: String,
}

impl Admin<'_> {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .srv
            .http()
            .request(method, format!("{}/api/v1{path}", self.srv.url))
            .header("cookie", &self.cookie)
            .header("origin", &self.srv.url);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let r = req.send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }
}

async fn sign_in(srv: &TestServer) -> String {
    let admin = cobrowse::domain::account::AccountRole::Admin;
    srv.add_account("root", "correct horse", admin).await;
    let r = srv
        .http()
        .post(format!("{}/auth/login", srv.url))
        .json(&json!({"name": "root", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_string()
}

#[tokio::test]
async fn answers_fit_the_documented_schemas() {
    let srv = start(|c| c.allowed_origins = vec![SITE.into()]).await;
    let mut checker = Checker {
        doc: document(&srv).await,
        checked: BTreeSet::new(),
    };
    let admin = Admin {
        cookie: sign_in(&srv).await,
        srv: &srv,
    };
    let (get, post, put, delete) = (Method::GET, Method::POST, Method::PUT, Method::DELETE);
    let mut check = async |method: Method, doc_path: &str, path: &str, body: Option<Value>| {
        let (status, answer) = admin.call(method.clone(), path, body).await;
        assert!(status < 300, "{method} {path}: {status} {answer}");
        checker.check(method, doc_path, status, &answer);
        answer
    };

    let new = json!({"name": "alice", "password": "long enough", "role": "agent"});
    check(
        post.clone(),
        "/admin/accounts",
        "/admin/accounts",
        Some(new),
    )
    .await;
    check(get.clone(), "/admin/accounts", "/admin/accounts", None).await;
    let name = "/admin/accounts/{name}";
    check(
        post.clone(),
        &format!("{name}/disable"),
        "/admin/accounts/alice/disable",
        None,
    )
    .await;
    check(
        post.clone(),
        &format!("{name}/enable"),
        "/admin/accounts/alice/enable",
        None,
    )
    .await;
    let password = Some(json!({"password": "another long one"}));
    check(
        post.clone(),
        &format!("{name}/password"),
        "/admin/accounts/alice/password",
        password,
    )
    .await;

    let key = check(
        post.clone(),
        "/admin/api-keys",
        "/admin/api-keys",
        Some(json!({"name": "crm"})),
    )
    .await;
    check(get.clone(), "/admin/api-keys", "/admin/api-keys", None).await;
    let revoke = format!("/admin/api-keys/{}/revoke", key["api_key"]["id"]);
    check(post.clone(), "/admin/api-keys/{id}/revoke", &revoke, None).await;

    let hook = json!({"url": "https://crm.example/hook"});
    let hook = check(
        post.clone(),
        "/admin/webhooks",
        "/admin/webhooks",
        Some(hook),
    )
    .await;
    check(get.clone(), "/admin/webhooks", "/admin/webhooks", None).await;
    let deliveries = "/admin/webhooks/deliveries";
    check(
        get.clone(),
        deliveries,
        &format!("{deliveries}?limit=5"),
        None,
    )
    .await;
    let remove = format!("/admin/webhooks/{}", hook["webhook"]["id"]);
    check(delete.clone(), "/admin/webhooks/{id}", &remove, None).await;

    let rules = json!({"name": "checkout", "url_pattern": format!("{SITE}/checkout*"),
        "rules": {"mask": ["#card"], "block": [".chat"]}});
    let set = check(
        post.clone(),
        "/admin/rule-sets",
        "/admin/rule-sets",
        Some(rules),
    )
    .await;
    let one = format!("/admin/rule-sets/{}", set["rule_set"]["id"]);
    check(get.clone(), "/admin/rule-sets", "/admin/rule-sets", None).await;
    let for_page = format!("/admin/rule-sets?url={SITE}/checkout");
    check(get.clone(), "/admin/rule-sets", &for_page, None).await;
    check(get.clone(), "/admin/rule-sets/{id}", &one, None).await;
    let change = json!({"name": "checkout", "url_pattern": "*", "rules": {"disable": ["#x"]},
        "version": 1});
    check(put, "/admin/rule-sets/{id}", &one, Some(change)).await;
    let versions = format!("{one}/versions");
    check(
        get.clone(),
        "/admin/rule-sets/{id}/versions",
        &versions,
        None,
    )
    .await;

    let start = json!({"url": format!("{SITE}/checkout")});
    check(post.clone(), "/admin/editor", "/admin/editor", Some(start)).await;
    check(delete.clone(), "/admin/editor", "/admin/editor", None).await;
    check(
        delete,
        "/admin/rule-sets/{id}",
        &format!("{one}?version=2"),
        None,
    )
    .await;

    // A live session, ended through the API, and then in the history.
    let (_customer, id, _) = srv.customer().await;
    check(get.clone(), "/sessions", "/sessions", None).await;
    let session = format!("/sessions/{id}");
    check(get.clone(), "/sessions/{id}", &session, None).await;
    check(
        post.clone(),
        "/sessions/{id}/end",
        &format!("{session}/end"),
        None,
    )
    .await;
    check(
        post,
        "/interactions/{id}/end",
        "/interactions/crm-42/end",
        None,
    )
    .await;
    let history = check(get.clone(), "/history", "/history", None).await;
    let entry = format!(
        "/history/{}",
        history["sessions"][0]["key"].as_str().unwrap()
    );
    // That session's audit trail, verified, and the key that signs it.
    srv.app().live.audit.flush().await;
    let trail = check(get.clone(), "/audit", &format!("/audit?session={id}"), None).await;
    assert_eq!(trail["verification"]["verified"], true, "{trail}");
    assert!(trail["records"].as_array().unwrap().len() >= 2, "{trail}");
    check(get.clone(), "/audit/public-key", "/audit/public-key", None).await;
    check(get, "/history/{key}", &entry, None).await;

    // Errors too, down to the fields of a refused rule.
    let bad = json!({"name": "bad", "url_pattern": "*", "rules": {"mask": ["#a["]}});
    let (status, answer) = admin
        .call(Method::POST, "/admin/rule-sets", Some(bad))
        .await;
    assert_eq!(
        (status, &answer["error"]["code"]),
        (400, &json!("invalid_rule"))
    );
    assert!(answer["error"]["why"].is_string(), "{answer}");
    checker.check(Method::POST, "/admin/rule-sets", 400, &answer);

    // Every documented read with a JSON schema was held against one.
    let reads: BTreeSet<(String, String)> = operations(&checker.doc)
        .into_iter()
        .filter(|(m, _, op)| *m == Method::GET && op["responses"]["200"]["content"].is_object())
        .filter(|(_, _, op)| {
            op["responses"]["200"]["content"]["application/json"]["schema"].is_object()
        })
        .map(|(m, p, _)| (m.as_str().to_lowercase(), p))
        .collect();
    let unchecked: Vec<_> = reads.difference(&checker.checked).collect();
    assert!(unchecked.is_empty(), "reads not checked: {unchecked:?}");
}
