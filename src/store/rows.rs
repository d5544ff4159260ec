//! Rows as the tables hold them, and what each one means in the domain. Times
//! are kept as `BIGINT` (both databases have it) and flags as 0 or 1.

use serde::de::DeserializeOwned;

use super::{Result, StoreError};
use crate::domain::account::{Account, AccountRole, ApiKey, SignIn, SsoGrant};
use crate::domain::audit::{Checkpoint, Content, Hash, Head, Record, parse_hash};
use crate::domain::editor_grant::{EditorToken, EditorTokenKind};
use crate::domain::rule_set::{RuleSet, RuleSetVersion};
use crate::domain::session_history::{HistorySummary, TimedEvent};
use crate::domain::sso::OidcLogin;
use crate::domain::webhook::{Delivery, Webhook};
use crate::session::Millis;

fn ms(t: i64) -> Millis {
    t as Millis
}

fn role(role: &str) -> Result<AccountRole> {
    AccountRole::parse(role).ok_or_else(|| StoreError::Corrupt(format!("account role {role:?}")))
}

/// A column holding JSON (a rule set's rules, an event's detail).
fn json<T: DeserializeOwned>(what: &str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

#[derive(sqlx::FromRow)]
pub(super) struct AccountRow {
    name: String,
    password_hash: String,
    role: String,
    disabled: i64,
    created_at: i64,
    sso_provider: Option<String>,
    sso_subject: Option<String>,
}

impl TryFrom<AccountRow> for Account {
    type Error = StoreError;
    fn try_from(r: AccountRow) -> Result<Self> {
        Ok(Account {
            name: r.name,
            password_hash: r.password_hash,
            role: role(&r.role)?,
            disabled: r.disabled != 0,
            created_at: ms(r.created_at),
            sso_provider: r.sso_provider,
            sso_subject: r.sso_subject,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct SignInRow {
    token_hash: String,
    account: String,
    role: String,
    created_at: i64,
    expires_at: i64,
    sso_provider: Option<String>,
    sso_refresh: Option<String>,
    sso_checked_at: Option<i64>,
}

impl TryFrom<SignInRow> for SignIn {
    type Error = StoreError;
    fn try_from(r: SignInRow) -> Result<Self> {
        Ok(SignIn {
            token_hash: r.token_hash,
            account: r.account,
            role: role(&r.role)?,
            created_at: ms(r.created_at),
            expires_at: ms(r.expires_at),
            sso: match (r.sso_provider, r.sso_refresh) {
                (Some(provider), Some(refresh_token)) => Some(SsoGrant {
                    provider,
                    refresh_token,
                    checked_at: ms(r.sso_checked_at.unwrap_or(r.created_at)),
                }),
                _ => None,
            },
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct OidcLoginRow {
    state_hash: String,
    provider: String,
    browser_hash: String,
    nonce: String,
    pkce_verifier: String,
    console: String,
    expires_at: i64,
}

impl TryFrom<OidcLoginRow> for OidcLogin {
    type Error = StoreError;
    fn try_from(r: OidcLoginRow) -> Result<Self> {
        Ok(OidcLogin {
            state_hash: r.state_hash,
            provider: r.provider,
            browser_hash: r.browser_hash,
            nonce: r.nonce,
            pkce_verifier: r.pkce_verifier,
            console: role(&r.console)?,
            expires_at: ms(r.expires_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct LoginLinkRow {
    pub account: String,
    pub expires_at: i64,
}

#[derive(sqlx::FromRow)]
pub(super) struct ApiKeyRow {
    id: i64,
    name: String,
    prefix: String,
    created_at: i64,
    revoked_at: Option<i64>,
}

impl From<ApiKeyRow> for ApiKey {
    fn from(r: ApiKeyRow) -> Self {
        ApiKey {
            id: r.id,
            name: r.name,
            prefix: r.prefix,
            created_at: ms(r.created_at),
            revoked_at: r.revoked_at.map(ms),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct RuleSetRow {
    id: i64,
    name: String,
    url_pattern: String,
    rules: String,
    version: i64,
    updated_by: String,
    updated_at: i64,
}

impl TryFrom<RuleSetRow> for RuleSet {
    type Error = StoreError;
    fn try_from(r: RuleSetRow) -> Result<Self> {
        Ok(RuleSet {
            id: r.id,
            name: r.name,
            url_pattern: r.url_pattern,
            rules: json("rules", &r.rules)?,
            version: r.version,
            updated_by: r.updated_by,
            updated_at: ms(r.updated_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct RuleSetVersionRow {
    version: i64,
    name: String,
    url_pattern: String,
    rules: String,
    changed_by: String,
    changed_at: i64,
    deleted: i64,
}

impl TryFrom<RuleSetVersionRow> for RuleSetVersion {
    type Error = StoreError;
    fn try_from(r: RuleSetVersionRow) -> Result<Self> {
        Ok(RuleSetVersion {
            version: r.version,
            name: r.name,
            url_pattern: r.url_pattern,
            rules: json("rules", &r.rules)?,
            changed_by: r.changed_by,
            changed_at: ms(r.changed_at),
            deleted: r.deleted != 0,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct EditorTokenRow {
    token_hash: String,
    kind: String,
    account: String,
    origin: String,
    url: String,
    rule_set: String,
    url_pattern: String,
    expires_at: i64,
}

impl TryFrom<EditorTokenRow> for EditorToken {
    type Error = StoreError;
    fn try_from(r: EditorTokenRow) -> Result<Self> {
        let kind = EditorTokenKind::parse(&r.kind)
            .ok_or_else(|| StoreError::Corrupt(format!("editor token kind {:?}", r.kind)))?;
        Ok(EditorToken {
            token_hash: r.token_hash,
            kind,
            account: r.account,
            origin: r.origin,
            url: r.url,
            rule_set: r.rule_set,
            url_pattern: r.url_pattern,
            expires_at: ms(r.expires_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct SummaryRow {
    key: String,
    session_id: String,
    created_at: i64,
    activated_at: Option<i64>,
    ended_at: Option<i64>,
    end_reason: Option<String>,
    agent: Option<String>,
    interaction_id: Option<String>,
    channel: Option<String>,
    first_url: String,
}

impl From<SummaryRow> for HistorySummary {
    fn from(r: SummaryRow) -> Self {
        HistorySummary {
            key: r.key,
            session_id: r.session_id,
            created_at: ms(r.created_at),
            activated_at: r.activated_at.map(ms),
            ended_at: r.ended_at.map(ms),
            end_reason: r.end_reason,
            agent: r.agent,
            interaction_id: r.interaction_id,
            channel: r.channel,
            first_url: r.first_url,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct EventRow {
    at: i64,
    detail: String,
}

impl TryFrom<EventRow> for TimedEvent {
    type Error = StoreError;
    fn try_from(r: EventRow) -> Result<Self> {
        Ok(TimedEvent {
            at: ms(r.at),
            event: json("event", &r.detail)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct WebhookRow {
    id: i64,
    url: String,
    secret: String,
    created_at: i64,
}

impl From<WebhookRow> for Webhook {
    fn from(r: WebhookRow) -> Self {
        Webhook {
            id: r.id,
            url: r.url,
            secret: r.secret,
            created_at: ms(r.created_at),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct DeliveryRow {
    url: String,
    event: String,
    status: String,
    attempts: i64,
    error: Option<String>,
    at: i64,
}

impl From<DeliveryRow> for Delivery {
    fn from(r: DeliveryRow) -> Self {
        Delivery {
            url: r.url,
            event: r.event,
            status: r.status,
            attempts: r.attempts as u32,
            error: r.error,
            at: ms(r.at),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct AuditRow {
    node: String,
    seq: i64,
    at: i64,
    actor: String,
    session: Option<String>,
    kind: String,
    detail: String,
    prev: String,
    hash: String,
}

/// A digest column; a row whose digest is not one is named, as verification would.
fn digest(node: &str, seq: i64, column: &str, text: &str) -> Result<Hash> {
    parse_hash(text).ok_or_else(|| {
        StoreError::Corrupt(format!(
            "audit record {node}/{seq}: {column} is not a SHA-256 digest"
        ))
    })
}

impl TryFrom<AuditRow> for Record {
    type Error = StoreError;
    fn try_from(r: AuditRow) -> Result<Self> {
        let prev = digest(&r.node, r.seq, "prev", &r.prev)?;
        let hash = digest(&r.node, r.seq, "hash", &r.hash)?;
        let content = Content {
            at: ms(r.at),
            actor: r.actor,
            session: r.session,
            kind: r.kind,
            detail: r.detail,
        };
        Ok(Record::stored(r.node, r.seq as u64, prev, hash, content))
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct HeadRow {
    node: String,
    seq: i64,
    hash: String,
}

impl TryFrom<HeadRow> for Head {
    type Error = StoreError;
    fn try_from(r: HeadRow) -> Result<Self> {
        Ok(Head {
            hash: digest(&r.node, r.seq, "hash", &r.hash)?,
            node: r.node,
            seq: r.seq as u64,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct CheckpointRow {
    node: String,
    seq: i64,
    body: String,
}

impl TryFrom<CheckpointRow> for Checkpoint {
    type Error = StoreError;
    fn try_from(r: CheckpointRow) -> Result<Self> {
        json(&format!("audit checkpoint {}/{}", r.node, r.seq), &r.body)
    }
}
