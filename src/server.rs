//! Putting the server together: data directory, secret, store, hub, the
//! background loops, and the listener (plain HTTP or HTTPS).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::audit::{Auditor, identity};
use crate::auth::{Origins, Tokens, hash_password};
use crate::clock::now_ms;
use crate::config::{Config, ensure_data_dir};
use crate::domain::account::AccountRole;
use crate::domain::audit::checkpoint::PERIODIC;
use crate::history::Recorder;
use crate::http::{self, App, AppState, Limiters};
use crate::hub::{FrameRouting, LocalHub, RedisHub, SessionState};
use crate::listener;
use crate::live::Live;
use crate::ratelimit::{Backoff, Keyed};
use crate::secret::{random_secret, sha256_hex};
use crate::store::{SqlStore, Store};
use crate::webhooks::Webhooks;

/// The store and secret every command works with, server or CLI.
pub struct Ground {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub tokens: Tokens,
}

pub async fn ground(config: Config) -> anyhow::Result<Ground> {
    ensure_data_dir(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    let secret = match &config.auth.jwt_secret {
        Some(s) => s.clone(),
        None => load_or_create_secret(&config.secret_path())?,
    };
    let store = match &config.database {
        Some(url) => SqlStore::connect(url)
            .await
            .context("connecting to the database")?,
        None => SqlStore::open_sqlite(&config.database_path())
            .await
            .with_context(|| format!("opening {}", config.database_path().display()))?,
    };
    let pems = config
        .auth
        .desktop_public_keys
        .iter()
        .map(|k| read_pem(k))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let tokens = Tokens::new(secret.as_bytes())
        .with_public_keys(&pems)
        .context("auth.desktop_public_keys")?
        .with_max_ttl(config.auth.desktop_token_max_ttl.as_secs());
    Ok(Ground {
        tokens,
        store: Arc::new(store),
        config,
    })
}

/// A desktop's public key as configured: the PEM itself, or the path of a PEM file.
fn read_pem(entry: &str) -> anyhow::Result<String> {
    if entry.trim_start().starts_with("-----BEGIN") {
        return Ok(entry.to_string());
    }
    std::fs::read_to_string(entry)
        .with_context(|| format!("auth.desktop_public_keys: reading {entry}"))
}

fn load_or_create_secret(path: &Path) -> anyhow::Result<String> {
    if let Ok(s) = std::fs::read_to_string(path) {
        return Ok(s.trim().to_string());
    }
    let secret = random_secret(&mut rand::rng());
    write_private(path, &secret).with_context(|| format!("writing {}", path.display()))?;
    Ok(secret)
}

pub(crate) fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(content.as_bytes())
}

pub fn public_url(config: &Config, addr: SocketAddr) -> String {
    match &config.public_url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None if config.tls.is_some() => format!("https://{addr}"),
        None => format!("http://{addr}"),
    }
}

/// A running server; `stop` shuts it down gracefully.
pub struct Running {
    pub addr: SocketAddr,
    pub url: String,
    pub app: AppState,
    shutdown: watch::Sender<bool>,
    serving: JoinHandle<anyhow::Result<()>>,
    ticking: JoinHandle<()>,
    rechecking: JoinHandle<()>,
}

pub async fn start(ground: Ground) -> anyhow::Result<Running> {
    let Ground {
        config,
        store,
        tokens,
    } = ground;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let metrics = crate::metrics::install();
    let listener = std::net::TcpListener::bind(config.listen)
        .with_context(|| format!("listening on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let url = public_url(&config, addr);

    let (recorder, _) = Recorder::start(store.clone());
    let webhooks = Webhooks::start(
        store.clone(),
        config.webhooks.clone(),
        config.webhook_delivery.clone(),
    )
    .context("webhook client")?;
    let (audit, _) = Auditor::start(
        store.clone(),
        &identity::node_id(&config)?,
        identity::load_or_create_key(&config)?,
        &identity::other_keys(&config)?,
        webhooks.clone(),
    )
    .await
    .context("resuming the audit trail")?;
    let (sessions, routing): (Arc<dyn SessionState>, Arc<dyn FrameRouting>) = match &config.redis {
        Some(url) => {
            let hub = RedisHub::connect(url, config.limits.publish_backlog_bytes)
                .await
                .context("connecting to Redis")?;
            (hub.clone(), hub)
        }
        None => {
            let hub = Arc::new(LocalHub::new());
            (hub.clone(), hub)
        }
    };
    let live = Live {
        sessions,
        routing,
        recorder,
        audit,
        webhooks,
        timeouts: config.timeouts(),
        privacy: crate::privacy::SecretParams::new(&config.privacy.secret_params),
    };
    let (shutdown_tx, shutdown) = watch::channel(false);
    let l = &config.limits;
    let limits = Limiters {
        join_per_agent: Keyed::per_minute(l.join_attempts_per_minute_per_agent),
        join_per_ip: Keyed::per_minute(l.join_attempts_per_minute_per_ip),
        create_per_ip: Keyed::per_minute(l.sessions_per_minute_per_ip),
        sign_in_per_ip: Keyed::per_minute(l.sign_ins_per_minute_per_ip),
        sign_in_failures: Backoff::new(5, Duration::from_secs(15 * 60)),
        resume_failures_per_ip: Keyed::per_minute(l.failed_resumes_per_minute_per_ip),
        resume_failures_per_session: Keyed::per_minute(l.failed_resumes_per_minute_per_session),
    };
    let proxy = http::Proxy::new(config.proxy_origins(), config.limits.proxy_max_bytes)
        .context("resource proxy")?;
    let sso = crate::sso::Sso::new(&config.oidc).context("OpenID client")?;
    let app = Arc::new(App {
        site_origins: Origins::new(&config.allowed_origins),
        agent_origins: Origins::new(&config.agent_origins),
        https: url.starts_with("https://"),
        config,
        live,
        store,
        tokens,
        metrics,
        limits,
        relay: http::RelayMetrics::new(),
        shutdown,
        demo: Default::default(),
        proxy,
        page_rules: Default::default(),
        public_url: url.clone(),
        sso,
    });

    let router = http::router(app.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let tls = match &app.config.tls {
        Some(tls) => Some(
            axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert, &tls.key)
                .await
                .with_context(|| {
                    format!(
                        "reading TLS certificate {} and key {}",
                        tls.cert.display(),
                        tls.key.display()
                    )
                })?,
        ),
        None => None,
    };
    let handle = axum_server::Handle::new();
    let mut stop = app.shutdown.clone();
    let h = handle.clone();
    tokio::spawn(async move {
        let _ = stop.wait_for(|s| *s).await;
        listener::shut_down(&h);
    });
    let served = app.clone();
    let serving = tokio::spawn(async move {
        let config = &served.config;
        listener::serve(
            listener,
            tls,
            router,
            &config.connections,
            &config.trusted_proxies,
            handle,
        )
        .await
        .context("HTTP server")
    });
    let ticking = tokio::spawn(background(app.clone()));
    // Apart from the session ticks: it waits on the providers.
    let rechecking = tokio::spawn(http::sso_recheck::run(app.clone()));
    Ok(Running {
        addr,
        url,
        app,
        shutdown: shutdown_tx,
        serving,
        ticking,
        rechecking,
    })
}

/// How often history past its retention is deleted. The first purge runs as
/// the server starts (an interval's first tick is immediate), so a server
/// restarted more often than this still applies its retention.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Timeouts, metric upkeep, audit checkpoints and retention, until shutdown.
async fn background(app: AppState) {
    let mut tick = tokio::time::interval(app.config.timeouts.tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut upkeep = tokio::time::interval(Duration::from_secs(5));
    let mut retention = tokio::time::interval(PURGE_EVERY);
    let mut checkpoint = tokio::time::interval(app.config.audit.checkpoint_every);
    checkpoint.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stop = app.shutdown.clone();
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if let Err(e) = app.live.tick().await {
                    tracing::warn!(error = %e, "could not check session deadlines");
                }
            }
            _ = upkeep.tick() => app.metrics.run_upkeep(),
            _ = retention.tick() => {
                purge_expired_history(&app).await;
                purge_expired_audit(&app);
            }
            _ = checkpoint.tick() => app.live.audit.checkpoint(PERIODIC),
            _ = stop.changed() => return,
        }
    }
}

/// Deletes the history of sessions created more than `retention_days` ago.
/// A failure is only logged: the next purge tries again.
async fn purge_expired_history(app: &App) {
    let keep = u64::from(app.config.history.retention_days) * 86_400_000;
    match app.store.purge_history(now_ms().saturating_sub(keep)).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(sessions = n, "removed history past its retention"),
        Err(e) => tracing::warn!(error = %e, "could not apply history retention"),
    }
}

/// Deletes audit records older than `audit.retention_days` (0 keeps them),
/// leaving a signed checkpoint of where each chain was cut.
fn purge_expired_audit(app: &App) {
    let days = app.config.audit.retention_days;
    if days > 0 {
        let keep = u64::from(days) * 86_400_000;
        app.live.audit.prune(now_ms().saturating_sub(keep));
    }
}

impl Running {
    /// Ends live sessions (their parties are told why), writes pending history,
    /// closes the remaining connections and waits for the listener to stop.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.app.live.shutdown().await;
        let _ = self.shutdown.send(true);
        self.ticking.abort();
        self.rechecking.abort();
        match tokio::time::timeout(Duration::from_secs(15), self.serving).await {
            Ok(joined) => joined.context("server task")?,
            Err(_) => anyhow::bail!("connections did not close within 15 s"),
        }
    }
}

/// First start with the demo on: an administrator and a demo agent, with
/// passwords shown once. Returns them for printing.
pub async fn bootstrap(ground: &Ground) -> anyhow::Result<Vec<(String, String)>> {
    if !ground.config.demo || !ground.store.accounts().await?.is_empty() {
        return Ok(vec![]);
    }
    let mut created = Vec::new();
    for (name, role) in [
        ("admin", AccountRole::Admin),
        ("demo-agent", AccountRole::Agent),
    ] {
        let password = random_secret(&mut rand::rng())[..16].to_string();
        ground
            .store
            .add_account(name, &hash_password(&password)?, role, now_ms())
            .await?;
        created.push((name.to_string(), password));
    }
    Ok(created)
}

/// A one-time sign-in link for an account, valid for an hour.
pub async fn login_link(ground: &Ground, url: &str, account: &str) -> anyhow::Result<String> {
    let token = random_secret(&mut rand::rng());
    ground
        .store
        .add_login_link(&sha256_hex(&token), account, now_ms() + 3_600_000)
        .await?;
    Ok(format!("{url}/auth/link?t={token}"))
}
