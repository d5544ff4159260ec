//! A hostile page or network between the browser and us, against the headers that keep
//! our own pages safe: a policy that lets no injected script run on any HTML page we serve,
//! no answer sniffed into another type, consoles' URLs sent to nobody, and HTTPS kept.

use std::path::Path;

use reqwest::header::HeaderMap;

use super::common::start;
use super::slowloris::certificate;

/// Every HTML page the server serves, as its URL path: `web/<area>/…html`.
fn html_pages() -> Vec<String> {
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    let mut pages = Vec::new();
    for area in std::fs::read_dir(&web).unwrap() {
        let area = area.unwrap().path();
        let Ok(files) = std::fs::read_dir(&area) else {
            continue;
        };
        let name = area.file_name().unwrap().to_string_lossy().to_string();
        for file in files {
            let file = file.unwrap().file_name().to_string_lossy().to_string();
            match file.as_str() {
                "index.html" => pages.push(format!("/{name}/")),
                f if f.ends_with(".html") => pages.push(format!("/{name}/{f}")),
                _ => {}
            }
        }
    }
    pages.sort();
    pages
}

/// The sources a CSP directive allows, or those of `default-src` when it is not written.
fn sources<'a>(csp: &'a str, directive: &str) -> Option<Vec<&'a str>> {
    let find = |name: &str| {
        csp.split(';').map(str::trim).find_map(|d| {
            let mut words = d.split_whitespace();
            (words.next() == Some(name)).then(|| words.collect::<Vec<_>>())
        })
    };
    find(directive).or_else(|| find("default-src"))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn every_html_page_has_a_policy_no_injected_script_can_pass() {
    let srv = start(|_| {}).await;
    let pages = html_pages();
    for area in ["/agent/", "/admin/", "/demo/"] {
        assert!(pages.iter().any(|p| p == area), "{area} in {pages:?}");
    }
    for page in pages {
        let r = srv
            .http()
            .get(format!("{}{page}", srv.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{page}");
        let h = r.headers();
        assert!(header(h, "content-type").unwrap().starts_with("text/html"));
        let csp = header(h, "content-security-policy")
            .unwrap_or_else(|| panic!("{page} has no Content-Security-Policy"));
        let scripts = sources(csp, "script-src")
            .unwrap_or_else(|| panic!("{page}: neither script-src nor default-src: {csp}"));
        for unsafe_source in [
            "'unsafe-eval'",
            "'unsafe-inline'",
            "*",
            "data:",
            "blob:",
            "http:",
            "https:",
        ] {
            assert!(
                !scripts.contains(&unsafe_source),
                "{page} allows scripts from {unsafe_source}: {csp}"
            );
        }
        assert_eq!(sources(csp, "object-src"), Some(vec!["'none'"]), "{page}");
        assert!(
            csp.contains("frame-ancestors"),
            "{page} can be framed by anyone"
        );
        assert!(
            csp.contains("base-uri"),
            "{page}: a <base> can move its scripts"
        );
        assert_eq!(
            header(h, "x-content-type-options"),
            Some("nosniff"),
            "{page}"
        );
        if page.starts_with("/agent/") || page.starts_with("/admin/") {
            assert_eq!(header(h, "referrer-policy"), Some("no-referrer"), "{page}");
        }
        assert_eq!(
            header(h, "strict-transport-security"),
            None,
            "HSTS over plain HTTP means nothing"
        );
    }
}

#[tokio::test]
async fn no_answer_may_be_sniffed_into_another_type() {
    let srv = start(|_| {}).await;
    for path in [
        "/healthz",
        "/metrics",
        "/api/v1/sessions",
        "/auth/me",
        "/no/such/page",
        "/cobrowse.js",
        "/demo/style.css",
        "/api/v1/openapi.json",
    ] {
        let r = srv
            .http()
            .get(format!("{}{path}", srv.url))
            .send()
            .await
            .unwrap();
        assert_eq!(
            header(r.headers(), "x-content-type-options"),
            Some("nosniff"),
            "{path} ({})",
            r.status()
        );
    }
}

#[tokio::test]
async fn over_tls_browsers_are_told_to_keep_to_https() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path());
    let srv = start(move |c| c.tls = Some(cobrowse::config::TlsConfig { cert, key })).await;
    assert!(srv.url.starts_with("https://"));
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    for path in ["/healthz", "/agent/", "/no/such/page"] {
        let r = client
            .get(format!("{}{path}", srv.url))
            .send()
            .await
            .unwrap();
        let hsts = header(r.headers(), "strict-transport-security")
            .unwrap_or_else(|| panic!("{path} has no Strict-Transport-Security"));
        let max_age: u64 = hsts
            .split(';')
            .find_map(|d| d.trim().strip_prefix("max-age="))
            .unwrap()
            .parse()
            .unwrap();
        assert!(max_age >= 180 * 86_400, "{hsts}");
    }
}
