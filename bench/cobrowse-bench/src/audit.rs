//! `audit`: how many audit records per second one node keeps in the embedded
//! SQLite, through the server's own appender (queue, one writer task, one
//! transaction per drained batch), then how long verifying them takes.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use cobrowse::audit::Auditor;
use cobrowse::audit::trail::verify_store;
use cobrowse::config::WebhookDelivery;
use cobrowse::domain::audit::CheckpointKey;
use cobrowse::domain::audit::checkpoint::SESSION_END;
use cobrowse::store::{SqlStore, Store};
use cobrowse::webhooks::Webhooks;
use serde_json::json;

#[derive(Args)]
pub struct AuditArgs {
    /// Records to append.
    #[arg(long, default_value_t = 200_000)]
    records: u64,
    /// Records queued before waiting for the writer (under the appender's queue bound).
    #[arg(long, default_value_t = 20_000)]
    burst: u64,
}

pub async fn run(args: &AuditArgs) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("cobrowse-bench-audit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).context("bench directory")?;
    let result = measure(args, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn measure(args: &AuditArgs, dir: &std::path::Path) -> Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let store: Arc<dyn Store> = Arc::new(SqlStore::open_sqlite(&dir.join("audit.sqlite")).await?);
    let webhooks = Webhooks::start(store.clone(), vec![], WebhookDelivery::default())?;
    let key = CheckpointKey::generate(&mut rand::rng());
    let trusted = [key.public()];
    let (audit, _) = Auditor::start(store.clone(), "bench", key, &[], webhooks).await?;
    let started = Instant::now();
    let mut sent = 0;
    while sent < args.records {
        let burst = args.burst.min(args.records - sent);
        for i in sent..sent + burst {
            let detail = json!({ "action": "click", "node": i });
            audit.record("agent:bench", Some("123456789"), "agent.action", detail);
        }
        sent += burst;
        audit.flush().await;
    }
    let appended = started.elapsed();
    audit.checkpoint(SESSION_END);
    audit.flush().await;
    let checked = Instant::now();
    let report = verify_store(store.as_ref(), &trusted, None, None).await?;
    let verified = checked.elapsed();
    anyhow::ensure!(
        report.records == args.records,
        "{} records verified of {} appended: some were not kept",
        report.records,
        args.records
    );
    println!(
        "audit: {} records appended in {:.2} s: {:.0} records/s on SQLite ({} build)",
        args.records,
        appended.as_secs_f64(),
        args.records as f64 / appended.as_secs_f64(),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    println!(
        "audit: verified in {:.2} s: {:.0} records/s",
        verified.as_secs_f64(),
        args.records as f64 / verified.as_secs_f64()
    );
    Ok(())
}
