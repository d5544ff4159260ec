//! Changes made from the command line, kept in the trail. Each command that
//! changes something appends to a chain of its own (`cli-…`) and signs it
//! before it exits, so that commands run at the same time, and the server,
//! never write the same chain.

use std::sync::Arc;

use anyhow::Context;
use serde_json::Value;

use super::{Auditor, identity};
use crate::config::Config;
use crate::domain::audit::checkpoint::PERIODIC;
use crate::store::Store;
use crate::webhooks::Webhooks;

/// Records `kind` as done by the person at the shell (`cli:$USER`, as the shell says).
pub async fn record_change(
    config: &Config,
    store: Arc<dyn Store>,
    kind: &str,
    detail: Value,
) -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let webhooks = Webhooks::start(
        store.clone(),
        config.webhooks.clone(),
        config.webhook_delivery.clone(),
    )
    .context("webhook client")?;
    let node = format!("cli-{}", hex::encode(rand::random::<[u8; 8]>()));
    let key = identity::load_or_create_key(config)?;
    let others = identity::other_keys(config)?;
    let (audit, _) = Auditor::start(store, &node, key, &others, webhooks)
        .await
        .context("audit trail")?;
    let actor = std::env::var("USER").map_or_else(|_| "cli".into(), |u| format!("cli:{u}"));
    audit.record(&actor, None, kind, detail);
    audit.checkpoint(PERIODIC);
    audit.flush().await;
    Ok(())
}
