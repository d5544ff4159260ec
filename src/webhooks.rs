//! Signed webhook deliveries for session created / agent joined / mode
//! changed / ended. Emitting only queues: a slow or dead receiver never
//! delays a session. Each delivery retries with exponential backoff.
//!
//! Receivers are kept apart: each has its own queue and its own bound on
//! deliveries in flight (`webhook_delivery.per_receiver`), so a receiver that
//! hangs holds up only its own deliveries, never another's. Each attempt has a
//! deadline (`webhook_delivery.timeout`), redirects are not followed (a
//! receiver cannot send the signed body elsewhere), and private addresses are
//! refused unless `webhook_delivery.allow_private` (see `netguard`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::{Semaphore, mpsc};

use crate::config::{WebhookConfig, WebhookDelivery};
use crate::domain::webhook::Delivery;
use crate::metrics as m;
use crate::netguard::{self, Guard};
use crate::session::Millis;
use crate::store::Store;

/// Header carrying `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
pub const SIGNATURE_HEADER: &str = "x-cobrowse-signature";
pub const EVENT_HEADER: &str = "x-cobrowse-event";

const ATTEMPTS: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

pub fn sign(secret: &str, timestamp: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

struct Event {
    name: &'static str,
    body: Vec<u8>,
}

#[derive(Clone)]
pub struct Webhooks {
    tx: mpsc::Sender<Event>,
}

/// One receiver's share: its deliveries in flight (bounded by `permits`) and
/// those waiting or in flight (`pending`, bounded by `webhook_delivery.queue`).
#[derive(Clone)]
struct Lane {
    permits: Arc<Semaphore>,
    pending: Arc<AtomicUsize>,
}

impl Lane {
    fn new(in_flight: usize) -> Self {
        Lane {
            permits: Arc::new(Semaphore::new(in_flight)),
            pending: Arc::default(),
        }
    }

    /// Takes one more delivery, unless `queue` are already waiting or in flight.
    fn admit(&self, queue: usize) -> bool {
        self.pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < queue).then_some(n + 1)
            })
            .is_ok()
    }

    fn idle(&self) -> bool {
        self.pending.load(Ordering::Acquire) == 0
    }
}

/// The HTTP side of deliveries: a client that follows no redirect, waits
/// `timeout` per attempt and connects only where the guard allows.
struct Sender {
    client: reqwest::Client,
    guard: Guard,
}

impl Webhooks {
    pub fn start(
        store: Arc<dyn Store>,
        configured: Vec<WebhookConfig>,
        settings: WebhookDelivery,
    ) -> reqwest::Result<Webhooks> {
        let guard = if settings.allow_private {
            Guard::allow_all()
        } else {
            Guard::default()
        };
        let builder = reqwest::Client::builder()
            .timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("cobrowse-webhooks");
        let sender = Arc::new(Sender {
            client: guard.clone().client(builder)?,
            guard,
        });
        let (tx, mut rx) = mpsc::channel::<Event>(4096);
        tokio::spawn(async move {
            let mut lanes: HashMap<String, Lane> = HashMap::new();
            while let Some(event) = rx.recv().await {
                let mut targets: Vec<(String, String)> = configured
                    .iter()
                    .map(|w| (w.url.clone(), w.secret.clone()))
                    .collect();
                match store.webhooks().await {
                    Ok(hooks) => targets.extend(hooks.into_iter().map(|w| (w.url, w.secret))),
                    Err(e) => tracing::error!(error = %e, "could not read webhooks"),
                }
                // Receivers removed since, with nothing left to deliver, are forgotten.
                lanes.retain(|url, lane| !lane.idle() || targets.iter().any(|(u, _)| u == url));
                let body: Arc<[u8]> = event.body.into();
                for (url, secret) in targets {
                    let lane = lanes
                        .entry(url.clone())
                        .or_insert_with(|| Lane::new(settings.per_receiver))
                        .clone();
                    let (sender, store, body) = (sender.clone(), store.clone(), body.clone());
                    if !lane.admit(settings.queue) {
                        let error = format!(
                            "{} deliveries already waiting for this receiver",
                            settings.queue
                        );
                        tracing::warn!(%url, event = event.name, "webhook receiver's queue full: event dropped");
                        record(&*store, done(&url, event.name, "failed", 0, Some(error))).await;
                        continue;
                    }
                    tokio::spawn(async move {
                        if let Ok(_permit) = lane.permits.acquire().await {
                            let delivery = sender.deliver(&url, &secret, event.name, &body).await;
                            record(&*store, delivery).await;
                        }
                        lane.pending.fetch_sub(1, Ordering::AcqRel);
                    });
                }
            }
        });
        Ok(Webhooks { tx })
    }

    /// Queues an event; drops it (logged) if thousands are already waiting.
    pub fn emit(&self, name: &'static str, at: Millis, mut payload: Value) {
        payload["event"] = json!(name);
        payload["at"] = json!(at);
        let body = serde_json::to_vec(&payload).expect("JSON serializes");
        if self.tx.try_send(Event { name, body }).is_err() {
            tracing::error!(event = name, "webhook queue full: event dropped");
        }
    }
}

async fn record(store: &dyn Store, delivery: Delivery) {
    m::counter_delivery(&delivery.status);
    if let Err(e) = store.record_delivery(&delivery).await {
        tracing::warn!(error = %e, "could not record a webhook delivery");
    }
}

impl Sender {
    /// Delivers one event to one receiver, retrying what may succeed later: a
    /// refused address or a redirect is final.
    async fn deliver(&self, url: &str, secret: &str, event: &str, body: &[u8]) -> Delivery {
        let refused = |error: String| done(url, event, "failed", 0, Some(error));
        let Ok(parsed) = url::Url::parse(url) else {
            return refused("not a URL".into());
        };
        if let Err(blocked) = self.guard.check_url(&parsed) {
            return refused(format!(
                "{blocked} (set webhook_delivery.allow_private to deliver there)"
            ));
        }
        let mut backoff = FIRST_BACKOFF;
        let mut last_error = None;
        for attempt in 1..=ATTEMPTS {
            let t = jsonwebtoken::get_current_timestamp();
            let result = self
                .client
                .post(parsed.clone())
                .header("content-type", "application/json")
                .header(EVENT_HEADER, event)
                .header(SIGNATURE_HEADER, sign(secret, t, body))
                .body(body.to_vec())
                .send()
                .await;
            match result {
                Ok(r) if r.status().is_success() => {
                    return done(url, event, "delivered", attempt, None);
                }
                Ok(r) if r.status().is_redirection() => {
                    let error = format!("HTTP {}: redirects are not followed", r.status());
                    return done(url, event, "failed", attempt, Some(error));
                }
                Ok(r) => last_error = Some(format!("HTTP {}", r.status())),
                Err(e) if netguard::blocked(&e) => {
                    let error = format!(
                        "{url} resolves only to private addresses (set webhook_delivery.allow_private to deliver there)"
                    );
                    return done(url, event, "failed", attempt, Some(error));
                }
                Err(e) => last_error = Some(e.to_string()),
            }
            if attempt < ATTEMPTS {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
        done(url, event, "failed", ATTEMPTS, last_error)
    }
}

fn done(url: &str, event: &str, status: &str, attempts: u32, error: Option<String>) -> Delivery {
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    Delivery {
        url: url.into(),
        event: event.into(),
        status: status.into(),
        attempts,
        error,
        at,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn signature_is_hmac_of_timestamp_and_body() {
        // Reference value computed with: printf '1700000000.{}' | openssl dgst -sha256 -hmac secret
        let sig = super::sign("secret", 1_700_000_000, b"{}");
        assert_eq!(
            sig,
            "t=1700000000,v1=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
        );
        assert_ne!(sig, super::sign("other", 1_700_000_000, b"{}"));
    }
}
