//! The writer task. It alone extends this node's chain and signs its
//! checkpoints, so both stay in order without a lock.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::clock::now_ms;
use crate::domain::audit::checkpoint::{PERIODIC, RETENTION};
use crate::domain::audit::{Chain, Checkpoint, CheckpointKey, Content, Head, Record};
use crate::metrics as m;
use crate::session::Millis;
use crate::store::{Store, StoreError};
use crate::webhooks::Webhooks;

/// Records written in one transaction at most.
const BATCH: usize = 4_096;
const QUEUE: usize = 65_536;

enum Job {
    Record(Content),
    Checkpoint(&'static str),
    /// Deletes what was made before this time, leaving a signed checkpoint.
    Prune(Millis),
    Flush(oneshot::Sender<()>),
}

#[derive(Clone)]
pub struct Auditor {
    tx: mpsc::Sender<Job>,
    node: Arc<str>,
    /// This node's public key first, then the others `audit verify` accepts.
    trusted: Arc<[[u8; 32]]>,
    webhooks: Webhooks,
}

struct Writer {
    store: Arc<dyn Store>,
    chain: Chain,
    key: CheckpointKey,
    last: Option<Checkpoint>,
    webhooks: Webhooks,
}

impl Auditor {
    /// Resumes this node's chain where the store ends it and starts the writer
    /// task; the task ends when every clone is dropped.
    pub async fn start(
        store: Arc<dyn Store>,
        node: &str,
        key: CheckpointKey,
        others: &[[u8; 32]],
        webhooks: Webhooks,
    ) -> Result<(Auditor, tokio::task::JoinHandle<()>), StoreError> {
        let chain = match store
            .audit_heads()
            .await?
            .into_iter()
            .find(|h| h.node == node)
        {
            Some(h) => Chain::resume(node, h.seq, h.hash),
            None => Chain::new(node),
        };
        let last = store.last_audit_checkpoint(node).await?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let auditor = Auditor {
            tx,
            node: node.into(),
            trusted: std::iter::once(key.public())
                .chain(others.iter().copied())
                .collect(),
            webhooks: webhooks.clone(),
        };
        let writer = Writer {
            store,
            chain,
            key,
            last,
            webhooks,
        };
        Ok((auditor, tokio::spawn(writer.run(rx))))
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.trusted[0]
    }

    /// The keys whose checkpoints verify.
    pub fn trusted(&self) -> &[[u8; 32]] {
        &self.trusted
    }

    /// Records what `actor` did now (to `session`, if any).
    pub fn record(&self, actor: &str, session: Option<&str>, kind: &str, detail: Value) {
        self.append(Content::new(now_ms(), actor, session, kind, &detail));
    }

    pub fn append(&self, content: Content) {
        if self.tx.try_send(Job::Record(content)).is_err() {
            failed(
                &self.webhooks,
                &self.node,
                "queue_full",
                1,
                "the audit queue is full",
            );
        }
    }

    /// Signs the heads of the chains once what is queued is written.
    pub fn checkpoint(&self, reason: &'static str) {
        if self.tx.try_send(Job::Checkpoint(reason)).is_err() {
            failed(
                &self.webhooks,
                &self.node,
                "queue_full",
                0,
                "a checkpoint was not queued",
            );
        }
    }

    pub fn prune(&self, before: Millis) {
        if self.tx.try_send(Job::Prune(before)).is_err() {
            failed(
                &self.webhooks,
                &self.node,
                "queue_full",
                0,
                "retention was not queued",
            );
        }
    }

    /// Waits until everything queued so far is written (graceful shutdown, tests).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Job::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

/// Tells the operator that the trail lacks something: `records` were lost.
fn failed(webhooks: &Webhooks, node: &str, reason: &'static str, records: u64, error: &str) {
    metrics::counter!(m::AUDIT_APPEND_FAILURES, "reason" => reason).increment(1);
    tracing::error!(
        node,
        reason,
        records,
        error,
        "audit trail: could not append"
    );
    webhooks.emit(
        "audit.append_failed",
        now_ms(),
        json!({ "node": node, "reason": reason, "records": records, "error": error }),
    );
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        let mut batch = Vec::with_capacity(BATCH);
        while let Some(job) = rx.recv().await {
            let mut next = Some(job);
            while let Some(Job::Record(content)) = next {
                batch.push(content);
                next = if batch.len() < BATCH {
                    rx.try_recv().ok()
                } else {
                    None
                };
            }
            if !batch.is_empty() {
                self.append(std::mem::take(&mut batch)).await;
            }
            match next {
                Some(Job::Checkpoint(reason)) => self.checkpoint(reason).await,
                Some(Job::Prune(before)) => self.prune(before).await,
                Some(Job::Flush(done)) => {
                    let _ = done.send(());
                }
                Some(Job::Record(_)) | None => {}
            }
        }
    }

    /// The chain moves on only once the batch is stored: a failed batch is
    /// lost (and told), the records after it still link to what is stored.
    async fn append(&mut self, batch: Vec<Content>) {
        let mut chain = self.chain.clone();
        let records: Vec<Record> = batch.into_iter().map(|c| chain.append(c)).collect();
        match self.store.append_audit(&records).await {
            Ok(()) => {
                metrics::counter!(m::AUDIT_RECORDS).increment(records.len() as u64);
                self.chain = chain;
            }
            Err(e) => failed(
                &self.webhooks,
                &self.chain.node,
                "store",
                records.len() as u64,
                &e.to_string(),
            ),
        }
    }

    async fn checkpoint(&mut self, reason: &'static str) {
        let heads = match self.store.audit_heads().await {
            Ok(h) => self.own_head_from_memory(h),
            Err(e) => {
                return failed(
                    &self.webhooks,
                    &self.chain.node,
                    "checkpoint",
                    0,
                    &e.to_string(),
                );
            }
        };
        // Nothing new since the last one: a periodic checkpoint would attest the same.
        if reason == PERIODIC && self.last.as_ref().is_some_and(|l| l.heads == heads) {
            return;
        }
        if heads.is_empty() {
            return;
        }
        let c = self.key.sign(
            &self.chain.node,
            self.last.as_ref(),
            now_ms(),
            reason,
            heads,
            vec![],
        );
        match self.store.add_audit_checkpoint(&c).await {
            Ok(()) => self.last = Some(c),
            Err(e) => failed(
                &self.webhooks,
                &self.chain.node,
                "checkpoint",
                0,
                &e.to_string(),
            ),
        }
    }

    /// This node signs its own chain's head as it wrote it, never as the
    /// database says: a record forged at its end would be signed otherwise.
    fn own_head_from_memory(&self, mut heads: Vec<Head>) -> Vec<Head> {
        let own = self.chain.head();
        match heads.iter_mut().find(|h| h.node == own.node) {
            Some(h) if *h != own => {
                let error = format!("the database ends this chain at {}, not {}", h.seq, own.seq);
                failed(&self.webhooks, &own.node, "tampered", 0, &error);
                *h = own;
            }
            Some(_) => {}
            None if own.seq > 0 => heads.push(own),
            None => {}
        }
        heads.sort_by(|a, b| a.node.cmp(&b.node));
        heads
    }

    async fn prune(&mut self, before: Millis) {
        let cut = async {
            let pruned = self.store.audit_cut(before).await?;
            if pruned.is_empty() {
                return Ok(None);
            }
            let heads = self.own_head_from_memory(self.store.audit_heads().await?);
            let c = self.key.sign(
                &self.chain.node,
                self.last.as_ref(),
                now_ms(),
                RETENTION,
                heads,
                pruned,
            );
            let deleted = self.store.prune_audit(&c).await?;
            Ok::<_, StoreError>(Some((c, deleted)))
        };
        match cut.await {
            Ok(Some((c, deleted))) => {
                tracing::info!(
                    records = deleted,
                    "removed audit records past their retention"
                );
                self.last = Some(c);
            }
            Ok(None) => {}
            Err(e) => failed(
                &self.webhooks,
                &self.chain.node,
                "retention",
                0,
                &e.to_string(),
            ),
        }
    }
}
