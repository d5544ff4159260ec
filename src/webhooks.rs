//! Signed webhook deliveries for session created / agent joined / mode
//! changed / ended. Emitting only queues: a slow or dead receiver never
//! delays a session. Each delivery retries with exponential backoff.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::{Semaphore, mpsc};

use crate::config::WebhookConfig;
use crate::metrics as m;
use crate::session::Millis;
use crate::store::{Delivery, Store};

/// Header carrying `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
pub const SIGNATURE_HEADER: &str = "x-cobrowse-signature";
pub const EVENT_HEADER: &str = "x-cobrowse-event";

const ATTEMPTS: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const CONCURRENT_DELIVERIES: usize = 32;

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

impl Webhooks {
    pub fn start(
        store: Arc<dyn Store>,
        configured: Vec<WebhookConfig>,
        client: reqwest::Client,
    ) -> Webhooks {
        let (tx, mut rx) = mpsc::channel::<Event>(4096);
        tokio::spawn(async move {
            let permits = Arc::new(Semaphore::new(CONCURRENT_DELIVERIES));
            while let Some(event) = rx.recv().await {
                let mut targets: Vec<(String, String)> = configured
                    .iter()
                    .map(|w| (w.url.clone(), w.secret.clone()))
                    .collect();
                match store.webhooks().await {
                    Ok(hooks) => targets.extend(hooks.into_iter().map(|w| (w.url, w.secret))),
                    Err(e) => tracing::error!(error = %e, "could not read webhooks"),
                }
                let body: Arc<[u8]> = event.body.into();
                for (url, secret) in targets {
                    let Ok(permit) = permits.clone().acquire_owned().await else {
                        return;
                    };
                    let (client, store, body) = (client.clone(), store.clone(), body.clone());
                    tokio::spawn(async move {
                        let delivery = deliver(&client, &url, &secret, event.name, &body).await;
                        m::counter_delivery(&delivery.status);
                        if let Err(e) = store.record_delivery(&delivery).await {
                            tracing::warn!(error = %e, "could not record a webhook delivery");
                        }
                        drop(permit);
                    });
                }
            }
        });
        Webhooks { tx }
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

async fn deliver(
    client: &reqwest::Client,
    url: &str,
    secret: &str,
    event: &str,
    body: &[u8],
) -> Delivery {
    let mut backoff = FIRST_BACKOFF;
    let mut last_error = None;
    for attempt in 1..=ATTEMPTS {
        let t = jsonwebtoken::get_current_timestamp();
        let result = client
            .post(url)
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
            Ok(r) => last_error = Some(format!("HTTP {}", r.status())),
            Err(e) => last_error = Some(e.to_string()),
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
    }
    done(url, event, "failed", ATTEMPTS, last_error)
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
