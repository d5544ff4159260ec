//! The store in SQL, one implementation for both databases through sqlx's
//! `Any` driver: the embedded SQLite file (WAL mode, so the CLI can write while
//! a server runs on the same directory) or a shared PostgreSQL for several
//! nodes. Queries use `$n` parameters, which both understand.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

use super::*;

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
                        sqlx::query("PRAGMA journal_mode = WAL").execute(&mut *conn).await?;
                        sqlx::query("PRAGMA synchronous = NORMAL").execute(&mut *conn).await?;
                        sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await?;
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

fn account(row: &AnyRow) -> Result<Account> {
    Ok(Account {
        name: row.try_get("name")?,
        password_hash: row.try_get("password_hash")?,
        role: AccountRole::parse(row.try_get::<&str, _>("role")?)?,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
        created_at: row.try_get::<i64, _>("created_at")? as Millis,
    })
}

fn api_key(row: &AnyRow) -> Result<ApiKey> {
    Ok(ApiKey {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        prefix: row.try_get("prefix")?,
        created_at: row.try_get::<i64, _>("created_at")? as Millis,
        revoked_at: row.try_get::<Option<i64>, _>("revoked_at")?.map(|t| t as Millis),
    })
}

fn rule_set(row: &AnyRow) -> Result<RuleSet> {
    let rules: String = row.try_get("rules")?;
    Ok(RuleSet {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        url_pattern: row.try_get("url_pattern")?,
        rules: serde_json::from_str(&rules).map_err(|e| StoreError::Corrupt(format!("rules: {e}")))?,
        version: row.try_get("version")?,
        updated_by: row.try_get("updated_by")?,
        updated_at: row.try_get::<i64, _>("updated_at")? as Millis,
    })
}

fn summary(row: &AnyRow) -> Result<HistorySummary> {
    let ms = |c: &str| -> Result<Option<Millis>> { Ok(row.try_get::<Option<i64>, _>(c)?.map(|t| t as Millis)) };
    Ok(HistorySummary {
        key: row.try_get("key")?,
        session_id: row.try_get("session_id")?,
        created_at: row.try_get::<i64, _>("created_at")? as Millis,
        activated_at: ms("activated_at")?,
        ended_at: ms("ended_at")?,
        end_reason: row.try_get("end_reason")?,
        agent: row.try_get("agent")?,
        interaction_id: row.try_get("interaction_id")?,
        channel: row.try_get("channel")?,
        first_url: row.try_get("first_url")?,
    })
}

fn webhook(row: &AnyRow) -> Result<Webhook> {
    Ok(Webhook {
        id: row.try_get("id")?,
        url: row.try_get("url")?,
        secret: row.try_get("secret")?,
        created_at: row.try_get::<i64, _>("created_at")? as Millis,
    })
}

fn not_found_unless_changed(result: sqlx::any::AnyQueryResult, what: String) -> Result<()> {
    if result.rows_affected() == 0 { Err(StoreError::NotFound(what)) } else { Ok(()) }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn add_account(&self, name: &str, password_hash: &str, role: AccountRole, now: Millis) -> Result<()> {
        sqlx::query("INSERT INTO accounts (name, password_hash, role, created_at) VALUES ($1, $2, $3, $4)")
            .bind(name)
            .bind(password_hash)
            .bind(role.as_str())
            .bind(now as i64)
            .execute(&self.pool)
            .await
            .map_err(|e| if is_unique_violation(&e) { StoreError::Exists(format!("account {name}")) } else { e.into() })?;
        Ok(())
    }

    async fn account(&self, name: &str) -> Result<Option<Account>> {
        let row = sqlx::query("SELECT * FROM accounts WHERE name = $1").bind(name).fetch_optional(&self.pool).await?;
        row.as_ref().map(account).transpose()
    }

    async fn accounts(&self) -> Result<Vec<Account>> {
        let rows = sqlx::query("SELECT * FROM accounts ORDER BY name").fetch_all(&self.pool).await?;
        rows.iter().map(account).collect()
    }

    async fn set_disabled(&self, name: &str, disabled: bool) -> Result<()> {
        let r = sqlx::query("UPDATE accounts SET disabled = $1 WHERE name = $2")
            .bind(disabled as i64)
            .bind(name)
            .execute(&self.pool)
            .await?;
        not_found_unless_changed(r, format!("account {name}"))
    }

    async fn set_password(&self, name: &str, password_hash: &str) -> Result<()> {
        let r = sqlx::query("UPDATE accounts SET password_hash = $1 WHERE name = $2")
            .bind(password_hash)
            .bind(name)
            .execute(&self.pool)
            .await?;
        not_found_unless_changed(r, format!("account {name}"))
    }

    async fn add_login_link(&self, token_hash: &str, account: &str, expires_at: Millis) -> Result<()> {
        sqlx::query("INSERT INTO login_links (token_hash, account, expires_at) VALUES ($1, $2, $3)")
            .bind(token_hash)
            .bind(account)
            .bind(expires_at as i64)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn take_login_link(&self, token_hash: &str, now: Millis) -> Result<Option<String>> {
        let row = sqlx::query("DELETE FROM login_links WHERE token_hash = $1 RETURNING account, expires_at")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        sqlx::query("DELETE FROM login_links WHERE expires_at < $1").bind(now as i64).execute(&self.pool).await?;
        Ok(match row {
            Some(row) if row.try_get::<i64, _>("expires_at")? as Millis >= now => Some(row.try_get("account")?),
            _ => None,
        })
    }

    async fn add_api_key(&self, name: &str, key_hash: &str, prefix: &str, now: Millis) -> Result<ApiKey> {
        let row = sqlx::query("INSERT INTO api_keys (name, key_hash, prefix, created_at) VALUES ($1, $2, $3, $4) RETURNING *")
            .bind(name)
            .bind(key_hash)
            .bind(prefix)
            .bind(now as i64)
            .fetch_one(&self.pool)
            .await?;
        api_key(&row)
    }

    async fn api_key(&self, key_hash: &str) -> Result<Option<ApiKey>> {
        let row = sqlx::query("SELECT * FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL")
            .bind(key_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(api_key).transpose()
    }

    async fn api_keys(&self) -> Result<Vec<ApiKey>> {
        let rows = sqlx::query("SELECT * FROM api_keys ORDER BY id").fetch_all(&self.pool).await?;
        rows.iter().map(api_key).collect()
    }

    async fn revoke_api_key(&self, id: i64, now: Millis) -> Result<()> {
        let r = sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now as i64)
            .bind(id)
            .execute(&self.pool)
            .await?;
        not_found_unless_changed(r, format!("API key {id}"))
    }

    async fn rule_sets(&self) -> Result<Vec<RuleSet>> {
        let rows = sqlx::query("SELECT * FROM rule_sets ORDER BY name").fetch_all(&self.pool).await?;
        rows.iter().map(rule_set).collect()
    }

    async fn save_rule_set(&self, name: &str, url_pattern: &str, rules: &Rules, by: &str, now: Millis) -> Result<RuleSet> {
        let json = serde_json::to_string(rules).expect("rules serialize");
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "INSERT INTO rule_sets (name, url_pattern, rules, version, updated_by, updated_at) VALUES ($1, $2, $3, 1, $4, $5)
             ON CONFLICT(name) DO UPDATE SET url_pattern = excluded.url_pattern, rules = excluded.rules,
               version = rule_sets.version + 1, updated_by = excluded.updated_by, updated_at = excluded.updated_at
             RETURNING *",
        )
        .bind(name)
        .bind(url_pattern)
        .bind(&json)
        .bind(by)
        .bind(now as i64)
        .fetch_one(&mut *tx)
        .await?;
        let set = rule_set(&row)?;
        sqlx::query(
            "INSERT INTO rule_set_versions (rule_set_id, version, url_pattern, rules, changed_by, changed_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(set.id)
        .bind(set.version)
        .bind(url_pattern)
        .bind(&json)
        .bind(by)
        .bind(now as i64)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(set)
    }

    async fn record(&self, key: &str, session_id: &str, at: Millis, event: &HistoryEvent) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let at_i = at as i64;
        // Nodes write history on their own queues, so a session's events may
        // arrive before its creation: every event makes sure the row exists.
        let created_at = key.rsplit('-').next().and_then(|t| t.parse::<i64>().ok()).unwrap_or(at_i);
        sqlx::query("INSERT INTO session_history (key, session_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(session_id)
            .bind(created_at)
            .execute(&mut *tx)
            .await?;
        match event {
            HistoryEvent::Created { interaction_id, channel, url } => {
                sqlx::query("UPDATE session_history SET interaction_id = $1, channel = $2, first_url = $3 WHERE key = $4")
                    .bind(interaction_id)
                    .bind(channel)
                    .bind(url)
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
            }
            HistoryEvent::Activated { agent } => {
                sqlx::query("UPDATE session_history SET activated_at = $1, agent = $2 WHERE key = $3")
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
        sqlx::query("INSERT INTO session_events (history_key, at, kind, detail) VALUES ($1, $2, $3, $4)")
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
        let rows = sqlx::query(
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
        rows.iter().map(summary).collect()
    }

    async fn history_detail(&self, key: &str) -> Result<Option<HistoryDetail>> {
        let Some(row) = sqlx::query("SELECT * FROM session_history WHERE key = $1").bind(key).fetch_optional(&self.pool).await?
        else {
            return Ok(None);
        };
        let rows = sqlx::query("SELECT at, detail FROM session_events WHERE history_key = $1 ORDER BY at, id")
            .bind(key)
            .fetch_all(&self.pool)
            .await?;
        let mut events = Vec::with_capacity(rows.len());
        for r in &rows {
            let detail: String = r.try_get("detail")?;
            let event = serde_json::from_str(&detail).map_err(|e| StoreError::Corrupt(format!("event: {e}")))?;
            events.push(TimedEvent { at: r.try_get::<i64, _>("at")? as Millis, event });
        }
        Ok(Some(HistoryDetail::from_events(summary(&row)?, events)))
    }

    async fn purge_history(&self, before: Millis) -> Result<u64> {
        let r = sqlx::query("DELETE FROM session_history WHERE created_at < $1").bind(before as i64).execute(&self.pool).await?;
        Ok(r.rows_affected())
    }

    async fn webhooks(&self) -> Result<Vec<Webhook>> {
        let rows = sqlx::query("SELECT * FROM webhooks ORDER BY id").fetch_all(&self.pool).await?;
        rows.iter().map(webhook).collect()
    }

    async fn add_webhook(&self, url: &str, secret: &str, now: Millis) -> Result<Webhook> {
        let row = sqlx::query("INSERT INTO webhooks (url, secret, created_at) VALUES ($1, $2, $3) RETURNING *")
            .bind(url)
            .bind(secret)
            .bind(now as i64)
            .fetch_one(&self.pool)
            .await?;
        webhook(&row)
    }

    async fn remove_webhook(&self, id: i64) -> Result<()> {
        let r = sqlx::query("DELETE FROM webhooks WHERE id = $1").bind(id).execute(&self.pool).await?;
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
        let rows = sqlx::query("SELECT * FROM webhook_deliveries ORDER BY id DESC LIMIT $1")
            .bind(i64::from(limit.clamp(1, 1000)))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Delivery {
                    url: r.try_get("url")?,
                    event: r.try_get("event")?,
                    status: r.try_get("status")?,
                    attempts: r.try_get::<i64, _>("attempts")? as u32,
                    error: r.try_get("error")?,
                    at: r.try_get::<i64, _>("at")? as Millis,
                })
            })
            .collect()
    }
}
