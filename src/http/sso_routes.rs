//! `/auth/oidc/<provider>/…`: signing in through an OpenID provider. The start
//! keeps what the answer must match in the store (any node may get the answer)
//! and binds it to the browser with a cookie; the callback checks both, lets
//! `crate::sso` verify the provider's token, then makes or updates the account
//! the provider's groups qualify for and signs it in like a password would.

use axum::Json;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use cookie::time::Duration;
use cookie::{Cookie, SameSite};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::auth_routes::{console_of, new_sign_in};
use super::caller::cookie_value;
use super::error::ApiResult;
use super::{App, AppState, client_ip};
use crate::auth::{Identity, new_sign_in_token};
use crate::clock::now_ms;
use crate::domain::account::{Account, AccountRole, SsoGrant};
use crate::domain::sso::{OidcLogin, Person, Refusal};
use crate::metrics as m;
use crate::secret::sha256_hex;
use crate::sso::{SsoError, Verified, policy};
use crate::store::StoreError;

/// The cookie binding a sign-in under way to the browser that started it.
const BROWSER_COOKIE: &str = "cobrowse_oidc";
/// How long a person may take at the provider.
const LOGIN_TTL_S: i64 = 600;

#[derive(Serialize)]
pub struct SignInOptions {
    /// Whether the password form is offered.
    passwords: bool,
    providers: Vec<ProviderButton>,
}

#[derive(Serialize)]
struct ProviderButton {
    id: String,
    name: String,
}

/// What the sign-in pages offer.
pub async fn options(State(app): State<AppState>) -> Json<SignInOptions> {
    Json(SignInOptions {
        passwords: app.config.auth.passwords,
        providers: app
            .sso
            .list()
            .map(|p| ProviderButton {
                id: p.id.clone(),
                name: p.name.clone(),
            })
            .collect(),
    })
}

#[derive(Deserialize)]
pub struct StartQuery {
    /// `agent` or `admin`: the console to come back to.
    #[serde(default)]
    console: Option<String>,
}

pub(super) fn redirect_uri(app: &AppState, provider: &str) -> String {
    format!("{}/auth/oidc/{provider}/callback", app.public_url)
}

/// Sends the browser to the provider.
pub async fn start(
    State(app): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Path(provider): Path<String>,
    Query(q): Query<StartQuery>,
    headers: HeaderMap,
) -> Response {
    let console = match q.console.as_deref() {
        None | Some("agent") => AccountRole::Agent,
        Some("admin") => AccountRole::Admin,
        Some(_) => {
            return page(
                StatusCode::BAD_REQUEST,
                "console must be agent or admin",
                None,
            );
        }
    };
    // Each start keeps a row until it expires: as many as password attempts.
    let ip = client_ip(&app, addr, &headers).to_string();
    if !app.limits.sign_in_per_ip.allow(&ip) {
        return refused("too many sign-in attempts: wait a minute", console, 429);
    }
    let redirect = redirect_uri(&app, &provider);
    let start = match app.sso.start(&provider, &redirect).await {
        Ok(start) => start,
        Err(e) => return refused(&e.to_string(), console, sso_status(&e)),
    };
    // One binding per browser, kept for every sign-in it starts (two tabs may).
    let browser = cookie_value(&headers, BROWSER_COOKIE)
        .unwrap_or_else(|| new_sign_in_token(&mut rand::rng()));
    let login = OidcLogin {
        state_hash: sha256_hex(&start.state),
        provider,
        browser_hash: sha256_hex(&browser),
        nonce: start.nonce,
        pkce_verifier: start.pkce_verifier,
        console,
        expires_at: now_ms() + LOGIN_TTL_S as u64 * 1000,
    };
    if let Err(e) = app.store.add_oidc_login(&login).await {
        return refused(&format!("cannot keep the sign-in now: {e}"), console, 503);
    }
    // Lax, unlike the sign-in cookie: the provider's answer is a navigation
    // from its site, which a Strict cookie would not come back with.
    let binding = Cookie::build((BROWSER_COOKIE, browser))
        .path("/auth/oidc/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(app.https)
        .max_age(Duration::seconds(LOGIN_TTL_S))
        .build();
    let mut response = Redirect::to(&start.url).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&binding.to_string()).expect("cookie is ASCII"),
    );
    response
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

/// The provider's answer: signs the person in, or says why not.
pub async fn callback(
    State(app): State<AppState>,
    Path(provider): Path<String>,
    Query(q): Query<CallbackQuery>,
    headers: HeaderMap,
) -> Response {
    let login = match q.state.as_deref() {
        Some(state) => {
            app.store
                .take_oidc_login(&sha256_hex(state), now_ms())
                .await
        }
        None => Ok(None),
    };
    let login = match login {
        Ok(Some(login)) if login.provider == provider => login,
        Ok(_) => {
            let why = "this sign-in has expired or was already used: start it again";
            return refused(why, AccountRole::Agent, 400);
        }
        Err(e) => {
            return refused(
                &format!("cannot check the sign-in now: {e}"),
                AccountRole::Agent,
                503,
            );
        }
    };
    let console = login.console;
    let same_browser = cookie_value(&headers, BROWSER_COOKIE)
        .is_some_and(|b| crate::secret::hash_matches(&login.browser_hash, &b));
    if !same_browser {
        tracing::warn!(
            provider,
            "SSO answer reached a browser that did not start the sign-in"
        );
        let why = "this sign-in was started in another browser: start it again here";
        return refused(why, console, 400);
    }
    if let Some(error) = q.error {
        let said = q.error_description.unwrap_or(error);
        let name = app
            .sso
            .config(&provider)
            .map_or(provider.as_str(), |p| &p.name);
        return refused(&format!("{name} did not sign you in: {said}"), console, 403);
    }
    let Some(code) = q.code else {
        return refused("the provider's answer has no code", console, 400);
    };
    let redirect = redirect_uri(&app, &provider);
    let person = app
        .sso
        .finish(
            &provider,
            &redirect,
            &code,
            &login.nonce,
            &login.pkce_verifier,
        )
        .await;
    let Verified {
        person,
        refresh_token,
    } = match person {
        Ok(verified) => verified,
        Err(e) => {
            counted(&provider, "failed");
            tracing::warn!(provider, error = %e, "SSO sign-in refused");
            sso_audit(
                &app,
                &provider,
                "sso.failed",
                json!({ "error": e.to_string() }),
            );
            return refused(&e.to_string(), console, sso_status(&e));
        }
    };
    match account_for(&app, &provider, &person).await {
        Ok(Ok(account)) => {
            counted(&provider, "signed_in");
            let grant = refresh_token.map(|refresh_token| SsoGrant {
                provider: provider.clone(),
                refresh_token,
                checked_at: now_ms(),
            });
            signed_in(&app, account, console, grant).await
        }
        Ok(Err(refusal)) => {
            counted(&provider, "refused");
            tracing::warn!(provider, subject = %person.subject, why = %refusal, "SSO sign-in refused");
            sso_audit(
                &app,
                &provider,
                "sso.refused",
                json!({ "subject": person.subject, "why": refusal.to_string() }),
            );
            refused(&refusal.to_string(), console, 403)
        }
        Err(e) => refused(&format!("cannot sign you in now: {e}"), console, 503),
    }
}

/// The account a verified person signs in as, made on their first sign-in; its
/// role follows what the provider says at every sign-in. When the provider no
/// longer qualifies them, their sign-ins end (and their consoles with them).
pub(super) async fn account_for(
    app: &AppState,
    provider: &str,
    person: &Person,
) -> Result<Result<Account, Refusal>, StoreError> {
    let config = app
        .sso
        .config(provider)
        .expect("finish checked the provider");
    let rules = policy(config);
    let existing = app.store.sso_account(provider, &person.subject).await?;
    let role = match rules.role(person) {
        Ok(role) => role,
        Err(refusal) => {
            if let Some(account) = existing {
                app.store.remove_sign_ins(&account.name).await?;
                tracing::warn!(account = %account.name, provider, "SSO account no longer qualifies: its sign-ins ended");
                sso_audit(
                    app,
                    provider,
                    "sso.sign_ins_ended",
                    json!({ "account": account.name }),
                );
            }
            return Ok(Err(refusal));
        }
    };
    let account = match existing {
        Some(account) => account,
        None => {
            let name = match rules.account_name(person) {
                Ok(name) => name,
                Err(refusal) => return Ok(Err(refusal)),
            };
            match app
                .store
                .add_sso_account(&name, role, provider, &person.subject, now_ms())
                .await
            {
                Ok(()) => {
                    tracing::info!(account = %name, provider, ?role, "SSO account created");
                    let detail = json!({ "account": name, "role": role.as_str() });
                    sso_audit(app, provider, "sso.account_created", detail);
                }
                Err(StoreError::Exists(_)) => {
                    return Ok(Err(Refusal::NameTaken {
                        name,
                        provider: config.name.clone(),
                    }));
                }
                Err(e) => return Err(e),
            }
            app.store
                .account(&name)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("account {name}")))?
        }
    };
    Ok(Ok(qualified(app, account, role, provider).await?))
}

/// Brings a known account's role to what the provider says now.
async fn qualified(
    app: &AppState,
    mut account: Account,
    role: AccountRole,
    provider: &str,
) -> Result<Account, StoreError> {
    if account.role != role {
        app.store.set_role(&account.name, role).await?;
        tracing::info!(account = %account.name, provider, from = ?account.role, to = ?role, "SSO role changed");
        let detail =
            json!({ "account": account.name, "from": account.role.as_str(), "to": role.as_str() });
        sso_audit(app, provider, "sso.role_changed", detail);
        account.role = role;
    }
    Ok(account)
}

async fn signed_in(
    app: &AppState,
    account: Account,
    console: AccountRole,
    grant: Option<SsoGrant>,
) -> Response {
    if account.disabled {
        return refused("this account is disabled", console, 403);
    }
    let who = Identity {
        name: account.name,
        role: account.role,
    };
    let set: ApiResult<HeaderValue> = new_sign_in(app, &who, grant).await;
    match set {
        Ok(set) => {
            tracing::info!(account = %who.name, role = ?who.role, "signed in through SSO");
            let detail = json!({ "account": who.name, "role": who.role.as_str() });
            app.live.audit.record(
                &format!("{}:{}", who.role.as_str(), who.name),
                None,
                "sso.signed_in",
                detail,
            );
            // Back to the console asked for, as far as the role reaches.
            let to = if console == AccountRole::Admin {
                who.role
            } else {
                AccountRole::Agent
            };
            ([(header::SET_COOKIE, set)], Redirect::to(console_of(to))).into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// A provider's verdict on a person, kept in the audit trail.
pub(super) fn sso_audit(app: &App, provider: &str, kind: &str, detail: serde_json::Value) {
    app.live
        .audit
        .record(&format!("sso:{provider}"), None, kind, detail);
}

pub(super) fn counted(provider: &str, outcome: &'static str) {
    metrics::counter!(m::SSO_SIGN_INS, "provider" => provider.to_string(), "outcome" => outcome)
        .increment(1);
}

fn sso_status(e: &SsoError) -> u16 {
    match e {
        SsoError::UnknownProvider(_) => 404,
        SsoError::Unreachable { .. } => 502,
        SsoError::Exchange { .. } | SsoError::BadToken { .. } => 403,
    }
}

/// A sign-in that did not happen, said on a page with the way back.
fn refused(why: &str, console: AccountRole, status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
    page(status, why, Some(console_of(console)))
}

fn page(status: StatusCode, why: &str, back: Option<&str>) -> Response {
    let back = back.map_or(String::new(), |b| {
        format!("<p><a href=\"{b}\">Back to sign-in</a></p>")
    });
    let body = format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>Sign-in refused</title>\
         <main><h1>Sign-in refused</h1><p id=\"why\">{}</p>{back}</main></html>",
        escape(why)
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// Text for HTML: what a provider says is not ours to trust.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
