//! What a server's `/metrics` shows, for tests that count what happened.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;

use super::{Client, TestServer, chunk};

/// The series of frames dropped for a slow receiver (or a Redis that fell behind).
pub const DROPPED: &str = "cobrowse_messages_dropped_total";

/// Binary chunks large enough to fill socket buffers in a few dozen frames.
pub const BIG: usize = 512 * 1024;

/// Sends chunks to an agent that does not read until the server at `url`
/// (the agent's node) drops some: its socket buffers and then its queue are
/// full. Returns how many were sent. The whole flood must get through: the
/// customer is never held up.
pub async fn flood_until_dropped(c: &mut Client, url: &str, before: &Scrape) -> u32 {
    let dropped = async || Scrape::at(url).await.since(before, DROPPED) > 0.0;
    let flood = async {
        let mut sent = 0;
        while sent < 1000 {
            for _ in 0..16 {
                sent += 1;
                c.send_raw(chunk(sent, BIG)).await;
            }
            // Whatever was sent is handled before the pong; another node
            // hears it through Redis a moment later.
            c.send(json!({"t": "ping"})).await;
            c.expect("pong").await;
            for _ in 0..5 {
                if dropped().await {
                    return sent;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        panic!("{sent} frames of {BIG} bytes and none dropped");
    };
    tokio::time::timeout(Duration::from_secs(60), flood)
        .await
        .expect("the customer was held up by an agent that does not read")
}

/// One scrape: each series (`name{labels}`, as rendered) to its value.
pub struct Scrape(HashMap<String, f64>);

impl Scrape {
    pub async fn of(srv: &TestServer) -> Scrape {
        Scrape::at(&srv.url).await
    }

    /// Scrapes the server at `url` (a node of its own, for instance).
    pub async fn at(url: &str) -> Scrape {
        let r = super::http()
            .get(format!("{url}/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let text = r.text().await.unwrap();
        let series = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.rsplit_once(' '))
            .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
            .collect();
        Scrape(series)
    }

    /// A series' value; one never recorded yet counts as zero.
    pub fn get(&self, series: &str) -> f64 {
        self.0.get(series).copied().unwrap_or(0.0)
    }

    /// How much a series grew since `before`.
    pub fn since(&self, before: &Scrape, series: &str) -> f64 {
        self.get(series) - before.get(series)
    }
}
