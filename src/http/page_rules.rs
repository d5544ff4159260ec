//! The DOM restrictions a customer's page gets. A customer connection asks for them when it
//! opens and at every change of URL, which a single-page app makes often and a hostile
//! client as often as its message rate allows: the rule sets are read from the store at
//! most once per `FRESH` on each node, and a change made on this node is seen at once
//! (on another node, within `FRESH`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use super::App;
use crate::domain::rule_set::{RuleSet, Rules, rules_for};
use crate::domain::url_pattern::url_matches;
use crate::session::SessionId;
use crate::store::Store;

const FRESH: Duration = Duration::from_secs(1);

#[derive(Default)]
pub struct PageRules {
    read: Mutex<Option<(Instant, Arc<Vec<RuleSet>>)>>,
}

impl PageRules {
    async fn sets(&self, store: &dyn Store) -> Arc<Vec<RuleSet>> {
        if let Some((at, sets)) = self.read.lock().expect("page rules lock").as_ref()
            && at.elapsed() < FRESH
        {
            return sets.clone();
        }
        let sets = Arc::new(store.rule_sets().await.unwrap_or_else(|e| {
            tracing::error!(error = %e, "could not read rule sets; default masking only");
            vec![]
        }));
        *self.read.lock().expect("page rules lock") = Some((Instant::now(), sets.clone()));
        sets
    }

    /// After a rule set changed here: the next page reads them again.
    pub fn forget(&self) {
        *self.read.lock().expect("page rules lock") = None;
    }
}

/// The rules for a session's page at `url` (the default masking only if the rule sets cannot
/// be read), kept in the audit trail with the rule sets and versions they came from: both
/// from one read, so the trail names what the page got.
pub async fn for_page(app: &App, session: SessionId, url: &str) -> Rules {
    let sets = app.page_rules.sets(app.store.as_ref()).await;
    let applied: Vec<_> = sets
        .iter()
        .filter(|s| url_matches(&s.url_pattern, url))
        .map(|s| json!({ "id": s.id, "name": s.name, "version": s.version }))
        .collect();
    let detail = json!({ "url": url, "rule_sets": applied });
    let session = session.to_string();
    app.live
        .audit
        .record("system", Some(&session), "page.rules", detail);
    rules_for(&sets, url)
}
