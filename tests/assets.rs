//! The embedded web parts as browsers receive them.

mod common;

use common::start;

#[tokio::test]
async fn customer_script_is_served_compressed_and_importable_from_other_sites() {
    let srv = start(|_| {}).await;
    let client = reqwest::Client::builder().no_gzip().build().unwrap();
    for path in ["/cobrowse.js", "/customer/main.js"] {
        let r = client
            .get(format!("{}{path}", srv.url))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
        assert_eq!(r.headers()["content-encoding"], "gzip", "{path}");
        assert_eq!(r.headers()["vary"], "accept-encoding", "{path}");
        assert_eq!(r.headers()["access-control-allow-origin"], "*", "{path}");
        // Gzipped once at startup, so sent with its length, not chunked.
        let length: usize = r.headers()["content-length"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(r.headers().get("transfer-encoding").is_none(), "{path}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/javascript")
        );
        assert_eq!(r.bytes().await.unwrap().len(), length, "{path}");
    }
}

#[tokio::test]
async fn agent_console_forbids_scripts_from_elsewhere_and_foreign_framing() {
    let srv = start(|c| c.agent_origins = vec!["https://desk.example".into()]).await;
    let r = srv
        .http()
        .get(format!("{}/agent/", srv.url))
        .send()
        .await
        .unwrap();
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'")
            && csp.contains("frame-ancestors 'self' https://desk.example"),
        "{csp}"
    );
    let admin = srv
        .http()
        .get(format!("{}/admin/", srv.url))
        .send()
        .await
        .unwrap();
    let admin_csp = admin.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        admin_csp.contains("script-src 'self'") && admin_csp.contains("frame-ancestors 'self';")
            || admin_csp.ends_with("frame-ancestors 'self'"),
        "the admin console is never framed by another site: {admin_csp}"
    );
}

#[tokio::test]
async fn unknown_files_and_paths_outside_the_areas_are_not_found() {
    let srv = start(|_| {}).await;
    for path in [
        "/agent/nope.js",
        "/secret.key",
        "/src/main.rs",
        "/demo/../Cargo.toml",
    ] {
        let r = srv
            .http()
            .get(format!("{}{path}", srv.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 404, "{path}");
    }
    let srv = start(|c| c.demo = false).await;
    assert_eq!(
        srv.http()
            .get(format!("{}/demo/", srv.url))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );
}
