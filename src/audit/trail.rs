//! The trail as a file (JSON Lines, see docs/audit.md) and verification over
//! the store or such a file.

use std::collections::BTreeMap;
use std::io::Write;

use serde::{Deserialize, Serialize};

pub use crate::domain::audit::Report;
use crate::domain::audit::checkpoint::{RETENTION, hex32};
use crate::domain::audit::{Checkpoint, Content, Failure, Hash, Record, verify};
use crate::session::Millis;
use crate::store::{AuditFilter, Store, StoreError};

pub const FORMAT: &str = "cobrowse-audit-trail/1";

/// One line of an exported trail.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Line {
    /// The first line: what the file is and the keys its checkpoints name.
    Header {
        format: String,
        exported_at: Millis,
        public_keys: Vec<String>,
    },
    Record {
        node: String,
        seq: u64,
        #[serde(with = "hex32")]
        prev: Hash,
        #[serde(with = "hex32")]
        hash: Hash,
        #[serde(flatten)]
        content: Content,
    },
    /// A record of the chain that the export does not show (another session's).
    Elided {
        node: String,
        seq: u64,
        #[serde(with = "hex32")]
        prev: Hash,
        #[serde(with = "hex32")]
        content_hash: Hash,
        #[serde(with = "hex32")]
        hash: Hash,
    },
    Checkpoint(Checkpoint),
}

impl From<&Record> for Line {
    fn from(r: &Record) -> Self {
        match &r.content {
            Some(c) => Line::Record {
                node: r.node.clone(),
                seq: r.seq,
                prev: r.prev,
                hash: r.hash,
                content: c.clone(),
            },
            None => Line::Elided {
                node: r.node.clone(),
                seq: r.seq,
                prev: r.prev,
                content_hash: r.content_hash,
                hash: r.hash,
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TrailError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("line {0}: {1}")]
    Line(usize, String),
    #[error("writing: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Failed(#[from] Failure),
}

/// Which part of the trail to export: a session's records (the others of the
/// same stretch of each chain elided), a span of time, or all.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    pub session: Option<String>,
    pub from: Option<Millis>,
    pub to: Option<Millis>,
}

impl Selection {
    fn whole(&self) -> bool {
        self.session.is_none() && self.from.is_none() && self.to.is_none()
    }
}

/// The stretch of each chain holding the selected records, carried on to the
/// first checkpoint that signs it, so that every selected record is attested.
async fn segments(
    store: &dyn Store,
    selection: &Selection,
    checkpoints: &[Checkpoint],
) -> Result<Vec<Record>, StoreError> {
    if selection.whole() {
        return store.audit_records(&AuditFilter::default()).await;
    }
    let filter = AuditFilter {
        session: selection.session.clone(),
        from: selection.from,
        to: selection.to,
    };
    let mut spans: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for r in store.audit_records(&filter).await? {
        let span = spans.entry(r.node.clone()).or_insert((r.seq, r.seq));
        span.0 = span.0.min(r.seq);
        span.1 = span.1.max(r.seq);
    }
    let mut records = Vec::new();
    for (node, (first, last)) in spans {
        let signed = checkpoints
            .iter()
            .flat_map(|c| &c.heads)
            .filter(|h| h.node == node && h.seq >= last)
            .map(|h| h.seq)
            .min()
            .unwrap_or(last);
        for r in store.audit_segment(&node, first, signed).await? {
            let shown = selection.session.is_none()
                || r.content.as_ref().and_then(|c| c.session.as_ref())
                    == selection.session.as_ref();
            records.push(if shown { r } else { r.elided() });
        }
    }
    Ok(records)
}

/// Checkpoints that sign a head within the records, and every retention checkpoint.
fn covering(checkpoints: Vec<Checkpoint>, records: &[Record]) -> Vec<Checkpoint> {
    let mut spans: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for r in records {
        let span = spans.entry(&r.node).or_insert((r.seq, r.seq));
        span.0 = span.0.min(r.seq);
        span.1 = span.1.max(r.seq);
    }
    checkpoints
        .into_iter()
        .filter(|c| {
            c.reason == RETENTION
                || c.heads.iter().any(|h| {
                    spans
                        .get(h.node.as_str())
                        .is_some_and(|(first, last)| (*first..=*last).contains(&h.seq))
                })
        })
        .collect()
}

/// Checks the store: all of it (nothing may be missing), or the stretch of
/// each chain made within a span of time.
pub async fn verify_store(
    store: &dyn Store,
    trusted: &[[u8; 32]],
    from: Option<Millis>,
    to: Option<Millis>,
) -> Result<Report, TrailError> {
    let checkpoints = store.audit_checkpoints().await?;
    let selection = Selection {
        session: None,
        from,
        to,
    };
    let records = segments(store, &selection, &checkpoints).await?;
    Ok(verify(&records, &checkpoints, trusted, selection.whole())?)
}

/// The selected records, and whether the stretch of the chains holding them
/// verifies against the trusted keys.
pub async fn select(
    store: &dyn Store,
    selection: &Selection,
    trusted: &[[u8; 32]],
) -> Result<(Vec<Record>, Result<Report, Failure>), StoreError> {
    let checkpoints = store.audit_checkpoints().await?;
    let records = segments(store, selection, &checkpoints).await?;
    let verified = verify(&records, &checkpoints, trusted, selection.whole());
    let shown = records
        .into_iter()
        .filter(|r| {
            r.content.as_ref().is_some_and(|c| {
                selection.from.is_none_or(|t| c.at >= t) && selection.to.is_none_or(|t| c.at <= t)
            })
        })
        .collect();
    Ok((shown, verified))
}

/// Writes the selected part of the trail with what verifies it.
pub async fn export(
    store: &dyn Store,
    selection: &Selection,
    public_keys: &[[u8; 32]],
    now: Millis,
    out: &mut impl Write,
) -> Result<u64, TrailError> {
    let checkpoints = store.audit_checkpoints().await?;
    let records = segments(store, selection, &checkpoints).await?;
    let header = Line::Header {
        format: FORMAT.into(),
        exported_at: now,
        public_keys: public_keys.iter().map(hex::encode).collect(),
    };
    let lines = std::iter::once(header)
        .chain(records.iter().map(Line::from))
        .chain(
            covering(checkpoints, &records)
                .into_iter()
                .map(Line::Checkpoint),
        );
    for line in lines {
        serde_json::to_writer(&mut *out, &line).expect("lines serialize");
        out.write_all(b"\n")?;
    }
    Ok(records.len() as u64)
}

/// Reads an exported file and checks it against the keys it names, or only
/// against `trusted` when given (a key obtained apart from the file).
pub fn verify_file(text: &str, trusted: Option<&[[u8; 32]]>) -> Result<Report, TrailError> {
    let mut keys = Vec::new();
    let mut records = Vec::new();
    let mut checkpoints = Vec::new();
    for (i, text) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let line: Line =
            serde_json::from_str(text).map_err(|e| TrailError::Line(i + 1, e.to_string()))?;
        match line {
            Line::Header {
                format,
                public_keys,
                ..
            } => {
                if format != FORMAT {
                    return Err(TrailError::Line(
                        i + 1,
                        format!("format {format:?}, not {FORMAT:?}"),
                    ));
                }
                for k in public_keys {
                    let mut key = [0u8; 32];
                    hex::decode_to_slice(&k, &mut key).map_err(|_| {
                        TrailError::Line(i + 1, format!("public key {k:?} is not 64 hex digits"))
                    })?;
                    keys.push(key);
                }
            }
            Line::Record {
                node,
                seq,
                prev,
                hash,
                content,
            } => {
                records.push(Record::stored(node, seq, prev, hash, content));
            }
            Line::Elided {
                node,
                seq,
                prev,
                content_hash,
                hash,
            } => records.push(Record {
                node,
                seq,
                prev,
                hash,
                content: None,
                content_hash,
            }),
            Line::Checkpoint(c) => checkpoints.push(c),
        }
    }
    // The file's order is not trusted: each chain is checked in order of seq.
    records.sort_by(|a, b| (&a.node, a.seq).cmp(&(&b.node, b.seq)));
    checkpoints.sort_by(|a, b| (&a.node, a.seq).cmp(&(&b.node, b.seq)));
    Ok(verify(
        &records,
        &checkpoints,
        trusted.unwrap_or(&keys),
        false,
    )?)
}
