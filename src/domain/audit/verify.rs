//! Verification: recompute every link, check every checkpoint's signature and
//! that each signed head is the record the store holds. The same algorithm
//! serves the whole store and an exported file (a segment, perhaps with other
//! sessions' records elided).

use std::collections::{BTreeMap, HashMap};

use super::checkpoint::RETENTION;
use super::{Checkpoint, GENESIS, Hash, Head, Record, link};

/// What was checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub records: u64,
    pub checkpoints: u64,
    /// Records after the last checkpoint of their chain: linked, but not yet
    /// signed, so their removal could not be seen.
    pub unattested: u64,
}

/// The first thing found wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    #[error("record {node}/{seq}: {why}")]
    Record { node: String, seq: u64, why: String },
    #[error("checkpoint {node}/{seq}: {why}")]
    Checkpoint { node: String, seq: u64, why: String },
}

fn bad_record(node: &str, seq: u64, why: String) -> Failure {
    Failure::Record {
        node: node.to_string(),
        seq,
        why,
    }
}

fn bad_checkpoint(c: &Checkpoint, why: &str) -> Failure {
    Failure::Checkpoint {
        node: c.node.clone(),
        seq: c.seq,
        why: why.to_string(),
    }
}

/// Checks `records` (each chain in order of `seq`) against `checkpoints`
/// signed by one of the `trusted` keys. `complete`: these are all the records
/// and checkpoints there are (a store), so each chain must start at its
/// beginning or where retention signed that it cut it; otherwise (an export)
/// each chain may start anywhere and only its own links and the heads it
/// covers are checked.
pub fn verify(
    records: &[Record],
    checkpoints: &[Checkpoint],
    trusted: &[[u8; 32]],
    complete: bool,
) -> Result<Report, Failure> {
    check_checkpoints(checkpoints, trusted, complete)?;
    let base = retention_bases(checkpoints);
    let mut chains: BTreeMap<&str, Vec<&Record>> = BTreeMap::new();
    for r in records {
        chains.entry(&r.node).or_default().push(r);
    }
    let mut report = Report {
        checkpoints: checkpoints.len() as u64,
        ..Report::default()
    };
    let mut held: HashMap<(&str, u64), &Hash> = HashMap::new();
    for (node, chain) in &chains {
        let cut = base.get(node).copied();
        let mut expected = match (complete, cut) {
            (_, Some(h)) => Some((h.seq, h.hash)),
            (true, None) => Some((0, GENESIS)),
            (false, None) => None,
        };
        for r in chain.iter().filter(|r| cut.is_none_or(|c| r.seq > c.seq)) {
            check_link(r, expected)?;
            expected = Some((r.seq, r.hash));
            held.insert((node, r.seq), &r.hash);
            report.records += 1;
        }
    }
    for c in checkpoints {
        for head in &c.heads {
            check_head(c, head, &chains, &held, &base, complete)?;
        }
    }
    for (node, chain) in &chains {
        let signed = checkpoints
            .iter()
            .flat_map(|c| &c.heads)
            .filter(|h| h.node == *node)
            .map(|h| h.seq)
            .max()
            .unwrap_or(0);
        report.unattested += chain.iter().filter(|r| r.seq > signed).count() as u64;
    }
    Ok(report)
}

fn check_checkpoints(
    checkpoints: &[Checkpoint],
    trusted: &[[u8; 32]],
    complete: bool,
) -> Result<(), Failure> {
    let mut last: HashMap<&str, &Checkpoint> = HashMap::new();
    for c in checkpoints {
        if !trusted.contains(&c.key) {
            return Err(bad_checkpoint(c, "signed by a key that is not trusted"));
        }
        if !c.signature_valid() {
            return Err(bad_checkpoint(
                c,
                "its signature does not match its content",
            ));
        }
        if complete {
            let (seq, prev) = last
                .get(c.node.as_str())
                .map_or((0, GENESIS), |p| (p.seq, p.digest()));
            if c.seq != seq + 1 || c.prev != prev {
                return Err(bad_checkpoint(
                    c,
                    "does not follow the node's previous checkpoint (one was removed, inserted or reordered)",
                ));
            }
        }
        last.insert(&c.node, c);
    }
    Ok(())
}

/// Where retention cut each chain: the last record it deleted.
fn retention_bases(checkpoints: &[Checkpoint]) -> HashMap<&str, &Head> {
    let mut base: HashMap<&str, &Head> = HashMap::new();
    for head in checkpoints
        .iter()
        .filter(|c| c.reason == RETENTION)
        .flat_map(|c| &c.pruned)
    {
        let entry = base.entry(&head.node).or_insert(head);
        if head.seq > entry.seq {
            *entry = head;
        }
    }
    base
}

fn check_link(r: &Record, expected: Option<(u64, Hash)>) -> Result<(), Failure> {
    if let Some((seq, hash)) = expected {
        if r.seq > seq + 1 {
            let why = format!(
                "records {}/{}..{} before it are missing",
                r.node,
                seq + 1,
                r.seq - 1
            );
            return Err(bad_record(&r.node, r.seq, why));
        }
        if r.seq != seq + 1 {
            return Err(bad_record(
                &r.node,
                r.seq,
                "out of order or repeated".into(),
            ));
        }
        if r.prev != hash {
            let why = format!(
                "does not link to {}/{}: that record was changed or replaced, or this one inserted",
                r.node, seq
            );
            return Err(bad_record(&r.node, r.seq, why));
        }
    }
    let content_hash = r.content.as_ref().map_or(r.content_hash, |c| c.hash());
    if link(&r.node, r.seq, &r.prev, &content_hash) != r.hash {
        return Err(bad_record(
            &r.node,
            r.seq,
            "changed: its hash does not match its content".into(),
        ));
    }
    Ok(())
}

fn check_head(
    c: &Checkpoint,
    head: &Head,
    chains: &BTreeMap<&str, Vec<&Record>>,
    held: &HashMap<(&str, u64), &Hash>,
    base: &HashMap<&str, &Head>,
    complete: bool,
) -> Result<(), Failure> {
    if base
        .get(head.node.as_str())
        .is_some_and(|b| head.seq <= b.seq)
        || head.seq == 0
    {
        return Ok(());
    }
    match held.get(&(head.node.as_str(), head.seq)) {
        Some(hash) if **hash == head.hash => Ok(()),
        Some(_) => Err(bad_record(
            &head.node,
            head.seq,
            format!("is not the record checkpoint {}/{} signed", c.node, c.seq),
        )),
        None => {
            let chain = chains.get(head.node.as_str());
            let within = chain.is_some_and(|ch| {
                ch.first().is_some_and(|f| f.seq <= head.seq)
                    && ch.last().is_some_and(|l| l.seq >= head.seq)
            });
            if complete || within {
                Err(bad_record(
                    &head.node,
                    head.seq,
                    format!("is missing, yet checkpoint {}/{} signed it", c.node, c.seq),
                ))
            } else {
                Ok(())
            }
        }
    }
}
