//! The audit trail: who did what to a session or to the server's settings, kept
//! so that a third party can prove afterwards that nothing was edited. Records
//! form hash chains (one per node) and signed checkpoints attest their heads;
//! `docs/audit.md` specifies the encodings below for independent verifiers.

pub mod checkpoint;
mod encoding;
mod verify;

use serde::{Deserialize, Serialize};

use crate::session::Millis;

pub use checkpoint::{Checkpoint, CheckpointKey, Head, KeyError};
pub use verify::{Failure, Report, verify};

use encoding::Encoder;

/// A SHA-256 digest, shown as hex.
pub type Hash = [u8; 32];

/// What comes before a chain's first record.
pub const GENESIS: Hash = [0; 32];

/// What happened, as the appender is given it; the chain position comes later.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Content {
    pub at: Millis,
    /// Who did it: `agent:NAME`, `admin:NAME`, `customer`, `api-key:NAME`, `system`.
    pub actor: String,
    pub session: Option<String>,
    pub kind: String,
    /// A JSON object, kept as the exact text that was hashed.
    pub detail: String,
}

impl Content {
    pub fn new(
        at: Millis,
        actor: &str,
        session: Option<&str>,
        kind: &str,
        detail: &serde_json::Value,
    ) -> Self {
        Content {
            at,
            actor: actor.to_string(),
            session: session.map(str::to_string),
            kind: kind.to_string(),
            detail: detail.to_string(),
        }
    }

    /// Binds everything a record says; an export may show this digest in place
    /// of the content (another session's record) and its chain still verifies.
    pub fn hash(&self) -> Hash {
        let mut e = Encoder::new(b"cobrowse-audit-content-v1");
        e.int(self.at);
        e.str(&self.actor);
        e.opt_str(self.session.as_deref());
        e.str(&self.kind);
        e.str(&self.detail);
        e.finish()
    }
}

/// One link of a node's chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub node: String,
    /// 1 for a chain's first record, one more for each next.
    pub seq: u64,
    pub prev: Hash,
    pub hash: Hash,
    /// `None` when elided from an export: only its digest is known.
    pub content: Option<Content>,
    pub content_hash: Hash,
}

/// The hash of the record at `seq` of `node`'s chain.
pub fn link(node: &str, seq: u64, prev: &Hash, content_hash: &Hash) -> Hash {
    let mut e = Encoder::new(b"cobrowse-audit-record-v1");
    e.str(node);
    e.int(seq);
    e.bytes32(prev);
    e.bytes32(content_hash);
    e.finish()
}

/// The end of a node's chain as its appender knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    pub node: String,
    pub seq: u64,
    pub hash: Hash,
}

impl Chain {
    pub fn new(node: &str) -> Self {
        Chain {
            node: node.to_string(),
            seq: 0,
            hash: GENESIS,
        }
    }

    /// Continues from the last record stored.
    pub fn resume(node: &str, seq: u64, hash: Hash) -> Self {
        Chain {
            node: node.to_string(),
            seq,
            hash,
        }
    }

    /// The next record, linked to this chain's end (which it becomes).
    pub fn append(&mut self, content: Content) -> Record {
        let content_hash = content.hash();
        let seq = self.seq + 1;
        let hash = link(&self.node, seq, &self.hash, &content_hash);
        let record = Record {
            node: self.node.clone(),
            seq,
            prev: self.hash,
            hash,
            content: Some(content),
            content_hash,
        };
        self.seq = seq;
        self.hash = hash;
        record
    }

    pub fn head(&self) -> Head {
        Head {
            node: self.node.clone(),
            seq: self.seq,
            hash: self.hash,
        }
    }
}

impl Record {
    /// The record as stored: its content digest recomputed from the content.
    pub fn stored(node: String, seq: u64, prev: Hash, hash: Hash, content: Content) -> Self {
        Record {
            node,
            seq,
            prev,
            hash,
            content_hash: content.hash(),
            content: Some(content),
        }
    }

    /// The same link with its content left out.
    pub fn elided(&self) -> Self {
        Record {
            content: None,
            ..self.clone()
        }
    }
}

/// Parses a 64-digit hex digest.
pub fn parse_hash(s: &str) -> Option<Hash> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

/// At most `max` characters of what a client said: no client sets a record's size.
pub fn cap(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => s[..i].to_string(),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests;
