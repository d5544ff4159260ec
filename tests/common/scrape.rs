//! What a server's `/metrics` shows, for tests that count what happened.

use std::collections::HashMap;

use super::TestServer;

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
