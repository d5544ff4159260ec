//! The store in SQL, one implementation for both databases through sqlx's
//! `Any` driver: the embedded SQLite file (WAL mode, so the CLI can write while
//! a server runs on the same directory) or a shared PostgreSQL for several
//! nodes. Queries use `$n` parameters, which both understand.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

use super::rows::{
    AccountRow, ApiKeyRow, AuditRow, CheckpointRow, DeliveryRow, EditorTokenRow, EventRow, HeadRow,
    LoginLinkRow, OidcLoginRow, RuleSetRow, RuleSetVersionRow, SignInRow, SummaryRow, WebhookRow,
};
use super::{AuditFilter, Result, Store, StoreError};
use crate::clock::now_ms;
use crate::domain::account::{Account, AccountRole, ApiKey, SignIn};
use crate::domain::audit::{Checkpoint, Head, Record};
use crate::domain::editor_grant::EditorToken;
use crate::domain::rule_set::{RuleSet, RuleSetVersion, Rules};
use crate::domain::session_history::{
    HistoryDetail, HistoryEvent, HistoryFilter, HistorySummary, TimedEvent,
};
use crate::domain::sso::OidcLogin;
use crate::domain::webhook::{Delivery, Webhook};
use crate::session::Millis;

#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
}

impl SqlStore {
    /// The embedded database in the data directory.
    pub async fn open_sqlite(path: &Path) -> Result<Self> {
        Self::connect(&format!("sqlite://{}?mode=rwc", path.display())).await
    }

    /// `sqlite://…` or `postgres://…`.
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 4 } else { 16 })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        // WAL lets readers and one writer (server and CLI) work at once.
                        sqlx::query("PRAGMA journal_mode = WAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA synchronous = NORMAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA foreign_keys = ON")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        if sqlite {
            sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        } else {
            sqlx::migrate!("migrations/postgres").run(&pool).await?;
        }
        Ok(SqlStore { pool })
    }
}

/// Ends every sign-in of an account, in the transaction that changed it.
async fn end_sign_ins(tx: &mut sqlx::Transaction<'_, sqlx::Any>, account: &str) -> Result<()> {
    sqlx::query("DELETE FROM sign_ins WHERE account = $1")
        .bind(account)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Keeps a rule set's new state (or its deletion) as a version: who, when, what.
async fn record_version(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    set: &RuleSet,
    deleted: bool,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO rule_set_versions (rule_set_id, version, name, url_pattern, rules, changed_by, changed_at, deleted)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(set.id)
    .bind(set.version)
    .bind(&set.name)
    .bind(&set.url_pattern)
    .bind(serde_json::to_string(&set.rules).expect("rules serialize"))
    .bind(&set.updated_by)
    .bind(set.updated_at as i64)
    .bind(i64::from(deleted))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// 9 columns each: well under SQLite's 32,766 parameters a statement.
const AUDIT_ROWS_PER_INSERT: usize = 500;

async fn insert_checkpoint<'e>(
    db: impl sqlx::Executor<'e, Database = sqlx::Any>,
    c: &Checkpoint,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_checkpoints (node, seq, at, reason, body) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&c.node)
    .bind(c.seq as i64)
    .bind(c.at as i64)
    .bind(&c.reason)
    .bind(serde_json::to_string(c).expect("checkpoints serialize"))
    .execute(db)
    .await?;
    Ok(())
}

fn not_found_unless_changed(result: sqlx::any::AnyQueryResult, what: String) -> Result<()> {
    if result.rows_affected() == 0 {
        Err(StoreError::NotFound(what))
    } else {
        Ok(())
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

impl SqlStore {
    /// An account with a password, or (`sso`: provider and subject) one a provider made.
    async fn insert_account(
        &self,
        name: &str,
        password_hash: &str,
        role: AccountRole,
        now: Millis,
        sso: Option<(&str, &str)>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO accounts (name, password_hash, role, created_at, sso_provider, sso_subject) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(name)
        .bind(password_hash)
        .bind(role.as_str())
        .bind(now as i64)
        .bind(sso.map(|(provider, _)| provider))
        .bind(sso.map(|(_, subject)| subject))
        .execute(&self.pool)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Exists(format!("account {name}"))
            } else {
                e.into()
            }
        })?;
        Ok(())
    }

    /// After a conditional change matched no row: gone, or changed by someone else?
    async fn why_not_changed(&self, id: i64, version: i64) -> StoreError {
        let now: std::result::Result<Option<i64>, _> =
            sqlx::query_scalar("SELECT version FROM rule_sets WHERE id = $1 AND deleted = 0")
                .bind(id)
                .fetch_optional(&self.pool)
                .await;
        match now {
            Ok(None) => StoreError::NotFound(format!("rule set {id}")),
            Ok(Some(now)) => StoreError::Conflict(format!(
                "rule set {id} was changed by someone else (it is at version {now}, you edited version {version}): reload it and apply your change again"
            )),
            Err(e) => e.into(),
        }
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn add_account(
        &self,
        name: &str,
        password_hash: &str,
        role: AccountRole,
        now: Millis,
    ) -> Result<()> {
        self.insert_account(name, password_hash, role, now, None)
            .await
    }

    async fn add_sso_account(
        &self,
        name: &str,
        role: AccountRole,
        provider: &str,
        subject: &str,
        now: Millis,
    ) -> Result<()> {
        self.insert_account(name, "", role, now, Some((provider, subject)))
            .await
    }

    async fn sso_account(&self, provider: &str, subject: &str) -> Result<Option<Account>> {
        let row: Option<AccountRow> =
            sqlx::query_as("SELECT * FROM accounts WHERE sso_provider = $1 AND sso_subject = $2")
                .bind(provider)
                .bind(subject)
                .fetch_optional(&self.pool)
                .await?;
        row.map(Account::try_from).transpose()
    }

    async fn set_role(&self, name: &str, role: AccountRole) -> Result<()> {
        let r = sqlx::query("UPDATE accounts SET role = $1 WHERE name = $2")
            .bind(role.as_str())
            .bind(name)
            .execute(&self.pool)
            .await?;
        not_found_unless_changed(r, format!("account {name}"))
    }

    async fn account(&self, name: &str) -> Result<Option<Account>> {
        let row: Option<AccountRow> = sqlx::query_as("SELECT * FROM accounts WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(Account::try_from).transpose()
    }

    async fn accounts(&self) -> Result<Vec<Account>> {
        let rows: Vec<AccountRow> = sqlx::query_as("SELECT * FROM accounts ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(Account::try_from).collect()
    }

    async fn set_disabled(&self, name: &str, disabled: bool) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let r = sqlx::query("UPDATE accounts SET disabled = $1 WHERE name = $2")
            .bind(disabled as i64)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        // While disabled, its sign-ins are refused with that reason (see `identify`);
        // enabled again, none of them comes back.
        if !disabled {
            end_sign_ins(&mut tx, name).await?;
        }
        tx.commit().await?;
        not_found_unless_changed(r, format!("account {name}"))
    }

    async fn set_password(&self, name: &str, password_hash: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        // A password would let the person in whatever their provider says since.
        let provider: Option<(Option<String>,)> =
            sqlx::query_as("SELECT sso_provider FROM accounts WHERE name = $1")
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some((Some(provider),)) = provider {
            return Err(StoreError::Conflict(format!(
                "account {name} signs in through {provider}: it has no password"
            )));
        }
        let r = sqlx::query("UPDATE accounts SET password_hash = $1 WHERE name = $2")
            .bind(password_hash)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        end_sign_ins(&mut tx, name).await?;
        tx.commit().await?;
        not_found_unless_changed(r, format!("account {name}"))
    }

    async fn add_sign_in(&self, s: &SignIn) -> Result<()> {
        sqlx::query("DELETE FROM sign_ins WHERE expires_at < $1")
            .bind(s.created_at as i64)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO sign_ins (token_hash, account, role, created_at, expires_at, sso_provider, sso_refresh, sso_checked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&s.token_hash)
        .bind(&s.account)
        .bind(s.role.as_str())
        .bind(s.created_at as i64)
        .bind(s.expires_at as i64)
        .bind(s.sso.as_ref().map(|g| g.provider.clone()))
        .bind(s.sso.as_ref().map(|g| g.refresh_token.clone()))
        .bind(s.sso.as_ref().map(|g| g.checked_at as i64))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn sign_in(&self, token_hash: &str, now: Millis) -> Result<Option<SignIn>> {
        let row: Option<SignInRow> =
            sqlx::query_as("SELECT * FROM sign_ins WHERE token_hash = $1 AND expires_at >= $2")
                .bind(token_hash)
                .bind(now as i64)
                .fetch_optional(&self.pool)
                .await?;
        row.map(SignIn::try_from).transpose()
    }

    async fn remove_sign_in(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sign_ins WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn remove_sign_ins(&self, account: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        end_sign_ins(&mut tx, account).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn claim_sso_checks(
        &self,
        provider: &str,
        due_before: Millis,
        now: Millis,
    ) -> Result<Vec<SignIn>> {
        let rows: Vec<SignInRow> = sqlx::query_as(
            "UPDATE sign_ins SET sso_checked_at = $1 WHERE sso_provider = $2 AND sso_refresh IS NOT NULL AND sso_checked_at <= $3 AND expires_at >= $1 RETURNING *",
        )
        .bind(now as i64)
        .bind(provider)
        .bind(due_before as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(SignIn::try_from).collect()
    }

    async fn set_sso_refresh(&self, token_hash: &str, refresh_token: &str) -> Result<()> {
        sqlx::query("UPDATE sign_ins SET sso_refresh = $1 WHERE token_hash = $2")
            .bind(refresh_token)
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn add_oidc_login(&self, l: &OidcLogin) -> Result<()> {
        sqlx::query("DELETE FROM oidc_logins WHERE expires_at < $1")
            .bind(now_ms() as i64)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO oidc_logins (state_hash, provider, browser_hash, nonce, pkce_verifier, console, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&l.state_hash)
        .bind(&l.provider)
        .bind(&l.browser_hash)
        .bind(&l.nonce)
        .bind(&l.pkce_verifier)
        .bind(l.console.as_str())
        .bind(l.expires_at as i64)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn take_oidc_login(&self, state_hash: &str, now: Millis) -> Result<Option<OidcLogin>> {
        let row: Option<OidcLoginRow> =
            sqlx::query_as("DELETE FROM oidc_logins WHERE state_hash = $1 RETURNING *")
                .bind(state_hash)
                .fetch_optional(&self.pool)
                .await?;
        let login = row.map(OidcLogin::try_from).transpose()?;
        Ok(login.filter(|l| l.expires_at >= now))
    }

    async fn add_login_link(
        &self,
        token_hash: &str,
        account: &str,
        expires_at: Millis,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO login_links (token_hash, account, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(token_hash)
        .bind(account)
        .bind(expires_at as i64)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn take_login_link(&self, token_hash: &str, now: Millis) -> Result<Option<String>> {
        let row: Option<LoginLinkRow> = sqlx::query_as(
            "DELETE FROM login_links WHERE token_hash = $1 RETURNING account, expires_at",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        sqlx::query("DELETE FROM login_links WHERE expires_at < $1")
            .bind(now as i64)
            .execute(&self.pool)
            .await?;
        Ok(row
            .filter(|link| link.expires_at as Millis >= now)
            .map(|link| link.account))
    }

    async fn add_api_key(
        &self,
        name: &str,
        key_hash: &str,
        prefix: &str,
        now: Millis,
    ) -> Result<ApiKey> {
        let row: ApiKeyRow = sqlx::query_as("INSERT INTO api_keys (name, key_hash, prefix, created_at) VALUES ($1, $2, $3, $4) RETURNING *")
            .bind(name)
            .bind(key_hash)
            .bind(prefix)
            .bind(now as i64)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.into())
    }

    async fn api_key(&self, key_hash: &str) -> Result<Option<ApiKey>> {
        let row: Option<ApiKeyRow> =
            sqlx::query_as("SELECT * FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL")
                .bind(key_hash)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(ApiKey::from))
    }

    async fn api_keys(&self) -> Result<Vec<ApiKey>> {
        let rows: Vec<ApiKeyRow> = sqlx::query_as("SELECT * FROM api_keys ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(ApiKey::from).collect())
    }

    async fn revoke_api_key(&self, id: i64, now: Millis) -> Result<()> {
        let r =
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now as i64)
                .bind(id)
                .execute(&self.pool)
                .await?;
        not_found_unless_changed(r, format!("API key {id}"))
    }

    async fn rule_sets(&self) -> Result<Vec<RuleSet>> {
        let rows: Vec<RuleSetRow> =
            sqlx::query_as("SELECT * FROM rule_sets WHERE deleted = 0 ORDER BY name")
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter().map(RuleSet::try_from).collect()
    }

    async fn rule_set(&self, id: i64) -> Result<Option<RuleSet>> {
        let row: Option<RuleSetRow> =
            sqlx::query_as("SELECT * FROM rule_sets WHERE id = $1 AND deleted = 0")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(RuleSet::try_from).transpose()
    }

    async fn create_rule_set(
        &self,
        name: &str,
        url_pattern: &str,
        rules: &Rules,
        by: &str,
        now: Millis,
    ) -> Result<RuleSet> {
        let json = serde_json::to_string(rules).expect("rules serialize");
        let mut tx = self.pool.begin().await?;
        // A deleted set of the same name comes back (its versions continue); one in force is left alone.
        let row: Option<RuleSetRow> = sqlx::query_as(
            "INSERT INTO rule_sets (name, url_pattern, rules, version, updated_by, updated_at) VALUES ($1, $2, $3, 1, $4, $5)
             ON CONFLICT(name) DO UPDATE SET url_pattern = excluded.url_pattern, rules = excluded.rules, deleted = 0,
               version = rule_sets.version + 1, updated_by = excluded.updated_by, updated_at = excluded.updated_at
             WHERE rule_sets.deleted = 1
             RETURNING *",
        )
        .bind(name)
        .bind(url_pattern)
        .bind(&json)
        .bind(by)
        .bind(now as i64)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(StoreError::Exists(format!("rule set {name:?}")));
        };
        let set = RuleSet::try_from(row)?;
        record_version(&mut tx, &set, false).await?;
        tx.commit().await?;
        Ok(set)
    }

    async fn update_rule_set(
        &self,
        id: i64,
        version: i64,
        name: &str,
        url_pattern: &str,
        rules: &Rules,
        by: &str,
        now: Millis,
    ) -> Result<RuleSet> {
        let json = serde_json::to_string(rules).expect("rules serialize");
        let mut tx = self.pool.begin().await?;
        let row: Option<RuleSetRow> = sqlx::query_as(
            "UPDATE rule_sets SET name = $1, url_pattern = $2, rules = $3, version = version + 1, updated_by = $4, updated_at = $5
             WHERE id = $6 AND version = $7 AND deleted = 0 RETURNING *",
        )
        .bind(name)
        .bind(url_pattern)
        .bind(&json)
        .bind(by)
        .bind(now as i64)
        .bind(id)
        .bind(version)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| if is_unique_violation(&e) { StoreError::Exists(format!("rule set {name:?}")) } else { e.into() })?;
        let Some(row) = row else {
            drop(tx);
            return Err(self.why_not_changed(id, version).await);
        };
        let set = RuleSet::try_from(row)?;
        record_version(&mut tx, &set, false).await?;
        tx.commit().await?;
        Ok(set)
    }

    async fn delete_rule_set(
        &self,
        id: i64,
        version: Option<i64>,
        by: &str,
        now: Millis,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let row: Option<RuleSetRow> = sqlx::query_as(
            "UPDATE rule_sets SET deleted = 1, version = version + 1, updated_by = $1, updated_at = $2
             WHERE id = $3 AND deleted = 0 AND ($4 IS NULL OR version = $4) RETURNING *",
        )
        .bind(by)
        .bind(now as i64)
        .bind(id)
        .bind(version)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            drop(tx);
            return Err(self.why_not_changed(id, version.unwrap_or(-1)).await);
        };
        record_version(&mut tx, &RuleSet::try_from(row)?, true).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn rule_set_versions(&self, id: i64) -> Result<Vec<RuleSetVersion>> {
        let rows: Vec<RuleSetVersionRow> = sqlx::query_as(
            "SELECT * FROM rule_set_versions WHERE rule_set_id = $1 ORDER BY version DESC",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(RuleSetVersion::try_from).collect()
    }

    async fn add_editor_token(&self, t: &EditorToken) -> Result<()> {
        sqlx::query(
            "INSERT INTO editor_tokens (token_hash, kind, account, origin, url, rule_set, url_pattern, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&t.token_hash)
        .bind(t.kind.as_str())
        .bind(&t.account)
        .bind(&t.origin)
        .bind(&t.url)
        .bind(&t.rule_set)
        .bind(&t.url_pattern)
        .bind(t.expires_at as i64)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn take_editor_link(&self, token_hash: &str, now: Millis) -> Result<Option<EditorToken>> {
        let row: Option<EditorTokenRow> = sqlx::query_as(
            "DELETE FROM editor_tokens WHERE token_hash = $1 AND kind = 'link' RETURNING *",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        sqlx::query("DELETE FROM editor_tokens WHERE expires_at < $1")
            .bind(now as i64)
            .execute(&self.pool)
            .await?;
        match row.map(EditorToken::try_from).transpose()? {
            Some(t) if t.expires_at >= now => Ok(Some(t)),
            _ => Ok(None),
        }
    }

    async fn editor_session(&self, token_hash: &str, now: Millis) -> Result<Option<EditorToken>> {
        let row: Option<EditorTokenRow> = sqlx::query_as("SELECT * FROM editor_tokens WHERE token_hash = $1 AND kind = 'session' AND expires_at >= $2")
            .bind(token_hash)
            .bind(now as i64)
            .fetch_optional(&self.pool)
            .await?;
        row.map(EditorToken::try_from).transpose()
    }

    async fn remove_editor_tokens(&self, account: &str) -> Result<u64> {
        let r = sqlx::query("DELETE FROM editor_tokens WHERE account = $1")
            .bind(account)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }

    async fn record(
        &self,
        key: &str,
        session_id: &str,
        at: Millis,
        event: &HistoryEvent,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let at_i = at as i64;
        // Nodes write history on their own queues, so a session's events may
        // arrive before its creation: every event makes sure the row exists.
        let created_at = key
            .rsplit('-')
            .next()
            .and_then(|t| t.parse::<i64>().ok())
            .unwrap_or(at_i);
        sqlx::query("INSERT INTO session_history (key, session_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(session_id)
            .bind(created_at)
            .execute(&mut *tx)
            .await?;
        match event {
            HistoryEvent::Created {
                interaction_id,
                channel,
                url,
            } => {
                sqlx::query("UPDATE session_history SET interaction_id = $1, channel = $2, first_url = $3 WHERE key = $4")
                    .bind(interaction_id)
                    .bind(channel)
                    .bind(url)
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
            }
            HistoryEvent::Activated { agent } => {
                sqlx::query(
                    "UPDATE session_history SET activated_at = $1, agent = $2 WHERE key = $3",
                )
                .bind(at_i)
                .bind(agent)
                .bind(key)
                .execute(&mut *tx)
                .await?;
            }
            HistoryEvent::Ended { reason } => {
                sqlx::query("UPDATE session_history SET ended_at = $1, end_reason = $2 WHERE key = $3 AND ended_at IS NULL")
                    .bind(at_i)
                    .bind(reason)
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
            }
            _ => {}
        }
        sqlx::query(
            "INSERT INTO session_events (history_key, at, kind, detail) VALUES ($1, $2, $3, $4)",
        )
        .bind(key)
        .bind(at_i)
        .bind(event.kind())
        .bind(serde_json::to_string(event).expect("events serialize"))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn history(&self, f: &HistoryFilter) -> Result<Vec<HistorySummary>> {
        let rows: Vec<SummaryRow> = sqlx::query_as(
            "SELECT * FROM session_history
             WHERE ($1 IS NULL OR created_at >= $1) AND ($2 IS NULL OR created_at < $2)
               AND ($3 IS NULL OR agent = $3) AND ($4 IS NULL OR end_reason = $4)
             ORDER BY created_at DESC LIMIT $5",
        )
        .bind(f.from.map(|t| t as i64))
        .bind(f.to.map(|t| t as i64))
        .bind(&f.agent)
        .bind(&f.end_reason)
        .bind(i64::from(f.limit.clamp(1, 1000)))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(HistorySummary::from).collect())
    }

    async fn history_detail(&self, key: &str) -> Result<Option<HistoryDetail>> {
        let Some(row): Option<SummaryRow> =
            sqlx::query_as("SELECT * FROM session_history WHERE key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?
        else {
            return Ok(None);
        };
        let rows: Vec<EventRow> = sqlx::query_as(
            "SELECT at, detail FROM session_events WHERE history_key = $1 ORDER BY at, id",
        )
        .bind(key)
        .fetch_all(&self.pool)
        .await?;
        let events = rows
            .into_iter()
            .map(TimedEvent::try_from)
            .collect::<Result<_>>()?;
        Ok(Some(HistoryDetail::from_events(row.into(), events)))
    }

    async fn purge_history(&self, before: Millis) -> Result<u64> {
        let r = sqlx::query("DELETE FROM session_history WHERE created_at < $1")
            .bind(before as i64)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }

    async fn append_audit(&self, records: &[Record]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        // Many rows a statement: a transaction per batch and few round trips is
        // what lets one appender keep up with every session of a node.
        for chunk in records.chunks(AUDIT_ROWS_PER_INSERT) {
            let rows = (0..chunk.len())
                .map(|i| {
                    let p = (1..=9)
                        .map(|c| format!("${}", i * 9 + c))
                        .collect::<Vec<_>>();
                    format!("({})", p.join(", "))
                })
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "INSERT INTO audit_records (node, seq, at, actor, session, kind, detail, prev, hash) VALUES {rows}"
            );
            // Safe: the statement holds only placeholders; every value is bound.
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for r in chunk {
                let c = r.content.as_ref().ok_or_else(|| {
                    StoreError::Corrupt(format!("audit record {}/{} has no content", r.node, r.seq))
                })?;
                q = q
                    .bind(&r.node)
                    .bind(r.seq as i64)
                    .bind(c.at as i64)
                    .bind(&c.actor)
                    .bind(&c.session)
                    .bind(&c.kind)
                    .bind(&c.detail)
                    .bind(hex::encode(r.prev))
                    .bind(hex::encode(r.hash));
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn audit_heads(&self) -> Result<Vec<Head>> {
        let rows: Vec<HeadRow> = sqlx::query_as(
            "SELECT r.node, r.seq, r.hash FROM audit_records r
             JOIN (SELECT node, MAX(seq) AS seq FROM audit_records GROUP BY node) m
               ON m.node = r.node AND m.seq = r.seq
             ORDER BY r.node",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(Head::try_from).collect()
    }

    async fn add_audit_checkpoint(&self, c: &Checkpoint) -> Result<()> {
        insert_checkpoint(&self.pool, c).await
    }

    async fn last_audit_checkpoint(&self, node: &str) -> Result<Option<Checkpoint>> {
        let row: Option<CheckpointRow> = sqlx::query_as(
            "SELECT node, seq, body FROM audit_checkpoints WHERE node = $1 ORDER BY seq DESC LIMIT 1",
        )
        .bind(node)
        .fetch_optional(&self.pool)
        .await?;
        row.map(Checkpoint::try_from).transpose()
    }

    async fn audit_checkpoints(&self) -> Result<Vec<Checkpoint>> {
        let rows: Vec<CheckpointRow> =
            sqlx::query_as("SELECT node, seq, body FROM audit_checkpoints ORDER BY node, seq")
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter().map(Checkpoint::try_from).collect()
    }

    async fn audit_records(&self, f: &AuditFilter) -> Result<Vec<Record>> {
        let rows: Vec<AuditRow> = sqlx::query_as(
            "SELECT * FROM audit_records
             WHERE ($1 IS NULL OR session = $1) AND ($2 IS NULL OR at >= $2) AND ($3 IS NULL OR at <= $3)
             ORDER BY node, seq",
        )
        .bind(&f.session)
        .bind(f.from.map(|t| t as i64))
        .bind(f.to.map(|t| t as i64))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(Record::try_from).collect()
    }

    async fn audit_segment(&self, node: &str, first: u64, last: u64) -> Result<Vec<Record>> {
        let rows: Vec<AuditRow> = sqlx::query_as(
            "SELECT * FROM audit_records WHERE node = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq",
        )
        .bind(node)
        .bind(first as i64)
        .bind(last as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(Record::try_from).collect()
    }

    async fn audit_cut(&self, before: Millis) -> Result<Vec<Head>> {
        let rows: Vec<HeadRow> = sqlx::query_as(
            "SELECT r.node, r.seq, r.hash FROM audit_records r
             JOIN (SELECT node, MAX(seq) AS seq FROM audit_records WHERE at < $1 GROUP BY node) m
               ON m.node = r.node AND m.seq = r.seq
             ORDER BY r.node",
        )
        .bind(before as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(Head::try_from).collect()
    }

    async fn prune_audit(&self, c: &Checkpoint) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        insert_checkpoint(&mut *tx, c).await?;
        let mut deleted = 0;
        for head in &c.pruned {
            let r = sqlx::query("DELETE FROM audit_records WHERE node = $1 AND seq <= $2")
                .bind(&head.node)
                .bind(head.seq as i64)
                .execute(&mut *tx)
                .await?;
            deleted += r.rows_affected();
        }
        tx.commit().await?;
        Ok(deleted)
    }

    async fn webhooks(&self) -> Result<Vec<Webhook>> {
        let rows: Vec<WebhookRow> = sqlx::query_as("SELECT * FROM webhooks ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(Webhook::from).collect())
    }

    async fn add_webhook(&self, url: &str, secret: &str, now: Millis) -> Result<Webhook> {
        let row: WebhookRow = sqlx::query_as(
            "INSERT INTO webhooks (url, secret, created_at) VALUES ($1, $2, $3) RETURNING *",
        )
        .bind(url)
        .bind(secret)
        .bind(now as i64)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.into())
    }

    async fn remove_webhook(&self, id: i64) -> Result<()> {
        let r = sqlx::query("DELETE FROM webhooks WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        not_found_unless_changed(r, format!("webhook {id}"))
    }

    async fn record_delivery(&self, d: &Delivery) -> Result<()> {
        sqlx::query("INSERT INTO webhook_deliveries (url, event, status, attempts, error, at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&d.url)
            .bind(&d.event)
            .bind(&d.status)
            .bind(i64::from(d.attempts))
            .bind(&d.error)
            .bind(d.at as i64)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM webhook_deliveries WHERE id <= (SELECT MAX(id) - 1000 FROM webhook_deliveries)")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn deliveries(&self, limit: u32) -> Result<Vec<Delivery>> {
        let rows: Vec<DeliveryRow> =
            sqlx::query_as("SELECT * FROM webhook_deliveries ORDER BY id DESC LIMIT $1")
                .bind(i64::from(limit.clamp(1, 1000)))
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(Delivery::from).collect())
    }
}
