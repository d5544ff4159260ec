//! Who signs and which chain is this node's: both made once and kept in the
//! data directory (or configured), so that a restart continues them.

use anyhow::Context;

use crate::config::Config;
use crate::domain::audit::CheckpointKey;
use crate::server::write_private;

/// The checkpoint key of `audit.key_file`, made on first start.
pub fn load_or_create_key(config: &Config) -> anyhow::Result<CheckpointKey> {
    let path = config.audit_key_path();
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            CheckpointKey::parse(&text).with_context(|| format!("reading {}", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = CheckpointKey::generate(&mut rand::rng());
            write_private(&path, &key.to_text())
                .with_context(|| format!("writing {}", path.display()))?;
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// `audit.node`, or an ID made once for this data directory.
pub fn node_id(config: &Config) -> anyhow::Result<String> {
    if let Some(node) = &config.audit.node {
        return Ok(node.clone());
    }
    let path = config.audit_node_path();
    if let Ok(id) = std::fs::read_to_string(&path) {
        return Ok(id.trim().to_string());
    }
    let id = hex::encode(rand::random::<[u8; 8]>());
    std::fs::write(&path, &id).with_context(|| format!("writing {}", path.display()))?;
    Ok(id)
}

/// The public keys besides this node's whose checkpoints verify (`audit.trusted_keys`).
pub fn other_keys(config: &Config) -> anyhow::Result<Vec<[u8; 32]>> {
    config
        .audit
        .trusted_keys
        .iter()
        .map(|text| parse_public_key(text).with_context(|| format!("audit.trusted_keys: {text}")))
        .collect()
}

pub fn parse_public_key(text: &str) -> anyhow::Result<[u8; 32]> {
    let mut key = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut key)
        .context("an Ed25519 public key is 64 hex digits")?;
    Ok(key)
}
