//! The `cobrowse` command: the server and the operator's tools around it.

use std::io::{BufRead, IsTerminal};
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use serde_json::json;

use cobrowse::audit::{cli as audit_cli, identity, trail};
use cobrowse::auth::{hash_password, new_api_key, valid_name};
use cobrowse::clock::{now_ms, parse_instant};
use cobrowse::config::{Config, LogFormat, Overrides};
use cobrowse::domain::account::AccountRole;
use cobrowse::domain::audit::CheckpointKey;
use cobrowse::secret::sha256_hex;
use cobrowse::server::{self, Ground};

#[derive(Parser)]
#[command(
    name = "cobrowse",
    version,
    about = "Self-hosted live co-browsing for contact centers"
)]
struct Cli {
    /// TOML configuration file (settings also come from COBROWSE_* variables)
    #[arg(long, global = true, env = "COBROWSE_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory: SQLite database and generated secret
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (demo site, agent console, admin console, API)
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8080 or 0.0.0.0:443
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Redis for live sessions when running several nodes, e.g. redis://10.0.0.5:6379/
        /// (a Redis Cluster: `redis.cluster` in the file or COBROWSE_REDIS__CLUSTER)
        #[arg(long, value_name = "URL")]
        redis: Option<String>,
        /// PostgreSQL for accounts, rule sets and history instead of the SQLite file,
        /// e.g. postgres://cobrowse@10.0.0.6/cobrowse
        #[arg(long, value_name = "URL")]
        database: Option<String>,
    },
    /// Manage built-in agent and administrator accounts
    Agent {
        #[command(subcommand)]
        command: AgentCommand,
    },
    /// Issue signed tokens
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Manage API keys for the REST API
    Apikey {
        #[command(subcommand)]
        command: ApiKeyCommand,
    },
    /// Check or export the tamper-evident audit trail (docs/audit.md)
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Check the configuration
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Subcommand)]
enum AgentCommand {
    /// Add an account; the password is read from standard input
    Add {
        name: String,
        /// Make it an administrator (admin console and API)
        #[arg(long)]
        admin: bool,
    },
    /// List accounts
    List,
    /// Disable an account: it can no longer sign in or join sessions
    Disable { name: String },
    /// Enable a disabled account
    Enable { name: String },
    /// Set a new password, read from standard input
    Password { name: String },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Print a signed JWT an agent desktop can hand to the agent console
    Agent {
        name: String,
        /// How long the token is valid, e.g. 8h, 30m
        #[arg(long, default_value = "8h")]
        ttl: humantime::Duration,
    },
}

#[derive(Subcommand)]
enum ApiKeyCommand {
    /// Create a key; it is printed once and stored only as a hash
    Create { name: String },
    /// List keys (names and prefixes only)
    List,
    /// Revoke a key by its number from `apikey list`
    Revoke { id: i64 },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute every chain and check every checkpoint's signature; exits 0
    /// only if nothing was inserted, deleted, reordered or changed
    Verify {
        /// Only the records made at or after (milliseconds or RFC 3339)
        #[arg(long, value_parser = instant)]
        from: Option<u64>,
        /// Only the records made at or before (milliseconds or RFC 3339)
        #[arg(long, value_parser = instant)]
        to: Option<u64>,
        /// Check an exported file instead of the store, offline
        #[arg(long, value_name = "PATH")]
        file: Option<PathBuf>,
        /// With --file: the public key to trust (hex, from /api/v1/audit/public-key),
        /// instead of the keys the file names
        #[arg(long, value_name = "HEX", requires = "file")]
        key: Option<String>,
    },
    /// Write records with the checkpoints and public key that verify them, as
    /// JSON Lines on standard output
    Export {
        /// A session's records (the same stretch of the chains' other records elided)
        #[arg(long, conflicts_with_all = ["from", "to"])]
        session: Option<String>,
        #[arg(long, value_parser = instant)]
        from: Option<u64>,
        #[arg(long, value_parser = instant)]
        to: Option<u64>,
    },
}

fn instant(s: &str) -> Result<u64, String> {
    parse_instant(s).ok_or_else(|| "use milliseconds or a date like 2026-11-25T10:00:00Z".into())
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Load the configuration from file, environment and flags; report problems
    Check,
}

/// glibc gives every thread that allocates its own arena and keeps freed
/// chunks there; connections' buffers move between the runtime's worker
/// threads, so each arena hoards what the others freed. Two arenas cut the
/// server's memory per session by about a third (see bench/SERVER_NEEDS.md).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    unsafe extern "C" {
        fn mallopt(param: i32, value: i32) -> i32;
    }
    const M_ARENA_MAX: i32 = -8;
    // SAFETY: mallopt only sets an allocator tunable; called before any thread starts.
    unsafe {
        mallopt(M_ARENA_MAX, 2);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}

fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let (listen, redis, database) = match &cli.command {
        Command::Serve {
            listen,
            redis,
            database,
        } => (*listen, redis.clone(), database.clone()),
        _ => (None, None, None),
    };
    let config = Config::load(&Overrides {
        config_file: cli.config.clone(),
        listen,
        data_dir: cli.data_dir.clone(),
        redis,
        database,
    })?;
    init_logs(config.log_format);
    for name in &config.ignored_env {
        tracing::warn!(variable = %name, "ignoring an environment variable that names no setting");
    }
    if config.redis.is_some() && config.database.is_none() {
        tracing::warn!(
            "several nodes (redis) without a shared database: accounts, sign-ins, rule sets and history stay on each node; set database"
        );
    }
    match cli.command {
        Command::Serve { .. } => serve(config).await,
        Command::Config {
            command: ConfigCommand::Check,
        } => config_check(config).await,
        Command::Agent { command } => agent(server::ground(config).await?, command).await,
        Command::Token {
            command: TokenCommand::Agent { name, ttl },
        } => {
            let ground = server::ground(config).await?;
            if let Some(account) = ground.store.account(&name).await?
                && account.disabled
            {
                bail!("account {name} is disabled");
            }
            let ttl: std::time::Duration = ttl.into();
            let max = ground.config.auth.desktop_token_max_ttl;
            if ttl > max {
                bail!(
                    "--ttl {} is longer than auth.desktop_token_max_ttl ({}): the server would refuse the token",
                    humantime::format_duration(ttl),
                    humantime::format_duration(max)
                );
            }
            println!(
                "{}",
                ground
                    .tokens
                    .agent_token(&name, now_ms(), ttl.as_millis() as u64)
            );
            Ok(())
        }
        Command::Apikey { command } => apikey(server::ground(config).await?, command).await,
        Command::Audit { command } => audit(config, command).await,
    }
}

async fn audit(config: Config, command: AuditCommand) -> anyhow::Result<()> {
    if let AuditCommand::Verify {
        file: Some(path),
        key,
        ..
    } = &command
    {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let key = key.as_deref().map(identity::parse_public_key).transpose()?;
        if key.is_none() {
            eprintln!("trusting the public keys the file names: compare them with the server's");
        }
        let report = trail::verify_file(&text, key.as_ref().map(std::slice::from_ref))
            .context("the audit trail does not verify")?;
        return print_report(&report);
    }
    let key_path = config.audit_key_path();
    let key = std::fs::read_to_string(&key_path)
        .with_context(|| format!("reading the audit key {}", key_path.display()))?;
    let own = CheckpointKey::parse(&key)?.public();
    let trusted: Vec<[u8; 32]> = std::iter::once(own)
        .chain(identity::other_keys(&config)?)
        .collect();
    let ground = server::ground(config).await?;
    let store = ground.store.as_ref();
    match command {
        AuditCommand::Verify { from, to, .. } => {
            let report = trail::verify_store(store, &trusted, from, to)
                .await
                .context("the audit trail does not verify")?;
            print_report(&report)
        }
        AuditCommand::Export { session, from, to } => {
            let selection = trail::Selection { session, from, to };
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let n = trail::export(store, &selection, &trusted, now_ms(), &mut out).await?;
            std::io::Write::flush(&mut out)?;
            eprintln!("exported {n} records");
            Ok(())
        }
    }
}

fn print_report(r: &trail::Report) -> anyhow::Result<()> {
    println!(
        "verified: {} records, {} checkpoints",
        r.records, r.checkpoints
    );
    if r.unattested > 0 {
        println!(
            "  {} records after the last checkpoint: linked but not yet signed",
            r.unattested
        );
    }
    Ok(())
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("COBROWSE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let ground = server::ground(config).await?;
    let created = server::bootstrap(&ground).await?;
    let demo = ground.config.demo;
    let accounts = ground.store.accounts().await?;
    let data_dir = ground.config.data_dir.clone();
    let mut links = Vec::new();
    let running = server::start(ground).await?;
    let url = running.url.clone();
    if demo {
        let ground = Ground {
            config: running.app.config.clone(),
            store: running.app.store.clone(),
            tokens: running.app.tokens.clone(),
        };
        for name in ["admin", "demo-agent"] {
            if accounts.iter().any(|a| a.name == name && !a.disabled) {
                links.push((name, server::login_link(&ground, &url, name).await?));
            }
        }
    }
    println!(
        "cobrowse listening on {url}  (data in {})",
        data_dir.display()
    );
    if demo {
        println!("  demo shop      {url}/demo/");
    }
    println!("  agent console  {url}/agent/");
    println!("  admin console  {url}/admin/");
    println!("  API            {url}/api/v1/openapi.json");
    println!(
        "  audit key      {}   (Ed25519, signs the audit checkpoints)",
        hex::encode(running.app.live.audit.public_key())
    );
    for (name, password) in &created {
        println!(
            "  created account {name:<11} password {password}   (shown once; change with `cobrowse agent password {name}`)"
        );
    }
    for (name, link) in &links {
        println!("  sign in as {name:<11} {link}   (one-time, 1 hour)");
    }
    wait_for_signal().await;
    tracing::info!("shutting down: ending live sessions and closing connections");
    running.stop().await
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

fn read_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        eprint!("password: ");
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

async fn agent(ground: Ground, command: AgentCommand) -> anyhow::Result<()> {
    let store = &ground.store;
    let change = |kind: &'static str, detail: serde_json::Value| {
        audit_cli::record_change(&ground.config, store.clone(), kind, detail)
    };
    match command {
        AgentCommand::Add { name, admin } => {
            if !valid_name(&name) {
                bail!("account names are 1-64 letters, digits and . _ - @");
            }
            let role = if admin {
                AccountRole::Admin
            } else {
                AccountRole::Agent
            };
            store
                .add_account(&name, &hash_password(&read_password()?)?, role, now_ms())
                .await?;
            println!("added {} {name}", role.as_str());
            change(
                "account.added",
                json!({ "account": name, "role": role.as_str() }),
            )
            .await?;
        }
        AgentCommand::List => {
            println!("{:<24} {:<6} {:<9}", "NAME", "ROLE", "STATUS");
            for a in store.accounts().await? {
                println!(
                    "{:<24} {:<6} {:<9}",
                    a.name,
                    a.role.as_str(),
                    if a.disabled { "disabled" } else { "active" }
                );
            }
        }
        AgentCommand::Disable { name } => {
            store.set_disabled(&name, true).await?;
            println!("disabled {name}");
            change(
                "account.changed",
                json!({ "account": name, "disabled": true }),
            )
            .await?;
        }
        AgentCommand::Enable { name } => {
            store.set_disabled(&name, false).await?;
            println!("enabled {name}");
            change(
                "account.changed",
                json!({ "account": name, "disabled": false }),
            )
            .await?;
        }
        AgentCommand::Password { name } => {
            store
                .set_password(&name, &hash_password(&read_password()?)?)
                .await?;
            println!("password changed for {name}");
            change("account.password_reset", json!({ "account": name })).await?;
        }
    }
    Ok(())
}

async fn apikey(ground: Ground, command: ApiKeyCommand) -> anyhow::Result<()> {
    let store = &ground.store;
    match command {
        ApiKeyCommand::Create { name } => {
            let key = new_api_key(&mut rand::rng());
            store
                .add_api_key(&name, &sha256_hex(&key), &key[..8], now_ms())
                .await?;
            println!("{key}");
            eprintln!("API key {name} created: keep it now, it cannot be shown again");
            let detail = json!({ "key": name });
            audit_cli::record_change(&ground.config, store.clone(), "api_key.created", detail)
                .await?;
        }
        ApiKeyCommand::List => {
            println!(
                "{:<4} {:<24} {:<10} {:<8}",
                "ID", "NAME", "PREFIX", "STATUS"
            );
            for k in store.api_keys().await? {
                let status = if k.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!("{:<4} {:<24} {:<10} {:<8}", k.id, k.name, k.prefix, status);
            }
        }
        ApiKeyCommand::Revoke { id } => {
            store.revoke_api_key(id, now_ms()).await?;
            println!("revoked API key {id}");
            let detail = json!({ "key": id });
            audit_cli::record_change(&ground.config, store.clone(), "api_key.revoked", detail)
                .await?;
        }
    }
    Ok(())
}

async fn config_check(config: Config) -> anyhow::Result<()> {
    if let Some(tls) = &config.tls {
        for path in [&tls.cert, &tls.key] {
            std::fs::metadata(path).with_context(|| format!("TLS file {}", path.display()))?;
        }
    }
    let mut shown = toml::Value::try_from(&config).context("showing the configuration")?;
    if let Some(secret) = shown.get_mut("auth").and_then(|a| a.get_mut("jwt_secret")) {
        *secret = toml::Value::String("(set)".into());
    }
    for (section, list) in [("webhooks", None), ("interactions", Some("sites"))] {
        let entries = shown
            .get_mut(section)
            .and_then(|v| match list {
                Some(key) => v.get_mut(key),
                None => Some(v),
            })
            .and_then(|v| v.as_array_mut());
        for entry in entries.into_iter().flatten() {
            entry["secret"] = toml::Value::String("(set)".into());
        }
    }
    println!("{}", toml::to_string_pretty(&shown)?);
    println!("# configuration is valid");
    Ok(())
}
