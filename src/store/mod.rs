//! Durable records: accounts, API keys, rule sets, session history, webhooks.
//! One trait, so the embedded SQLite and a shared PostgreSQL serve the same code.
//! Live sessions are not here: they belong to the hub.

mod rows;
mod sql;

use crate::domain::account::{Account, AccountRole, ApiKey, SignIn};
use crate::domain::audit::{Checkpoint, Head, Record};
use crate::domain::editor_grant::EditorToken;
use crate::domain::rule_set::{RuleSet, RuleSetVersion, Rules};
use crate::domain::session_history::{HistoryDetail, HistoryEvent, HistoryFilter, HistorySummary};
use crate::domain::sso::OidcLogin;
use crate::domain::webhook::{Delivery, Webhook};
use crate::session::Millis;
use async_trait::async_trait;

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

/// Which audit records to read; all when empty.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub session: Option<String>,
    pub from: Option<Millis>,
    pub to: Option<Millis>,
}

pub type Result<T> = std::result::Result<T, StoreError>;

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
    /// An account made by a sign-in through `provider` for the person it names
    /// `subject`; no password signs it in.
    async fn add_sso_account(
        &self,
        name: &str,
        role: AccountRole,
        provider: &str,
        subject: &str,
        now: Millis,
    ) -> Result<()>;
    async fn account(&self, name: &str) -> Result<Option<Account>>;
    /// The account a provider made for the person it names `subject`.
    async fn sso_account(&self, provider: &str, subject: &str) -> Result<Option<Account>>;
    /// What a provider says of its person now; sign-ins that proved more stop at
    /// it (see `identify`).
    async fn set_role(&self, name: &str, role: AccountRole) -> Result<()>;
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
    /// Ends every sign-in of an account (its consoles' connections follow, see
    /// `http::agent_ws`).
    async fn remove_sign_ins(&self, account: &str) -> Result<()>;

    /// Claims the sign-ins through `provider` last checked at or before
    /// `due_before` for this node to check now (marked checked at `now`, so that
    /// no other node takes them too).
    async fn claim_sso_checks(
        &self,
        provider: &str,
        due_before: Millis,
        now: Millis,
    ) -> Result<Vec<SignIn>>;
    /// The refresh token the provider gave in place of the one used.
    async fn set_sso_refresh(&self, token_hash: &str, refresh_token: &str) -> Result<()>;

    async fn add_oidc_login(&self, login: &OidcLogin) -> Result<()>;
    /// The unexpired sign-in under way behind a `state`'s hash, taken: it is used once.
    async fn take_oidc_login(&self, state_hash: &str, now: Millis) -> Result<Option<OidcLogin>>;

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

    /// Appends records of one node's chain, all or none.
    async fn append_audit(&self, records: &[Record]) -> Result<()>;
    /// The last record of every chain (where a node's appender resumes, what a
    /// checkpoint signs).
    async fn audit_heads(&self) -> Result<Vec<Head>>;
    async fn add_audit_checkpoint(&self, c: &Checkpoint) -> Result<()>;
    async fn last_audit_checkpoint(&self, node: &str) -> Result<Option<Checkpoint>>;
    /// Every checkpoint, by node and seq.
    async fn audit_checkpoints(&self) -> Result<Vec<Checkpoint>>;
    /// Records by node and seq: those of a session, those made in a span of
    /// time, or all of them.
    async fn audit_records(&self, filter: &AuditFilter) -> Result<Vec<Record>>;
    /// Records `first..=last` of a node's chain.
    async fn audit_segment(&self, node: &str, first: u64, last: u64) -> Result<Vec<Record>>;
    /// Where retention would cut each chain: its last record made before `before`.
    async fn audit_cut(&self, before: Millis) -> Result<Vec<Head>>;
    /// Deletes each chain up to the head `c` names as pruned and stores `c`, at
    /// once; returns how many records went.
    async fn prune_audit(&self, c: &Checkpoint) -> Result<u64>;

    async fn webhooks(&self) -> Result<Vec<Webhook>>;
    async fn add_webhook(&self, url: &str, secret: &str, now: Millis) -> Result<Webhook>;
    async fn remove_webhook(&self, id: i64) -> Result<()>;
    async fn record_delivery(&self, d: &Delivery) -> Result<()>;
    async fn deliveries(&self, limit: u32) -> Result<Vec<Delivery>>;
}
