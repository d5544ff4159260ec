//! Settings, layered: built-in defaults < TOML file < `COBROWSE_*` environment
//! variables (`__` separates sections: `COBROWSE_TIMEOUTS__JOIN=5m`) < flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::forwarded::IpRange;
use crate::session::Timeouts;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Invalid(String),
    #[error("configuration file {0}: {1}")]
    File(PathBuf, String),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on. Loopback by default: put a proxy in front, or set TLS.
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// The address people use to reach this server (links, cookies' Secure flag).
    /// Defaults to `http://<listen>` or `https://<listen>` with TLS.
    pub public_url: Option<String>,
    /// Origins of the sites allowed to start sessions; the server's own is always allowed.
    #[serde(deserialize_with = "list::deserialize")]
    pub allowed_origins: Vec<String>,
    /// Origins allowed to embed the agent console (agent desktops).
    #[serde(deserialize_with = "list::deserialize")]
    pub agent_origins: Vec<String>,
    /// Origins whose resources the agent view may load through the proxy;
    /// defaults to `allowed_origins`.
    #[serde(deserialize_with = "list::deserialize")]
    pub proxy_origins: Vec<String>,
    /// Reverse proxies (addresses or CIDR ranges) whose `X-Forwarded-For` names
    /// the client for per-IP limits. Empty: the socket peer is the client, so
    /// nobody can pick their own address by writing the header.
    #[serde(deserialize_with = "list::deserialize")]
    pub trusted_proxies: Vec<IpRange>,
    pub log_format: LogFormat,
    /// PostgreSQL URL for several nodes (`postgres://…`); SQLite in the data directory when unset.
    pub database: Option<String>,
    /// Redis for several nodes; live sessions stay in this process when unset.
    pub redis: Option<RedisConfig>,
    /// Create the demo agent and admin on first start and serve the demo shop.
    pub demo: bool,
    pub timeouts: TimeoutsConfig,
    pub limits: Limits,
    pub tls: Option<TlsConfig>,
    pub auth: AuthConfig,
    pub history: HistoryConfig,
    pub audit: AuditConfig,
    pub webhooks: Vec<WebhookConfig>,
    pub interactions: InteractionsConfig,
    pub privacy: PrivacyConfig,
    /// `COBROWSE_*` variables that name no setting: told as a warning, never a
    /// refusal, as platforms set such variables of their own (Kubernetes sets
    /// `COBROWSE_PORT`, `COBROWSE_SERVICE_HOST`… for a service named cobrowse).
    #[serde(skip)]
    pub ignored_env: Vec<String>,
    pub webhook_delivery: WebhookDelivery,
    pub connections: ConnectionsConfig,
    /// OpenID Connect providers people may sign in with: one `[oidc]` table, or
    /// several `[[oidc]]`.
    #[serde(deserialize_with = "one_or_many")]
    pub oidc: Vec<OidcProvider>,
}

/// An identity provider agents and administrators sign in with (OpenID Connect).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcProvider {
    /// In the sign-in URLs (`/auth/oidc/<id>/…`); letters, digits and `-`.
    pub id: String,
    /// On the sign-in button: "Sign in with <name>".
    pub name: String,
    /// Where discovery starts (`<issuer>/.well-known/openid-configuration`).
    pub issuer: String,
    pub client_id: String,
    /// None for a public client: PKCE alone then proves the code is ours.
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default = "default_scopes", deserialize_with = "list::deserialize")]
    pub scopes: Vec<String>,
    /// The ID token's claim listing the person's groups or roles; a dotted path
    /// reaches into objects (`realm_access.roles`).
    pub roles_claim: String,
    /// Values of `roles_claim` that make an agent, or an administrator.
    #[serde(default, deserialize_with = "list::deserialize")]
    pub agent_values: Vec<String>,
    #[serde(default, deserialize_with = "list::deserialize")]
    pub admin_values: Vec<String>,
    /// When set, only people whose (verified) email is at one of these domains.
    #[serde(default, deserialize_with = "list::deserialize")]
    pub allowed_domains: Vec<String>,
    /// How far the provider's clock may be from ours when checking `exp` and `iat`.
    #[serde(default = "default_clock_skew", with = "duration")]
    pub clock_skew: Duration,
    /// How often a sign-in the provider gave a refresh token for is checked with
    /// the provider again (still in a group that may co-browse?).
    #[serde(default = "default_recheck_every", with = "duration")]
    pub recheck_every: Duration,
}

fn default_recheck_every() -> Duration {
    Duration::from_secs(300)
}

fn default_scopes() -> Vec<String> {
    ["openid", "email", "profile"].map(String::from).to_vec()
}

fn default_clock_skew() -> Duration {
    Duration::from_secs(60)
}

/// One table or a list of them, as TOML writes one `[x]` or several `[[x]]`.
fn one_or_many<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany<T> {
        Many(Vec<T>),
        One(T),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::Many(v) => v,
        OneOrMany::One(t) => vec![t],
    })
}

/// What the customer's page may not show of itself beyond the DOM restrictions.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrivacyConfig {
    /// URL parameters (query and fragment) whose names contain one of these, in any case,
    /// have their values masked in what the agent sees and in history. A list, or one
    /// comma-separated string: `COBROWSE_PRIVACY__SECRET_PARAMS=token,code,voucher`.
    #[serde(deserialize_with = "list::deserialize")]
    pub secret_params: Vec<String>,
}

impl Default for PrivacyConfig {
    fn default() -> Self {
        PrivacyConfig {
            secret_params: crate::privacy::default_secret_params(),
        }
    }
}

/// Where several nodes keep live sessions. The plain URL form stays the
/// common case; a Redis Cluster is named as such, because one address of a
/// cluster (a managed service's configuration endpoint) looks like any Redis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RedisConfig {
    /// One Redis (or a replicated pair behind Sentinel): `redis = "redis://host:6379/"`.
    Single(String),
    /// A Redis Cluster: `redis.cluster = ["redis://a:6379", "redis://b:6379"]`.
    Cluster(RedisCluster),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisCluster {
    /// Some nodes of the cluster (one is enough; the rest are discovered).
    /// A list, or one string of comma-separated URLs, as an environment
    /// variable is easiest written: `COBROWSE_REDIS__CLUSTER=redis://a:6379,redis://b:6379`.
    #[serde(deserialize_with = "list::deserialize")]
    pub cluster: Vec<String>,
}

impl RedisConfig {
    pub fn urls(&self) -> &[String] {
        match self {
            RedisConfig::Single(url) => std::slice::from_ref(url),
            RedisConfig::Cluster(c) => &c.cluster,
        }
    }
}

/// Lists as people write them: a TOML or JSON array, or, as an environment
/// variable is easiest written, one string of comma-separated items
/// (`COBROWSE_ALLOWED_ORIGINS=https://a.example,https://b.example`).
mod list {
    use std::fmt::Display;
    use std::str::FromStr;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: FromStr,
        T::Err: Display,
    {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Items {
            List(Vec<String>),
            Joined(String),
        }
        let items = match Items::deserialize(d)? {
            Items::List(items) => items,
            Items::Joined(s) => s.split(',').map(String::from).collect(),
        };
        items
            .iter()
            .map(|i| i.trim())
            .filter(|i| !i.is_empty())
            .map(|i| {
                i.parse()
                    .map_err(|e| serde::de::Error::custom(format!("{i:?}: {e}")))
            })
            .collect()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TimeoutsConfig {
    #[serde(with = "duration")]
    pub join: Duration,
    #[serde(with = "duration")]
    pub inactivity: Duration,
    #[serde(with = "duration")]
    pub agent_grace: Duration,
    #[serde(with = "duration")]
    pub customer_grace: Duration,
    #[serde(with = "duration")]
    pub control_answer: Duration,
    /// How often deadlines are checked.
    #[serde(with = "duration")]
    pub tick: Duration,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    pub max_message_bytes: usize,
    pub max_messages_per_second: u32,
    pub join_attempts_per_minute_per_agent: u32,
    pub join_attempts_per_minute_per_ip: u32,
    pub sessions_per_minute_per_ip: u32,
    /// `resume`s with a wrong token or an unknown ID: per address, and per ID
    /// (whether it is live or not, so the limit tells nothing either).
    pub failed_resumes_per_minute_per_ip: u32,
    pub failed_resumes_per_minute_per_session: u32,
    pub sign_ins_per_minute_per_ip: u32,
    /// Frames queued for one receiver past which new ones are dropped (the
    /// receiver then sees a sequence gap and asks for a fresh snapshot).
    pub send_queue: usize,
    /// Bytes queued for one receiver past which new frames are dropped, the
    /// same way: a receiver that stops reading while large snapshots come
    /// would otherwise hold up to `send_queue` of them. At least
    /// `max_message_bytes`, so that any one frame fits.
    pub send_queue_bytes: usize,
    /// Largest page resource the proxy fetches for the agent's view.
    pub proxy_max_bytes: usize,
    /// With Redis: bytes of frames a node holds on their way to Redis past
    /// which relayed frames are dropped (counted; receivers resynchronise),
    /// so a node that Redis falls behind does not grow without bound.
    pub publish_backlog_bytes: usize,
}

/// What one client may hold of the listener (plain and TLS alike), so that
/// connections opened and never finished cannot exhaust sockets and tasks.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectionsConfig {
    /// Time a client has to send a request's headers, from the moment the
    /// connection is ready for one: it bounds a TLS handshake, the wait for
    /// the first request, headers sent slowly, and a keep-alive connection's
    /// idle time between requests.
    #[serde(with = "duration")]
    pub header_read_timeout: Duration,
    /// Open connections (WebSockets included) one IP address (an IPv6 /64
    /// network) may hold at once.
    /// Peers in `trusted_proxies` are exempt: a reverse proxy carries everyone.
    pub per_ip: usize,
}

/// How webhooks are delivered (the receivers themselves are `[[webhooks]]`, a
/// list, which cannot also hold these keys).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookDelivery {
    /// Deliver to loopback, private and other internal addresses. Off: a
    /// webhook cannot be used to reach the server's own network.
    pub allow_private: bool,
    /// Time one delivery attempt may take, answer included.
    #[serde(with = "duration")]
    pub timeout: Duration,
    /// Deliveries in flight to one receiver at once; the rest wait in that
    /// receiver's own queue, so a slow receiver delays only itself.
    pub per_receiver: usize,
    /// Deliveries waiting for (or in flight to) one receiver past which new
    /// events for it are dropped (and recorded as failed).
    pub queue: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Shared secret for agent-desktop JWTs (HS256). Defaults to a secret generated
    /// in the data directory; set it on every node. Sign-in cookies are not signed
    /// with it: they are random handles kept in the store.
    pub jwt_secret: Option<String>,
    /// Ed25519 public keys (PEM text, or the path of a PEM file) of desktops that
    /// sign their agents' tokens with their own private key (EdDSA): the server
    /// then holds nothing that could sign a token.
    #[serde(deserialize_with = "list::deserialize")]
    pub desktop_public_keys: Vec<String>,
    /// Desktop tokens living longer than this are refused, however signed.
    #[serde(with = "duration")]
    pub desktop_token_max_ttl: Duration,
    #[serde(with = "duration")]
    pub cookie_ttl: Duration,
    /// How often a live agent connection checks that its sign-in still holds
    /// (signed out, account disabled, no longer in the provider's groups).
    #[serde(with = "duration")]
    pub recheck: Duration,
    /// Whether people may sign in with a password; with `false`, only a
    /// provider of `[oidc]`, an agent desktop's token or a one-time link.
    pub passwords: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HistoryConfig {
    pub retention_days: u32,
}

/// The tamper-evident audit trail (docs/audit.md).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// This node's chain; defaults to an ID made once and kept in the data directory.
    /// Nodes sharing a database need different ones.
    pub node: Option<String>,
    /// The Ed25519 key checkpoints are signed with (64 hex digits); defaults to
    /// `audit.key` in the data directory, made on first start. Nodes of a
    /// cluster may share one, or each trust the others' (`trusted_keys`).
    pub key_file: Option<PathBuf>,
    /// Public keys (hex) whose checkpoints `audit verify` accepts besides this node's.
    #[serde(deserialize_with = "list::deserialize")]
    pub trusted_keys: Vec<String>,
    /// How often the heads of the chains are signed (also at every session end).
    #[serde(with = "duration")]
    pub checkpoint_every: Duration,
    /// Records older than this are deleted, leaving a signed checkpoint of what
    /// was deleted; 0 keeps them forever.
    pub retention_days: u32,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            node: None,
            key_file: None,
            trusted_keys: vec![],
            checkpoint_every: Duration::from_secs(60),
            retention_days: 365,
        }
    }
}

/// Interaction IDs signed by the sites' backends (see `interactions.rs`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InteractionsConfig {
    /// Refuse to bind a session to an interaction without a valid signature, on
    /// every site (a site without a secret then cannot bind at all).
    pub require_signature: bool,
    /// Sites whose interactions are signed: with a secret, a site's bindings need
    /// a valid signature whatever `require_signature` says.
    pub sites: Vec<InteractionSite>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InteractionSite {
    pub origin: String,
    pub secret: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    pub secret: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            public_url: None,
            allowed_origins: vec![],
            agent_origins: vec![],
            proxy_origins: vec![],
            trusted_proxies: vec![],
            log_format: LogFormat::Text,
            database: None,
            redis: None,
            demo: true,
            timeouts: TimeoutsConfig::default(),
            limits: Limits::default(),
            tls: None,
            auth: AuthConfig::default(),
            history: HistoryConfig { retention_days: 90 },
            audit: AuditConfig::default(),
            webhooks: vec![],
            interactions: InteractionsConfig::default(),
            privacy: PrivacyConfig::default(),
            ignored_env: vec![],
            webhook_delivery: WebhookDelivery::default(),
            connections: ConnectionsConfig::default(),
            oidc: vec![],
        }
    }
}

impl Default for ConnectionsConfig {
    fn default() -> Self {
        ConnectionsConfig {
            header_read_timeout: Duration::from_secs(20),
            per_ip: 256,
        }
    }
}

impl Default for WebhookDelivery {
    fn default() -> Self {
        WebhookDelivery {
            allow_private: false,
            timeout: Duration::from_secs(10),
            per_receiver: 4,
            queue: 1000,
        }
    }
}

impl Default for TimeoutsConfig {
    fn default() -> Self {
        let t = Timeouts::default();
        let ms = Duration::from_millis;
        TimeoutsConfig {
            join: ms(t.join),
            inactivity: ms(t.inactivity),
            agent_grace: ms(t.agent_grace),
            customer_grace: ms(t.customer_grace),
            control_answer: ms(t.control_answer),
            tick: Duration::from_millis(250),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 16 * 1024 * 1024,
            max_messages_per_second: 300,
            join_attempts_per_minute_per_agent: 10,
            join_attempts_per_minute_per_ip: 30,
            sessions_per_minute_per_ip: 30,
            failed_resumes_per_minute_per_ip: 20,
            failed_resumes_per_minute_per_session: 10,
            sign_ins_per_minute_per_ip: 20,
            send_queue: 512,
            send_queue_bytes: 32 * 1024 * 1024,
            proxy_max_bytes: 10 * 1024 * 1024,
            publish_backlog_bytes: 32 * 1024 * 1024,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            jwt_secret: None,
            desktop_public_keys: vec![],
            desktop_token_max_ttl: Duration::from_secs(8 * 3600),
            cookie_ttl: Duration::from_secs(12 * 3600),
            recheck: Duration::from_secs(30),
            passwords: true,
        }
    }
}

impl Default for HistoryConfig {
    fn default() -> Self {
        HistoryConfig { retention_days: 90 }
    }
}

/// What the command line may override.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    /// `serve --redis`: one Redis (a cluster is named in the file or environment).
    pub redis: Option<String>,
    /// `serve --database`: a PostgreSQL URL.
    pub database: Option<String>,
}

impl Config {
    pub fn load(o: &Overrides) -> Result<Config, ConfigError> {
        let mut ignored: Vec<String> = vec![];
        let mut config: Config = loop {
            match Config::layers(o, &ignored)?.extract() {
                Ok(config) => break config,
                // One unknown variable at a time: serde stops at the first.
                Err(e) => match unknown_env_key(&e, &env(&ignored)) {
                    Some(key) if ignored.len() < 1000 => ignored.push(key),
                    _ => return Err(ConfigError::Invalid(e.to_string())),
                },
            }
        };
        config.validate()?;
        config.ignored_env = ignored
            .iter()
            .map(|k| format!("COBROWSE_{}", k.replace('.', "__").to_uppercase()))
            .collect();
        Ok(config)
    }

    /// Defaults, then the file, then the environment (less the `ignored` keys), then flags.
    fn layers(o: &Overrides, ignored: &[String]) -> Result<Figment, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = &o.config_file {
            if !file.exists() {
                return Err(ConfigError::File(file.clone(), "no such file".into()));
            }
            fig = fig.merge(Toml::file_exact(file));
        }
        fig = fig.merge(env(ignored));
        if let Some(listen) = o.listen {
            fig = fig.merge(("listen", listen));
        }
        if let Some(dir) = &o.data_dir {
            fig = fig.merge(("data_dir", dir));
        }
        if let Some(redis) = &o.redis {
            fig = fig.merge(("redis", redis));
        }
        if let Some(db) = &o.database {
            fig = fig.merge(("database", db));
        }
        Ok(fig)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        for origin in self
            .allowed_origins
            .iter()
            .chain(&self.agent_origins)
            .chain(&self.proxy_origins)
        {
            if normalize_origin(origin).is_none() {
                return bad(format!(
                    "{origin:?} is not an origin (scheme://host[:port])"
                ));
            }
        }
        for hook in &self.webhooks {
            match url::Url::parse(&hook.url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => return bad(format!("webhook URL {:?} is not an http(s) URL", hook.url)),
            }
            if hook.secret.len() < 16 {
                return bad(format!(
                    "webhook secret for {} must be at least 16 characters",
                    hook.url
                ));
            }
        }
        for site in &self.interactions.sites {
            if normalize_origin(&site.origin).is_none() {
                return bad(format!(
                    "interactions.sites: {:?} is not an origin (scheme://host[:port])",
                    site.origin
                ));
            }
            if site.secret.len() < 32 {
                return bad(format!(
                    "interactions.sites: the secret for {} must be at least 32 characters",
                    site.origin
                ));
            }
        }
        if let Some(db) = &self.database
            && !db.starts_with("postgres://")
            && !db.starts_with("postgresql://")
        {
            return bad(format!(
                "database {db:?} must be a postgres:// URL (SQLite needs no setting)"
            ));
        }
        if let Some(redis) = &self.redis {
            if redis.urls().is_empty() {
                return bad("redis.cluster needs at least one node's URL".into());
            }
            if let Some(r) = redis
                .urls()
                .iter()
                .find(|r| !r.starts_with("redis://") && !r.starts_with("rediss://"))
            {
                return bad(format!("redis {r:?} must be a redis:// or rediss:// URL"));
            }
            // A secret generated in each node's data directory would make an
            // agent's sign-in valid on one node only.
            if self.auth.jwt_secret.is_none() {
                return bad("several nodes (redis is set) must share one signing secret: set auth.jwt_secret (COBROWSE_AUTH__JWT_SECRET) to the same 32+ characters on every node".into());
            }
        }
        if self.limits.max_message_bytes < 1024 {
            return bad("limits.max_message_bytes must be at least 1024".into());
        }
        if self.limits.max_messages_per_second == 0
            || self.limits.send_queue == 0
            || self.limits.publish_backlog_bytes == 0
        {
            return bad(
                "limits.max_messages_per_second, limits.send_queue and limits.publish_backlog_bytes must be positive"
                    .into(),
            );
        }
        if self.limits.send_queue_bytes < self.limits.max_message_bytes {
            return bad(format!(
                "limits.send_queue_bytes ({}) must be at least limits.max_message_bytes ({}), so that any one message fits",
                self.limits.send_queue_bytes, self.limits.max_message_bytes
            ));
        }
        if self.connections.header_read_timeout.is_zero() || self.connections.per_ip == 0 {
            return bad(
                "connections.header_read_timeout and connections.per_ip must be positive".into(),
            );
        }
        let d = &self.webhook_delivery;
        if d.timeout.is_zero() || d.per_receiver == 0 || d.queue == 0 {
            return bad("webhook_delivery.timeout, webhook_delivery.per_receiver and webhook_delivery.queue must be positive".into());
        }
        if let Some(name) = self
            .privacy
            .secret_params
            .iter()
            .find(|n| !crate::privacy::valid_name(n))
        {
            return bad(format!(
                "privacy.secret_params: {name:?} is not a parameter name (letters, digits, _ and -)"
            ));
        }
        self.validate_oidc()?;
        if self.auth.recheck.is_zero() || self.auth.recheck > Duration::from_secs(60) {
            return bad("auth.recheck must be between 1 ms and 60 s: a console whose sign-in ended must close within a minute".into());
        }
        if self.timeouts.tick.is_zero() {
            return bad("timeouts.tick must be positive".into());
        }
        if let Some(secret) = &self.auth.jwt_secret
            && secret.len() < 32
        {
            return bad("auth.jwt_secret must be at least 32 characters".into());
        }
        Ok(())
    }

    fn validate_oidc(&self) -> Result<(), ConfigError> {
        let bad = |id: &str, m: &str| Err(ConfigError::Invalid(format!("oidc {id:?}: {m}")));
        for (i, p) in self.oidc.iter().enumerate() {
            let id = p.id.as_str();
            let slug = id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            if id.is_empty() || id.len() > 32 || !slug {
                return bad(id, "id must be 1 to 32 letters, digits or '-'");
            }
            if self.oidc[..i].iter().any(|q| q.id == p.id) {
                return bad(id, "two providers have this id");
            }
            if p.name.trim().is_empty() {
                return bad(
                    id,
                    "name is shown on the sign-in button: it cannot be empty",
                );
            }
            match url::Url::parse(&p.issuer) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => return bad(id, "issuer must be an http(s) URL"),
            }
            if p.client_id.is_empty() {
                return bad(id, "client_id is required");
            }
            if !p.scopes.iter().any(|s| s == "openid") {
                return bad(id, "scopes must include \"openid\"");
            }
            if p.clock_skew > Duration::from_secs(300) {
                return bad(
                    id,
                    "clock_skew is at most 5 minutes: past that, expired tokens would pass",
                );
            }
            if p.recheck_every < Duration::from_secs(1) {
                return bad(id, "recheck_every must be at least 1 s");
            }
            if p.roles_claim.is_empty() || p.agent_values.is_empty() && p.admin_values.is_empty() {
                return bad(
                    id,
                    "set roles_claim and agent_values or admin_values: who may sign in is said by the provider's groups or roles",
                );
            }
        }
        Ok(())
    }

    pub fn timeouts(&self) -> Timeouts {
        let ms = |d: Duration| d.as_millis() as u64;
        let t = &self.timeouts;
        Timeouts {
            join: ms(t.join),
            inactivity: ms(t.inactivity),
            agent_grace: ms(t.agent_grace),
            customer_grace: ms(t.customer_grace),
            control_answer: ms(t.control_answer),
        }
    }

    /// The resource proxy's allow-list: its own, or the sites' list.
    pub fn proxy_origins(&self) -> &[String] {
        if self.proxy_origins.is_empty() {
            &self.allowed_origins
        } else {
            &self.proxy_origins
        }
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("cobrowse.sqlite")
    }

    pub fn secret_path(&self) -> PathBuf {
        self.data_dir.join("secret.key")
    }

    pub fn audit_key_path(&self) -> PathBuf {
        self.audit
            .key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("audit.key"))
    }

    pub fn audit_node_path(&self) -> PathBuf {
        self.data_dir.join("audit-node")
    }
}

/// `COBROWSE_*` variables, `__` between section and key, less `ignored` keys
/// (dotted, lowercase). COBROWSE_LOG (log filter) and COBROWSE_CONFIG (the
/// file) are read elsewhere.
fn env(ignored: &[String]) -> Env {
    let ignored = ignored.to_vec();
    Env::prefixed("COBROWSE_")
        .ignore(&["log", "config"])
        .split("__")
        .filter(move |k| !ignored.iter().any(|i| i.eq_ignore_ascii_case(k.as_str())))
}

/// The dotted key of an unknown setting that came from the environment, if that
/// is what `e` is about; an unknown key in the file stays an error.
fn unknown_env_key(e: &figment::Error, env: &Env) -> Option<String> {
    let figment::error::Kind::UnknownField(field, _) = &e.kind else {
        return None;
    };
    let mut path = e.path.clone();
    if path.last() != Some(field) {
        path.push(field.clone());
    }
    let key = path.join(".").to_lowercase();
    env.iter()
        .any(|(k, _)| k.as_str().eq_ignore_ascii_case(&key))
        .then_some(key)
}

/// `scheme://host[:port]` in canonical form (lowercase, default port dropped).
pub fn normalize_origin(origin: &str) -> Option<String> {
    let u = url::Url::parse(origin).ok()?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return None;
    }
    if u.path() != "/" || u.query().is_some() || u.fragment().is_some() {
        return None;
    }
    Some(u.origin().ascii_serialization())
}

/// Creates the data directory, readable by its owner only.
pub fn ensure_data_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Durations as people write them: `90s`, `10m`, `1h 30m`, `250ms`.
mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s).map_err(|e| serde::de::Error::custom(format!("{s:?}: {e}")))
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return its large error type
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_product_rules() {
        let t = Config::default().timeouts();
        assert_eq!(
            (t.join, t.inactivity, t.agent_grace, t.customer_grace),
            (600_000, 600_000, 60_000, 60_000)
        );
        assert_eq!(Config::default().limits.max_message_bytes, 16 * 1024 * 1024);
        // Loopback: nothing is exposed until an operator puts a proxy or TLS in front.
        assert_eq!(
            Config::default().listen,
            SocketAddr::from(([127, 0, 0, 1], 8080))
        );
        assert!(Config::default().trusted_proxies.is_empty());
    }

    #[test]
    fn trusted_proxies_from_the_environment_and_refused_when_wrong() {
        figment::Jail::expect_with(|jail| {
            let load = || Config::load(&Overrides::default()).map_err(|e| e.to_string());
            jail.set_env(
                "COBROWSE_TRUSTED_PROXIES",
                r#"["127.0.0.1", "10.0.0.0/8", "::1"]"#,
            );
            let listed: Vec<String> = load()?
                .trusted_proxies
                .iter()
                .map(|r| r.to_string())
                .collect();
            assert_eq!(listed, ["127.0.0.1", "10.0.0.0/8", "::1"]);
            jail.set_env("COBROWSE_TRUSTED_PROXIES", r#"["10.0.0.1/8"]"#);
            let err = load().unwrap_err();
            assert!(
                err.contains("10.0.0.1/8") && err.to_lowercase().contains("trusted_proxies"),
                "{err}"
            );
            jail.set_env("COBROWSE_TRUSTED_PROXIES", r#"["nginx.internal"]"#);
            assert!(load().unwrap_err().contains("not an IP address"));
            Ok(())
        });
    }

    #[test]
    fn file_then_environment_then_flags() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("c.toml", "allowed_origins = [\"https://shop.example\"]\n[timeouts]\njoin = \"5m\"\ninactivity = \"3m\"\n")?;
            jail.set_env("COBROWSE_TIMEOUTS__INACTIVITY", "2m");
            jail.set_env("COBROWSE_LISTEN", "127.0.0.1:9000");
            let o = Overrides {
                config_file: Some("c.toml".into()),
                listen: Some("127.0.0.1:9001".parse().unwrap()),
                ..Overrides::default()
            };
            let c = Config::load(&o).map_err(|e| e.to_string())?;
            assert_eq!(c.timeouts.join, Duration::from_secs(300));
            assert_eq!(c.timeouts.inactivity, Duration::from_secs(120));
            assert_eq!(c.listen.port(), 9001);
            assert_eq!(c.proxy_origins(), ["https://shop.example".to_string()]);
            Ok(())
        });
    }

    #[test]
    fn bad_settings_are_refused_with_the_reason() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("COBROWSE_ALLOWED_ORIGINS", "[\"shop.example\"]");
            let err = Config::load(&Overrides::default()).unwrap_err().to_string();
            assert!(err.contains("not an origin"), "{err}");
            jail.set_env("COBROWSE_ALLOWED_ORIGINS", "[]");
            jail.set_env("COBROWSE_TIMEOUTS__JOIN", "soon");
            assert!(
                Config::load(&Overrides::default())
                    .unwrap_err()
                    .to_string()
                    .contains("soon")
            );
            jail.set_env("COBROWSE_TIMEOUTS__JOIN", "1m");
            jail.set_env("COBROWSE_LIMITS__SEND_QUEUE_BYTES", "1048576");
            let err = Config::load(&Overrides::default()).unwrap_err().to_string();
            assert!(err.contains("send_queue_bytes (1048576) must be at least limits.max_message_bytes (16777216)"), "{err}");
            jail.set_env("COBROWSE_LIMITS__SEND_QUEUE_BYTES", "16777216");
            Ok(())
        });
    }

    #[test]
    fn oidc_providers_are_one_table_or_several_and_checked() {
        figment::Jail::expect_with(|jail| {
            let provider = |id: &str| {
                format!(
                    "id = \"{id}\"\nname = \"Okta\"\nissuer = \"https://acme.okta.com\"\nclient_id = \"c\"\nroles_claim = \"groups\"\nagent_values = [\"support\"]\n"
                )
            };
            jail.create_file("one.toml", &format!("[oidc]\n{}", provider("okta")))?;
            let file = |name: &str| Overrides {
                config_file: Some(name.into()),
                ..Overrides::default()
            };
            let c = Config::load(&file("one.toml")).map_err(|e| e.to_string())?;
            assert_eq!(c.oidc.len(), 1);
            assert_eq!(c.oidc[0].scopes, ["openid", "email", "profile"]);
            assert_eq!(c.oidc[0].clock_skew, Duration::from_secs(60));
            assert_eq!(c.oidc[0].recheck_every, Duration::from_secs(300));
            let two = format!("[[oidc]]\n{}[[oidc]]\n{}", provider("a"), provider("b"));
            jail.create_file("two.toml", &two)?;
            let c = Config::load(&file("two.toml")).map_err(|e| e.to_string())?;
            assert_eq!(
                c.oidc.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
                ["a", "b"]
            );
            let refused = |body: String, why: &str| {
                jail.create_file("bad.toml", &body).unwrap();
                let err = Config::load(&file("bad.toml")).unwrap_err().to_string();
                assert!(err.contains(why), "{err}");
            };
            refused(
                format!("[[oidc]]\n{}[[oidc]]\n{}", provider("a"), provider("a")),
                "two providers have this id",
            );
            refused(
                format!("[oidc]\n{}", provider("a b")),
                "letters, digits or '-'",
            );
            refused(
                format!(
                    "[oidc]\n{}",
                    provider("a").replace("https://acme.okta.com", "acme")
                ),
                "issuer must be an http(s) URL",
            );
            refused(
                format!(
                    "[oidc]\n{}",
                    provider("a").replace("agent_values = [\"support\"]", "")
                ),
                "set roles_claim and agent_values or admin_values",
            );
            refused(
                format!("[oidc]\n{}scopes = [\"email\"]\n", provider("a")),
                "scopes must include",
            );
            Ok(())
        });
    }

    #[test]
    fn platform_variables_are_told_not_refused() {
        figment::Jail::expect_with(|jail| {
            // What Kubernetes injects for a service named cobrowse.
            jail.set_env("COBROWSE_PORT", "tcp://10.0.0.7:8080");
            jail.set_env("COBROWSE_SERVICE_HOST", "10.0.0.7");
            jail.set_env("COBROWSE_PORT_8080_TCP_ADDR", "10.0.0.7");
            jail.set_env("COBROWSE_TIMEOUTS__SOON", "1m");
            jail.set_env(
                "COBROWSE_ALLOWED_ORIGINS",
                "https://a.example, https://b.example",
            );
            jail.set_env("COBROWSE_TRUSTED_PROXIES", "10.0.0.0/24,::1");
            let c = Config::load(&Overrides::default()).map_err(|e| e.to_string())?;
            let mut told = c.ignored_env.clone();
            told.sort();
            assert_eq!(
                told,
                [
                    "COBROWSE_PORT",
                    "COBROWSE_PORT_8080_TCP_ADDR",
                    "COBROWSE_SERVICE_HOST",
                    "COBROWSE_TIMEOUTS__SOON"
                ]
            );
            assert_eq!(
                c.allowed_origins,
                ["https://a.example", "https://b.example"]
            );
            assert_eq!(c.trusted_proxies.len(), 2);
            // Known settings are still checked, and so is the file.
            jail.set_env("COBROWSE_TRUSTED_PROXIES", "10.0.0.1/8");
            assert!(Config::load(&Overrides::default()).is_err());
            jail.set_env("COBROWSE_TRUSTED_PROXIES", "");
            jail.create_file("c.toml", "no_such_setting = 1")?;
            let file = Overrides {
                config_file: Some("c.toml".into()),
                ..Overrides::default()
            };
            let err = Config::load(&file).unwrap_err().to_string();
            assert!(err.contains("no_such_setting"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn secret_params_from_a_list_or_a_comma_separated_variable_and_checked() {
        figment::Jail::expect_with(|jail| {
            let load = || Config::load(&Overrides::default()).map_err(|e| e.to_string());
            assert!(load()?.privacy.secret_params.contains(&"token".to_string()));
            jail.set_env("COBROWSE_PRIVACY__SECRET_PARAMS", "token, voucher_id");
            assert_eq!(load()?.privacy.secret_params, ["token", "voucher_id"]);
            jail.set_env("COBROWSE_PRIVACY__SECRET_PARAMS", r#"["pin"]"#);
            assert_eq!(load()?.privacy.secret_params, ["pin"]);
            jail.set_env("COBROWSE_PRIVACY__SECRET_PARAMS", r#"["a|b"]"#);
            assert!(load().unwrap_err().contains("privacy.secret_params"));
            Ok(())
        });
    }

    #[test]
    fn redis_is_one_url_or_a_cluster() {
        figment::Jail::expect_with(|jail| {
            let load = || Config::load(&Overrides::default()).map_err(|e| e.to_string());
            const SECRET: &str = "0123456789abcdef0123456789abcdef";
            jail.set_env("COBROWSE_REDIS", "redis://r:6379/");
            assert!(load().unwrap_err().contains("share one signing secret"));
            jail.set_env("COBROWSE_AUTH__JWT_SECRET", SECRET);
            assert_eq!(
                load()?.redis,
                Some(RedisConfig::Single("redis://r:6379/".into()))
            );
            jail.clear_env();
            jail.set_env("COBROWSE_AUTH__JWT_SECRET", SECRET);
            let cluster = |urls: &[&str]| {
                Some(RedisConfig::Cluster(RedisCluster {
                    cluster: urls.iter().map(|u| u.to_string()).collect(),
                }))
            };
            jail.set_env("COBROWSE_REDIS__CLUSTER", "redis://a:1, redis://b:2");
            assert_eq!(load()?.redis, cluster(&["redis://a:1", "redis://b:2"]));
            jail.set_env("COBROWSE_REDIS__CLUSTER", "[redis://a:1,redis://b:2]");
            assert_eq!(load()?.redis, cluster(&["redis://a:1", "redis://b:2"]));
            jail.clear_env();
            jail.set_env("COBROWSE_AUTH__JWT_SECRET", SECRET);
            jail.create_file("c.toml", "[redis]\ncluster = [\"redis://a:1\"]\n")?;
            let file = Overrides {
                config_file: Some("c.toml".into()),
                ..Overrides::default()
            };
            let c = Config::load(&file).map_err(|e| e.to_string())?;
            assert_eq!(c.redis, cluster(&["redis://a:1"]));
            jail.set_env("COBROWSE_REDIS__CLUSTER", "[]");
            assert!(load().unwrap_err().contains("at least one"));
            jail.set_env("COBROWSE_REDIS__CLUSTER", "redis://a:1,http://b:2");
            assert!(load().unwrap_err().contains("http://b:2"));
            // `serve --redis … --database …` win over the environment.
            let flags = Overrides {
                redis: Some("redis://flag:6379/".into()),
                database: Some("postgres://pg/cobrowse".into()),
                ..Overrides::default()
            };
            let c = Config::load(&flags).map_err(|e| e.to_string())?;
            assert_eq!(
                c.redis,
                Some(RedisConfig::Single("redis://flag:6379/".into()))
            );
            assert_eq!(c.database.as_deref(), Some("postgres://pg/cobrowse"));
            Ok(())
        });
    }

    #[test]
    fn origins_are_normalised() {
        assert_eq!(
            normalize_origin("HTTPS://Shop.Example:443").as_deref(),
            Some("https://shop.example")
        );
        assert_eq!(
            normalize_origin("http://127.0.0.1:8080").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(normalize_origin("https://shop.example/path"), None);
        assert_eq!(normalize_origin("ftp://shop.example"), None);
    }
}
