//! Durable records: accounts, API keys, rule sets, session history, webhooks.
//! One trait, so the embedded SQLite and a shared PostgreSQL serve the same code.
//! Live sessions are not here: they belong to the hub.

mod sql;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::session::Millis;

pub use sql::SqlStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} already exists")]
    Exists(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// Someone else changed the record since it was read (optimistic concurrency).
    #[error("{0}")]
    Conflict(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountRole {
    Agent,
    Admin,
}

impl AccountRole {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountRole::Agent => "agent",
            AccountRole::Admin => "admin",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "agent" => Ok(AccountRole::Agent),
            "admin" => Ok(AccountRole::Admin),
            other => Err(StoreError::Corrupt(format!("account role {other:?}"))),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Account {
    pub name: String,
    #[serde(skip)]
    pub password_hash: String,
    pub role: AccountRole,
    pub disabled: bool,
    pub created_at: Millis,
}

/// A person's sign-in, behind the random handle their cookie holds (only its hash is kept).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignIn {
    pub token_hash: String,
    pub account: String,
    /// What the sign-in proved: a password proves the account's role, a desktop's
    /// token an agent only.
    pub role: AccountRole,
    pub created_at: Millis,
    pub expires_at: Millis,
}

#[derive(Clone, Debug, Serialize)]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    /// The first characters of the key, to tell keys apart in lists.
    pub prefix: String,
    pub created_at: Millis,
    pub revoked_at: Option<Millis>,
}

/// The three lists a rule set holds, as CSS selectors.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rules {
    pub mask: Vec<String>,
    pub disable: Vec<String>,
    pub block: Vec<String>,
}

impl Rules {
    pub fn extend(&mut self, other: &Rules) {
        self.mask.extend(other.mask.iter().cloned());
        self.disable.extend(other.disable.iter().cloned());
        self.block.extend(other.block.iter().cloned());
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSet {
    pub id: i64,
    pub name: String,
    /// A URL with `*` wildcards, e.g. `https://shop.example/checkout*`.
    pub url_pattern: String,
    pub rules: Rules,
    pub version: i64,
    pub updated_by: String,
    pub updated_at: Millis,
}

/// One saved state of a rule set: who changed it, when, and to what. A
/// deletion is a version too (`deleted`, with the content it had).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleSetVersion {
    pub version: i64,
    pub name: String,
    pub url_pattern: String,
    pub rules: Rules,
    pub changed_by: String,
    pub changed_at: Millis,
    pub deleted: bool,
}

/// What an editor token is: the one-time `link` in the URL fragment, or the
/// `session` token the overlay gets for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EditorTokenKind {
    Link,
    Session,
}

impl EditorTokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EditorTokenKind::Link => "link",
            EditorTokenKind::Session => "session",
        }
    }
}

/// A grant for the visual restrictions editor: which administrator, which
/// site origin and page, which rule set it may save into, until when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EditorToken {
    #[serde(skip)]
    pub token_hash: String,
    pub kind: EditorTokenKind,
    pub account: String,
    pub origin: String,
    pub url: String,
    pub rule_set: String,
    pub url_pattern: String,
    pub expires_at: Millis,
}

/// Whether a page URL falls under a rule set's pattern (`*` matches anything).
pub fn url_matches(pattern: &str, url: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, rest) = parts.split_first().expect("split yields at least one part");
    let Some(mut remaining) = url.strip_prefix(first) else {
        return false;
    };
    if rest.is_empty() {
        return remaining.is_empty();
    }
    let (last, middle) = rest.split_last().expect("rest is not empty");
    for part in middle {
        match remaining.find(part) {
            Some(at) => remaining = &remaining[at + part.len()..],
            None => return false,
        }
    }
    remaining.ends_with(last)
}

/// The union of the rules of every set whose pattern matches the page.
pub fn rules_for(sets: &[RuleSet], url: &str) -> Rules {
    let mut rules = Rules::default();
    for set in sets.iter().filter(|s| url_matches(&s.url_pattern, url)) {
        rules.extend(&set.rules);
    }
    rules
}

/// Something that happened to a session, as history keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HistoryEvent {
    Created {
        interaction_id: Option<String>,
        channel: Option<String>,
        url: String,
    },
    Activated {
        agent: String,
    },
    PageVisited {
        url: String,
        title: String,
    },
    Control {
        outcome: String,
    },
    ModeChanged {
        mode: String,
        cause: String,
    },
    Ended {
        reason: String,
    },
}

impl HistoryEvent {
    pub fn kind(&self) -> &'static str {
        match self {
            HistoryEvent::Created { .. } => "created",
            HistoryEvent::Activated { .. } => "activated",
            HistoryEvent::PageVisited { .. } => "page_visited",
            HistoryEvent::Control { .. } => "control",
            HistoryEvent::ModeChanged { .. } => "mode_changed",
            HistoryEvent::Ended { .. } => "ended",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct HistorySummary {
    pub key: String,
    pub session_id: String,
    pub created_at: Millis,
    pub activated_at: Option<Millis>,
    pub ended_at: Option<Millis>,
    pub end_reason: Option<String>,
    pub agent: Option<String>,
    pub interaction_id: Option<String>,
    pub channel: Option<String>,
    pub first_url: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct TimedEvent {
    pub at: Millis,
    #[serde(flatten)]
    pub event: HistoryEvent,
}

#[derive(Clone, Debug, Serialize)]
pub struct HistoryDetail {
    #[serde(flatten)]
    pub summary: HistorySummary,
    pub pages: Vec<TimedEvent>,
    pub mode_changes: Vec<TimedEvent>,
    pub events: Vec<TimedEvent>,
}

#[derive(Clone, Debug, Default)]
pub struct HistoryFilter {
    pub from: Option<Millis>,
    pub to: Option<Millis>,
    pub agent: Option<String>,
    pub end_reason: Option<String>,
    pub limit: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct Webhook {
    pub id: i64,
    pub url: String,
    #[serde(skip)]
    pub secret: String,
    pub created_at: Millis,
}

#[derive(Clone, Debug, Serialize)]
pub struct Delivery {
    pub url: String,
    pub event: String,
    pub status: String,
    pub attempts: u32,
    pub error: Option<String>,
    pub at: Millis,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn ping(&self) -> Result<()>;

    async fn add_account(
        &self,
        name: &str,
        password_hash: &str,
        role: AccountRole,
        now: Millis,
    ) -> Result<()>;
    async fn account(&self, name: &str) -> Result<Option<Account>>;
    async fn accounts(&self) -> Result<Vec<Account>>;
    /// A disabled account's sign-ins are refused (by whoever reads it); enabling it
    /// again ends them, so that none comes back.
    async fn set_disabled(&self, name: &str, disabled: bool) -> Result<()>;
    /// A new password also ends the account's sign-ins.
    async fn set_password(&self, name: &str, password_hash: &str) -> Result<()>;

    async fn add_sign_in(&self, sign_in: &SignIn) -> Result<()>;
    /// The unexpired sign-in behind a handle's hash.
    async fn sign_in(&self, token_hash: &str, now: Millis) -> Result<Option<SignIn>>;
    async fn remove_sign_in(&self, token_hash: &str) -> Result<()>;

    async fn add_login_link(
        &self,
        token_hash: &str,
        account: &str,
        expires_at: Millis,
    ) -> Result<()>;
    /// Uses a link up: it signs in once, then never again.
    async fn take_login_link(&self, token_hash: &str, now: Millis) -> Result<Option<String>>;

    async fn add_api_key(
        &self,
        name: &str,
        key_hash: &str,
        prefix: &str,
        now: Millis,
    ) -> Result<ApiKey>;
    /// The live (not revoked) key with this hash.
    async fn api_key(&self, key_hash: &str) -> Result<Option<ApiKey>>;
    async fn api_keys(&self) -> Result<Vec<ApiKey>>;
    async fn revoke_api_key(&self, id: i64, now: Millis) -> Result<()>;

    /// The rule sets in force (not deleted), by name.
    async fn rule_sets(&self) -> Result<Vec<RuleSet>>;
    /// A rule set in force, by id.
    async fn rule_set(&self, id: i64) -> Result<Option<RuleSet>>;
    /// Creates a rule set; `Exists` if one in force has this name (a deleted one
    /// of that name comes back, its history continued).
    async fn create_rule_set(
        &self,
        name: &str,
        url_pattern: &str,
        rules: &Rules,
        by: &str,
        now: Millis,
    ) -> Result<RuleSet>;
    /// Replaces a rule set's name, pattern and rules if it is still at `version`;
    /// `Conflict` if someone saved it since, `NotFound` if it is gone.
    #[allow(clippy::too_many_arguments)] // one per column of the row, plus who and when
    async fn update_rule_set(
        &self,
        id: i64,
        version: i64,
        name: &str,
        url_pattern: &str,
        rules: &Rules,
        by: &str,
        now: Millis,
    ) -> Result<RuleSet>;
    /// Takes a rule set out of force (at `version`, when given); the deletion is recorded as a version.
    async fn delete_rule_set(
        &self,
        id: i64,
        version: Option<i64>,
        by: &str,
        now: Millis,
    ) -> Result<()>;
    /// Every version of a rule set, newest first (empty if there is no such set).
    async fn rule_set_versions(&self, id: i64) -> Result<Vec<RuleSetVersion>>;

    async fn add_editor_token(&self, token: &EditorToken) -> Result<()>;
    /// Uses a one-time link token up (valid or expired, it is gone afterwards).
    async fn take_editor_link(&self, token_hash: &str, now: Millis) -> Result<Option<EditorToken>>;
    /// An unexpired editor session token.
    async fn editor_session(&self, token_hash: &str, now: Millis) -> Result<Option<EditorToken>>;
    /// Ends every editor grant of an administrator; returns how many there were.
    async fn remove_editor_tokens(&self, account: &str) -> Result<u64>;

    async fn record(
        &self,
        key: &str,
        session_id: &str,
        at: Millis,
        event: &HistoryEvent,
    ) -> Result<()>;
    async fn history(&self, filter: &HistoryFilter) -> Result<Vec<HistorySummary>>;
    async fn history_detail(&self, key: &str) -> Result<Option<HistoryDetail>>;
    /// Deletes sessions created before `before`; returns how many.
    async fn purge_history(&self, before: Millis) -> Result<u64>;

    async fn webhooks(&self) -> Result<Vec<Webhook>>;
    async fn add_webhook(&self, url: &str, secret: &str, now: Millis) -> Result<Webhook>;
    async fn remove_webhook(&self, id: i64) -> Result<()>;
    async fn record_delivery(&self, d: &Delivery) -> Result<()>;
    async fn deliveries(&self, limit: u32) -> Result<Vec<Delivery>>;
}

impl HistoryDetail {
    /// Splits a session's events into the views people ask for.
    pub fn from_events(summary: HistorySummary, events: Vec<TimedEvent>) -> Self {
        let pick =
            |f: fn(&HistoryEvent) -> bool| events.iter().filter(|e| f(&e.event)).cloned().collect();
        HistoryDetail {
            pages: pick(|e| {
                matches!(
                    e,
                    HistoryEvent::PageVisited { .. } | HistoryEvent::Created { .. }
                )
            }),
            mode_changes: pick(|e| {
                matches!(
                    e,
                    HistoryEvent::ModeChanged { .. } | HistoryEvent::Control { .. }
                )
            }),
            summary,
            events,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_patterns_with_wildcards() {
        assert!(url_matches(
            "https://shop.example/*",
            "https://shop.example/checkout?x=1"
        ));
        assert!(url_matches(
            "*/checkout*",
            "https://shop.example/checkout.html"
        ));
        assert!(url_matches(
            "https://shop.example/a",
            "https://shop.example/a"
        ));
        assert!(!url_matches(
            "https://shop.example/a",
            "https://shop.example/ab"
        ));
        assert!(!url_matches(
            "https://shop.example/*",
            "https://evil.example/shop.example/"
        ));
        assert!(url_matches("*", "anything"));
        assert!(url_matches("*a*b*c", "xaybzc"));
        assert!(!url_matches("*a*b*c", "xcybza"));
    }

    #[test]
    fn rules_of_matching_sets_are_merged() {
        let set = |p: &str, m: &str| RuleSet {
            id: 1,
            name: p.into(),
            url_pattern: p.into(),
            rules: Rules {
                mask: vec![m.into()],
                ..Rules::default()
            },
            version: 1,
            updated_by: "x".into(),
            updated_at: 0,
        };
        let sets = [
            set("*", "#a"),
            set("*/checkout*", "#b"),
            set("*/account*", "#c"),
        ];
        assert_eq!(
            rules_for(&sets, "https://s/checkout").mask,
            vec!["#a", "#b"]
        );
    }
}
