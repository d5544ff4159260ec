//! The audit trail as a third party checks it: rows edited, deleted, inserted
//! or reordered directly in the database are caught and the record named, on
//! both databases; an export verifies offline with the published key.

mod common;

use std::process::Command;

use cobrowse::audit::trail::{self, TrailError};
use cobrowse::domain::audit::checkpoint::SESSION_END;
use cobrowse::domain::audit::{Chain, Content, Failure, parse_hash};
use common::scrape::Scrape;
use common::services::Postgres;
use serde_json::json;
use sqlx::AnyPool;

const BIN: &str = env!("CARGO_BIN_EXE_cobrowse");
const SESSION: &str = "123456789";

type Row = (
    String,
    i64,
    i64,
    String,
    Option<String>,
    String,
    String,
    String,
    String,
);

/// A server whose trail holds six agent actions on one session, signed.
async fn server_with_trail(database: Option<String>) -> common::TestServer {
    let srv = common::start(|c| c.database = database).await;
    let audit = &srv.app().live.audit;
    for i in 1..=6 {
        let detail = json!({ "action": "click", "node": i });
        audit.record("agent:ann", Some(SESSION), "agent.action", detail);
    }
    audit.checkpoint(SESSION_END);
    audit.flush().await;
    srv
}

async fn pool(url: &str) -> AnyPool {
    sqlx::any::install_default_drivers();
    AnyPool::connect(url).await.unwrap()
}

async fn rows(db: &AnyPool) -> Vec<Row> {
    sqlx::query_as("SELECT node, seq, at, actor, session, kind, detail, prev, hash FROM audit_records ORDER BY seq")
        .fetch_all(db)
        .await
        .unwrap()
}

async fn insert(db: &AnyPool, r: &Row) {
    sqlx::query("INSERT INTO audit_records (node, seq, at, actor, session, kind, detail, prev, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(&r.0).bind(r.1).bind(r.2).bind(&r.3).bind(&r.4).bind(&r.5).bind(&r.6).bind(&r.7).bind(&r.8)
        .execute(db)
        .await
        .unwrap();
}

/// A record properly hashed to follow `prev`, as someone with the database could make.
fn forged_after(prev: &Row) -> Row {
    let seq = prev.1 as u64;
    let mut chain = Chain::resume(&prev.0, seq, parse_hash(&prev.8).unwrap());
    let content = Content::new(1, "agent:ann", Some(SESSION), "agent.action", &json!({}));
    let forged = chain.append(content.clone());
    (
        forged.node,
        seq as i64 + 1,
        content.at as i64,
        content.actor,
        content.session,
        content.kind,
        content.detail,
        hex::encode(forged.prev),
        hex::encode(forged.hash),
    )
}

async fn restore(db: &AnyPool, original: &[Row]) {
    sqlx::query("DELETE FROM audit_records")
        .execute(db)
        .await
        .unwrap();
    for r in original {
        insert(db, r).await;
    }
}

async fn exec(db: &AnyPool, sql: &'static str, seq: i64) {
    sqlx::query(sql).bind(seq).execute(db).await.unwrap();
}

/// The record `verify` names, and why.
async fn named(srv: &common::TestServer) -> (u64, String) {
    let app = srv.app();
    match trail::verify_store(app.store.as_ref(), app.live.audit.trusted(), None, None).await {
        Err(TrailError::Failed(Failure::Record { seq, why, .. })) => (seq, why),
        other => panic!("expected a record named, got {other:?}"),
    }
}

async fn tampering_is_named(srv: &common::TestServer, db: &AnyPool) {
    let app = srv.app();
    let report = trail::verify_store(app.store.as_ref(), app.live.audit.trusted(), None, None)
        .await
        .unwrap();
    assert_eq!((report.records, report.unattested), (6, 0));
    let original = rows(db).await;
    assert_eq!(original.len(), 6);

    exec(
        db,
        r#"UPDATE audit_records SET detail = '{"action":"navigate","node":3}' WHERE seq = $1"#,
        3,
    )
    .await;
    let (seq, why) = named(srv).await;
    assert_eq!(seq, 3, "{why}");
    assert!(why.contains("changed"), "{why}");
    restore(db, &original).await;

    exec(db, "DELETE FROM audit_records WHERE seq = $1", 2).await;
    let (seq, why) = named(srv).await;
    assert_eq!(seq, 3, "{why}");
    assert!(why.contains("missing"), "{why}");
    restore(db, &original).await;

    exec(db, "DELETE FROM audit_records WHERE seq = $1", 6).await;
    assert_eq!(named(srv).await.0, 6);
    restore(db, &original).await;

    // A record slipped in after the second, properly hashed, the later ones renumbered.
    exec(
        db,
        "UPDATE audit_records SET seq = seq + 1000 WHERE seq >= $1",
        3,
    )
    .await;
    exec(
        db,
        "UPDATE audit_records SET seq = seq - 999 WHERE seq >= $1",
        1000,
    )
    .await;
    insert(db, &forged_after(&original[1])).await;
    let (seq, why) = named(srv).await;
    assert_eq!(seq, 4, "{why}");
    assert!(why.contains("/3"), "{why}");
    restore(db, &original).await;

    // Two records swapped.
    exec(db, "UPDATE audit_records SET seq = 100 WHERE seq = $1", 2).await;
    exec(db, "UPDATE audit_records SET seq = 2 WHERE seq = $1", 3).await;
    exec(db, "UPDATE audit_records SET seq = 3 WHERE seq = $1", 100).await;
    assert_eq!(named(srv).await.0, 2);
    restore(db, &original).await;

    assert!(
        trail::verify_store(app.store.as_ref(), app.live.audit.trusted(), None, None)
            .await
            .is_ok()
    );

    // A record forged at the end, properly hashed, is never signed.
    insert(db, &forged_after(&original[5])).await;
    let before = Scrape::of(srv).await;
    app.live.audit.checkpoint(SESSION_END);
    app.live.audit.flush().await;
    let tampered = r#"cobrowse_audit_append_failures_total{reason="tampered"}"#;
    assert!(
        Scrape::of(srv).await.since(&before, tampered) >= 1.0,
        "an alert, not silence"
    );
    let signed = app
        .store
        .last_audit_checkpoint(app.live.audit.node())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(signed.heads[0].seq, 6);
    let report = trail::verify_store(app.store.as_ref(), app.live.audit.trusted(), None, None)
        .await
        .unwrap();
    assert_eq!(report.unattested, 1);
    restore(db, &original).await;
}

#[tokio::test]
async fn sqlite_tampering_is_caught_and_named() {
    let srv = server_with_trail(None).await;
    let db = pool(&format!(
        "sqlite://{}",
        srv.dir.path().join("cobrowse.sqlite").display()
    ))
    .await;
    tampering_is_named(&srv, &db).await;
    srv.stop().await;
}

#[tokio::test]
#[cfg_attr(
    missing_postgres,
    ignore = "needs PostgreSQL (scripts/test installs it)"
)]
async fn postgres_tampering_is_caught_and_named() {
    let pg = Postgres::start();
    let srv = server_with_trail(Some(pg.url())).await;
    let db = pool(&pg.url()).await;
    tampering_is_named(&srv, &db).await;
    srv.stop().await;
}

fn cobrowse(dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("COBROWSE_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[tokio::test]
async fn a_session_export_verifies_offline_and_the_cli_names_a_changed_record() {
    let srv = server_with_trail(None).await;
    let audit = srv.app().live.audit.clone();
    audit.record("admin:root", None, "webhook.added", json!({ "webhook": 1 }));
    audit.record(
        "agent:ann",
        Some(SESSION),
        "agent.action",
        json!({ "action": "type" }),
    );
    audit.checkpoint(SESSION_END);
    audit.flush().await;
    let key = hex::encode(audit.public_key());
    let node = audit.node().to_string();
    let dir = srv.dir.path().to_path_buf();
    let (ok, out, err) = cobrowse(&dir, &["audit", "verify"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("verified: 8 records"), "{out}");

    let (ok, export, err) = cobrowse(&dir, &["audit", "export", "--session", SESSION]);
    assert!(ok, "{err}");
    assert!(
        export.lines().any(|l| l.contains(r#""type":"checkpoint""#)),
        "{export}"
    );
    assert!(
        !export.contains("webhook.added"),
        "another record is elided: {export}"
    );
    assert!(export.contains(r#""type":"elided""#), "{export}");
    let file = dir.join("trail.jsonl");
    std::fs::write(&file, &export).unwrap();
    let path = file.to_str().unwrap();
    let (ok, out, err) = cobrowse(&dir, &["audit", "verify", "--file", path, "--key", &key]);
    assert!(ok, "{out}{err}");
    let other = "11".repeat(32);
    let (ok, _, err) = cobrowse(&dir, &["audit", "verify", "--file", path, "--key", &other]);
    assert!(!ok && err.contains("not trusted"), "{err}");
    let edited = export.replace(r#"\"node\":3}"#, r#"\"node\":30}"#);
    assert_ne!(edited, export);
    std::fs::write(&file, &edited).unwrap();
    let (ok, _, err) = cobrowse(&dir, &["audit", "verify", "--file", path, "--key", &key]);
    assert!(!ok && err.contains(&format!("record {node}/3")), "{err}");

    // Stopped, its directory kept: the CLI checks the store alone.
    let common::TestServer {
        running,
        dir: _kept,
        ..
    } = srv;
    running.unwrap().stop().await.unwrap();
    let db = pool(&format!(
        "sqlite://{}",
        dir.join("cobrowse.sqlite").display()
    ))
    .await;
    exec(
        &db,
        "UPDATE audit_records SET actor = 'agent:bob' WHERE seq = $1",
        5,
    )
    .await;
    let (ok, _, err) = cobrowse(&dir, &["audit", "verify"]);
    assert!(!ok, "{err}");
    assert!(err.contains(&format!("record {node}/5")), "{err}");
}

#[tokio::test]
async fn retention_leaves_a_signed_cut_and_the_rest_still_verifies() {
    let srv = server_with_trail(None).await;
    let app = srv.app();
    let audit = &app.live.audit;
    audit.prune(cobrowse::clock::now_ms() + 1);
    audit.record(
        "admin:root",
        None,
        "webhook.removed",
        json!({ "webhook": 1 }),
    );
    audit.checkpoint(SESSION_END);
    audit.flush().await;
    let store = app.store.as_ref();
    let left = store.audit_records(&Default::default()).await.unwrap();
    assert_eq!(left.iter().map(|r| r.seq).collect::<Vec<_>>(), [7]);
    let report = trail::verify_store(store, audit.trusted(), None, None)
        .await
        .unwrap();
    assert_eq!(report.records, 1);

    // Without the retention checkpoint, what remains starts from nothing signed.
    let db = pool(&format!(
        "sqlite://{}",
        srv.dir.path().join("cobrowse.sqlite").display()
    ))
    .await;
    sqlx::query("DELETE FROM audit_checkpoints WHERE reason = 'retention'")
        .execute(&db)
        .await
        .unwrap();
    assert!(
        trail::verify_store(store, audit.trusted(), None, None)
            .await
            .is_err()
    );
    srv.stop().await;
}

#[test]
fn a_change_made_from_the_command_line_is_in_the_trail_and_verifies() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut add = Command::new(BIN)
        .args(["agent", "add", "bob", "--data-dir"])
        .arg(dir.path())
        .env("COBROWSE_LOG", "warn")
        .env("USER", "ops")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(b"correct horse battery\n")
        .unwrap();
    assert!(add.wait().unwrap().success());
    let (ok, out, err) = cobrowse(dir.path(), &["audit", "verify"]);
    assert!(ok && out.contains("verified: 1 records"), "{out}{err}");
    let (ok, export, err) = cobrowse(dir.path(), &["audit", "export"]);
    assert!(ok, "{err}");
    let record = export
        .lines()
        .find(|l| l.contains("account.added"))
        .expect("recorded");
    assert!(
        record.contains(r#""actor":"cli:ops""#) && record.contains(r#"\"bob\""#),
        "{record}"
    );
}
