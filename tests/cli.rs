//! The `cobrowse` command as an operator uses it, next to a running server.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_cobrowse");

fn cobrowse(dir: &std::path::Path, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("COBROWSE_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn http() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

struct Server {
    child: Child,
    url: String,
    banner: Vec<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &std::path::Path, extra_env: &[(&str, &str)]) -> Server {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .envs(extra_env.iter().copied())
        .env("COBROWSE_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http"))
        .unwrap()
        .to_string();
    let mut banner = vec![first];
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.contains("sign in as demo-agent");
        banner.push(line);
        if done {
            break;
        }
    }
    Server { child, url, banner }
}

#[tokio::test]
async fn first_start_prints_the_urls_and_one_time_sign_in_links() {
    let dir = tempfile::tempdir().unwrap();
    let srv = serve(dir.path(), &[]);
    let banner = srv.banner.join("\n");
    for part in [
        "/demo/",
        "/agent/",
        "/admin/",
        "created account admin",
        "created account demo-agent",
        "sign in as admin",
    ] {
        assert!(banner.contains(part), "{part} missing from:\n{banner}");
    }
    assert!(dir.path().join("cobrowse.sqlite").exists() && dir.path().join("secret.key").exists());
    let link = srv
        .banner
        .iter()
        .find(|l| l.contains("sign in as demo-agent"))
        .unwrap();
    let link = link
        .split_whitespace()
        .find(|w| w.starts_with("http"))
        .unwrap();
    let client = http()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client.get(link).send().await.unwrap();
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers()["location"].to_str().unwrap()
        ),
        (303, "/agent/")
    );
    assert_eq!(
        client.get(link).send().await.unwrap().status().as_u16(),
        401,
        "one time only"
    );
}

#[tokio::test]
async fn accounts_tokens_and_keys_work_while_the_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let srv = serve(dir.path(), &[]);
    let d = dir.path();

    let (ok, out, err) = cobrowse(d, &["agent", "add", "bob"], Some("hunter2-hunter2\n"));
    assert!(ok, "{err}");
    assert!(out.contains("added agent bob"));
    let (ok, _, err) = cobrowse(d, &["agent", "add", "bob"], Some("another-password\n"));
    assert!(!ok && err.contains("already exists"), "{err}");
    let (ok, _, err) = cobrowse(d, &["agent", "add", "weak"], Some("short\n"));
    assert!(!ok && err.contains("at least 8"), "{err}");

    // The running server accepts the new password at once.
    let client = http().build().unwrap();
    let r = client
        .post(format!("{}/auth/login", srv.url))
        .json(&serde_json::json!({"name": "bob", "password": "hunter2-hunter2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);

    let (_, list, _) = cobrowse(d, &["agent", "list"], None);
    assert!(
        list.contains("bob") && list.contains("admin") && list.contains("demo-agent"),
        "{list}"
    );
    let (ok, _, _) = cobrowse(d, &["agent", "disable", "bob"], None);
    assert!(ok);
    let (_, list, _) = cobrowse(d, &["agent", "list"], None);
    assert!(
        list.lines()
            .any(|l| l.starts_with("bob") && l.contains("disabled")),
        "{list}"
    );
    let (ok, _, err) = cobrowse(d, &["token", "agent", "bob"], None);
    assert!(!ok && err.contains("disabled"), "{err}");

    let (ok, jwt, err) = cobrowse(d, &["token", "agent", "desk-agent-7", "--ttl", "1h"], None);
    assert!(ok, "{err}");
    let jwt = jwt.trim();
    assert_eq!(jwt.split('.').count(), 3);
    let r = client
        .post(format!("{}/auth/token", srv.url))
        .json(&serde_json::json!({"token": jwt}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        200,
        "the running server trusts tokens the CLI signs"
    );

    let (ok, key, err) = cobrowse(d, &["apikey", "create", "crm"], None);
    assert!(ok && err.contains("cannot be shown again"));
    let key = key.trim();
    let r = client
        .get(format!("{}/api/v1/sessions", srv.url))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (_, keys, _) = cobrowse(d, &["apikey", "list"], None);
    assert!(keys.contains("crm") && keys.contains(&key[..8]) && !keys.contains(key));
    let (ok, _, _) = cobrowse(d, &["apikey", "revoke", "1"], None);
    assert!(ok);
    let r = client
        .get(format!("{}/api/v1/sessions", srv.url))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

#[test]
fn config_check_reports_the_effective_settings_and_problems() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cobrowse.toml");
    std::fs::write(&file, "allowed_origins = [\"https://shop.example\"]\n[timeouts]\njoin = \"5m\"\n[auth]\njwt_secret = \"0123456789abcdef0123456789abcdef\"\n").unwrap();
    let (ok, out, err) = cobrowse(
        dir.path(),
        &["config", "check", "--config", file.to_str().unwrap()],
        None,
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("join = \"5m\"")
            && out.contains("https://shop.example")
            && out.contains("configuration is valid"),
        "{out}"
    );
    assert!(
        !out.contains("0123456789abcdef0123"),
        "secrets are not printed"
    );
    std::fs::write(&file, "[timeouts]\njoin = \"whenever\"\n").unwrap();
    let (ok, _, err) = cobrowse(
        dir.path(),
        &["config", "check", "--config", file.to_str().unwrap()],
        None,
    );
    assert!(!ok && err.contains("whenever"), "{err}");
    let (ok, _, err) = cobrowse(
        dir.path(),
        &["config", "check", "--config", "/nonexistent.toml"],
        None,
    );
    assert!(!ok && err.contains("no such file"), "{err}");
}

#[tokio::test]
async fn serves_https_when_given_a_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is needed to make a test certificate");
    assert!(made.status.success());
    let env = [
        ("COBROWSE_TLS__CERT", cert.to_str().unwrap()),
        ("COBROWSE_TLS__KEY", key.to_str().unwrap()),
    ];
    let srv = serve(&dir.path().join("data"), &env);
    assert!(srv.url.starts_with("https://"), "{}", srv.url);
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&cert).unwrap()).unwrap();
    let client = http().add_root_certificate(ca).build().unwrap();
    let body = client
        .get(format!("{}/healthz", srv.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "ok");
}
