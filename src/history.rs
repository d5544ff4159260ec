//! Writes session history off the relay path: a bounded queue drained by one
//! task, so a slow disk never delays a session.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::domain::session_history::HistoryEvent;
use crate::session::{Millis, Session};
use crate::store::Store;

/// The history row of one session: its ID alone is reused after it ends.
pub fn key(session: &Session) -> String {
    format!("{}-{}", session.id, session.created_at)
}

struct Entry {
    key: String,
    session_id: String,
    at: Millis,
    event: HistoryEvent,
}

enum Job {
    Record(Entry),
    Flush(oneshot::Sender<()>),
}

#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Job>,
}

impl Recorder {
    /// Starts the writer task; it ends when every recorder clone is dropped.
    pub fn start(store: Arc<dyn Store>) -> (Recorder, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = mpsc::channel::<Job>(16_384);
        let task = tokio::spawn(async move {
            while let Some(job) = rx.recv().await {
                match job {
                    Job::Record(e) => {
                        if let Err(err) = store.record(&e.key, &e.session_id, e.at, &e.event).await
                        {
                            tracing::error!(session = %e.session_id, error = %err, "could not record session history");
                        }
                    }
                    Job::Flush(done) => {
                        let _ = done.send(());
                    }
                }
            }
        });
        (Recorder { tx }, task)
    }

    pub fn record(&self, session: &Session, at: Millis, event: HistoryEvent) {
        let entry = Entry {
            key: key(session),
            session_id: session.id.to_string(),
            at,
            event,
        };
        if self.tx.try_send(Job::Record(entry)).is_err() {
            tracing::error!(session = %session.id, "history queue full: an event was not recorded");
        }
    }

    /// Waits until everything recorded so far is written (graceful shutdown).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Job::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}
